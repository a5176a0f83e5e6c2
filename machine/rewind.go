package machine

import (
	"bytes"
	"slices"

	"ftvm/mmu"
)

// Rewinder keeps in-memory copies of a machine at moments its owner chooses,
// for going back to them (a debugger's reverse execution). RAM pages that
// did not change between two copies are shared, found by the memory's
// dirty-page tracking, so a copy costs the pages written since the last one.
// The interpreter only: a KVM run writes RAM behind the tracking's back.
type Rewinder struct {
	m *Machine
	// cur is the page table RAM held at the last Save or Restore (apart
	// from the pages dirty since).
	cur    pageTable
	dirty  []uint64 // scratch: harvested page numbers
	stored int      // bytes of page copies held
}

// pagesPerChunk is how many pages one chunk of a page table covers: a copy
// duplicates only the chunks holding a changed page.
const pagesPerChunk = 256

// pageTable is RAM as page contents (nil: a zero page), in chunks shared
// between copies and never modified once shared.
type pageTable []*[pagesPerChunk][]byte

// MachineCopy is a machine's whole state at one moment, held by a Rewinder.
type MachineCopy struct {
	state State
	pages pageTable
}

// NewRewinder starts tracking m's RAM writes.
func NewRewinder(m *Machine) *Rewinder {
	npages := len(m.Mem.RAM) >> mmu.PageShift
	r := &Rewinder{m: m, cur: make(pageTable, (npages+pagesPerChunk-1)/pagesPerChunk)}
	for i := range r.cur {
		r.cur[i] = new([pagesPerChunk][]byte)
	}
	for p := range npages {
		if page := r.page(uint64(p)); !IsZero(page) {
			r.cur[p/pagesPerChunk][p%pagesPerChunk] = bytes.Clone(page)
			r.stored += len(page)
		}
	}
	m.Mem.StartDirtyTracking()
	return r
}

// Close stops the tracking.
func (r *Rewinder) Close() { r.m.Mem.StopDirtyTracking() }

// Stored returns the bytes of RAM pages the copies hold.
func (r *Rewinder) Stored() int { return r.stored }

func (r *Rewinder) page(p uint64) []byte {
	off := p << mmu.PageShift
	return r.m.Mem.RAM[off : off+mmu.PageSize]
}

// Save returns a copy of the machine now. Call it between runs.
func (r *Rewinder) Save() (*MachineCopy, error) {
	st, err := r.m.state()
	if err != nil {
		return nil, err
	}
	r.dirty = r.m.Mem.HarvestDirty(r.dirty[:0])
	owned := map[int]bool{}
	for _, p := range r.dirty {
		c, i := int(p/pagesPerChunk), p%pagesPerChunk
		cur := r.page(p)
		old := r.cur[c][i]
		if old == nil && IsZero(cur) || old != nil && bytes.Equal(old, cur) {
			continue
		}
		if !owned[c] {
			// chunks are shared with earlier copies: change a new one
			nc := *r.cur[c]
			r.cur[c] = &nc
			owned[c] = true
		}
		if IsZero(cur) {
			r.cur[c][i] = nil
		} else {
			r.cur[c][i] = bytes.Clone(cur)
			r.stored += len(cur)
		}
	}
	return &MachineCopy{state: st, pages: slices.Clone(r.cur)}, nil
}

// Restore puts the machine back as it was when c was saved. Call it
// between runs.
func (r *Rewinder) Restore(c *MachineCopy) error {
	// RAM holds r.cur apart from the pages written since: write those
	// and the pages in which c differs.
	r.dirty = r.m.Mem.HarvestDirty(r.dirty[:0])
	write := func(p uint64) {
		page := c.pages[p/pagesPerChunk][p%pagesPerChunk]
		if page == nil {
			clear(r.page(p))
		} else {
			copy(r.page(p), page)
		}
	}
	for _, p := range r.dirty {
		write(p)
	}
	for ci := range c.pages {
		if c.pages[ci] == r.cur[ci] {
			continue
		}
		// the slots past RAM's last page are nil in both: never written
		for i := range pagesPerChunk {
			if !samePage(c.pages[ci][i], r.cur[ci][i]) {
				write(uint64(ci*pagesPerChunk + i))
			}
		}
	}
	r.cur = slices.Clone(c.pages)
	return r.m.restoreState(&c.state)
}

// samePage reports whether two stored pages are the same copy.
func samePage(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return &a[0] == &b[0]
}
