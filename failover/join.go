package failover

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// A backup joins a running primary by iterative pre-copy, on one state
// transfer (transport.Conn.SendState):
//
//	start: length (uint32 LE), JSON joinStart (what the backup builds its
//	       machine from);
//	then sections, each a kind byte:
//	  joinPages: length n (uint32 LE), n bytes of a page batch
//	             (machine.PreCopy.Next): round 1 every page that is not
//	             zero, each later round the pages written since the
//	             previous round began; the guest runs meanwhile;
//	  joinFinal: length (uint32 LE), JSON joinInfo, then the final
//	             checkpoint (machine.PreCopy.Final: CPU and device state and
//	             the pages still differing), then each disk image the
//	             backup's copy differs from; the guest was paused for this
//	             section only, at joinInfo.Position, where the backup's
//	             replay (or its checkpoints) begins. It is the last.
const (
	joinPages = 1
	joinFinal = 2
)

// Pre-copy tuning.
const (
	// joinBatch is the bytes of pages in one batch, joinQueue the batches
	// queued for the link: a join holds at most joinQueue batches beside
	// its copy of the RAM the backup holds.
	joinBatch = 256 << 10
	joinQueue = 8
	// joinStepBudget bounds how long one pre-copy step pauses the guest
	// (a step makes at least one batch).
	joinStepBudget = time.Millisecond
	// The guest stops for the final section once a round has at most
	// joinFinalPages pages, after joinMaxRounds rounds, or once
	// joinStallRounds rounds in a row did not shrink below the smallest
	// round yet (the guest writes as fast as the link sends).
	joinFinalPages  = 512
	joinMaxRounds   = 30
	joinStallRounds = 4
	// joinIdleTimeout is how long a backup may take nothing of the
	// pre-copy before the primary gives it up.
	joinIdleTimeout = 20 * time.Second
	// maxJoinBatch bounds a page batch a backup accepts, maxJoinRAM the
	// guest RAM it makes a copy of.
	maxJoinBatch = 4 << 20
	maxJoinRAM   = 16 << 30
)

// hello is what a joining backup tells its primary.
type hello struct {
	Disks []string `json:"disks"` // SHA-256 of each local disk copy
}

// joinStart opens the state a primary sends a joining backup: what the
// backup builds its machine from.
type joinStart struct {
	Header     lockstep.Header `json:"header"`
	Mode       string          `json:"mode"` // lockstep, checkpoint or io-sync
	IntervalNs int64           `json:"interval_ns"`
}

// joinInfo opens the final section of a join.
type joinInfo struct {
	Generation uint64  `json:"generation"`
	Position   uint64  `json:"position"`
	NextDigest uint64  `json:"next_digest"`
	Checkpoint int64   `json:"checkpoint"` // bytes of the final checkpoint that follow
	SendDisks  []int64 `json:"send_disks"` // bytes of each disk image that follow (0: not sent)
	Rounds     int     `json:"rounds"`     // pre-copy rounds before the final section
}

// maxSnapshotOverhead bounds a checkpoint beyond the guest's RAM (device
// and CPU state).
const maxSnapshotOverhead = 64 << 20

// check refuses sizes no primary sends for a machine of ram bytes: negative
// ones, or a checkpoint larger than the RAM and its device state.
func (j *joinInfo) check(ram int) error {
	if j.Checkpoint < 0 || j.Checkpoint > int64(ram)+maxSnapshotOverhead {
		return fmt.Errorf("a checkpoint of %d bytes for %d bytes of RAM", j.Checkpoint, ram)
	}
	for i, n := range j.SendDisks {
		if n < 0 {
			return fmt.Errorf("disk %d: %d bytes", i, n)
		}
	}
	return nil
}

// joinFigures describe a primary's last completed join.
type joinFigures struct {
	Rounds     int     `json:"rounds"`      // pre-copy rounds
	Bytes      int64   `json:"bytes"`       // bytes of state in all
	Final      int64   `json:"final_bytes"` // bytes sent while the guest paused
	FinalPages int     `json:"final_pages"` // RAM pages sent while the guest paused
	Disk       int64   `json:"disk_bytes"`  // of Final, disk images the backup lacked
	PauseMs    float64 `json:"pause_ms"`
	PreCopyMs  float64 `json:"precopy_ms"`   // the pre-copy, the guest running
	MaxStepMs  float64 `json:"max_step_ms"`  // the longest pre-copy step (a pause of the guest)
	Executed   uint64  `json:"instructions"` // the guest's instructions during the pre-copy
}

