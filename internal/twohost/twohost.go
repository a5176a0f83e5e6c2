// Package twohost plays one failover of Debian's kernel paired across two
// hosts on one machine (a netlab.Lab): the primary in host A, the backup in
// host B, their QUIC link across the LAN, each side's NIC on its host's
// TAP, the arbiter a file or a real etcd on the LAN. The guest serves an
// echo over TCP (busybox nc -e cat); a client in the client's namespace
// holds one connection and streams request/response pairs through a kill
// -9 of the primary or of the backup; a new backup then joins the
// survivor under the stream. It reports what happened as typed events
// while it runs, and the figures and invariants (bytes lost, generations
// live on two sides) at the end.
//
// The demo (ftvm demo --linux), the two-host test and the soak use it.
package twohost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"ftvm/failover"
	"ftvm/internal/initramfs"
	"ftvm/internal/netlab"
	"ftvm/internal/syncbuf"
	"ftvm/transport"
)

// Side names a member of the pair.
type Side int

// The sides Config.Kill chooses from.
const (
	Primary Side = iota
	Backup
)

// String returns "primary" or "backup".
func (s Side) String() string {
	if s == Backup {
		return "backup"
	}
	return "primary"
}

// Config says how to play the failover.
type Config struct {
	Ftvm    string // the ftvm binary
	Vmlinux string // the kernel (scripts/linux-guest.sh builds vmlinux and initramfs.cpio.gz)
	Initrd  string
	Dir     string // a directory for certificates, event files, the arbiter; the caller removes it
	Mode    string // ftvm primary --mode ("" is lockstep)
	Arbiter string // "file" (a file in Dir: shared storage) or "etcd" (a server in the client's namespace)
	Kill    Side   // the side killed with SIGKILL
	// KillAfter is how long the client streams before the kill.
	KillAfter time.Duration
	// After is how many request/response pairs the client makes once the
	// new backup joined (default 20).
	After int
	// OnEvent, if set, is called with each event as it happens, one call
	// at a time.
	OnEvent func(Event)
	// Idle, if not 0, is how long the pair is watched idle (the guest's
	// shell and server waiting, the connection open) before the stream:
	// Result.Idle.
	Idle time.Duration
	// Alone runs the guest with ftvm run in host A instead of a pair (no
	// backup, no arbiter, no kill), for the figures' baseline: Run returns
	// after KillAfter of stream, measured in Result.Load.
	Alone bool
	// PeriodicTick boots the kernel without tsc=reliable: with no clock
	// source to verify the TSC against (the board has no HPET or ACPI PM
	// timer), Linux then keeps its periodic tick (HZ=250) even when idle,
	// for the figures of what that costs.
	PeriodicTick bool
}

// Load is what the client and the primary (or the guest run alone) showed
// over a stretch of time.
type Load struct {
	Span     time.Duration
	Pairs    int           // request/response pairs answered
	P50, P99 time.Duration // their latency
	CPU      time.Duration // the primary's (or lone run's) CPU time, user and system
	// The primary's status: bytes it sent its backup (log records or
	// checkpoints), checkpoints taken, and the mean and longest pause of
	// the guest per checkpoint since the start.
	LogBytes       float64
	Checkpoints    float64
	PauseMeanMs    float64
	PauseMaxMs     float64
	LogBytesByKind map[string]float64 // lockstep: the log's bytes by record kind
}

// PairsPerS returns the request/response pairs answered per second.
func (l Load) PairsPerS() float64 { return float64(l.Pairs) / l.Span.Seconds() }

// LogBitsPerS returns the replication bandwidth.
func (l Load) LogBitsPerS() float64 { return l.LogBytes * 8 / l.Span.Seconds() }

// Kind names what happened.
type Kind string

