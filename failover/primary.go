package failover

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// Primary is the live side of a pair: its machine takes its inputs from the
// host and, while a backup is joined (paired), records them to the backup's
// stream and holds external output until the backup has what it depends on.
// It is the machine's input source and checker.
type Primary struct {
	*member

	joins chan joinReq // backups that said hello, for the run loop

	// joining is the join in progress. Only the machine's goroutine sets
	// it and uses the join; the accepting goroutine reads it (refusal),
	// hence atomic. It stays set until the pair is formed, so that goroutine
	// sees it or paired from a join's start on.
	joining  atomic.Pointer[joining]
	lastJoin joinFigures // guarded by pmu

	// pmu guards listener, stopAccept, sink, rec and ck (sink, rec and ck
	// are read by the transport's ack callback and status queries; they
	// change on the machine's goroutine). While paired, rec is set in
	// lockstep mode and ck in the checkpoint modes.
	pmu        sync.Mutex
	listener   *transport.Listener
	stopAccept context.CancelFunc
	sink       *streamSink
	rec        *lockstep.Recorder
	ck         *ckptPrimary

	// endSeen (guarded by pmu) is closed when the joined backup confirms
	// the end notice (ctlEndSeen).
	endSeen chan struct{}

	// onEnd, when set (tests), is called on the machine's goroutine once
	// the end record is sent, before the run's last outputs are settled.
	onEnd func()

	paired     atomic.Bool   // a backup is joined: inputs are recorded
	backupPos  atomic.Uint64 // the backup's replay position (acks)
	lostBackup atomic.Bool   // the backup's link failed (watchPeer)

	// The execution rate, for throttling (the machine's goroutine).
	rateT time.Time
	rateP uint64
	rate  float64 // positions per second

	// How long the machine waited for its backup (the machine's
	// goroutine): throttled, and at the end of the run.
	throttled, endWait time.Duration
}

// BackupWaits returns how long the primary's machine waited for its backup:
// throttled (the backup lagged more than MaxLag) and at the end of the run
// (for the backup to hold the end record and confirm the end notice). Call
// it once Run has returned.
func (p *Primary) BackupWaits() (throttled, end time.Duration) { return p.throttled, p.endWait }

// NewPrimary returns the primary of a new pair; its machine is built with
// Configure and attached with Attach.
func NewPrimary(opts Options) *Primary {
	return newPrimary(newMember(opts))
}

func newPrimary(n *member) *Primary {
	p := &Primary{member: n, joins: make(chan joinReq, 1)}
	n.hostInputs.Store(true)
	return p
}

// Configure fills the machine configuration with the primary's pieces:
// input source, checker, random numbers, and the gated console.
func (p *Primary) Configure(cfg machine.Config, console io.Writer) machine.Config {
	return p.configure(cfg, console, p, p, func(clock cpu.Env) cpu.Env { return clock })
}

// recorder returns the stream's recorder (nil when alone).
func (p *Primary) recorder() *lockstep.Recorder {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	return p.rec
}

// LogBytesByKind returns the bytes of the records streamed to backups so
// far (since the last backup joined), by record kind; empty when alone.
func (p *Primary) LogBytesByKind() map[string]uint64 {
	if r := p.recorder(); r != nil {
		return r.BytesByKind()
	}
	return nil
}

// --- the machine's input source and checker ---

// Next implements machine.InputSource: a live source never knows ahead.
func (p *Primary) Next() uint64 { return p.live.Next() }

// Take implements machine.InputSource.
func (p *Primary) Take(pos uint64, buf []devices.Input) []devices.Input {
	p.seenPos.Store(pos)
	if !p.paired.Load() {
		return p.live.Take(pos, buf)
	}
	if p.lostBackup.Load() {
		p.backupLost()
		return p.live.Take(pos, buf)
	}
	if p.ck != nil {
		return p.live.Take(pos, buf)
	}
	p.throttle(pos)
	buf = p.rec.Take(pos, buf)
	p.sync(pos, 25*time.Millisecond)
	return buf
}