// joinFigures returns the figures of the last join.
func (p *Primary) joinFigures() joinFigures {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	return p.lastJoin
}

// joinReq is a backup that said hello, for the machine's goroutine.
type joinReq struct {
	c *transport.Conn
	h hello
}

// greet reads a new backup's hello and hands it to the run loop.
func (p *Primary) greet(c *transport.Conn) {
	ctx, cancel := context.WithTimeout(p.stopped, 10*time.Second)
	defer cancel()
	kind, b, err := recvControl(ctx, c)
	var h hello
	if err == nil && kind != ctlHello {
		err = fmt.Errorf("message %d", kind)
	}
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		c.Close()
		p.emit(Event{Kind: EventJoinFailed, Peer: c.RemoteAddr().String()}, "backup %v sent no hello: %v", c.RemoteAddr(), err)
		return
	}
	select {
	case p.joins <- joinReq{c, h}:
		p.machine().Pause()
	default:
		p.refuse(c, "another backup is joining")
	}
}

// refusal says why a new backup is turned away ("" when it is not): the
// pair is formed, or another backup is joining.
func (p *Primary) refusal() string {
	switch {
	case p.paired.Load():
		return "already paired"
	case p.joining.Load() != nil:
		return "another backup is joining"
	}
	return ""
}

// refuse turns a backup away.
func (p *Primary) refuse(c *transport.Conn, why string) {
	p.emit(Event{Kind: EventBackupRefused, Peer: c.RemoteAddr().String()}, "refusing a second backup from %v: %s", c.RemoteAddr(), why)
	c.Close()
}

// joining is a backup's join in progress: the machine's goroutine makes
// page batches between runs of the guest, a sender goroutine streams them.
type joining struct {
	c     *transport.Conn
	h     hello
	pc    *machine.PreCopy
	t0    time.Time
	from  uint64        // the guest's position when the join began
	queue chan []byte   // batches and the final section, for the sender; closed after the final section
	free  chan []byte   // batch buffers the sender is done with
	sent  chan error    // the sender's result
	final atomic.Bool   // the final section is queued
	took  atomic.Int64  // when the sender last took from queue, Unix ns
	bytes int64         // bytes queued
	done  bool          // the current round's pages are all queued
	least int           // the smallest round so far (pages)
	stall int           // rounds since a round was smaller than least
	step  time.Duration // the longest pre-copy step
}

// close abandons the join: its pre-copy and its link.
func (j *joining) close() {
	j.pc.Close()
	j.c.Close()
}

// startJoin begins a backup's join: the state transfer opens with what the
// backup builds its machine from, and round 1 of the pre-copy starts.
func (p *Primary) startJoin(r joinReq) {
	if why := p.refusal(); why != "" {
		p.refuse(r.c, why)
		return
	}
	m := p.machine()
	start, _ := json.Marshal(joinStart{Header: p.header, Mode: p.opts.Mode.String(), IntervalNs: int64(p.opts.Interval)})
	j := &joining{c: r.c, h: r.h, t0: time.Now(), from: m.CPU.Position(), least: -1,
		queue: make(chan []byte, joinQueue+2+len(p.disks)), free: make(chan []byte, joinQueue), sent: make(chan error, 1)}
	j.queue <- binary.LittleEndian.AppendUint32(nil, uint32(len(start)))
	j.queue <- start
	j.bytes = int64(4 + len(start))
	j.pc = machine.NewPreCopy(m)
	p.joining.Store(j)
	go p.sendJoin(j, m)
	p.emit(Event{Kind: EventJoinStarted, Peer: r.c.RemoteAddr().String(), Position: j.from, Mode: p.opts.Mode.String()},
		"backup %v joining at position %d (%s): copying RAM while the guest runs", r.c.RemoteAddr(), j.from, p.opts.Mode)
}

// sendJoin streams a join's queue to its backup (a goroutine of its own). A
// backup that takes nothing for joinIdleTimeout before the final section
// is given up, as one whose link fails: the next join step abandons the
// join.
func (p *Primary) sendJoin(j *joining, m *machine.Machine) {
	ctx, cancel := context.WithCancel(p.stopped)
	defer cancel()
	j.took.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(joinIdleTimeout / 10)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !j.final.Load() && time.Since(time.Unix(0, j.took.Load())) > joinIdleTimeout {
				cancel()
				return
			}
		}
	}()
	err := j.c.SendStateContext(ctx, &batchReader{j: j, more: m.Pause})
	if err != nil {
		if ctx.Err() != nil && p.stopped.Err() == nil {
			err = fmt.Errorf("the backup took nothing for %v", joinIdleTimeout)
		}
		j.c.Close()
	}
	j.sent <- err
	if !j.final.Load() {
		m.Pause() // the next step sees the failure
	}
}

