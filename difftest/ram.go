package difftest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
)

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i += 4096 {
		j := min(i+4096, n)
		if !bytes.Equal(a[i:j], b[i:j]) {
			for k := i; k < j; k++ {
				if a[k] != b[k] {
					return k
				}
			}
		}
	}
	return n
}

// pagingPages returns the physical page numbers of the 4-level paging
// structures reachable from the given CR3 values.
func pagingPages(ram []byte, cr3s ...uint64) map[uint64]bool {
	pages := map[uint64]bool{}
	var walk func(table uint64, level int)
	walk = func(table uint64, level int) {
		if table+4096 > uint64(len(ram)) || pages[table>>12] || len(pages) > 1<<16 {
			return
		}
		pages[table>>12] = true
		if level == 1 {
			return
		}
		for i := uint64(0); i < 512; i++ {
			e := binary.LittleEndian.Uint64(ram[table+8*i:])
			if e&1 == 0 || level < 4 && e&0x80 != 0 {
				continue // not present, or a large page
			}
			walk(e&0x000F_FFFF_FFFF_F000, level-1)
		}
	}
	for _, c := range cr3s {
		walk(c&0x000F_FFFF_FFFF_F000, 4)
	}
	return pages
}

// hashRAM hashes guest RAM with the don't-care bits of paging entries in
// the given table pages cleared.
func hashRAM(ram []byte, tables map[uint64]bool) [32]byte {
	h := sha256.New()
	var page [4096]byte
	for a := 0; a < len(ram); a += 4096 {
		p := ram[a : a+4096]
		if tables[uint64(a)>>12] {
			copy(page[:], p)
			for i := 0; i < 4096; i += 8 {
				binary.LittleEndian.PutUint64(page[i:], binary.LittleEndian.Uint64(page[i:])&^pageBitsDontCare)
			}
			p = page[:]
		}
		h.Write(p)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// firstRAMDifference returns the first byte at or after from that differs
// other than in don't-care bits of paging entries (len(a) for none).
func firstRAMDifference(a, b []byte, tables map[uint64]bool, from int) int {
	for at := from; at < len(a); {
		at += commonPrefix(a[at:], b[at:])
		if at >= len(a) {
			break
		}
		w := at &^ 7
		if tables[uint64(at)>>12] && (binary.LittleEndian.Uint64(a[w:])^binary.LittleEndian.Uint64(b[w:]))&^pageBitsDontCare == 0 {
			at = w + 8
			continue
		}
		return at
	}
	return len(a)
}

// ramDiffersInFlagBits reports whether every 8-byte word that differs
// (other than in don't-care bits of paging entries) differs only in
// status-flag bits, as RFLAGS images holding undefined flags would.
func ramDiffersInFlagBits(a, b []byte, tables map[uint64]bool) bool {
	for at := firstRAMDifference(a, b, tables, 0); at < len(a); at = firstRAMDifference(a, b, tables, at&^7+8) {
		w := at &^ 7
		if (binary.LittleEndian.Uint64(a[w:])^binary.LittleEndian.Uint64(b[w:]))&^fAll != 0 {
			return false
		}
	}
	return true
}

// countPageBitDiffs counts paging entries that differ only in don't-care bits.
func countPageBitDiffs(a, b []byte, tables map[uint64]bool) int {
	n := 0
	for p := range tables {
		for i := p << 12; i < p<<12+4096 && i+8 <= uint64(len(a)); i += 8 {
			if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
				n++
			}
		}
	}
	return n
}