// The kinds of events.
const (
	KindLab       Kind = "lab"       // the namespaces, bridges and TAPs are up
	KindArbiter   Kind = "arbiter"   // the arbiter is ready (Text: which)
	KindStarted   Kind = "started"   // an ftvm process started (Who)
	KindPair      Kind = "pair"      // an event of a pair member (Pair, Generation)
	KindBooted    Kind = "booted"    // the guest's /init is up
	KindServing   Kind = "serving"   // the guest's TCP service listens
	KindConnected Kind = "connected" // the client's TCP connection is up
	KindKilled    Kind = "killed"    // the chosen side got SIGKILL
	KindGARP      Kind = "garp"      // a gratuitous ARP for the guest entered the LAN (Text: its port)
	KindPortMoved Kind = "port"      // the LAN bridge learned the guest's MAC on another port
	KindResumed   Kind = "resumed"   // the first request sent after the kill was answered
	KindStreamEnd Kind = "stream"    // the client's stream ended (Text: the counts)
	KindMeasured  Kind = "measured"  // figures over a stretch of time (Text: them)
)

// Event is one thing that happened during a failover.
type Event struct {
	At         time.Time
	Kind       Kind
	Who        string             // the host or client it concerns ("host A", "client", "LAN")
	Pair       failover.EventKind // KindPair: the member's event
	Generation uint64             // KindPair: the event's generation, if any
	Text       string
}

// Result is what a failover showed.
type Result struct {
	Start      time.Time
	Killed     Side
	KilledAt   time.Time
	Boot       time.Duration // start to the guest's /init
	Pairs      int           // request/response pairs answered
	BytesSent  int64         // bytes the client sent
	BytesEcho  int64         // bytes echoed back correctly
	LostBytes  int64         // sent but never echoed back, or echoed wrong
	Abandoned  int64         // of the request in flight when Run ended early for another reason
	Stall      time.Duration // the longest request/response answered after the kill, before the new backup started
	JoinStall  time.Duration // the longest from the new backup's start on
	Resumed    time.Duration // the kill to the answer of the first request sent after it
	GARP       time.Duration // the kill to the GARP entering the LAN (primary killed)
	GARPPort   string        // the LAN port the GARP came in on
	PortBefore string        // the LAN port of the guest's MAC before the kill
	PortAfter  string        // and at the end
	JoinPause  time.Duration // the new backup's join: the survivor's guest paused this long
	JoinBytes  int64         // for this much state
	Idle       Load          // the pair idle (Config.Idle)
	Load       Load          // the stream before the kill
	// Live lists, per generation from 2 on, the members that took it
	// (went live, or carried on alone).
	Live     map[uint64][]string
	Timeline []Event // in time order
}

// DoubleLive counts the generations taken by more than one member.
func (r *Result) DoubleLive() int {
	n := 0
	for _, who := range r.Live {
		if len(who) > 1 {
			n++
		}
	}
	return n
}

// Problems returns the invariants the failover broke: bytes lost, a
// generation live on two sides.
func (r *Result) Problems() []string {
	var p []string
	if r.LostBytes != 0 {
		p = append(p, fmt.Sprintf("%d bytes lost (sent %d, echoed %d)", r.LostBytes, r.BytesSent, r.BytesEcho))
	}
	for g, who := range r.Live {
		if len(who) > 1 {
			p = append(p, fmt.Sprintf("generation %d live on %d members: %v", g, len(who), who))
		}
	}
	return p
}

// Unexpected returns what is wrong with generation 2: nobody took it, or
// another member than the survivor did (host B's backup when the primary
// was killed, host A's primary when the backup was).
func (r *Result) Unexpected() []string {
	survivor := map[Side]string{Primary: "host B backup", Backup: "host A primary"}[r.Killed]
	if who := r.Live[2]; len(who) == 0 {
		return []string{"nobody took generation 2"}
	} else if !slices.Contains(who, survivor) {
		return []string{fmt.Sprintf("generation 2 taken by %v (the %s was killed; %s should take it)", who, r.Killed, survivor)}
	}
	return nil
}