// Wait implements machine.InputSource.
func (p *Primary) Wait(deadline uint64) bool {
	if p.paired.Load() && p.ck == nil {
		// The guest idles: let the backup acknowledge what it has, so the
		// held outputs go out now rather than after the wait.
		p.sync(p.position(), 0)
	}
	p.waiting.Store(waitInput)
	defer p.waiting.Store(waitNone)
	return p.live.Wait(deadline)
}

// CanWake reports whether an idle guest can be woken.
func (p *Primary) CanWake() bool { return p.live.CanWake() }

// NextCheck implements machine.Checker: the recorder's digests while
// paired.
func (p *Primary) NextCheck() uint64 {
	if !p.paired.Load() || p.ck != nil {
		return ^uint64(0)
	}
	return p.rec.NextCheck()
}

// Check implements machine.Checker. A record the stream cannot take means
// the backup is gone.
func (p *Primary) Check(m *machine.Machine) error {
	if p.paired.Load() && p.ck == nil {
		if err := p.rec.Check(m); err != nil {
			p.lostBackup.Store(true)
		}
	}
	return nil
}

// sync sends a sync record at pos when outputs wait for one, or when the
// stream has been quiet for quiet, so the backup can run on and acknowledge.
func (p *Primary) sync(pos uint64, quiet time.Duration) {
	held, _ := p.gate.Held()
	last, lastAt, _ := p.sink.sent()
	if last < pos && (held > 0 || time.Since(lastAt) >= quiet) {
		p.rec.Append(lockstep.Record{Pos: pos, Kind: lockstep.KindSync})
	}
}

// throttle holds the primary while its backup lags more than MaxLag of
// execution behind. Before it waits it sends a sync record at pos, so the
// backup can replay up to here and say so.
func (p *Primary) throttle(pos uint64) {
	now := time.Now()
	if p.rateT.IsZero() {
		p.rateT, p.rateP = now, pos
	} else if dt := now.Sub(p.rateT); dt >= 100*time.Millisecond {
		p.rate = float64(pos-p.rateP) / dt.Seconds()
		p.rateT, p.rateP = now, pos
	}
	if p.rate == 0 {
		return
	}
	limit := uint64(p.rate * p.opts.MaxLag.Seconds())
	if pos <= p.backupPos.Load()+limit {
		return
	}
	p.sync(pos, 0)
	p.waiting.Store(waitBackup)
	defer p.waiting.Store(waitNone)
	for pos > p.backupPos.Load()+limit && !p.lostBackup.Load() && !p.stopping.Load() {
		time.Sleep(time.Millisecond)
	}
	p.throttled += time.Since(now)
}

// --- accepting backups ---

// Listen starts accepting backups at opts.Listen.
func (p *Primary) Listen() error {
	if p.opts.Listen == "" {
		return nil
	}
	l, err := transport.Listen(p.opts.Listen, p.opts.TLS, transport.Options{
		HeartbeatInterval: p.opts.Heartbeat,
		IdleTimeout:       max(4*p.opts.FailoverTimeout, time.Second),
		Status:            p.status,
		OnAck:             p.onAck,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.pmu.Lock()
	p.listener, p.stopAccept = l, cancel
	p.pmu.Unlock()
	go p.acceptLoop(ctx, l)
	p.emit(Event{Kind: EventListening, Peer: l.Addr().String()}, "primary listening on %s", l.Addr())
	return nil
}

// Addr returns the address backups connect to ("" when not listening).
func (p *Primary) Addr() string {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	if p.listener == nil {
		return ""
	}
	return p.listener.Addr().String()
}

func (p *Primary) acceptLoop(ctx context.Context, l *transport.Listener) {
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.emit(Event{Kind: EventError}, "accepting backups: %v", err)
			}
			return
		}
		if why := p.refusal(); why != "" {
			p.refuse(c, why)
			continue
		}
		go p.greet(c)
	}
}

// Claim takes the first generation of a new pair from the arbiter.
func (p *Primary) Claim() error {
	hi, err := p.opts.Arbiter.Highest()
	if err != nil {
		return err
	}
	won, err := p.opts.Arbiter.TestAndSet(hi+1, "primary")
	if err != nil {
		return err
	}
	if !won {
		return fmt.Errorf("arbiter: generation %d was claimed by another node", hi+1)
	}
	p.gen.Store(hi + 1)
	return nil
}

