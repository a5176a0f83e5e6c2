package failover

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"

	"ftvm/hostio"
)

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
	// Log receives the node's own messages (stderr); each line starts
	// with "ftvm: ".
	Log io.Writer
	// Clock is the guest clock mode (a backup learns it from its primary).
	Clock machine.ClockMode
	// OnEvent, if set, receives the node's events as they happen, from
	// the node's goroutines (keep it short).
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
)

// hello is what a joining backup tells its primary.
type hello struct {
	Disks []string `json:"disks"` // SHA-256 of each local disk copy
}

// joinInfo opens the state a primary sends a joining backup.
type joinInfo struct {
	Header     lockstep.Header `json:"header"`
	Generation uint64          `json:"generation"`
	Position   uint64          `json:"position"`
	NextDigest uint64          `json:"next_digest"`
	Snapshot   int64           `json:"snapshot"`   // bytes of snapshot that follow
	SendDisks  []int64         `json:"send_disks"` // bytes of each disk image that follow (0: not sent)
}

// maxSnapshotOverhead bounds a join's snapshot beyond the guest's RAM
// (device and CPU state).
const maxSnapshotOverhead = 64 << 20

// check refuses sizes no primary sends: negative ones, or a snapshot larger
// than the guest's RAM and its device state.
func (j *joinInfo) check() error {
	if j.Snapshot < 0 || uint64(j.Snapshot) > max(j.Header.RAM, machine.DefaultRAM)+maxSnapshotOverhead {
		return fmt.Errorf("a snapshot of %d bytes for %d bytes of RAM", j.Snapshot, j.Header.RAM)
	}
	for i, n := range j.SendDisks {
		if n < 0 {
			return fmt.Errorf("disk %d: %d bytes", i, n)
		}
	}
	return nil
}

// mode is what the node's machine is doing.
type mode int32

const (
	modeAlone     mode = iota // live, no backup: outputs flow at once
	modePaired                // live, streaming to a backup: outputs held
	modeReplaying             // a backup replaying its primary's stream
)

// What a node's machine waits for (Node.waiting).
const (
	waitNone    int32 = iota
	waitBackup        // a primary throttled: its backup lags more than MaxLag
	waitPrimary       // a backup replayed all it received: the primary's next record
	waitInput         // the guest idles in HLT: an input or a timer
)

var waitNames = [...]string{"", "backup", "primary", "input"}

// Node is one member of a pair. It is the machine's input source, checker
// and source of random numbers, switching between live recording (primary)
// and replay (backup).
type Node struct {
	opts Options
	m    *machine.Machine
	gate *lockstep.Gate
	live *machine.LiveInputs

	clockEnv cpu.Env
	recEnv   cpu.Env
	repEnv   cpu.Env

	header lockstep.Header
	disks  []string // local disk image paths
	blks   []*devices.VirtioBlk
	nets   []hostio.Net // raw backends, for gratuitous ARP
	ip     net.IP
	mac    net.HardwareAddr

	mode       atomic.Int32
	gen        atomic.Uint64 // the pair's generation this node belongs to
	started    time.Time
	listener   *transport.Listener
	joins      chan *transport.Conn
	stopAccept context.CancelFunc

	// primary side
	mu         sync.Mutex
	conn       *transport.Conn
	sink       *streamSink
	rec        *lockstep.Recorder
	backupPos  atomic.Uint64
	lostBackup atomic.Bool
	rateT      time.Time
	rateP      uint64
	rate       float64 // positions per second

	// backup side
	rep         *lockstep.Replayer
	primaryLost atomic.Bool
	lostAt      time.Time

	// seenPos is the machine's position at its last look at its inputs
	// (Take): what status and a backup's acks report.
	seenPos atomic.Uint64
	// waiting says what the node's machine waits for (a wait constant),
	// for `ftvm status`.
	waiting atomic.Int32

	// stopping is set by Stop: the run ends, whatever the role. stopped
	// is done then, ending the node's waits (for a backup, a join, acks).
	stopping   atomic.Bool
	ran        atomic.Bool // Run returned: a link that ends now is no news
	stopped    context.Context
	stopCancel context.CancelFunc

	// Err explains why the node stopped when it lost the arbiter.
	Err error
	// Events is the node's timeline.
	Events Timeline
}