// Spurious returns the takeovers after generation 2, which no kill called
// for: a member declared its peer lost while it lived (on a host too loaded
// to answer within the failure timeout, say). The arbiter keeps them safe.
func (r *Result) Spurious() []string {
	var p []string
	for g, who := range r.Live {
		if g > 2 {
			p = append(p, fmt.Sprintf("spurious takeover: generation %d taken by %v", g, who))
		}
	}
	return p
}

// ErrSpurious is Run's error when a member took over before the kill (its
// peer was alive): the failover could not be played as planned.
var ErrSpurious = errors.New("a spurious takeover before the kill")

// Ports of the pair members.
const (
	pairPort    = "7400" // QUIC, on each host's address
	servicePort = "7000" // the guest's echo service
)

// timeouts of the steps.
const (
	bootLimit    = 8 * time.Minute
	joinLimit    = 3 * time.Minute
	stepLimit    = time.Minute
	replyLimit   = 30 * time.Second
	connectLimit = time.Minute
)

// member is an ftvm process of the pair.
type member struct {
	name   string // "host A primary"
	host   netlab.Host
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events string // its --events file
	out    syncbuf.Buffer
	errOut syncbuf.Buffer
	done   chan struct{} // closed when it exited

	mu   sync.Mutex // guards seen
	seen []failover.Event
}

// run is one failover in progress.
type run struct {
	cfg   Config
	lab   *netlab.Lab
	start time.Time
	ctx   context.Context

	followers sync.WaitGroup // the goroutines following the members' events

	mu      sync.Mutex // guards members and events, and serializes OnEvent
	members []*member
	events  []Event
}

// emit records an event and hands it to OnEvent.
func (r *run) emit(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.cfg.OnEvent != nil {
		r.cfg.OnEvent(e)
	}
}

func (r *run) emitf(kind Kind, who, format string, args ...any) {
	r.emit(Event{Kind: kind, Who: who, Text: fmt.Sprintf(format, args...)})
}

// pairKinds are the members' events the run reports.
var pairKinds = map[failover.EventKind]bool{
	failover.EventBackupJoined: true, failover.EventJoinedPrimary: true, failover.EventJoinFailed: true,
	failover.EventBackupLost: true, failover.EventPrimaryLost: true, failover.EventWentLive: true,
	failover.EventGARPSent: true, failover.EventArbiterUnreachable: true, failover.EventLostArbiter: true,
	failover.EventError: true,
}

// spawn starts ftvm in host h with args (a primary or backup command),
// writing its events to a file of its own, and follows its events.
func (r *run) spawn(h netlab.Host, role string, args ...string) (*member, error) {
	m := &member{name: fmt.Sprintf("host %s %s", h, role), host: h, done: make(chan struct{})}
	m.events = filepath.Join(r.cfg.Dir, fmt.Sprintf("%s-%s-%d.events", h, role, len(r.members)))
	args = append([]string{args[0], "--events", m.events}, args[1:]...)
	m.cmd = r.lab.Command(h, r.cfg.Ftvm, args...)
	m.cmd.Stdout, m.cmd.Stderr = &m.out, &m.errOut
	var err error
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
	go func() { m.cmd.Wait(); close(m.done) }()
	r.followers.Add(1)
	go func() {
		defer r.followers.Done()
		failover.WaitEvent(r.ctx, m.events, nil, func(e failover.Event) bool {
			m.mu.Lock()
			m.seen = append(m.seen, e)
			m.mu.Unlock()
			if pairKinds[e.Kind] {
				r.emit(Event{At: e.At, Kind: KindPair, Who: "host " + string(h), Pair: e.Kind, Generation: e.Generation, Text: e.Text})
			}
			return false
		})
	}()
	r.emitf(KindStarted, "host "+string(h), "ftvm %s started", role)
	return m, nil
}