// WaitBackup blocks until a backup has joined (ftvm primary --wait-backup),
// ctx ends or the primary is stopped (ErrStopped).
func (p *Primary) WaitBackup(ctx context.Context) error {
	p.emit(Event{Kind: EventWaitingBackup}, "holding the guest until a backup joins")
	select {
	case r := <-p.joins:
		return p.join(r)
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stopped.Done():
		return ErrStopped
	}
}

// stopBudget bounds how long a stopped primary waits for its backup to
// acknowledge the end of the run.
const stopBudget = 500 * time.Millisecond

// Stop ends the run at the next instruction boundary, or at once when it
// waits (a signal). Safe from any goroutine.
func (p *Primary) Stop() { p.stop() }

// Close releases what the primary holds once its run is over: the listener
// for backups and the link to its backup. It stops a run in progress first.
func (p *Primary) Close() error {
	p.stop()
	p.pmu.Lock()
	l, cancel := p.listener, p.stopAccept
	p.listener, p.stopAccept = nil, nil
	p.pmu.Unlock()
	if cancel != nil {
		cancel()
	}
	if c := p.takeConn(); c != nil {
		c.Close()
	}
	if l != nil {
		return l.Close()
	}
	return nil
}

// Run runs the machine until the guest ends (or the primary loses the
// arbiter), taking backups in as they join.
func (p *Primary) Run(maxInsns uint64) machine.Exit {
	defer p.ran.Store(true)
	m := p.machine()
	if p.stopping.Load() {
		m.RequestStop() // stopped before the machine was attached
	}
	for {
		exit := m.Run(maxInsns)
		if exit.Reason == machine.ExitPaused {
			select {
			case r := <-p.joins:
				p.startJoin(r)
			default:
			}
			if p.joining.Load() != nil {
				p.joinStep()
			}
			if p.ck != nil && p.paired.Load() {
				if p.lostBackup.Load() {
					p.backupLost()
				} else {
					p.checkpoint()
				}
			}
			continue
		}
		if exit.Reason == machine.ExitStopped && p.Err() != nil && !p.stopping.Load() {
			return exit // lost the arbiter: this side emits nothing more
		}
		p.finish(exit)
		return exit
	}
}

// finish ends a run. Alone, the primary emits what it holds. Paired, it
// logs the end and settles the run's last outputs so that they go out
// exactly once: once the backup holds the end record (so it acknowledged
// every output's record), the primary releases everything, tells the
// backup so (ctlEnd) and closes the link when the backup confirms; a
// backup at the end record waits for that notice and then emits nothing.
// When the backup is lost or does not answer in time, the arbiter decides:
// the side that wins the next generation releases what is still held (a
// backup at the end releases exactly what no release notice covered).
func (p *Primary) finish(exit machine.Exit) {
	if p.joining.Load() != nil {
		p.abortJoin(errJoinStopped)
	}
	if !p.paired.Load() {
		p.gate.SetMode(lockstep.GateDirect)
		return
	}
	m := p.machine()
	end := m.CPU.Position()
	if p.ck != nil {
		// The last checkpoint covers every output; the end follows it.
		p.checkpoint()
		if p.ck != nil {
			p.sendEnd(exit)
			p.reportCheckpoints(0)
			p.stopCheckpoints()
		}
	} else {
		p.rec.Finish(m, exit)
	}
	if p.onEnd != nil {
		p.onEnd()
	}
	// The backup reads the end record as its replay comes near, within
	// the lag.
	budget := p.opts.MaxLag + 5*time.Second
	if p.stopping.Load() {
		budget = stopBudget
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	t0 := time.Now()
	confirmed := p.endConfirmed(ctx, end)
	p.endWait = time.Since(t0)
	if confirmed {
		if c := p.takeConn(); c != nil {
			c.Close()
		}
		return
	}
	p.backupLost()
}

// endConfirmed waits until the backup holds the end record at position
// end, releases every output, sends the backup the end notice and waits
// for its confirmation. It reports whether the backup confirmed before ctx
// ended or the link failed; the primary may have released outputs even
// when it did not.
func (p *Primary) endConfirmed(ctx context.Context, end uint64) bool {
	c := p.link()
	p.pmu.Lock()
	seen := p.endSeen
	p.pmu.Unlock()
	if c == nil || p.lostBackup.Load() {
		return false
	}
	p.waiting.Store(waitBackup)
	defer p.waiting.Store(waitNone)
	if seq, _ := c.Sent(); c.WaitAcked(ctx, seq) != nil {
		return false
	}
	p.gate.SetMode(lockstep.GateDirect)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], end)
	if c.SendControl(ctlEnd, b[:]) != nil {
		return false
	}
	select {
	case <-seen:
		return true
	case <-ctx.Done():
	case <-c.Done():
	}
	return false
}