// NewNode returns a node; the machine is built with Configure and attached
// with Attach.
func NewNode(opts Options) *Node {
	opts.defaults()
	n := &Node{opts: opts, gate: lockstep.NewGate(lockstep.GateDirect), joins: make(chan *transport.Conn, 1), started: time.Now()}
	n.stopped, n.stopCancel = context.WithCancel(context.Background())
	n.live = machine.NewLiveInputs(opts.Clock == machine.ClockHost)
	return n
}

// Configure fills the machine configuration with the node's pieces: input
// source, checker, random numbers, and the gated console.
func (n *Node) Configure(cfg machine.Config, console io.Writer) machine.Config {
	cfg.Inputs, cfg.Live, cfg.Checker = n, n.live, n
	cfg.WrapEnv = func(e cpu.Env) cpu.Env { n.clockEnv = e; return nodeEnv{n} }
	cfg.Console = n.gate.Writer(console, n.position)
	return cfg
}

func (n *Node) position() uint64 {
	if n.m == nil {
		return 0
	}
	return n.m.CPU.Position()
}

// Post delivers a host input from a device backend: dropped while the node
// replays (its inputs come from the log), live otherwise.
func (n *Node) Post(in devices.Input) {
	if mode(n.mode.Load()) != modeReplaying {
		n.live.Post(in)
	}
}

// WrapNet puts a network backend behind the output gate and remembers it
// for gratuitous ARP.
func (n *Node) WrapNet(b hostio.Net) hostio.Net {
	n.nets = append(n.nets, b)
	return n.gate.NetBackend(b, n.position)
}

// OutputErr returns the first error writing the guest's console (through
// the output gate), if any.
func (n *Node) OutputErr() error { return n.gate.Err() }

// Producer registers a live input producer (see machine.LiveInputs).
func (n *Node) Producer() func() { return n.live.AddProducer() }

// Attach gives the node its built machine and the header that describes
// it (for backups joining), the local disk paths and block devices.
func (n *Node) Attach(m *machine.Machine, h lockstep.Header, disks []string, blks []*devices.VirtioBlk) {
	n.mu.Lock()
	n.m = m
	n.mu.Unlock()
	n.header, n.disks, n.blks = h, disks, blks
	if h.DigestInterval == 0 {
		n.header.DigestInterval = lockstep.DefaultDigestInterval
	}
	n.ip, n.mac = guestAddress(h)
}

// guestAddress finds the guest's IP (ip= on its command line) and MAC.
func guestAddress(h lockstep.Header) (net.IP, net.HardwareAddr) {
	var ip net.IP
	for _, w := range strings.Fields(h.Cmdline) {
		if v, ok := strings.CutPrefix(w, "ip="); ok {
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

// --- the machine's input source, checker and environment ---

// Next implements machine.InputSource.
func (n *Node) Next() uint64 {
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return n.rep.Next()
	case modePaired:
		return n.rec.Next()
	}
	return n.live.Next()
}

// Take implements machine.InputSource.
func (n *Node) Take(pos uint64, buf []devices.Input) []devices.Input {
	n.seenPos.Store(pos)
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return n.rep.Take(pos, buf)
	case modePaired:
		if n.lostBackup.Load() {
			n.backupLost()
			return n.live.Take(pos, buf)
		}
		n.throttle(pos)
		buf = n.rec.Take(pos, buf)
		n.sync(pos, 25*time.Millisecond)
		return buf
	}
	return n.live.Take(pos, buf)
}

// sync sends a sync record at pos when outputs wait for one, or when the
// stream has been quiet for quiet, so the backup can run on and acknowledge.
func (n *Node) sync(pos uint64, quiet time.Duration) {
	held, _ := n.gate.Held()
	last, lastAt, _ := n.sink.sent()
	if last < pos && (held > 0 || time.Since(lastAt) >= quiet) {
		n.rec.Append(lockstep.Record{Pos: pos, Kind: lockstep.KindSync})
	}
}

// Wait implements machine.InputSource.
func (n *Node) Wait(deadline uint64) bool {
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return n.rep.Wait(deadline)
	case modePaired:
		// The guest idles: let the backup acknowledge what it has, so the
		// held outputs go out now rather than after the wait.
		n.sync(n.position(), 0)
	}
	n.waiting.Store(waitInput)
	defer n.waiting.Store(waitNone)
	return n.live.Wait(deadline)
}