// waitFor waits until cond holds, the run's context ends or limit passes.
func (r *run) waitFor(limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// waitEvent waits for m's event of kind (and gen); it fails early when m
// ended without it.
func (r *run) waitEvent(m *member, kind failover.EventKind, gen uint64, limit time.Duration) (failover.Event, error) {
	ctx, cancel := context.WithTimeout(r.ctx, limit)
	defer cancel()
	e, err := failover.WaitEvent(ctx, m.events, m.done, func(e failover.Event) bool {
		return e.Kind == kind && (gen == 0 || e.Generation == gen)
	})
	switch {
	case err == nil:
		return e, nil
	case r.ctx.Err() != nil:
		return e, r.ctx.Err()
	case ctx.Err() != nil:
		return e, fmt.Errorf("timed out after %v waiting for %s: %s", limit, m.name, kind)
	}
	return e, fmt.Errorf("%s ended without %s", m.name, kind)
}

// waitConsole waits for s on m's console; it fails early when m ended
// without it.
func (r *run) waitConsole(m *member, s string, limit time.Duration) error {
	ended := false
	err := r.waitFor(limit, fmt.Sprintf("%q on the console of %s", s, m.name), func() bool {
		select {
		case <-m.done:
			ended = true
		default:
		}
		return ended || strings.Contains(m.out.String(), s)
	})
	if err == nil && !strings.Contains(m.out.String(), s) {
		err = fmt.Errorf("%s ended without %q on its console", m.name, s)
	}
	return err
}

// killAll ends every member still running.
func (r *run) killAll() {
	r.mu.Lock()
	ms := append([]*member(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		m.cmd.Process.Kill()
		<-m.done
		m.stdin.Close()
	}
}

// logs returns the end of each member's stderr and console, for errors.
func (r *run) logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, m := range r.members {
		fmt.Fprintf(&b, "--- %s stderr:\n%s--- %s console (end):\n%s\n", m.name, tail(m.errOut.String(), 20), m.name, tail(m.out.String(), 15))
	}
	return b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// Run plays the failover. The error says what did not happen (the guest
// did not boot, the backup did not take over, the connection broke); the
// result holds what was measured either way, Problems the invariants
// broken. Everything Run made (namespaces, processes, etcd) is gone when
// it returns; cancelling ctx ends it early.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if cfg.After == 0 {
		cfg.After = 20
	}
	for _, p := range []string{cfg.Ftvm, cfg.Vmlinux, cfg.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return res, err
		}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{cfg: cfg, start: time.Now(), ctx: ctx}
	res.Start, res.Killed = r.start, cfg.Kill
	if r.lab, err = netlab.New(); err != nil {
		return res, err
	}
	defer func() {
		if cerr := r.lab.Close(); err == nil {
			err = cerr
		}
	}()
	defer func() {
		r.killAll()
		cancel()
		r.followers.Wait()
		res.Timeline = r.timeline()
		if err != nil && parent.Err() == nil {
			err = fmt.Errorf("%w\n%s", err, r.logs())
		}
	}()
	r.emitf(KindLab, "LAN", "hosts A (%s) and B (%s) and the client (%s) on a LAN bridge, a TAP on each host", netlab.AddrA, netlab.AddrB, netlab.AddrClient)
	err = r.play(&res)
	if err != nil && res.KilledAt.IsZero() {
		if e, ok := r.takeover(); ok {
			err = fmt.Errorf("%w: %s: %s (%v)", ErrSpurious, e.Who, e.Text, err)
		}
	}
	return res, err
}