// onAck is the transport's acknowledgement callback.
func (p *Primary) onAck(seq, replayPos uint64) {
	p.pmu.Lock()
	sink := p.sink
	p.pmu.Unlock()
	if sink == nil {
		return
	}
	p.backupPos.Store(replayPos)
	pos, ok := sink.acked(seq)
	if !ok {
		return
	}
	before := p.gate.ReleasedPos()
	if released := p.gate.Acked(pos); released > before {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], released)
		sink.conn.SendControl(ctlReleased, b[:])
	}
}

// backupLost runs on the machine's goroutine when the backup is gone: the
// primary must win the next generation before it carries on alone.
func (p *Primary) backupLost() {
	if c := p.takeConn(); c != nil {
		c.Close()
	}
	p.paired.Store(false)
	if p.ck != nil {
		p.reportCheckpoints(0)
	}
	p.stopCheckpoints()
	p.pmu.Lock()
	p.sink, p.rec = nil, nil
	p.pmu.Unlock()
	p.random = p.clock
	gen := p.gen.Load() + 1
	won, err := p.claim(gen, "primary")
	if err != nil || !won {
		p.lostArbiter(gen, err, "the backup went live")
		p.gate.SetMode(lockstep.GateBuffer) // never emit again
		p.machine().RequestStop()
		return
	}
	p.gen.Store(gen)
	p.gate.SetMode(lockstep.GateDirect)
	p.emit(Event{Kind: EventBackupLost, Generation: gen}, "backup lost: carrying on alone as generation %d", gen)
}

// status is the JSON `ftvm status` shows.
// Status returns what `ftvm status` shows of this side, as JSON (§5).
func (p *Primary) Status() []byte { return p.status() }

func (p *Primary) status() []byte {
	role := "primary (alone)"
	if p.paired.Load() {
		role = "primary (paired)"
	}
	s := p.member.status(role)
	p.pmu.Lock()
	sink, ck := p.sink, p.ck
	p.pmu.Unlock()
	s["mode"] = p.opts.Mode.String()
	if f := p.joinFigures(); f.Bytes > 0 {
		s["last_join"] = f
	}
	if ck != nil {
		p.checkpointStatus(s, ck)
	}
	if sink != nil {
		bpos := p.backupPos.Load()
		last, _, bytes := sink.sent()
		s["backup_position"] = bpos
		s["lag_instructions"] = int64(p.seenPos.Load()) - int64(bpos)
		s["log_bytes"] = bytes
		s["log_bytes_per_s"] = float64(bytes) / time.Since(p.started).Seconds()
		if bpos >= last {
			// It replayed every record sent: it waits for the next.
			s["backup_waiting_for"] = "primary"
		}
	}
	return marshalStatus(s)
}

// readBackupControl reads a backup's control messages: seen is closed
// when it confirms the end notice; others are dropped, so the peer never
// blocks.
func readBackupControl(c *transport.Conn, seen chan struct{}) {
	for {
		kind, _, err := c.RecvControl()
		if err != nil {
			return
		}
		if kind == ctlEndSeen && seen != nil {
			close(seen)
			seen = nil
		}
	}
}
