package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/hostio"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// Package failover is the pair: a Primary runs the guest and streams its
// inputs to a Backup that replays them, holding external output until the
// backup has the records it depends on; when one side is lost the other
// carries on (the backup goes live) once the arbiter gives it the next
// generation.
//
// Both sides are a member (the machine, the output gate, the live inputs,
// the generation, events, stopping) with a role on top: Primary records
// (alone or paired), Backup replays, and becomes a Primary over the same
// member when it goes live (Machine.SetInputs swaps the input source).

// Options configure a member of a pair.
type Options struct {
	TLS             *transport.TLSConfig
	Heartbeat       time.Duration // default 50 ms
	FailoverTimeout time.Duration // default 300 ms
	MaxLag          time.Duration // default 1 s of the primary's execution
	Arbiter         Arbiter
	// Listen is where a primary (or a backup that went live) accepts
	// backups; empty for none.
	Listen string
	// Log receives the member's own messages (stderr); each line starts
	// with "ftvm: ".
	Log io.Writer
	// Clock is the guest clock mode (a backup learns it from its primary).
	Clock machine.ClockMode
	// Mode is how the backup is kept (a backup learns it from its
	// primary); Interval is the checkpoint interval of the checkpoint
	// modes.
	Mode     Mode
	Interval time.Duration
	// OnEvent, if set, receives the member's events as they happen, from
	// the member's goroutines (keep it short).
	OnEvent func(Event)
}

