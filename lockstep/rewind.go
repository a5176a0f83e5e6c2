package lockstep

import (
	"fmt"

	"ftvm/devices"
)

// ReplayPoint is a replayer's state between two runs of its machine, for
// going back there: the machine's snapshot at the same moment and the point
// together resume the replay exactly (a debugger's reverse execution).
type ReplayPoint struct {
	read    uint64
	inputs  []devices.Input
	randoms []Record
	digests []Record
	end     *Record
	eof     bool
	lastPos uint64
	next    uint64
	hash    uint64
	count   uint64
}

// Point returns the replayer's state now. Call it between runs.
func (p *Replayer) Point() ReplayPoint {
	p.Output.mu.Lock()
	h, n := p.Output.h, p.Output.count
	p.Output.mu.Unlock()
	return ReplayPoint{
		read:    p.read,
		inputs:  append([]devices.Input(nil), p.inputs...),
		randoms: append([]Record(nil), p.randoms...),
		digests: append([]Record(nil), p.digests...),
		end:     p.end, eof: p.eof, lastPos: p.lastPos, next: p.next,
		hash: h, count: n,
	}
}

// Rewind puts the replayer back at pt, reading the same log again from src
// (positioned at its first record). It fails if src does not hold the
// records pt had read.
func (p *Replayer) Rewind(src Source, pt ReplayPoint) error {
	for i := uint64(0); i < pt.read; i++ {
		if _, err := src.Next(); err != nil {
			return fmt.Errorf("rewinding the log to record %d: %w", pt.read, err)
		}
	}
	p.r = src
	p.read = pt.read
	p.inputs = append(p.inputs[:0], pt.inputs...)
	p.randoms = append(p.randoms[:0], pt.randoms...)
	p.digests = append(p.digests[:0], pt.digests...)
	p.end, p.eof, p.readErr, p.lastPos, p.next = pt.end, pt.eof, nil, pt.lastPos, pt.next
	p.Output.mu.Lock()
	p.Output.h, p.Output.count = pt.hash, pt.count
	p.Output.mu.Unlock()
	return nil
}
