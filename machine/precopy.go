package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

// PreCopy sends a running machine's RAM to a receiver in rounds while the
// guest runs (live migration's iterative pre-copy): round 1 holds every page
// that is not zero, each later round the pages written since the previous
// round began (the memory's dirty-page tracking). Between rounds and
// batches the machine runs on; Final then stops copying with one checkpoint
// (machine state and the pages written since the last round), after which
// the receiver's machine equals this one.
//
// Batches are page lists in the checkpoint's page encoding: page count
// (uint32 LE), then the pages (zero, whole or delta against what the
// receiver holds). The receiver applies them to its copy of the RAM with
// ApplyPages and, its machine built with that RAM, the final checkpoint
// with ApplyCheckpoint.
//
// A PreCopy is used by the goroutine that runs the machine, between runs.
// The interpreter only: a KVM run writes RAM behind the tracking's back.
type PreCopy struct {
	m      *Machine
	shadow []byte   // the receiver's RAM: the pages as sent
	pages  []uint64 // the current round's pages (rounds after the first)
	next   uint64   // the next page to send: a page number in round 1, an index into pages after
	round  int
}

// NewPreCopy starts round 1 of a pre-copy of m and the tracking of m's
// writes. The receiver starts from a machine whose RAM is all zero.
func NewPreCopy(m *Machine) *PreCopy {
	p := &PreCopy{m: m, shadow: make([]byte, len(m.Mem.RAM)), round: 1}
	m.Mem.StartDirtyTracking()
	return p
}

// Round returns the current round's number, from 1.
func (p *PreCopy) Round() int { return p.round }

// Next appends to dst a batch of the current round's next pages, stopping
// once the batch holds limit bytes or it looked at 4*limit bytes of RAM, and
// reports how many pages it holds and whether the round is done (every page
// of it sent).
func (p *PreCopy) Next(dst []byte, limit int) (out []byte, pages int, done bool) {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	var s CheckpointStats
	ram := p.m.Mem.RAM
	npages := uint64(len(ram)) >> mmu.PageShift
	for looked := 0; len(dst)-start < limit && looked < 4*limit; looked += mmu.PageSize {
		var pg uint64
		switch {
		case p.round == 1 && p.next < npages:
			pg = p.next
		case p.round > 1 && p.next < uint64(len(p.pages)):
			pg = p.pages[p.next]
		default:
			done = true
		}
		if done {
			break
		}
		p.next++
		var sent bool
		if dst, sent = appendPage(dst, ram, p.shadow, pg, &s); sent {
			pages++
		}
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(pages))
	return dst, pages, done
}

// NextRound starts the next round with the pages written since the
// previous one started, and returns their count. Call it when Next said the
// round is done.
func (p *PreCopy) NextRound() int {
	p.pages = p.m.Mem.HarvestDirty(p.pages[:0])
	p.next = 0
	p.round++
	return len(p.pages)
}

// Final ends the pre-copy: it returns a Checkpointer whose first checkpoint,
// appended to dst, holds the machine's state and every page that differs
// from what the receiver holds (the pages written since the current round
// began, and those of the round not sent yet). The Checkpointer goes on
// tracking writes for the next checkpoints (Close it when there are none).
func (p *PreCopy) Final(dst []byte) (*Checkpointer, []byte, CheckpointStats, error) {
	mem := p.m.Mem
	switch {
	case p.round == 1:
		for pg := p.next; pg < uint64(len(mem.RAM))>>mmu.PageShift; pg++ {
			mem.MarkDirty(pg)
		}
	default:
		for _, pg := range p.pages[p.next:] {
			mem.MarkDirty(pg)
		}
	}
	c := &Checkpointer{m: p.m, shadow: p.shadow}
	p.shadow, p.pages = nil, nil
	dst, s, err := c.Take(dst)
	if err != nil {
		c.Close()
		return nil, dst, s, err
	}
	return c, dst, s, nil
}

// Close abandons the pre-copy: the tracking stops.
func (p *PreCopy) Close() {
	p.m.Mem.StopDirtyTracking()
	p.shadow, p.pages = nil, nil
}

// ApplyPages writes a batch of pages made by PreCopy.Next into ram, a
// receiver's copy of the RAM of a machine that is not built yet (the whole
// batch is checked before anything changes). Copy it into the machine's
// RAM before its final checkpoint.
func ApplyPages(ram, b []byte) error {
	pages, rest, err := decodePages(b, uint64(len(ram))>>mmu.PageShift)
	if err != nil {
		return fmt.Errorf("%w: page batch: %v", ErrSnapshotFormat, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: page batch: %d bytes after the pages", ErrSnapshotFormat, len(rest))
	}
	applyPages(ram, pages, nil)
	return nil
}