func (o *Options) defaults() {
	if o.Heartbeat == 0 {
		o.Heartbeat = 50 * time.Millisecond
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 300 * time.Millisecond
	}
	if o.MaxLag == 0 {
		o.MaxLag = time.Second
	}
	if o.Interval == 0 {
		o.Interval = DefaultCheckpointInterval
	}
	if o.Arbiter == nil {
		o.Arbiter = NoArbiter{}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Control message kinds on the pair's control stream.
const (
	ctlHello    = 1 // backup → primary: JSON hello
	ctlReleased = 2 // primary → backup: outputs released below this position (8 bytes)
	ctlEnd      = 3 // primary → backup: the run ended at this position (8 bytes), every output released
	ctlEndSeen  = 4 // backup → primary: ctlEnd received; the primary may close the link
)

// What a member's machine waits for (member.waiting), for `ftvm status`.
const (
	waitNone    int32 = iota
	waitBackup        // a primary throttled: its backup lags more than MaxLag
	waitPrimary       // a backup replayed all it received: the primary's next record
	waitInput         // the guest idles in HLT: an input or a timer
	waitRelease       // a backup at the end record: the primary's word that it released every output
)

var waitNames = [...]string{"", "backup", "primary", "input", "release"}

// member is what both sides of a pair have.
type member struct {
	opts Options

	// Set before the run and read-only during it.
	gate    *lockstep.Gate // never replaced: a role changes its mode
	live    *machine.LiveInputs
	header  lockstep.Header
	disks   []string // local disk image paths
	blks    []*devices.VirtioBlk
	nets    []hostio.Net // raw backends, for gratuitous ARP
	ip      net.IP
	mac     net.HardwareAddr
	started time.Time

	// Owned by the goroutine running the machine: the machine's own time
	// and random numbers, and the role's source of random numbers (the
	// clock's, a recorder's or a replayer's).
	clock  cpu.Env
	random cpu.Env

	// mu guards m (attached on the machine's goroutine, stopped from a
	// signal's) and conn, the link to the peer.
	mu   sync.Mutex
	m    *machine.Machine
	conn *transport.Conn

	// hostInputs is set while inputs come from the host (live), not from
	// a log: device backends' posts are taken only then.
	hostInputs atomic.Bool
	gen        atomic.Uint64 // the pair's generation this member belongs to
	// seenPos is the machine's position at its last look at its inputs:
	// what status and a backup's acks report.
	seenPos atomic.Uint64
	waiting atomic.Int32 // a wait constant

	// The writes the guest submitted to its disks since the last
	// checkpoint, kept while tapDisks (a checkpointing primary). Owned by
	// the goroutine running the machine (the disks submit there).
	tapDisks    bool
	epochWrites []diskWrite
	epochBytes  int // the bytes of epochWrites
	// syncAsked is set while an io-sync checkpoint is asked for.
	syncAsked atomic.Bool

	// stopping is set by Stop: the run ends, whatever the role; stopped is
	// done then, ending the member's waits (a backup, a join, acks). ran
	// is set when the run returned: a link that ends then is no news.
	stopping   atomic.Bool
	ran        atomic.Bool
	stopped    context.Context
	stopCancel context.CancelFunc

	// err is why the member stopped when it lost the arbiter.
	err atomic.Pointer[error]

	// Events is the member's timeline.
	Events Timeline
}

func newMember(opts Options) *member {
	opts.defaults()
	m := &member{opts: opts, gate: lockstep.NewGate(lockstep.GateDirect), started: time.Now()}
	m.stopped, m.stopCancel = context.WithCancel(context.Background())
	m.live = machine.NewLiveInputs(opts.Clock == machine.ClockHost)
	return m
}

// configure fills the machine configuration: inputs and checker from the
// role, the environment whose random numbers the role serves (see
// memberEnv), and the gated console.
func (n *member) configure(cfg machine.Config, console io.Writer, inputs machine.InputSource, checker machine.Checker, random func(clock cpu.Env) cpu.Env) machine.Config {
	cfg.Inputs, cfg.Live, cfg.Checker = inputs, n.live, checker
	cfg.WrapEnv = func(e cpu.Env) cpu.Env {
		n.clock, n.random = e, random(e)
		return memberEnv{n}
	}
	cfg.Console = n.gate.Writer(console, n.position)
	return cfg
}

// memberEnv serves the CPU's time from the machine's clock and its random
// numbers from the current role.
type memberEnv struct{ n *member }

func (e memberEnv) TSC(pos uint64) uint64 { return e.n.clock.TSC(pos) }

func (e memberEnv) Random(pos uint64, seed bool) (uint64, bool) { return e.n.random.Random(pos, seed) }

func (n *member) machine() *machine.Machine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m
}

func (n *member) position() uint64 {
	if m := n.machine(); m != nil {
		return m.CPU.Position()
	}
	return 0
}

// Post delivers a host input from a device backend: dropped while the
// inputs come from a log.
func (n *member) Post(in devices.Input) {
	if n.hostInputs.Load() {
		n.live.Post(in)
	}
}

// WrapNet puts a network backend behind the output gate and remembers it
// for gratuitous ARP.
func (n *member) WrapNet(b hostio.Net) hostio.Net {
	n.nets = append(n.nets, b)
	return n.gate.NetBackend(b, n.position)
}

// OutputErr returns the first error writing the guest's console (through
// the output gate), if any.
func (n *member) OutputErr() error { return n.gate.Err() }

// Err explains why the member stopped when it lost the arbiter (nil
// otherwise).
func (n *member) Err() error {
	if p := n.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (n *member) setErr(err error) { n.err.Store(&err) }

// Producer registers a live input producer (see machine.LiveInputs).
func (n *member) Producer() func() { return n.live.AddProducer() }

// Attach gives the member its built machine and the header that describes
// it (for backups joining), the local disk paths and block devices.
func (n *member) Attach(m *machine.Machine, h lockstep.Header, disks []string, blks []*devices.VirtioBlk) {
	n.mu.Lock()
	n.m = m
	n.mu.Unlock()
	n.header, n.disks, n.blks = h, disks, blks
	if h.DigestInterval == 0 {
		n.header.DigestInterval = lockstep.DefaultDigestInterval
	}
	n.ip, n.mac = guestAddress(h)
}

// guestAddress finds the guest's IP (ip= on its command line, or ftvm.ip=,
// which the Linux initramfs's /init configures) and MAC.
func guestAddress(h lockstep.Header) (net.IP, net.HardwareAddr) {
	var ip net.IP
	for _, w := range strings.Fields(h.Cmdline) {
		v, ok := strings.CutPrefix(w, "ip=")
		if !ok {
			v, ok = strings.CutPrefix(w, "ftvm.ip=")
		}
		if ok {
			v, _, _ = strings.Cut(v, "/")
			ip = net.ParseIP(v).To4()
		}
	}
	if ip == nil && h.Net {
		ip = net.IPv4(10, 0, 2, 15).To4() // the appliance's default
	}
	var mac net.HardwareAddr
	if len(h.Nets) > 0 {
		mac, _ = net.ParseMAC(h.Nets[0])
	}
	return ip, mac
}

// ErrStopped is returned by a wait that Stop ended.
var ErrStopped = errors.New("stopped")

// stop ends the member's run at the next instruction boundary, or at once
// when it waits; it returns the link to the peer.
func (n *member) stop() *transport.Conn {
	n.stopping.Store(true)
	n.stopCancel()
	n.mu.Lock()
	m, c := n.m, n.conn
	n.mu.Unlock()
	if m != nil {
		m.RequestStop()
	}
	return c
}

// link returns the link to the peer (nil: none).
func (n *member) link() *transport.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conn
}

// takeConn returns the link to the peer and forgets it.
func (n *member) takeConn() *transport.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.conn
	n.conn = nil
	return c
}

