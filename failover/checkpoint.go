package failover

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"ftvm/devices"
	"ftvm/machine"
	"ftvm/transport"
)

// Mode is how a pair keeps its backup.
type Mode int

// Modes (ftvm primary --mode).
const (
	// ModeLockstep: the backup replays the primary's inputs (the log).
	ModeLockstep Mode = iota
	// ModeCheckpoint (Remus): the primary checkpoints every interval; the
	// backup applies the checkpoints without executing, and outputs wait
	// for the checkpoint that covers them.
	ModeCheckpoint
	// ModeIOSync (Kemari): a checkpoint as soon as an external output
	// (console bytes, a frame) or a disk write is waiting, outputs close
	// together sharing one; the interval is only a backstop.
	ModeIOSync
)

// Modes lists every mode, in the order of their values.
var Modes = [...]Mode{ModeLockstep, ModeCheckpoint, ModeIOSync}

var modeNames = [...]string{"lockstep", "checkpoint", "io-sync"}

func (m Mode) String() string { return modeNames[m] }

// DefaultCheckpointInterval is the checkpoint mode's interval.
const DefaultCheckpointInterval = 25 * time.Millisecond

// ioSyncWindow is how long an io-sync primary lets outputs gather before the
// checkpoint that releases them.
const ioSyncWindow = time.Millisecond

// ParseMode parses lockstep, checkpoint[:INTERVAL] or io-sync and returns
// the mode and its checkpoint interval.
func ParseMode(s string) (Mode, time.Duration, error) {
	name, iv, hasIv := strings.Cut(s, ":")
	switch {
	case name == "lockstep" && !hasIv:
		return ModeLockstep, 0, nil
	case name == "io-sync" && !hasIv:
		return ModeIOSync, time.Second, nil
	case name == "checkpoint" && !hasIv:
		return ModeCheckpoint, DefaultCheckpointInterval, nil
	case name == "checkpoint":
		d, err := time.ParseDuration(iv)
		if err != nil || d < time.Millisecond || d > time.Minute {
			return 0, 0, fmt.Errorf("checkpoint interval %q: want a duration from 1ms to 1m", iv)
		}
		return ModeCheckpoint, d, nil
	}
	return 0, 0, fmt.Errorf("mode %q: want lockstep, checkpoint[:INTERVAL] or io-sync", s)
}

// Checkpoint stream records: a kind byte, then a piece of a checkpoint, the
// last piece of one, or the end of the guest (JSON ckptEnd). A checkpoint is
// the disk writes of its epoch (count uint32 LE; each: disk uint8, sector
// uint64 LE, length uint32 LE, the bytes) followed by a machine checkpoint.
const (
	ckPiece = 1
	ckLast  = 2
	ckEnd   = 3
)

// ckPieceSize bounds the bytes of a checkpoint in one record.
const ckPieceSize = 1 << 20

// maxCkptDisk bounds the disk writes of one checkpoint a backup accepts;
// past maxEpochDisk a primary asks for a checkpoint early (blkMaxData, 64
// MiB, bounds one write).
const (
	maxCkptDisk  = 256 << 20
	maxEpochDisk = 64 << 20
)

// ckptEnd is the guest's outcome in an end record.
type ckptEnd struct {
	Reason machine.ExitReason `json:"reason"`
	Value  uint32             `json:"value"`
}

// diskWrite is a write a checkpointing primary's guest submitted.
type diskWrite struct {
	disk   uint8
	sector uint64
	data   []byte
}

// diskTap is a disk's host backend seen by a member: the writes submitted
// while the member checkpoints are kept for the next checkpoint.
type diskTap struct {
	devices.BlockBackend
	n     *member
	index uint8
}

// Submit implements devices.BlockBackend.
func (d diskTap) Submit(req devices.BlockRequest) error {
	if d.n.tapDisks && req.Op == devices.BlockWrite {
		d.n.epochWrites = append(d.n.epochWrites, diskWrite{d.index, req.Sector, bytes.Clone(req.Data)})
		d.n.epochBytes += len(req.Data)
		if d.n.opts.Mode == ModeIOSync || d.n.epochBytes > maxEpochDisk {
			d.n.outputWaiting()
		}
	}
	return d.BlockBackend.Submit(req)
}

// SetWriteThrough implements devices.WriteThrougher for a backend that does.
func (d diskTap) SetWriteThrough(on bool) {
	if w, ok := d.BlockBackend.(devices.WriteThrougher); ok {
		w.SetWriteThrough(on)
	}
}

// WrapDisk puts disk index's host backend where the member sees its writes.
func (n *member) WrapDisk(b devices.BlockBackend, index int) devices.BlockBackend {
	return diskTap{b, n, uint8(index)}
}

