package failover

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// BuildFunc builds the backup's machine from its primary's header, with the
// backup's configuration pieces in cfg. It returns the machine and its
// block devices.
type BuildFunc func(h lockstep.Header, cfg machine.Config) (*machine.Machine, []*devices.VirtioBlk, error)

// Backup is the replaying side of a pair: its machine takes its inputs and
// random numbers from the primary's stream and its outputs are held (those
// the primary released are dropped). When the primary is lost and the
// arbiter gives it the next generation, it goes live: a Primary over the
// same machine.
type Backup struct {
	*member

	// Set by JoinPrimary, then owned by the machine's goroutine.
	rep *lockstep.Replayer

	primaryLost atomic.Bool // the link to the primary failed (watchPeer)
	// endReleased is set, and endNotice closed, when the primary says its
	// run ended and it released every output (ctlEnd).
	endReleased atomic.Bool
	endNotice   chan struct{}
	lostAt      atomic.Int64 // when the primary was last heard, Unix ns

	// primary is the live side this backup became (nil before).
	primary atomic.Pointer[Primary]
}

// NewBackup returns a backup; JoinPrimary connects it and builds its
// machine.
func NewBackup(opts Options) *Backup {
	return &Backup{member: newMember(opts), endNotice: make(chan struct{})}
}