// CanWake implements machine.InputSource.
func (n *Node) CanWake() bool {
	if mode(n.mode.Load()) == modeReplaying {
		return n.rep.CanWake()
	}
	return n.live.CanWake()
}

// NextCheck implements machine.Checker.
func (n *Node) NextCheck() uint64 {
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return n.rep.NextCheck()
	case modePaired:
		return n.rec.NextCheck()
	}
	return ^uint64(0)
}

// Check implements machine.Checker.
func (n *Node) Check(m *machine.Machine) error {
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return n.rep.Check(m)
	case modePaired:
		if err := n.rec.Check(m); err != nil {
			n.lostBackup.Store(true)
		}
	}
	return nil
}

// nodeEnv serves the CPU's time and random numbers according to the mode.
type nodeEnv struct{ n *Node }

func (e nodeEnv) TSC(pos uint64) uint64 { return e.n.clockEnv.TSC(pos) }

func (e nodeEnv) Random(pos uint64, seed bool) (uint64, bool) {
	switch mode(e.n.mode.Load()) {
	case modeReplaying:
		return e.n.repEnv.Random(pos, seed)
	case modePaired:
		return e.n.recEnv.Random(pos, seed)
	}
	return e.n.clockEnv.Random(pos, seed)
}

// throttle holds the primary while its backup lags more than MaxLag of
// execution behind. Before it waits it sends a sync record at pos, so the
// backup can replay up to here and say so.
func (n *Node) throttle(pos uint64) {
	now := time.Now()
	if n.rateT.IsZero() {
		n.rateT, n.rateP = now, pos
	} else if dt := now.Sub(n.rateT); dt >= 100*time.Millisecond {
		n.rate = float64(pos-n.rateP) / dt.Seconds()
		n.rateT, n.rateP = now, pos
	}
	if n.rate == 0 {
		return
	}
	limit := uint64(n.rate * n.opts.MaxLag.Seconds())
	if pos <= n.backupPos.Load()+limit {
		return
	}
	n.sync(pos, 0)
	n.waiting.Store(waitBackup)
	defer n.waiting.Store(waitNone)
	for pos > n.backupPos.Load()+limit && !n.lostBackup.Load() && !n.stopping.Load() {
		time.Sleep(time.Millisecond)
	}
}

// --- primary side ---

// Listen starts accepting backups at opts.Listen.
func (n *Node) Listen() error {
	if n.opts.Listen == "" {
		return nil
	}
	l, err := transport.Listen(n.opts.Listen, n.opts.TLS, transport.Options{
		HeartbeatInterval: n.opts.Heartbeat,
		IdleTimeout:       max(4*n.opts.FailoverTimeout, time.Second),
		Status:            n.status,
		OnAck:             n.onAck,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.listener, n.stopAccept = l, cancel
	n.mu.Unlock()
	go n.acceptLoop(ctx, l)
	n.emit(Event{Kind: EventListening, Peer: l.Addr().String()}, "primary listening on %s", l.Addr())
	return nil
}

// Close releases what the node holds once its run is over: the listener
// for backups and the link to its peer. It stops a run in progress first.
func (n *Node) Close() error {
	n.Stop()
	n.mu.Lock()
	l, c := n.listener, n.conn
	n.listener, n.conn = nil, nil
	cancel := n.stopAccept
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if c != nil {
		c.Close()
	}
	if l != nil {
		return l.Close()
	}
	return nil
}

// Addr returns the address backups connect to.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

func (n *Node) acceptLoop(ctx context.Context, l *transport.Listener) {
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				n.emit(Event{Kind: EventError}, "accepting backups: %v", err)
			}
			return
		}
		if mode(n.mode.Load()) != modeAlone {
			n.emit(Event{Kind: EventBackupRefused, Peer: c.RemoteAddr().String()}, "refusing a second backup from %v: already paired", c.RemoteAddr())
			c.Close()
			continue
		}
		select {
		case n.joins <- c:
			n.m.Pause()
		default:
			c.Close()
		}
	}
}

