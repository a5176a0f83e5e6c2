package machine

import (
	"cmp"
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
// receiver holds). The receiver applies them to a RAMImage and, its
// machine built and loaded from that image (LoadRAMImage), the final
// checkpoint with ApplyCheckpoint.
//
// A PreCopy is used by the goroutine that runs the machine, between runs.
// The interpreter only: a KVM run writes RAM behind the tracking's back.
type PreCopy struct {
	m      *Machine
	shadow []byte   // the receiver's RAM: the pages as sent
	pages  []uint64 // the current round's pages (rounds after the first)
	next   uint64   // the position in the round of the next page to send (see at)
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
	for looked := 0; len(dst)-start < limit && looked < 4*limit; looked += mmu.PageSize {
		pg, ok := p.at(p.next)
		if !ok {
			done = true
			break
		}
		p.next++
		dst = appendPage(dst, p.m.Mem.RAM, p.shadow, pg, &s)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(s.Sent()))
	return dst, s.Sent(), done
}

// at returns the page at position i of the current round (in round 1 every
// page in order, later the harvested pages), or false past the round's end.
func (p *PreCopy) at(i uint64) (uint64, bool) {
	if p.round == 1 {
		return i, i < uint64(len(p.m.Mem.RAM))>>mmu.PageShift
	}
	if i < uint64(len(p.pages)) {
		return p.pages[i], true
	}
	return 0, false
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
	for i := p.next; ; i++ {
		pg, ok := p.at(i)
		if !ok {
			break
		}
		p.m.Mem.MarkDirty(pg)
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

// RAMImage is a receiver's copy of a machine's RAM, made from a pre-copy's
// batches before the machine is built: only the pages batches wrote hold
// memory.
type RAMImage struct {
	ram     []byte
	written []uint64 // bitmap of the pages a batch wrote
}

// NewRAMImage returns an all-zero image of size bytes (DefaultRAM when
// zero), which must be a multiple of the page size.
func NewRAMImage(size uint64) (*RAMImage, error) {
	size = cmp.Or(size, DefaultRAM)
	if size%mmu.PageSize != 0 {
		return nil, fmt.Errorf("RAM size %d is not a multiple of %d", size, mmu.PageSize)
	}
	return &RAMImage{ram: make([]byte, size), written: make([]uint64, (size>>mmu.PageShift+63)/64)}, nil
}

// Size returns the image's size in bytes.
func (r *RAMImage) Size() int { return len(r.ram) }

// Apply writes a batch of pages made by PreCopy.Next into the image. The
// whole batch is checked before anything changes.
func (r *RAMImage) Apply(b []byte) error {
	pages, rest, err := decodePages(b, uint64(len(r.ram))>>mmu.PageShift)
	if err != nil {
		return fmt.Errorf("%w: page batch: %v", ErrSnapshotFormat, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: page batch: %d bytes after the pages", ErrSnapshotFormat, len(rest))
	}
	applyPages(r.ram, pages, func(p uint64) { r.written[p/64] |= 1 << (p % 64) })
	return nil
}

// LoadRAMImage makes m's RAM the image's, before m first runs: the pages a
// batch wrote are copied, the others cleared where m's are not zero.
func (m *Machine) LoadRAMImage(r *RAMImage) error {
	if len(r.ram) != len(m.Mem.RAM) {
		return fmt.Errorf("an image of %d bytes of RAM, this machine has %d", len(r.ram), len(m.Mem.RAM))
	}
	for p := uint64(0); p < uint64(len(r.ram))>>mmu.PageShift; p++ {
		off := p << mmu.PageShift
		dst := m.Mem.RAM[off : off+mmu.PageSize]
		switch {
		case r.written[p/64]&(1<<(p%64)) != 0:
			copy(dst, r.ram[off:off+mmu.PageSize])
		case !IsZero(dst):
			clear(dst)
		}
	}
	return nil
}