// outputWaiting asks a checkpointing primary for a checkpoint within the
// io-sync window: an output or a disk write waits for one (io-sync), or the
// epoch's disk writes grew large.
func (n *member) outputWaiting() {
	if n.syncAsked.Swap(true) {
		return
	}
	time.AfterFunc(ioSyncWindow, func() {
		if m := n.machine(); m != nil {
			m.Pause()
		}
	})
}

// ckptPrimary is a checkpointing primary's side of the stream.
type ckptPrimary struct {
	cp   *machine.Checkpointer // the machine's goroutine
	buf  []byte                // the machine's goroutine
	stop chan struct{}         // closed to end the ticker

	// mu guards the figures.
	mu        sync.Mutex
	count     uint64
	bytes     uint64
	lastPause time.Duration
	maxPause  time.Duration
	sumPause  time.Duration
	reportAt  time.Time // the last summary event
	reportN   uint64    // count at the last summary
}

// startCheckpoints begins the epochs of a checkpointing primary whose backup
// has just been sent the machine's state: cp (the join's) tracks writes
// from there, and the guest pauses every interval for a checkpoint. pmu is
// held.
func (p *Primary) startCheckpoints(m *machine.Machine, cp *machine.Checkpointer) {
	c := &ckptPrimary{cp: cp, stop: make(chan struct{}), reportAt: time.Now()}
	p.ck = c
	p.tapDisks, p.epochWrites, p.epochBytes = true, nil, 0
	p.gate.OnHold(nil)
	if p.opts.Mode == ModeIOSync {
		p.gate.OnHold(p.outputWaiting)
	}
	go func() {
		t := time.NewTicker(p.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.Pause()
			case <-c.stop:
				return
			}
		}
	}()
}

// stopCheckpoints ends the epochs (the backup is gone or the run ended).
func (p *Primary) stopCheckpoints() {
	c := p.ck
	if c == nil {
		return
	}
	close(c.stop)
	c.cp.Close()
	p.gate.OnHold(nil)
	p.tapDisks, p.epochWrites, p.epochBytes = false, nil, 0
	p.pmu.Lock()
	p.ck = nil
	p.pmu.Unlock()
}

// checkpoint takes a checkpoint at the machine's position and streams it;
// the outputs before that position go out when the backup acknowledges it.
func (p *Primary) checkpoint() {
	c := p.ck
	p.syncAsked.Store(false)
	m := p.machine()
	t0 := time.Now()
	b := binary.LittleEndian.AppendUint32(c.buf[:0], uint32(len(p.epochWrites)))
	for _, w := range p.epochWrites {
		b = append(b, w.disk)
		b = binary.LittleEndian.AppendUint64(b, w.sector)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(w.data)))
		b = append(b, w.data...)
	}
	p.epochWrites, p.epochBytes = p.epochWrites[:0], 0
	b, _, err := c.cp.Take(b)
	c.buf = b
	pause := time.Since(t0)
	if err != nil {
		p.emit(Event{Kind: EventError}, "checkpoint: %v", err)
		p.lostBackup.Store(true)
		return
	}
	if err := p.sink.sendCheckpoint(m.CPU.Position(), b); err != nil {
		p.lostBackup.Store(true)
		return
	}
	c.mu.Lock()
	c.count++
	c.bytes += uint64(len(b))
	c.lastPause, c.maxPause, c.sumPause = pause, max(c.maxPause, pause), c.sumPause+pause
	report := time.Since(c.reportAt) >= 5*time.Second
	n := c.count - c.reportN
	c.mu.Unlock()
	if report {
		p.reportCheckpoints(n)
	}
}

// reportCheckpoints emits the checkpoint figures so far (n since the last
// report).
func (p *Primary) reportCheckpoints(n uint64) {
	c := p.ck
	c.mu.Lock()
	count, bytes, mean, maxP := c.count, c.bytes, time.Duration(0), c.maxPause
	if count > 0 {
		mean = c.sumPause / time.Duration(count)
	}
	rate := float64(n) / time.Since(c.reportAt).Seconds()
	c.reportAt, c.reportN = time.Now(), count
	c.mu.Unlock()
	p.emit(Event{Kind: EventCheckpoints, Position: p.position(), Millis: ms(mean), Bytes: int64(bytes), Status: int(count)},
		"%d checkpoints (%.0f/s lately), %.1f MiB: pause mean %.2f ms, max %.2f ms",
		count, rate, float64(bytes)/(1<<20), ms(mean), ms(maxP))
}

// checkpointStatus adds the checkpoint figures to a status.
func (p *Primary) checkpointStatus(s map[string]any, c *ckptPrimary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s["checkpoints"] = c.count
	s["checkpoint_bytes"] = c.bytes
	s["checkpoint_pause_ms"] = ms(c.lastPause)
	s["checkpoint_pause_max_ms"] = ms(c.maxPause)
	if c.count > 0 {
		s["checkpoint_pause_mean_ms"] = ms(c.sumPause / time.Duration(c.count))
	}
}