// Claim takes the first generation of a new pair from the arbiter.
func (n *Node) Claim() error {
	hi, err := n.opts.Arbiter.Highest()
	if err != nil {
		return err
	}
	won, err := n.opts.Arbiter.TestAndSet(hi+1, "primary")
	if err != nil {
		return err
	}
	if !won {
		return fmt.Errorf("arbiter: generation %d was claimed by another node", hi+1)
	}
	n.gen.Store(hi + 1)
	return nil
}

// WaitBackup blocks until a backup has joined (ftvm primary --wait-backup),
// ctx ends or the node is stopped (ErrStopped).
func (n *Node) WaitBackup(ctx context.Context) error {
	n.emit(Event{Kind: EventWaitingBackup}, "holding the guest until a backup joins")
	select {
	case c := <-n.joins:
		return n.join(c)
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopped.Done():
		return ErrStopped
	}
}

// ErrStopped is returned by a wait that Stop ended.
var ErrStopped = errors.New("stopped")

// stopBudget bounds how long a stopped primary waits for its backup to
// acknowledge the end of the run.
const stopBudget = 500 * time.Millisecond

// Stop ends the node's run at the next instruction boundary, or at once
// when it waits (a signal). Safe from any goroutine. A replaying backup
// closes its link: its replay stops at the last record received.
func (n *Node) Stop() {
	n.stopping.Store(true)
	n.stopCancel()
	n.mu.Lock()
	m, c := n.m, n.conn
	n.mu.Unlock()
	if m != nil {
		m.RequestStop()
	}
	if c != nil && mode(n.mode.Load()) == modeReplaying {
		c.Close()
	}
}

// Run runs the machine as this node until the guest ends (or the node
// loses the arbiter), handling joins and failovers on the way.
func (n *Node) Run(maxInsns uint64) machine.Exit {
	defer n.ran.Store(true)
	if n.stopping.Load() {
		n.m.RequestStop() // stopped before the machine was attached
	}
	for {
		exit := n.m.Run(maxInsns)
		switch {
		case exit.Reason == machine.ExitPaused:
			select {
			case c := <-n.joins:
				if err := n.join(c); err != nil {
					n.emit(Event{Kind: EventJoinFailed}, "backup join failed: %v", err)
				}
			default:
			}
			continue
		case exit.Reason == machine.ExitStopped && n.stopping.Load():
			n.finish(exit)
			return exit
		case exit.Reason == machine.ExitStopped && mode(n.mode.Load()) == modeReplaying && n.rep.Err() == nil && n.replayEnded(&exit):
			// The primary's guest ended here (its end record): end with
			// it rather than take its closing connection for its death.
			n.emit(Event{Kind: EventGuestEnded, Position: n.m.CPU.Position(), Status: exit.Status()},
				"the primary's guest ended at position %d (exit status %d); ending with it", n.m.CPU.Position(), exit.Status())
			n.finish(exit)
			return exit
		case exit.Reason == machine.ExitStopped && n.primaryLost.Load() && mode(n.mode.Load()) == modeReplaying:
			if !n.goLive() {
				return machine.Exit{Reason: machine.ExitStopped}
			}
			continue
		case exit.Reason == machine.ExitStopped && n.Err != nil:
			return exit
		}
		n.finish(exit)
		return exit
	}
}

// replayEnded reports whether a replaying backup holds the end record of
// its primary's log, and sets *exit to the recorded outcome. (A replay
// that stops by itself, ExitStopped, stops at that record's position.)
func (n *Node) replayEnded(exit *machine.Exit) bool {
	end, ok := n.rep.EndExit()
	if ok {
		*exit = end
	}
	return ok
}