// play is Run's scenario.
func (r *run) play(res *Result) error {
	cfg := r.cfg
	tlsDir := filepath.Join(cfg.Dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		return err
	}
	if err := transport.GenerateCerts(tlsDir); err != nil {
		return err
	}
	var arbiter string
	switch {
	case cfg.Alone:
	case cfg.Arbiter == "file" || cfg.Arbiter == "":
		arbiter = "file:" + filepath.Join(cfg.Dir, "arbiter")
		r.emitf(KindArbiter, "arbiter", "a file both hosts see (%s)", arbiter)
	case cfg.Arbiter == "etcd":
		e, err := netlab.StartEtcd(netlab.EtcdConfig{DataDir: filepath.Join(cfg.Dir, "etcd"),
			ClientAddr: netlab.AddrClient + ":2379", PeerAddr: netlab.AddrClient + ":2380", Wrap: r.lab.Wrap(netlab.Client)})
		if err != nil {
			return err
		}
		defer e.Close()
		arbiter = "etcd:" + e.URL + "/ftvm-two-hosts"
		r.emitf(KindArbiter, "arbiter", "etcd at %s (in the client's namespace, reached over the LAN)", e.URL)
	default:
		return fmt.Errorf("arbiter %q: want file or etcd", cfg.Arbiter)
	}
	addr := map[netlab.Host]string{netlab.HostA: netlab.AddrA + ":" + pairPort, netlab.HostB: netlab.AddrB + ":" + pairPort}
	common := []string{"--tls", tlsDir, "--arbiter", arbiter, "--net", "tap:" + netlab.TAP}
	backupArgs := func(h, of netlab.Host) []string {
		return append([]string{"backup", "--primary", addr[of], "--listen", addr[h]}, common...)
	}
	cmdline := fmt.Sprintf("console=ttyS0 tsc=reliable ftvm.ip=%s/%d", netlab.AddrGuest, netlab.PrefixLen)
	if cfg.PeriodicTick {
		cmdline = strings.Replace(cmdline, " tsc=reliable", "", 1)
	}
	guest := []string{"-m", "256M", "--metrics", netlab.AddrA + ":" + metricsPort, "--initrd", cfg.Initrd, "--append", cmdline}
	var a, b *member
	var err error
	if cfg.Alone {
		if a, err = r.spawn(netlab.HostA, "run", append(append([]string{"run", "--net", "tap:" + netlab.TAP}, guest...), cfg.Vmlinux)...); err != nil {
			return err
		}
	} else {
		pargs := append([]string{"primary", "--listen", addr[netlab.HostA], "--wait-backup"}, guest...)
		if cfg.Mode != "" {
			pargs = append(pargs, "--mode", cfg.Mode)
		}
		if a, err = r.spawn(netlab.HostA, "primary", append(append(pargs, common...), cfg.Vmlinux)...); err != nil {
			return err
		}
		if b, err = r.spawn(netlab.HostB, "backup", backupArgs(netlab.HostB, netlab.HostA)...); err != nil {
			return err
		}
		if _, err := r.waitEvent(b, failover.EventJoinedPrimary, 0, joinLimit); err != nil {
			return err
		}
	}
	if err := r.waitConsole(a, initramfs.Marker, bootLimit); err != nil {
		return err
	}
	res.Boot = time.Since(r.start)
	r.emitf(KindBooted, "host A", "the guest (Debian's kernel, 256 MiB) reached /init, %v after the start", res.Boot.Round(time.Millisecond))
	fmt.Fprintf(a.stdin, "nc -ll -p %s -e cat & echo mac=$(cat /sys/class/net/eth0/address) server-$((6*7))\n", servicePort)
	if err := r.waitConsole(a, "server-42", stepLimit); err != nil {
		return err
	}
	mac, err := guestMAC(a.out.String())
	if err != nil {
		return err
	}
	r.emitf(KindServing, "host A", "the guest serves an echo (busybox nc -e cat) at %s:%s, MAC %s", netlab.AddrGuest, servicePort, mac)

	var conn net.Conn
	if err := r.waitFor(connectLimit, "a TCP connection from the client to the guest", func() bool {
		conn, err = r.lab.Dial(netlab.Client, netlab.AddrGuest+":"+servicePort, 2*time.Second)
		return err == nil
	}); err != nil {
		return err
	}
	if res.PortBefore, err = r.lab.FDBPort(mac); err != nil {
		return err
	}
	r.emitf(KindConnected, "client", "one TCP connection to the guest; the LAN bridge has the guest's MAC on port %s", res.PortBefore)
	if cfg.Idle > 0 {
		if res.Idle, err = r.measure(a, nil, cfg.Idle); err != nil {
			return err
		}
		r.emitf(KindMeasured, "host A", "idle for %v: %.1f kbit/s to the backup, %.0f checkpoints, CPU %v",
			res.Idle.Span.Round(time.Millisecond), res.Idle.LogBitsPerS()/1e3, res.Idle.Checkpoints, res.Idle.CPU)
	}
	garps, err := r.lab.WatchGARP()
	if err != nil {
		return fmt.Errorf("watching the LAN: %v", err)
	}
	defer garps.Close()

	st := newStream(conn)
	go st.run(r.ctx)
	defer func() {
		st.abort() // after finish, a no-op
		st.result(res)
	}()
	if err := r.waitFor(stepLimit, "the first reply", func() bool { return st.answered() > 0 || st.failed() }); err != nil {
		return err
	}
	if res.Load, err = r.measure(a, st, cfg.KillAfter); err != nil {
		return err
	}
	r.emitf(KindMeasured, "client", "%d request/response pairs in %v (p50 %v, p99 %v); %.2f Mbit/s to the backup, %.0f checkpoints; CPU %v",
		res.Load.Pairs, res.Load.Span.Round(time.Millisecond), res.Load.P50, res.Load.P99, res.Load.LogBitsPerS()/1e6, res.Load.Checkpoints, res.Load.CPU)
	if cfg.Alone {
		st.finish()
		return st.result(res)
	}
	victim, survivor := a, b
	victimHost, survivorHost := netlab.HostA, netlab.HostB
	if cfg.Kill == Backup {
		victim, survivor = b, a
		victimHost, survivorHost = netlab.HostB, netlab.HostA
	}
	if st.failed() {
		return st.result(res)
	}
	if _, ok := r.takeover(); ok {
		return errors.New("the pair changed before the kill")
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	res.KilledAt = st.markKill()
	r.emit(Event{At: res.KilledAt, Kind: KindKilled, Who: "host " + string(victimHost),
		Text: fmt.Sprintf("kill -9 of the %s, after %d request/response pairs on the connection", cfg.Kill, st.answered())})

	if cfg.Kill == Primary {
		if _, err := r.waitEvent(b, failover.EventWentLive, 2, stepLimit); err != nil {
			return err
		}
		if err := r.waitGARP(garps, mac, res); err != nil {
			return err
		}
	} else if _, err := r.waitEvent(a, failover.EventBackupLost, 2, stepLimit); err != nil {
		return err
	}
	if err := r.waitFor(replyLimit+time.Second, "the stream to resume", func() bool { return st.resumed() || st.failed() }); err != nil {
		return err
	}
	if st.failed() {
		return st.result(res)
	}
	res.Resumed = st.resumedAfter()
	r.emitf(KindResumed, "client", "stream resumed: the first request sent after the kill answered %v after it, on the same connection",
		res.Resumed.Round(time.Millisecond))

	// A new backup joins the survivor, in the host that lost its member.
	st.markJoin()
	c, err := r.spawn(victimHost, "backup", backupArgs(victimHost, survivorHost)...)
	if err != nil {
		return err
	}
	if _, err := r.waitEvent(c, failover.EventJoinedPrimary, 0, joinLimit); err != nil {
		return err
	}
	if e, err := r.waitEvent(survivor, failover.EventBackupJoined, 0, stepLimit); err == nil {
		res.JoinPause, res.JoinBytes = time.Duration(e.Millis*float64(time.Millisecond)), e.Bytes
	}
	n := st.answered()
	if err := r.waitFor(stepLimit, fmt.Sprintf("%d more request/response pairs", cfg.After), func() bool {
		return st.answered() >= n+cfg.After || st.failed()
	}); err != nil {
		return err
	}
	st.finish()
	if res.PortAfter, err = r.lab.FDBPort(mac); err != nil {
		return err
	}
	r.killAll()
	res.Live = r.generations()
	if err := st.result(res); err != nil {
		return err
	}
	r.emitf(KindStreamEnd, "client", "%d request/response pairs, %d bytes sent, %d echoed, %d lost; the longest wait: %v across the failover, %v across the join",
		res.Pairs, res.BytesSent, res.BytesEcho, res.LostBytes, res.Stall.Round(time.Millisecond), res.JoinStall.Round(time.Millisecond))
	return nil
}

// guestMAC returns the MAC of the guest's answer "mac=MAC" on its console.
func guestMAC(console string) (net.HardwareAddr, error) {
	if i := strings.LastIndex(console, "mac="); i >= 0 {
		if f := strings.Fields(console[i+len("mac="):]); len(f) > 0 {
			return net.ParseMAC(f[0])
		}
	}
	return nil, errors.New("the guest did not say its MAC")
}

// takeover returns the first event so far in which a member lost its peer
// or the arbiter.
func (r *run) takeover() (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		switch e.Pair {
		case failover.EventPrimaryLost, failover.EventBackupLost, failover.EventWentLive, failover.EventLostArbiter:
			return e, true
		}
	}
	return Event{}, false
}