// batchReader is the state transfer's source: the join's queue.
type batchReader struct {
	j    *joining
	more func() // asks the machine's goroutine for more batches
	cur  []byte
	buf  []byte // cur's whole buffer, returned to free when read
}

func (r *batchReader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.buf != nil {
			select {
			case r.j.free <- r.buf[:0]:
			default:
			}
			r.buf = nil
		}
		var ok bool
		select {
		case r.cur, ok = <-r.j.queue:
		case <-r.j.c.Done():
			return 0, r.j.c.Err()
		}
		if !ok {
			return 0, io.EOF
		}
		if len(r.cur) > 0 && r.cur[0] == joinPages {
			r.buf = r.cur
		}
		r.j.took.Store(time.Now().UnixNano())
		if len(r.j.queue) <= joinQueue/2 && !r.j.final.Load() {
			r.more()
		}
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// joinStep runs on the machine's goroutine between runs while a backup
// joins: it queues the current round's next batches, starts the next round
// when one is done, and stops the guest for the final section when the
// rounds converge.
func (p *Primary) joinStep() {
	j := p.joining.Load()
	select {
	case err := <-j.sent:
		p.abortJoin(fmt.Errorf("the link failed: %v", err))
		return
	default:
	}
	t0 := time.Now()
	if j.done {
		n := j.pc.NextRound()
		j.done = false
		if n < j.least || j.least < 0 {
			j.least, j.stall = n, 0
		} else {
			j.stall++
		}
		if n <= joinFinalPages || j.pc.Round() > joinMaxRounds || j.stall >= joinStallRounds {
			if err := p.finishJoin(t0); err != nil {
				p.emit(Event{Kind: EventJoinFailed, Peer: j.c.RemoteAddr().String()}, "backup join failed: %v", err)
			}
			return
		}
	}
	for made := 0; !j.done && len(j.queue) < joinQueue && (made == 0 || time.Since(t0) < joinStepBudget); made++ {
		var buf []byte
		select {
		case buf = <-j.free:
		default:
			buf = make([]byte, 0, joinBatch+16<<10)
		}
		buf = append(buf, joinPages, 0, 0, 0, 0)
		var n int
		buf, n, j.done = j.pc.Next(buf, joinBatch)
		if n == 0 {
			select {
			case j.free <- buf[:0]:
			default:
			}
			continue
		}
		binary.LittleEndian.PutUint32(buf[1:], uint32(len(buf)-5))
		j.queue <- buf
		j.bytes += int64(len(buf))
	}
	j.step = max(j.step, time.Since(t0))
	if len(j.queue) <= joinQueue/2 {
		// The link waits for batches, or the round is done: the next
		// step comes after a moment of the guest's execution.
		p.machine().Pause()
	}
}

// abortJoin ends a join that cannot go on (the backup left, or the run
// ended): the primary carries on alone.
func (p *Primary) abortJoin(why error) {
	j := p.joining.Swap(nil)
	j.close()
	p.emit(Event{Kind: EventJoinFailed, Peer: j.c.RemoteAddr().String(), Bytes: j.bytes, Rounds: j.pc.Round()},
		"backup %v join abandoned in pre-copy round %d after %.1f MiB: %v", j.c.RemoteAddr(), j.pc.Round(), float64(j.bytes)/(1<<20), why)
}

// finishJoin ends a join with the guest paused since t0: the final section
// (the last pages, CPU and device state, the disks the backup lacks) is
// queued for the link and the pair forms at this position; the guest runs
// on while the section goes out, its outputs held until the backup
// acknowledges what they depend on.
func (p *Primary) finishJoin(t0 time.Time) error {
	j := p.joining.Load()
	defer p.joining.Store(nil) // after pair: refusal sees the join or the pair
	fail := func(err error) error {
		j.close()
		return err
	}
	select {
	case err := <-j.sent:
		return fail(fmt.Errorf("backup %v left during the pre-copy: %v", j.c.RemoteAddr(), err))
	default:
	}
	m := p.machine()
	pos := m.CPU.Position()
	hdr := p.header
	info := joinInfo{Generation: p.gen.Load(), Position: pos, NextDigest: pos + hdr.DigestInterval, Rounds: j.pc.Round() - 1}
	hdr.Disks = append([]lockstep.DiskInfo(nil), hdr.Disks...)
	var diskData [][]byte
	for i, path := range p.disks {
		sum, err := lockstep.FileSHA256(path)
		if err != nil {
			return fail(err)
		}
		hdr.Disks[i].SHA256 = sum
		if i < len(j.h.Disks) && j.h.Disks[i] == sum {
			info.SendDisks = append(info.SendDisks, 0)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fail(err)
		}
		info.SendDisks = append(info.SendDisks, int64(len(b)))
		diskData = append(diskData, b)
	}
	cp, ck, stats, err := j.pc.Final(nil)
	if err != nil {
		return fail(err)
	}
	info.Checkpoint = int64(len(ck))
	j.final.Store(true)
	meta, _ := json.Marshal(info)
	head := binary.LittleEndian.AppendUint32([]byte{joinFinal}, uint32(len(meta)))
	j.queue <- append(head, meta...)
	j.queue <- ck
	final := len(head) + len(meta) + len(ck)
	var disk int64
	for _, d := range diskData {
		j.queue <- d
		disk += int64(len(d))
	}
	total := j.bytes + int64(final) + disk
	close(j.queue)
	if p.opts.Mode == ModeLockstep {
		cp.Close()
		cp = nil
	}
	pause := time.Since(t0)
	f := joinFigures{Rounds: info.Rounds, Bytes: total, Final: total - j.bytes, FinalPages: stats.Sent(), Disk: disk,
		PauseMs: ms(pause), PreCopyMs: ms(t0.Sub(j.t0)), MaxStepMs: ms(j.step), Executed: pos - j.from}
	p.pmu.Lock()
	p.lastJoin = f
	p.pmu.Unlock()
	p.pair(j.c, hdr, info, cp)
	e := Event{Kind: EventBackupJoined, Peer: j.c.RemoteAddr().String(), Position: pos, Generation: info.Generation, Millis: f.PauseMs,
		Bytes: total, Mode: p.opts.Mode.String(), Rounds: info.Rounds}
	if info.Rounds == 0 {
		p.emit(e, "backup %v joined at position %d (generation %d, %s): the guest held %.1f ms for %.2f MiB of state (%.2f MiB of disks; no pre-copy)",
			j.c.RemoteAddr(), pos, info.Generation, p.opts.Mode, f.PauseMs, float64(total)/(1<<20), float64(disk)/(1<<20))
		return nil
	}
	p.emit(e, "backup %v joined at position %d (generation %d, %s): %d pre-copy rounds, %.1f MiB in %.0f ms while the guest ran (longest step %.2f ms), then guest paused %.1f ms for %.2f MiB (%d pages, the device state and %.2f MiB of disks)",
		j.c.RemoteAddr(), pos, info.Generation, p.opts.Mode, info.Rounds, float64(j.bytes)/(1<<20), f.PreCopyMs, f.MaxStepMs,
		f.PauseMs, float64(f.Final)/(1<<20), f.FinalPages, float64(disk)/(1<<20))
	return nil
}

// join brings in a backup while the guest is held (WaitBackup): no
// pre-copy, the final section holds the whole state.
func (p *Primary) join(r joinReq) error {
	p.startJoin(r)
	if p.joining.Load() == nil {
		return nil
	}
	return p.finishJoin(time.Now())
}

// pair makes the primary paired with the backup on c, which receives the
// machine's state as of position info.Position: from here inputs are
// recorded (lockstep) or checkpoints taken with cp, and outputs held.
func (p *Primary) pair(c *transport.Conn, hdr lockstep.Header, info joinInfo, cp *machine.Checkpointer) {
	sink := &streamSink{conn: c, ctx: p.stopped}
	seen := make(chan struct{})
	p.pmu.Lock()
	p.sink, p.endSeen = sink, seen
	if p.opts.Mode == ModeLockstep {
		p.rec = lockstep.NewRecorderTo(sink, hdr, p.live)
		p.rec.SetNextCheck(info.NextDigest)
		p.random = p.rec.WrapEnv(p.clock)
	} else {
		p.startCheckpoints(p.machine(), cp)
	}
	p.pmu.Unlock()
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	p.backupPos.Store(info.Position)
	p.lostBackup.Store(false)
	p.rate, p.rateT = 0, time.Time{}
	p.gate.SetMode(lockstep.GateHold)
	p.paired.Store(true)
	go p.watchPeer(c, func(string) {
		p.lostBackup.Store(true)
		c.Close() // ends a wait on the link (the end of the run)
		p.live.Wake()
	})
	go readBackupControl(c, seen)
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// errJoinStopped is why a join in progress ends with the run.
var errJoinStopped = errors.New("the run ended")
