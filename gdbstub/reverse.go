package gdbstub

import (
	"errors"
	"fmt"
)

// errNoHistory is a reverse request on a run that is not a replay.
var errNoHistory = errors.New("going back needs a replay (ftvm replay --gdb)")

// goTo moves the machine to position pos (monitor goto).
func (s *stub) goTo(pos uint64) error {
	h := s.opts.History
	if h == nil {
		return errNoHistory
	}
	if err := h.Seek(pos); err != nil {
		return err
	}
	s.final = nil
	s.last = s.stopReply("T05")
	return nil
}

// backward steps one instruction back, or goes back to the last breakpoint
// or watchpoint hit before the current position (or the start).
func (s *stub) backward(step bool) (string, error) {
	h := s.opts.History
	if h == nil {
		return "E01", nil
	}
	cur := s.m.CPU.Retired
	if cur <= h.Start() {
		return s.stopReply("T05replaylog:begin;"), nil
	}
	s.final = nil
	if step {
		if err := h.Seek(cur - 1); err != nil {
			return "", err
		}
		return s.stopReply("T05"), nil
	}
	// Scan back a checkpoint's stretch at a time for the last hit.
	for hi := cur; hi > h.Start(); {
		lo := max(h.Start(), hi-min(hi, s.stretch()))
		if err := h.Seek(lo); err != nil {
			return "", err
		}
		s.hits = s.hits[:0]
		s.arm(true)
		s.skipPos = ^uint64(0) // a breakpoint where the stretch begins counts
		_, err := h.Run(hi)
		s.m.CPU.SetTrace(nil)
		if err != nil {
			return "", err
		}
		if s.m.CPU.Retired != hi {
			return "", fmt.Errorf("replay stopped at position %d before %d", s.m.CPU.Retired, hi)
		}
		if h, ok := s.check(s.m.CPU, ^uint64(0)); ok {
			s.hits = append(s.hits, h) // written by the stretch's last instruction
		}
		for i := len(s.hits) - 1; i >= 0; i-- {
			if hit := s.hits[i]; hit.pos < cur && hit.pos >= lo {
				if err := h.Seek(hit.pos); err != nil {
					return "", err
				}
				return s.stopReply("T05" + hit.why), nil
			}
		}
		hi = lo
	}
	if err := h.Seek(h.Start()); err != nil {
		return "", err
	}
	return s.stopReply("T05replaylog:begin;"), nil
}

// stretch is how far back a reverse-continue scans at a time.
func (s *stub) stretch() uint64 {
	if r, ok := s.opts.History.(*Replay); ok {
		return r.Interval
	}
	return DefaultInterval
}