// waitGARP waits for the survivor's gratuitous ARP entering the LAN and
// for the LAN bridge to learn the guest's MAC on B's port.
func (r *run) waitGARP(garps *netlab.GARPWatch, mac net.HardwareAddr, res *Result) error {
	guest := net.ParseIP(netlab.AddrGuest)
	timer := time.NewTimer(stepLimit)
	defer timer.Stop()
	for {
		select {
		case g := <-garps.C():
			if !g.IP.Equal(guest) || g.At.Before(res.KilledAt) {
				continue
			}
			res.GARP, res.GARPPort = g.At.Sub(res.KilledAt), g.Port
			r.emit(Event{At: g.At, Kind: KindGARP, Who: "LAN", Text: fmt.Sprintf("gratuitous ARP %s is-at %s came in on port %s, %v after the kill",
				g.IP, g.MAC, g.Port, res.GARP.Round(time.Millisecond))})
			want := netlab.Port(netlab.HostB)
			var port string
			if err := r.waitFor(10*time.Second, "the LAN bridge to learn the guest's MAC on "+want, func() bool {
				port, _ = r.lab.FDBPort(mac)
				return port == want
			}); err != nil {
				return fmt.Errorf("%v (it has it on %q)", err, port)
			}
			r.emitf(KindPortMoved, "LAN", "the bridge moved the guest's MAC %s from port %s to %s", mac, res.PortBefore, port)
			return nil
		case <-timer.C:
			return fmt.Errorf("no gratuitous ARP for %s entered the LAN within %v of the kill", guest, stepLimit)
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// generations reads every member's events: for each generation from 2 on,
// the members that took it (went live, or carried on alone).
func (r *run) generations() map[uint64][]string {
	live := map[uint64][]string{}
	r.mu.Lock()
	ms := append([]*member(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		events, _ := failover.ReadEvents(m.events) // none if it wrote none
		for _, e := range events {
			if e.Kind == failover.EventWentLive || e.Kind == failover.EventBackupLost {
				live[e.Generation] = append(live[e.Generation], m.name)
			}
		}
	}
	return live
}

// timeline returns the events in time order.
func (r *run) timeline() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Event(nil), r.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// errStream is the error of a stream that broke.
var errStream = errors.New("the client's TCP stream broke")