// sendEnd tells the backup the guest ended with exit.
func (p *Primary) sendEnd(exit machine.Exit) {
	b, _ := json.Marshal(ckptEnd{exit.Reason, exit.Value})
	p.sink.sendPiece(ckEnd, p.position(), b, true)
}

// sendCheckpoint streams checkpoint b, taken at pos, in pieces; its
// acknowledgement is that of its last piece.
func (s *streamSink) sendCheckpoint(pos uint64, b []byte) error {
	for len(b) > ckPieceSize {
		if err := s.sendPiece(ckPiece, pos, b[:ckPieceSize], false); err != nil {
			return err
		}
		b = b[ckPieceSize:]
	}
	return s.sendPiece(ckLast, pos, b, true)
}

// sendPiece sends one record of kind with b; a last piece's sequence number
// stands for pos in the acknowledgements.
func (s *streamSink) sendPiece(kind byte, pos uint64, b []byte, last bool) error {
	s.buf = append(append(s.buf[:0], kind), b...)
	seq, err := s.conn.SendRecordContext(s.ctx, s.buf)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if last {
		s.pending = append(s.pending, seqPos{seq, pos})
		s.lastPos = pos
	}
	s.lastAt = time.Now()
	s.bytes += uint64(len(s.buf))
	s.mu.Unlock()
	return nil
}

// applyCheckpoints receives the primary's checkpoints and applies each
// complete one to the machine and the disk copies, acknowledging it once
// applied. It returns ended with the guest's outcome when the primary's
// guest ended; the error of a checkpoint or record it refused; or nothing
// when the stream ended (the primary is gone: the machine holds the last
// complete checkpoint).
func (b *Backup) applyCheckpoints(c *transport.Conn) (exit machine.Exit, ended bool, err error) {
	m := b.machine()
	limit := len(m.Mem.RAM) + maxSnapshotOverhead + maxCkptDisk
	var buf []byte
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, d := range b.disks {
		f, err := os.OpenFile(d, os.O_WRONLY, 0)
		if err != nil {
			return machine.Exit{}, false, fmt.Errorf("disk copy: %w", err)
		}
		files = append(files, f)
	}
	for {
		b.waiting.Store(waitPrimary)
		seq, rec, err := c.RecvRecord()
		b.waiting.Store(waitNone)
		if err != nil {
			return machine.Exit{}, false, nil
		}
		if len(rec) == 0 {
			return machine.Exit{}, false, fmt.Errorf("checkpoint stream: empty record %d", seq)
		}
		switch rec[0] {
		case ckPiece, ckLast:
			if len(buf)+len(rec)-1 > limit {
				return machine.Exit{}, false, fmt.Errorf("checkpoint stream: a checkpoint over %d bytes", limit)
			}
			buf = append(buf, rec[1:]...)
			if rec[0] == ckPiece {
				// Free the primary's log buffer; outputs wait for the
				// last piece.
				c.Ack(seq, m.CPU.Position())
				continue
			}
			if err := applyCheckpoint(m, files, buf); err != nil {
				return machine.Exit{}, false, err
			}
			buf = buf[:0]
			b.seenPos.Store(m.CPU.Position())
			c.Ack(seq, m.CPU.Position())
		case ckEnd:
			var e ckptEnd
			if err := json.Unmarshal(rec[1:], &e); err != nil {
				return machine.Exit{}, false, fmt.Errorf("checkpoint stream: end record: %w", err)
			}
			c.Ack(seq, m.CPU.Position())
			return machine.Exit{Reason: e.Reason, Value: e.Value}, true, nil
		default:
			return machine.Exit{}, false, fmt.Errorf("checkpoint stream: record %d of kind %d", seq, rec[0])
		}
	}
}

// applyCheckpoint applies one checkpoint: the machine's part, then its disk
// writes. Nothing changes when the checkpoint is malformed.
func applyCheckpoint(m *machine.Machine, files []*os.File, b []byte) error {
	bad := fmt.Errorf("checkpoint stream: malformed disk writes")
	if len(b) < 4 {
		return bad
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	type write struct {
		f    *os.File
		off  int64
		data []byte
	}
	var writes []write
	for range n {
		if len(b) < 13 {
			return bad
		}
		d, sector, l := int(b[0]), binary.LittleEndian.Uint64(b[1:]), int(binary.LittleEndian.Uint32(b[9:]))
		b = b[13:]
		if d >= len(files) || l > len(b) || sector > 1<<50 {
			return bad
		}
		writes = append(writes, write{files[d], int64(sector) * devices.SectorSize, b[:l]})
		b = b[l:]
	}
	if _, err := m.ApplyCheckpoint(b); err != nil {
		return err
	}
	for _, w := range writes {
		if _, err := w.f.WriteAt(w.data, w.off); err != nil {
			return fmt.Errorf("disk copy: %w", err)
		}
	}
	return nil
}