// finish ends a run: a paired primary logs the end and lets its backup
// acknowledge the last outputs before they are released. A backup that
// never went live emits nothing: the primary released those outputs.
func (n *Node) finish(exit machine.Exit) {
	switch mode(n.mode.Load()) {
	case modeReplaying:
		return
	case modeAlone:
		n.gate.SetMode(lockstep.GateDirect)
		return
	}
	n.rec.Finish(n.m, exit)
	budget := 2 * time.Second
	if n.stopping.Load() {
		budget = stopBudget
	}
	deadline := time.Now().Add(budget)
	for time.Now().Before(deadline) && !n.lostBackup.Load() {
		if held, _ := n.gate.Held(); held == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	n.gate.SetMode(lockstep.GateDirect)
	// Closing drops what the backup has not received: wait until it has
	// the end record (it reads it as its replay comes near, within the
	// lag), so it ends with the guest instead of going live.
	if seq, _ := n.conn.Sent(); !n.lostBackup.Load() {
		wait := n.opts.MaxLag + 5*time.Second
		if n.stopping.Load() {
			wait = time.Until(deadline)
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(wait, 0))
		n.conn.WaitAcked(ctx, seq)
		cancel()
	}
	n.conn.Close()
}

// join brings a backup in: the guest is paused at a position, the machine's
// state (and each disk the backup's copy differs from) is streamed to it,
// and the log flows from that position on.
func (n *Node) join(c *transport.Conn) error {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(n.stopped, 10*time.Second)
	defer cancel()
	kind, p, err := recvControl(ctx, c)
	if err != nil || kind != ctlHello {
		c.Close()
		return fmt.Errorf("backup %v sent no hello: %v", c.RemoteAddr(), err)
	}
	var h hello
	if err := json.Unmarshal(p, &h); err != nil {
		c.Close()
		return fmt.Errorf("backup hello: %v", err)
	}
	pos := n.m.CPU.Position()
	hdr := n.header
	info := joinInfo{Generation: n.gen.Load(), Position: pos, NextDigest: pos + hdr.DigestInterval}
	hdr.Disks = append([]lockstep.DiskInfo(nil), hdr.Disks...)
	var diskData [][]byte
	for i, path := range n.disks {
		sum, err := lockstep.FileSHA256(path)
		if err != nil {
			c.Close()
			return err
		}
		hdr.Disks[i].SHA256 = sum
		if i < len(h.Disks) && h.Disks[i] == sum {
			info.SendDisks = append(info.SendDisks, 0)
			diskData = append(diskData, nil)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			c.Close()
			return err
		}
		info.SendDisks = append(info.SendDisks, int64(len(b)))
		diskData = append(diskData, b)
	}
	info.Header = hdr
	var snap bytes.Buffer
	if err := n.m.SaveSnapshot(&snap); err != nil {
		c.Close()
		return err
	}
	info.Snapshot = int64(snap.Len())
	meta, _ := json.Marshal(info)
	var head [4]byte
	binary.LittleEndian.PutUint32(head[:], uint32(len(meta)))
	readers := []io.Reader{bytes.NewReader(head[:]), bytes.NewReader(meta), &snap}
	total := int64(len(meta)) + info.Snapshot
	for _, d := range diskData {
		readers = append(readers, bytes.NewReader(d))
		total += int64(len(d))
	}
	if err := c.SendStateContext(ctx, io.MultiReader(readers...)); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	n.mu.Lock()
	n.conn = c
	n.sink = &streamSink{conn: c, ctx: n.stopped}
	n.rec = lockstep.NewRecorderTo(n.sink, hdr, n.live)
	n.rec.SetNextCheck(info.NextDigest)
	n.recEnv = n.rec.WrapEnv(n.clockEnv)
	n.backupPos.Store(pos)
	n.lostBackup.Store(false)
	n.rate, n.rateT = 0, time.Time{}
	n.mu.Unlock()
	n.gate.SetMode(lockstep.GateHold)
	n.mode.Store(int32(modePaired))
	go n.watchPeer(c, func() {
		n.lostBackup.Store(true)
		n.live.Wake()
	})
	go drainControl(c)
	paused := float64(time.Since(t0).Microseconds()) / 1000
	n.emit(Event{Kind: EventBackupJoined, Peer: c.RemoteAddr().String(), Position: pos, Generation: n.gen.Load(), Millis: paused, Bytes: total},
		"backup %v joined at position %d (generation %d): guest paused %.1f ms for %.1f MiB of state",
		c.RemoteAddr(), pos, n.gen.Load(), paused, float64(total)/(1<<20))
	return nil
}

// onAck is the transport's acknowledgement callback on the primary.
func (n *Node) onAck(seq, replayPos uint64) {
	n.mu.Lock()
	sink, c := n.sink, n.conn
	n.mu.Unlock()
	if sink == nil {
		return
	}
	n.backupPos.Store(replayPos)
	pos, ok := sink.acked(seq)
	if !ok {
		return
	}
	before := n.gate.ReleasedPos()
	if released := n.gate.Acked(pos); released > before && c != nil {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], released)
		c.SendControl(ctlReleased, b[:])
	}
}

