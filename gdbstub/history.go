package gdbstub

import (
	"errors"
	"fmt"
	"io"

	"ftvm/lockstep"
	"ftvm/machine"
)

// History is a run the debugger can move backwards in.
type History interface {
	// Machine returns the machine being debugged.
	Machine() *machine.Machine
	// Run executes forward until limit (0: no limit) as machine.RunOn does.
	Run(limit uint64) (machine.Exit, error)
	// Seek puts the machine back (or forward) at position pos, no earlier
	// than where the history begins.
	Seek(pos uint64) error
	// Start returns the first position the history can go back to.
	Start() uint64
}

// Replay is the History of a replayed log: checkpoints (an in-memory machine
// copy, sharing unchanged RAM pages with the others, and the replayer's state) taken every Interval instructions as
// replay first passes there, and re-execution from the nearest checkpoint
// before a position to reach it exactly.
type Replay struct {
	m    *machine.Machine
	rep  *lockstep.Replayer
	open func() (lockstep.Source, error)
	// Interval is the distance between checkpoints, in instructions.
	Interval uint64
	cps      []checkpoint // by position
	// furthest is the furthest position execution has reached: output
	// before it was printed already.
	furthest uint64
	// rw holds the machine copies, sharing unchanged RAM pages.
	rw *machine.Rewinder
	// src is the log source open returned last (closed at the next rewind).
	src lockstep.Source
}

// checkpoint is the machine and its replayer at one position.
type checkpoint struct {
	pos   uint64
	copy  *machine.MachineCopy
	point lockstep.ReplayPoint
}

// DefaultInterval is the checkpoint distance: re-executing it takes the
// interpreter a few tens of milliseconds.
const DefaultInterval = 2_000_000

// NewReplay makes the history of m replaying rep, which reads the log that
// open returns afresh (positioned at its first record; a source that is an
// io.Closer is closed when it is replaced). Its first
// checkpoint is where m stands now.
func NewReplay(m *machine.Machine, rep *lockstep.Replayer, open func() (lockstep.Source, error), interval uint64) (*Replay, error) {
	if interval == 0 {
		interval = DefaultInterval
	}
	r := &Replay{m: m, rep: rep, open: open, Interval: interval, furthest: m.CPU.Retired, rw: machine.NewRewinder(m)}
	if err := r.checkpoint(); err != nil {
		return nil, err
	}
	return r, nil
}

// Machine implements History.
func (r *Replay) Machine() *machine.Machine { return r.m }

// Start implements History.
func (r *Replay) Start() uint64 { return r.cps[0].pos }

// Checkpoints returns how many checkpoints the replay holds and the bytes
// of RAM pages they keep.
func (r *Replay) Checkpoints() (n, bytes int) { return len(r.cps), r.rw.Stored() }

func (r *Replay) checkpoint() error {
	c, err := r.rw.Save()
	if err != nil {
		return err
	}
	r.cps = append(r.cps, checkpoint{pos: r.m.CPU.Retired, copy: c, point: r.rep.Point()})
	return nil
}

// Run implements History, taking a checkpoint at each multiple of Interval
// replay passes for the first time.
func (r *Replay) Run(limit uint64) (machine.Exit, error) {
	defer func() { r.furthest = max(r.furthest, r.m.CPU.Retired) }()
	for {
		pos := r.m.CPU.Retired
		next := (pos/r.Interval + 1) * r.Interval
		stop := next
		if limit != 0 && limit <= next {
			stop = limit
		}
		exit, err := r.m.RunOn(r.m.Interpreter(), stop)
		if err != nil || exit.Reason != machine.ExitInsnLimit || stop == limit {
			return exit, err
		}
		if r.cps[len(r.cps)-1].pos < next && r.m.CPU.Retired == next {
			if err := r.checkpoint(); err != nil {
				return exit, err
			}
		}
	}
}

// errBeforeStart is a position the history does not reach back to.
var errBeforeStart = errors.New("position is before the start of the replay")

// Seek implements History: restore the last checkpoint at or before pos
// and replay from there to pos.
func (r *Replay) Seek(pos uint64) error {
	i := len(r.cps) - 1
	for i >= 0 && r.cps[i].pos > pos {
		i--
	}
	if i < 0 {
		return fmt.Errorf("%w (%d < %d)", errBeforeStart, pos, r.cps[0].pos)
	}
	cp := &r.cps[i]
	if cur := r.m.CPU.Retired; cur > pos || cur < cp.pos {
		src, err := r.open()
		if err != nil {
			return err
		}
		if err := r.rw.Restore(cp.copy); err != nil {
			return err
		}
		if err := r.rep.Rewind(src, cp.point); err != nil {
			return err
		}
		if c, ok := r.src.(io.Closer); ok {
			c.Close()
		}
		r.src = src
	}
	if pos == r.m.CPU.Retired {
		return nil
	}
	exit, err := r.Run(pos)
	if err != nil {
		return err
	}
	if exit.Reason != machine.ExitInsnLimit || r.m.CPU.Retired != pos {
		return fmt.Errorf("the replay ended (%v) at position %d before reaching %d", exit.Reason, r.m.CPU.Retired, pos)
	}
	return nil
}

// Console passes the guest's console output to W, except what a History
// prints again while it re-executes (output before its furthest position).
type Console struct {
	W io.Writer
	// Replay is the history whose re-execution is muted (set once it exists).
	Replay *Replay
}

// Write implements io.Writer.
func (c *Console) Write(b []byte) (int, error) {
	if r := c.Replay; r != nil && r.m.CPU.Position() < r.furthest {
		return len(b), nil
	}
	return c.W.Write(b)
}