// JoinPrimary connects to the primary at addr (retrying, and saying so,
// until it is there), receives the machine's state, builds the machine with
// build and prepares to replay the primary's stream. disks are the local
// copies of the guest's disks; one whose content differs from the
// primary's is overwritten with it.
func (b *Backup) JoinPrimary(ctx context.Context, addr string, disks []string, build BuildFunc, console io.Writer) error {
	var sums []string
	for _, d := range disks {
		s, err := lockstep.FileSHA256(d)
		if err != nil {
			return err
		}
		sums = append(sums, s)
	}
	var c *transport.Conn
	for tries := 0; ; tries++ {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		c, err = transport.Dial(dctx, addr, b.opts.TLS, transport.Options{
			HeartbeatInterval: b.opts.Heartbeat,
			IdleTimeout:       max(4*b.opts.FailoverTimeout, time.Second),
			Status:            b.status,
		})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if tries%5 == 0 {
			b.emit(Event{Kind: EventWaitingPrimary, Peer: addr}, "waiting for the primary at %s: %v", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	t0 := time.Now()
	// A cancelled ctx (a signal) ends the join at once, wherever it is.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	hb, _ := json.Marshal(hello{Disks: sums})
	if err := c.SendControl(ctlHello, hb); err != nil {
		c.Close()
		return err
	}
	r, err := c.RecvState()
	if err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %w", err)
	}
	info, mode, err := b.receiveState(c, r, disks, build, console)
	if err != nil {
		c.Close()
		return err
	}
	b.gen.Store(info.Generation)
	b.seenPos.Store(info.Position)
	b.mu.Lock()
	b.conn = c
	b.mu.Unlock()
	if ctx.Err() != nil {
		c.Close()
		return ctx.Err()
	}
	go b.watchPeer(c, func(why string) {
		if b.stopping.Load() || b.ran.Load() || b.endReleased.Load() {
			return // this side stopped or ended, or the run is over: no news
		}
		b.lostPrimary(c, why)
	})
	took := ms(time.Since(t0))
	b.emit(Event{Kind: EventJoinedPrimary, Peer: addr, Position: info.Position, Generation: b.gen.Load(), Millis: took, Mode: mode.String(), Rounds: info.Rounds},
		"joined the primary at %s at position %d (generation %d, %s): state received in %.1f ms (%d pre-copy rounds)", addr, info.Position, b.gen.Load(), mode, took, info.Rounds)
	return nil
}

// receiveState reads a join's state transfer on c (see joinPages): the RAM
// in rounds into a copy, then the final section and the disks; then it
// builds the machine with build and loads it from that copy and the final
// checkpoint.
func (b *Backup) receiveState(c *transport.Conn, r io.Reader, disks []string, build BuildFunc, console io.Writer) (joinInfo, Mode, error) {
	var info joinInfo
	fail := func(format string, args ...any) (joinInfo, Mode, error) {
		return info, 0, fmt.Errorf("state transfer: "+format, args...)
	}
	var start joinStart
	if err := readJSON(r, &start); err != nil {
		return fail("%w", err)
	}
	if start.Header.RAM > maxJoinRAM {
		return fail("a guest of %d bytes of RAM (at most %d)", start.Header.RAM, uint64(maxJoinRAM))
	}
	ram, err := machine.NewRAMImage(start.Header.RAM)
	if err != nil {
		return fail("%w", err)
	}
	var batch []byte
	for {
		var kind [5]byte
		if _, err := io.ReadFull(r, kind[:]); err != nil {
			return fail("%w", err)
		}
		n := binary.LittleEndian.Uint32(kind[1:])
		if kind[0] == joinFinal {
			if err := readJSONBody(r, n, &info); err != nil {
				return fail("%w", err)
			}
			break
		}
		if kind[0] != joinPages || n > maxJoinBatch {
			return fail("section %d of %d bytes", kind[0], n)
		}
		batch = slices.Grow(batch[:0], int(n))[:n]
		if _, err := io.ReadFull(r, batch); err != nil {
			return fail("%w", err)
		}
		if err := ram.Apply(batch); err != nil {
			return fail("%w", err)
		}
	}
	if err := info.check(ram.Size()); err != nil {
		return fail("%w", err)
	}
	// The buffer grows with what arrives, never ahead of it.
	var ck bytes.Buffer
	if _, err := io.CopyN(&ck, r, info.Checkpoint); err != nil {
		return fail("checkpoint: %w", err)
	}
	if len(info.SendDisks) > len(disks) {
		return info, 0, fmt.Errorf("the primary has %d disks, this backup %d (--disk)", len(info.SendDisks), len(disks))
	}
	for i, size := range info.SendDisks {
		if size == 0 {
			continue
		}
		if err := writeFileFrom(disks[i], io.LimitReader(r, size), size); err != nil {
			return info, 0, fmt.Errorf("disk copy %s: %w", disks[i], err)
		}
	}
	// Read to the end: the primary's send completes only then.
	if extra, err := io.Copy(io.Discard, r); err != nil || extra != 0 {
		return fail("%d unexpected bytes (%v)", extra, err)
	}
	clock, err := machine.ParseClock(start.Header.Clock)
	if err != nil {
		return info, 0, fmt.Errorf("the primary's log header: %w", err)
	}
	b.opts.Clock = clock
	b.live = machine.NewLiveInputs(clock == machine.ClockHost)
	mode, _, err := ParseMode(start.Mode)
	if err != nil {
		return info, 0, fmt.Errorf("the primary's mode: %w", err)
	}
	b.opts.Mode, b.opts.Interval = mode, max(time.Duration(start.IntervalNs), time.Millisecond)
	b.gate.SetMode(lockstep.GateBuffer)
	// Release notices and the end notice apply from here, while the
	// machine is built: a short run's primary need not wait for that.
	go b.readControl(c)
	var cfg machine.Config
	if mode == ModeLockstep {
		// The records a backup holds, not those it replayed, are what the
		// primary's outputs and its end wait for.
		c.AckOnArrival()
		b.rep = lockstep.NewReplayerFrom(&streamSource{conn: c, pos: b.seenPos.Load, waiting: &b.waiting}, start.Header.DigestInterval, info.NextDigest)
		cfg = b.configure(machine.Config{}, console, b, b.rep, b.rep.WrapEnv)
	} else {
		// The machine does not run until it goes live: checkpoints are
		// applied to it.
		cfg = b.configure(machine.Config{}, console, b.live, nil, func(clock cpu.Env) cpu.Env { return clock })
	}
	m, blks, err := build(start.Header, cfg)
	if err != nil {
		return info, 0, err
	}
	b.Attach(m, start.Header, disks, blks)
	if err := m.LoadRAMImage(ram); err != nil {
		return info, 0, err
	}
	if _, err := m.ApplyCheckpoint(ck.Bytes()); err != nil {
		return info, 0, fmt.Errorf("state transfer: %w", err)
	}
	// Writes the primary had in flight at the final checkpoint are redone
	// on this copy (their completions come from the log, or in the
	// checkpoint modes with the checkpoints).
	for _, blk := range blks {
		blk.Reissue()
	}
	if b.rep != nil {
		b.rep.Attach(m)
	}
	return info, mode, nil
}

// readJSON reads a length (uint32 LE) and that many bytes of JSON into v.
func readJSON(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	return readJSONBody(r, binary.LittleEndian.Uint32(n[:]), v)
}

// readJSONBody reads n bytes of JSON into v.
func readJSONBody(r io.Reader, n uint32, v any) error {
	if n > 1<<20 {
		return fmt.Errorf("a header of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// lostPrimary records, once, that the primary is gone, and closes the
// link: replay consumes every record received and stops at the last one,
// then the backup goes live.
func (b *Backup) lostPrimary(c *transport.Conn, why string) {
	if !b.primaryLost.CompareAndSwap(false, true) {
		return
	}
	last := c.LastHeard()
	b.lostAt.Store(last.UnixNano())
	ago := ms(time.Since(last))
	if why != "" {
		why = "; " + why
	}
	b.emit(Event{Kind: EventPrimaryLost, Millis: ago}, "primary lost (last heard %.0f ms ago%s)", ago, why)
	c.Close()
}

// --- the machine's input source while replaying ---

// Next implements machine.InputSource.
func (b *Backup) Next() uint64 { return b.rep.Next() }

// Take implements machine.InputSource: the stream's inputs at pos.
func (b *Backup) Take(pos uint64, buf []devices.Input) []devices.Input {
	b.seenPos.Store(pos)
	return b.rep.Take(pos, buf)
}

// Wait implements machine.InputSource: a log never makes the guest wait.
func (b *Backup) Wait(deadline uint64) bool { return b.rep.Wait(deadline) }

// CanWake reports whether the stream may hold more.
func (b *Backup) CanWake() bool { return b.rep.CanWake() }

// readControl applies the primary's release notices, and confirms its end
// notice.
func (b *Backup) readControl(c *transport.Conn) {
	for {
		kind, p, err := c.RecvControl()
		if err != nil {
			return
		}
		if len(p) != 8 {
			continue
		}
		switch kind {
		case ctlReleased:
			b.gate.Released(binary.LittleEndian.Uint64(p))
		case ctlEnd:
			b.gate.Released(binary.LittleEndian.Uint64(p) + 1)
			if b.endReleased.CompareAndSwap(false, true) {
				close(b.endNotice)
			}
			c.SendControl(ctlEndSeen, nil)
		}
	}
}

// Stop ends the run at the next instruction boundary, or at once when it
// waits (a signal). Safe from any goroutine. While replaying the link is
// closed: replay stops at the last record received.
func (b *Backup) Stop() {
	if p := b.primary.Load(); p != nil {
		p.Stop()
		return
	}
	if c := b.stop(); c != nil {
		c.Close()
	}
}

// Close releases the link, and the listener of the primary the backup
// became. It stops a run in progress first.
func (b *Backup) Close() error {
	b.Stop()
	if p := b.primary.Load(); p != nil {
		return p.Close()
	}
	if c := b.takeConn(); c != nil {
		c.Close()
	}
	return nil
}

// Addr returns where the primary this backup became accepts backups ("" while
// it replays).
func (b *Backup) Addr() string {
	if p := b.primary.Load(); p != nil {
		return p.Addr()
	}
	return ""
}

// Run replays the primary's stream until the guest ends with it, or until
// the primary is lost: then, if the arbiter gives it the next generation,
// the backup goes live and runs on as a Primary.
func (b *Backup) Run(maxInsns uint64) machine.Exit {
	defer b.ran.Store(true)
	m := b.machine()
	if b.stopping.Load() {
		m.RequestStop() // stopped before the machine was attached
	}
	if b.rep == nil {
		return b.runCheckpoints(maxInsns)
	}
	exit := m.Run(maxInsns)
	switch {
	case exit.Reason == machine.ExitStopped && b.stopping.Load():
	case exit.Reason == machine.ExitStopped && b.rep.Err() == nil && b.replayEnded(&exit):
		// The primary's guest ended here (its end record): end with it
		// rather than take its closing connection for its death.
		b.endWithPrimary(exit)
	case exit.Reason == machine.ExitStopped:
		// The stream ended without its end record: the primary is gone,
		// whether or not its silence was noticed yet (its side may have
		// closed the link).
		if c := b.link(); c != nil {
			b.lostPrimary(c, "")
		}
		p := b.goLive()
		if p == nil {
			return machine.Exit{Reason: machine.ExitStopped}
		}
		return p.Run(maxInsns)
	case exit.Reason != machine.ExitDiverged:
		// The guest ended by itself, as the primary's did at the same
		// position.
		b.endWithPrimary(exit)
	}
	return exit
}

// endWithPrimary ends the backup's run with its primary's guest, which
// ended with exit at the current position.
func (b *Backup) endWithPrimary(exit machine.Exit) {
	pos := b.machine().CPU.Position()
	b.emit(Event{Kind: EventGuestEnded, Position: pos, Status: exit.Status()},
		"the primary's guest ended at position %d (exit status %d); ending with it", pos, exit.Status())
	b.settleEnd()
}

// settleEnd runs when the backup replayed its primary's end record: it
// waits for the primary's word that it released every output (then emits
// nothing), for the link to fail, or for a stop. A primary lost before its
// word may not have released the run's last outputs: the backup claims the
// next generation and, winning it, emits what it holds, which is exactly
// the outputs no release notice covered. Losing it, the primary carries on
// and releases them itself.
func (b *Backup) settleEnd() {
	if c := b.link(); c != nil {
		b.waiting.Store(waitRelease)
		select {
		case <-b.endNotice:
		case <-c.Done():
		case <-b.stopped.Done():
		}
		b.waiting.Store(waitNone)
	}
	if b.endReleased.Load() || b.stopping.Load() {
		return
	}
	gen := b.gen.Load() + 1
	won, err := b.opts.Arbiter.TestAndSet(gen, "backup")
	if err != nil {
		b.emit(Event{Kind: EventError}, "arbiter: %v; the run's last outputs stay unreleased here", err)
		return
	}
	if !won {
		b.emit(Event{Kind: EventLostArbiter, Generation: gen},
			"the primary holds generation %d: the run's last outputs are its to release", gen)
		return
	}
	b.gen.Store(gen)
	held, _ := b.gate.Held()
	b.gate.SetMode(lockstep.GateDirect)
	b.emit(Event{Kind: EventReleasedLast, Generation: gen, Bytes: int64(held)},
		"the primary was lost before it released its run's last outputs: released the %d it held, as generation %d", held, gen)
}

// runCheckpoints applies the primary's checkpoints until its guest ends
// with it, or until the primary is lost: then, if the arbiter gives it the
// next generation, the backup goes live from the last complete checkpoint.
func (b *Backup) runCheckpoints(maxInsns uint64) machine.Exit {
	c := b.link()
	if c == nil {
		return machine.Exit{Reason: machine.ExitStopped}
	}
	exit, ended, err := b.applyCheckpoints(c)
	switch {
	case b.stopping.Load():
		return machine.Exit{Reason: machine.ExitStopped}
	case ended:
		b.endWithPrimary(exit)
		return exit
	case err != nil:
		b.setErr(fmt.Errorf("refusing the primary's stream: %w", err))
		b.emit(Event{Kind: EventError}, "refusing the primary's stream: %v", err)
		c.Close()
		return machine.Exit{Reason: machine.ExitStopped}
	}
	b.lostPrimary(c, "")
	p := b.goLive()
	if p == nil {
		return machine.Exit{Reason: machine.ExitStopped}
	}
	return p.Run(maxInsns)
}

// replayEnded reports whether the backup holds the end record of its
// primary's log, and sets *exit to the recorded outcome. (A replay that
// stops by itself, ExitStopped, stops at that record's position.)
func (b *Backup) replayEnded(exit *machine.Exit) bool {
	end, ok := b.rep.EndExit()
	if ok {
		*exit = end
	}
	return ok
}

// goLive turns a backup whose primary is gone into the live machine, after
// it consumed every record it had: a Primary over the same member, the
// machine's input source and checker swapped to it. It returns nil when
// the other side holds the next generation.
func (b *Backup) goLive() *Primary {
	gen := b.gen.Load() + 1
	won, err := b.claim(gen, "backup")
	if err != nil || !won {
		b.lostArbiter(gen, err, "the primary carries on")
		return nil
	}
	b.gen.Store(gen)
	b.takeConn()
	m := b.machine()
	m.ClearStop()
	b.live.Align(m.Clock.Now())
	p := newPrimary(b.member)
	b.random = b.clock
	m.SetInputs(p, b.live, p)
	for _, blk := range b.blks {
		blk.Reissue()
	}
	b.gate.SetMode(lockstep.GateDirect)
	b.primary.Store(p)
	if b.stopping.Load() {
		m.RequestStop() // a Stop that came while going live
	}
	p.announce()
	after := ms(time.Since(time.Unix(0, b.lostAt.Load())))
	b.emit(Event{Kind: EventWentLive, Generation: gen, Position: m.CPU.Position(), Millis: after},
		"went live as generation %d at position %d, %.0f ms after the primary was last heard", gen, m.CPU.Position(), after)
	if b.opts.Listen != "" {
		if err := p.Listen(); err != nil {
			b.emit(Event{Kind: EventError}, "cannot accept a new backup: %v", err)
		}
	}
	return p
}

// status is the JSON a backup's status shows.
// Status returns what `ftvm status` shows of this side (the primary it
// became, once live), as JSON (§5).
func (b *Backup) Status() []byte { return b.status() }

func (b *Backup) status() []byte {
	if p := b.primary.Load(); p != nil {
		return p.status()
	}
	return marshalStatus(b.member.status("backup"))
}

// writeFileFrom overwrites path with size bytes from r.
func writeFileFrom(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(f, r, size); err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