// watchPeer calls lost once nothing (heartbeat, log, ack) arrived from the
// peer for the failover timeout, or the connection died.
func (n *Node) watchPeer(c *transport.Conn, lost func()) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.Done():
		case <-t.C:
			if time.Since(c.LastHeard()) < n.opts.FailoverTimeout {
				continue
			}
		}
		lost()
		return
	}
}

// backupLost runs on the machine's goroutine when the backup is gone: the
// primary must win the next generation before it carries on alone.
func (n *Node) backupLost() {
	n.mu.Lock()
	c := n.conn
	n.conn, n.sink, n.rec = nil, nil, nil
	n.mu.Unlock()
	if c != nil {
		c.Close()
	}
	n.mode.Store(int32(modeAlone))
	won, err := n.opts.Arbiter.TestAndSet(n.gen.Load()+1, "primary")
	if err != nil || !won {
		n.Err = fmt.Errorf("lost the arbiter for generation %d (the backup went live); stopping this side", n.gen.Load()+1)
		if err != nil {
			n.Err = fmt.Errorf("arbiter: %v; stopping this side", err)
		}
		n.emit(Event{Kind: EventLostArbiter, Generation: n.gen.Load() + 1}, "%v", n.Err)
		n.gate.SetMode(lockstep.GateBuffer) // never emit again
		n.m.RequestStop()
		return
	}
	n.gen.Add(1)
	n.gate.SetMode(lockstep.GateDirect)
	n.emit(Event{Kind: EventBackupLost, Generation: n.gen.Load()}, "backup lost: carrying on alone as generation %d", n.gen.Load())
}

// status is the JSON `ftvm status` shows.
func (n *Node) status() []byte {
	held, _ := n.gate.Held()
	role := map[mode]string{modeAlone: "primary (alone)", modePaired: "primary (paired)", modeReplaying: "backup"}[mode(n.mode.Load())]
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
	if d := n.live.Dropped(); d > 0 {
		s["frames_dropped"] = d
	}
	n.mu.Lock()
	sink := n.sink
	n.mu.Unlock()
	if sink != nil {
		bpos := n.backupPos.Load()
		last, _, bytes := sink.sent()
		s["backup_position"] = bpos
		s["lag_instructions"] = int64(n.seenPos.Load()) - int64(bpos)
		s["log_bytes"] = bytes
		s["log_bytes_per_s"] = float64(bytes) / time.Since(n.started).Seconds()
		if bpos >= last {
			// It replayed every record sent: it waits for the next.
			s["backup_waiting_for"] = "primary"
		}
	}
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

// drainControl reads and drops a primary's unexpected control messages so
// the peer never blocks.
func drainControl(c *transport.Conn) {
	for {
		if _, _, err := c.RecvControl(); err != nil {
			return
		}
	}
}
