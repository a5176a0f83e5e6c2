package cpu

import (
	"slices"
	"testing"

	"ftvm/mmu"
)

// TestTLBFlush fills the TLB, flushes it and checks the old translations
// miss, through more flushes than there are epochs (the wrap clears the
// tags), at both privileges; flushPage drops just its page.
func TestTLBFlush(t *testing.T) {
	c := newTestCPU(t)
	const a, b, z = dataBase, dataBase + 0x5000, dataBase + 0x9000
	c.physFor(z, false) // filled once, in the first epoch
	for i := range 3 * epochLimit {
		u := uint64(i & 1)
		c.mmu.setUser(u)
		c.physFor(a, true)
		c.physFor(b, false)
		if _, ok := c.hit(&c.mmu.write, a, 8); !ok {
			t.Fatalf("flush %d, user %d: no hit right after the fill", i, u)
		}
		c.mmu.flushPage(a)
		if _, ok := c.hit(&c.mmu.write, a, 8); ok {
			t.Fatalf("flush %d, user %d: hit after flushPage", i, u)
		}
		if _, ok := c.hit(&c.mmu.read, b, 8); !ok {
			t.Fatalf("flush %d, user %d: flushPage dropped another page", i, u)
		}
		c.mmu.flush()
		if _, ok := c.hit(&c.mmu.read, b, 8); ok {
			t.Fatalf("flush %d, user %d: hit after flush", i, u)
		}
		c.mmu.setUser(0)
		if _, ok := c.hit(&c.mmu.read, z, 8); ok {
			t.Fatalf("flush %d: a translation of the first epoch hits again", i)
		}
	}
}

// TestDirtyThroughTLB checks that writes through a cached write translation
// mark their page dirty after every harvest: the harvest drops the cached
// translations, so the next write refills one and marks the page again.
func TestDirtyThroughTLB(t *testing.T) {
	c := newTestCPU(t)
	c.mem.StartDirtyTracking()
	page := uint64(dataBase >> mmu.PageShift)
	for round := range 3 {
		c.write64(dataBase+8, uint64(round))
		if _, ok := c.hit(&c.mmu.write, dataBase, 8); !ok {
			t.Fatalf("round %d: the write left no cached translation", round)
		}
		c.write64(dataBase+16, uint64(round)) // through the TLB
		if got := c.mem.HarvestDirty(nil); !slices.Contains(got, page) {
			t.Fatalf("round %d: harvest %v misses page %#x", round, got, page)
		}
		if _, ok := c.hit(&c.mmu.write, dataBase, 8); ok {
			t.Fatalf("round %d: the harvest left the write translation cached", round)
		}
		if got := c.mem.HarvestDirty(nil); slices.Contains(got, page) {
			t.Fatalf("round %d: page %#x dirty with no write since the harvest", round, page)
		}
	}
}
