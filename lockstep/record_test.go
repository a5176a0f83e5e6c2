package lockstep

import (
	"crypto/sha256"
	"testing"

	"ftvm/mmu"
)

// TestRAMDigest: the digest follows every byte of RAM, where it sits and
// the RAM's size, though it hashes only the pages that are not all zero.
func TestRAMDigest(t *testing.T) {
	const size = 64 * mmu.PageSize
	base := func() []byte {
		ram := make([]byte, size)
		copy(ram[3*mmu.PageSize+100:], "some guest data")
		ram[size-1] = 0xAA
		return ram
	}
	ref := ramDigest(base())
	if ramDigest(base()) != ref {
		t.Fatal("equal RAM, different digests")
	}
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"a byte in a zero page", func(r []byte) []byte { r[10*mmu.PageSize+7] = 1; return r }},
		{"a byte in a used page", func(r []byte) []byte { r[3*mmu.PageSize+100] ^= 0x20; return r }},
		{"a used page cleared", func(r []byte) []byte { clear(r[3*mmu.PageSize : 4*mmu.PageSize]); return r }},
		{"a page moved", func(r []byte) []byte {
			copy(r[5*mmu.PageSize:6*mmu.PageSize], r[3*mmu.PageSize:4*mmu.PageSize])
			clear(r[3*mmu.PageSize : 4*mmu.PageSize])
			return r
		}},
		{"the last byte", func(r []byte) []byte { r[size-1] = 0xAB; return r }},
		{"one more zero page", func(r []byte) []byte { return append(r, make([]byte, mmu.PageSize)...) }},
		{"a partial last page", func(r []byte) []byte { return append(r, 0) }},
	} {
		if ramDigest(c.edit(base())) == ref {
			t.Errorf("%s: digest unchanged", c.name)
		}
	}
	if ramDigest(make([]byte, mmu.PageSize)) == ramDigest(make([]byte, 2*mmu.PageSize)) {
		t.Error("zero RAM of two sizes: one digest")
	}
}

// BenchmarkRAMDigest: the digest of a 64 MiB guest's RAM with 4 MiB in use
// in pages spread over it (a short run's end), as the primary computes it
// for its end record; beside it the SHA-256 of the whole RAM (log version 1).
func BenchmarkRAMDigest(b *testing.B) {
	ram := make([]byte, 64<<20)
	for p := 0; p < len(ram); p += 16 * mmu.PageSize {
		for i := p; i < p+mmu.PageSize; i++ {
			ram[i] = byte(i | 1)
		}
	}
	b.Run("nonzero-pages", func(b *testing.B) {
		b.SetBytes(int64(len(ram)))
		for b.Loop() {
			ramDigest(ram)
		}
	})
	b.Run("sha256-all", func(b *testing.B) {
		b.SetBytes(int64(len(ram)))
		for b.Loop() {
			sha256.Sum256(ram)
		}
	})
}
