package cpu

import "testing"

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