// claim asks the arbiter for generation gen. While the arbiter gives no
// answer (ErrArbiterUnreachable) this side is not live: it says so and
// asks again, waiting longer each time up to a second, until an answer or
// Stop.
func (n *member) claim(gen uint64, who string) (bool, error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		won, err := n.opts.Arbiter.TestAndSet(gen, who)
		if !errors.Is(err, ErrArbiterUnreachable) || n.stopping.Load() {
			return won, err
		}
		n.emit(Event{Kind: EventArbiterUnreachable, Generation: gen, Millis: float64(wait.Milliseconds())},
			"%v: not live; asking again for generation %d in %v", err, gen, wait)
		time.Sleep(wait)
	}
}

// lostArbiter records that the other side holds generation gen.
func (n *member) lostArbiter(gen uint64, err error, other string) {
	e := fmt.Errorf("lost the arbiter for generation %d (%s); stopping this side", gen, other)
	if err != nil {
		e = fmt.Errorf("arbiter: %v; stopping this side", err)
	}
	n.setErr(e)
	n.emit(Event{Kind: EventLostArbiter, Generation: gen}, "%v", e)
}

// watchPeer calls lost once nothing (heartbeat, log, ack, or any QUIC
// packet) arrived from the peer for the failover timeout, or the connection
// died.
//
// lost is told why in words for people: the silence counted and the
// longest gap between the watcher's looks during it (a gap near the
// timeout would say this side was starved, not that the peer was silent).
func (n *member) watchPeer(c *transport.Conn, lost func(why string)) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	s := silence{last: time.Now(), heard: c.LastHeard(), packets: c.PacketsReceived()}
	for {
		why := "the link closed"
		select {
		case <-c.Done():
		case now := <-t.C:
			if s.observe(now, c.LastHeard(), c.PacketsReceived(), tick) < n.opts.FailoverTimeout {
				continue
			}
			why = fmt.Sprintf("silence counted %v, this side's looks at most %v apart", s.silent.Round(time.Millisecond), s.gap.Round(time.Millisecond))
		}
		lost(why)
		return
	}
}

// silence is how long a peer has been silent, as a watcher that looks every
// tick sees it. Only the watcher's own ticks count: a stretch in which the
// watcher did not run (its process descheduled by a loaded host, stopped,
// or paused by the collector) counts as two ticks at most, whether or not
// the peer was heard just before it; what the peer sent meanwhile waits
// unread in the socket, and the goroutines that read it had no more time
// than the watcher. Packets QUIC took from the socket since the previous
// look count as hearing the peer, even before the readers that note a
// heartbeat or record ran.
type silence struct {
	last    time.Time     // the watcher's previous look
	heard   time.Time     // the peer's latest message seen
	packets uint64        // the packets received, at the previous look
	silent  time.Duration // silence counted so far
	gap     time.Duration // the longest time between two looks in this silence
}

// observe takes a look at now, when the peer was last heard at heard and
// packets had been received, and returns the silence.
func (s *silence) observe(now, heard time.Time, packets uint64, tick time.Duration) time.Duration {
	gap := max(now.Sub(s.last), 0)
	step := min(gap, 2*tick)
	s.last = now
	switch {
	case heard.After(s.heard):
		s.heard, s.silent, s.gap = heard, min(max(now.Sub(heard), 0), step), 0
	case packets != s.packets:
		s.silent, s.gap = step, 0
	default:
		s.silent += step
		s.gap = max(s.gap, gap)
	}
	s.packets = packets
	return s.silent
}

// status returns the fields of `ftvm status` both roles show.
func (n *member) status(role string) map[string]any {
	held, oldest := n.gate.Held()
	s := map[string]any{
		"role":         role,
		"generation":   n.gen.Load(),
		"position":     n.seenPos.Load(),
		"outputs_held": held,
		"uptime_s":     time.Since(n.started).Seconds(),
	}
	if w := n.waiting.Load(); w != waitNone {
		s["waiting_for"] = waitNames[w]
	}
	if held > 0 {
		s["oldest_held_position"] = oldest
	}
	if c := n.link(); c != nil {
		s["rtt_ms"] = ms(c.RTT())
	}
	if d := n.live.Dropped(); d > 0 {
		s["frames_dropped"] = d
	}
	return s
}

func marshalStatus(s map[string]any) []byte {
	b, _ := json.Marshal(s)
	return b
}

// recvControl reads one control message, giving up with ctx.
func recvControl(ctx context.Context, c *transport.Conn) (uint8, []byte, error) {
	type msg struct {
		kind uint8
		p    []byte
		err  error
	}
	ch := make(chan msg, 1)
	go func() {
		k, p, err := c.RecvControl()
		ch <- msg{k, p, err}
	}()
	select {
	case m := <-ch:
		return m.kind, m.p, m.err
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}
