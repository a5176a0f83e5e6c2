package machine

import (
	"encoding/binary"
	"strings"
	"testing"

	"ftvm/mmu"
)

// testSeg is one program header of a test image.
type testSeg struct {
	typ    uint32
	flags  uint32
	offset uint64 // where data goes in the file
	paddr  uint64
	data   []byte
	memsz  uint64
}

// testELF describes a small ELF64 image built by bytes.
type testELF struct {
	class, encoding byte
	typ, machine    uint16
	entry           uint64
	segs            []testSeg
}

const (
	pfW         = 2
	pfR         = 4
	testRAMSize = 16 << 20
)

// Offsets of header fields the tests corrupt.
const (
	offType      = 16
	offMachine   = 18
	offVersion   = 20
	offEntry     = 24
	offPhoff     = 32
	offPhentsize = 54
	offPhnum     = 56
)

// phdrField returns the file offset of a field of program header i; field is
// the offset inside the header (0 type, 4 flags, 8 offset, 24 paddr,
// 32 filesz, 40 memsz).
func phdrField(i, field int) int { return elfHeaderSize + i*elfPhdrSize + field }

const (
	phType   = 0
	phFlags  = 4
	phOffset = 8
	phPaddr  = 24
	phFilesz = 32
	phMemsz  = 40
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// validELF is a two-segment executable: code at 1 MiB, data with bss at
// 2 MiB, plus a PT_NOTE whose address would be invalid for a PT_LOAD.
func validELF() testELF {
	return testELF{
		class: elfClass64, encoding: elfData2LSB, typ: elfTypeExec, machine: elfMachineX,
		entry: 0x100010,
		segs: []testSeg{
			{typ: ptLoad, flags: pfR | pfExec, offset: 0x1000, paddr: 0x100000, data: pattern(0x200, 1), memsz: 0x200},
			{typ: ptLoad, flags: pfR | pfW, offset: 0x2000, paddr: 0x200000, data: pattern(0x100, 9), memsz: 0x3000},
			{typ: ptNote, flags: pfR, offset: 0x2100, paddr: 0, data: pattern(0x10, 5), memsz: 0x10},
		},
	}
}

func (e testELF) build() []byte {
	size := uint64(elfHeaderSize + elfPhdrSize*len(e.segs))
	for _, s := range e.segs {
		size = max(size, s.offset+uint64(len(s.data)))
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	copy(b, elfMagic)
	b[4], b[5], b[6] = e.class, e.encoding, elfVersion
	le.PutUint16(b[offType:], e.typ)
	le.PutUint16(b[offMachine:], e.machine)
	le.PutUint32(b[offVersion:], elfVersion)
	le.PutUint64(b[offEntry:], e.entry)
	le.PutUint64(b[offPhoff:], elfHeaderSize)
	le.PutUint16(b[52:], elfHeaderSize)
	le.PutUint16(b[offPhentsize:], elfPhdrSize)
	le.PutUint16(b[offPhnum:], uint16(len(e.segs)))
	for i, s := range e.segs {
		le.PutUint32(b[phdrField(i, phType):], s.typ)
		le.PutUint32(b[phdrField(i, phFlags):], s.flags)
		le.PutUint64(b[phdrField(i, phOffset):], s.offset)
		le.PutUint64(b[phdrField(i, 16):], s.paddr) // p_vaddr = p_paddr
		le.PutUint64(b[phdrField(i, phPaddr):], s.paddr)
		le.PutUint64(b[phdrField(i, phFilesz):], uint64(len(s.data)))
		le.PutUint64(b[phdrField(i, phMemsz):], s.memsz)
		le.PutUint64(b[phdrField(i, 48):], 0x1000)
		copy(b[s.offset:], s.data)
	}
	return b
}

func newTestMemory(t testing.TB, size uint64) *mmu.Memory {
	t.Helper()
	mem, err := mmu.NewMemory(size)
	if err != nil {
		t.Fatal(err)
	}
	return mem
}

func set16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[off:], v); return b }
}
func set32(off int, v uint32) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
}
func set64(off int, v uint64) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
}
func setByte(off int, v byte) func([]byte) []byte {
	return func(b []byte) []byte { b[off] = v; return b }
}
func chain(fs ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, f := range fs {
			b = f(b)
		}
		return b
	}
}

func TestLoadELF64Rejects(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func([]byte) []byte
		ram     uint64 // 0: testRAMSize
		want    string
	}{
		{"empty file", func([]byte) []byte { return nil }, 0, "truncated ELF header (0 of 64 bytes)"},
		{"part of the magic", func(b []byte) []byte { return b[:3] }, 0, "truncated ELF header"},
		{"magic only", func(b []byte) []byte { return b[:4] }, 0, "truncated ELF header"},
		{"not ELF", func([]byte) []byte {
			return []byte("MZ\x90\x00 this is not an ELF file at all, no no no no no no no no no")
		}, 0, "not an ELF file"},
		{"truncated header", func(b []byte) []byte { return b[:40] }, 0, "truncated ELF header (40 of 64 bytes)"},
		{"ELF32", setByte(4, elfClass32), 0, "ELF32 images need multiboot"},
		{"truncated ELF32", func(b []byte) []byte { b[4] = elfClass32; return b[:20] }, 0, "ELF32 images need multiboot"},
		{"bad class", setByte(4, 3), 0, "unknown ELF class 3"},
		{"big-endian", setByte(5, 2), 0, "not little-endian"},
		{"bad ident version", setByte(6, 0), 0, "unknown ELF version 0"},
		{"bad header version", set32(offVersion, 2), 0, "unknown ELF version 2"},
		{"i386", set16(offMachine, elfMachine86), 0, "need multiboot"},
		{"aarch64", set16(offMachine, 183), 0, "ELF machine 183 is not x86-64"},
		{"ET_DYN", set16(offType, elfTypeDyn), 0, "ET_DYN"},
		{"ET_REL", set16(offType, 1), 0, "ELF type 1 is not an executable"},
		{"ET_CORE", set16(offType, 4), 0, "not an executable"},
		{"no program headers", set16(offPhnum, 0), 0, "no program headers"},
		{"PN_XNUM", set16(offPhnum, 0xFFFF), 0, "PN_XNUM"},
		{"small program headers", set16(offPhentsize, 32), 0, "program header size 32"},
		{"program headers past the end", set64(offPhoff, 0x2100), 0, "program headers at 0x2100 (3 x 56 bytes) are outside the file"},
		{"program headers offset overflows", set64(offPhoff, ^uint64(0)-10), 0, "are outside the file"},
		{"file cut inside program headers", func(b []byte) []byte { return b[:200] }, 0, "program headers at 0x40"},
		{"many program headers", set16(offPhnum, 1000), 0, "program headers at 0x40 (1000 x 56 bytes)"},
		{"filesz > memsz", set64(phdrField(1, phFilesz), 0x4000), 0, "segment 1: file size 0x4000 is larger than its memory size 0x3000"},
		{"file range past the end", set64(phdrField(0, phOffset), 0x2080), 0, "segment 0: file range 0x2080+0x200 is outside the file"},
		{"file range overflows", set64(phdrField(0, phOffset), ^uint64(0)-0x100), 0, "segment 0: file range"},
		{"below 1 MiB", set64(phdrField(1, phPaddr), 0x7000), 0, "segment 1 at 0x7000 (size 0x3000) is below 0x100000"},
		{"at 0", set64(phdrField(0, phPaddr), 0), 0, "segment 0 at 0x0 (size 0x200) is below"},
		{"straddles 1 MiB", set64(phdrField(0, phPaddr), 0xFFF00), 0, "is below 0x100000"},
		{"outside RAM", set64(phdrField(1, phPaddr), 0x3FFF000), 64 << 20, "image: segment 1 at 0x3fff000 (size 0x3000) is outside the 64 MiB of RAM"},
		{"bss outside RAM", set64(phdrField(1, phMemsz), testRAMSize), 0, "segment 1 at 0x200000 (size 0x1000000) is outside the 16 MiB of RAM"},
		{"small RAM", nil, 2 << 20, "segment 1 at 0x200000 (size 0x3000) is outside the 2 MiB of RAM"},
		{"huge memsz", set64(phdrField(1, phMemsz), 1<<63), 0, "outside the 16 MiB of RAM"},
		{"address wraps", set64(phdrField(1, phPaddr), ^uint64(0)-0xFFF), 0, "wraps around the address space"},
		{"in the MMIO hole", set64(phdrField(1, phPaddr), 0xFEE00000), 0, "outside the 16 MiB of RAM"},
		{"no PT_LOAD", chain(set32(phdrField(0, phType), ptNote), set32(phdrField(1, phType), ptNote)), 0, "no PT_LOAD segments"},
		{"only empty PT_LOADs", chain(set64(phdrField(0, phFilesz), 0), set64(phdrField(0, phMemsz), 0),
			set64(phdrField(1, phFilesz), 0), set64(phdrField(1, phMemsz), 0)), 0, "no PT_LOAD segments"},
		{"overlapping segments", set64(phdrField(1, phPaddr), 0x1001F0), 0, "segments 0 and 1 overlap at 0x1001f0"},
		{"same address", set64(phdrField(1, phPaddr), 0x100000), 0, "overlap"},
		{"entry outside segments", set64(offEntry, 0x300000), 0, "entry point 0x300000 is not inside a loaded executable segment"},
		{"entry in data", set64(offEntry, 0x200010), 0, "entry point 0x200010"},
		{"entry just past code", set64(offEntry, 0x100200), 0, "entry point 0x100200"},
		{"entry below code", set64(offEntry, 0xFFFFF), 0, "entry point"},
		{"entry zero", set64(offEntry, 0), 0, "entry point 0x0"},
		{"code not executable", set32(phdrField(0, phFlags), pfR), 0, "entry point"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image := validELF().build()
			if tt.corrupt != nil {
				image = tt.corrupt(image)
			}
			ram := tt.ram
			if ram == 0 {
				ram = testRAMSize
			}
			mem := newTestMemory(t, ram)
			entry, err := LoadELF64(mem, image)
			if err == nil {
				t.Fatalf("LoadELF64 = %#x, nil; want an error containing %q", entry, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadELF64 error %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "image: ") {
				t.Errorf("error %q does not start with \"image: \"", err)
			}
			for i, b := range mem.RAM {
				if b != 0 {
					t.Fatalf("a failed load wrote RAM at %#x", i)
				}
			}
		})
	}
}

func TestLoadELF64NilMemory(t *testing.T) {
	if _, err := LoadELF64(nil, validELF().build()); err == nil {
		t.Error("LoadELF64(nil, ...) succeeded")
	}
}

func TestLoadELF64Loads(t *testing.T) {
	e := validELF()
	mem := newTestMemory(t, 64<<20)
	// Stale bytes where the bss goes and just past it.
	for i := 0x200000; i < 0x204000; i++ {
		mem.RAM[i] = 0xAA
	}
	// Cached code in the bss page must be invalidated.
	var invalidated []uint64
	mem.SetCodeWriteHook(func(page uint64) { invalidated = append(invalidated, page) })
	mem.MarkCode(0x202)
	mem.MarkCode(0x300)

	entry, err := LoadELF64(mem, e.build())
	if err != nil {
		t.Fatalf("LoadELF64: %v", err)
	}
	if entry != e.entry {
		t.Errorf("entry = %#x, want %#x", entry, e.entry)
	}
	checks := []struct {
		name      string
		addr, end uint64
		want      func(i uint64) byte
	}{
		{"code", 0x100000, 0x100200, func(i uint64) byte { return e.segs[0].data[i] }},
		{"after code", 0x100200, 0x101000, func(uint64) byte { return 0 }},
		{"data", 0x200000, 0x200100, func(i uint64) byte { return e.segs[1].data[i] }},
		{"bss", 0x200100, 0x203000, func(uint64) byte { return 0 }},
		{"after bss", 0x203000, 0x204000, func(uint64) byte { return 0xAA }},
		{"note not loaded", 0, 0x100, func(uint64) byte { return 0 }},
	}
	for _, c := range checks {
		for a := c.addr; a < c.end; a++ {
			if got, want := mem.RAM[a], c.want(a-c.addr); got != want {
				t.Errorf("%s: RAM[%#x] = %#x, want %#x", c.name, a, got, want)
				break
			}
		}
	}
	if len(invalidated) != 1 || invalidated[0] != 0x202 {
		t.Errorf("code pages invalidated: %#x, want [0x202]", invalidated)
	}
}

func TestLoadELF64Variants(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*testELF)
		entry  uint64
	}{
		{"single segment", func(e *testELF) { e.segs = e.segs[:1] }, 0x100010},
		{"entry at the start", func(e *testELF) { e.entry = 0x100000 }, 0x100000},
		{"entry at the last byte", func(e *testELF) { e.entry = 0x1001FF }, 0x1001FF},
		{"entry in code bss", func(e *testELF) { e.segs[0].memsz = 0x1000; e.entry = 0x100800 }, 0x100800},
		{"empty PT_LOAD anywhere is skipped", func(e *testELF) {
			e.segs = append(e.segs, testSeg{typ: ptLoad, flags: pfR, offset: 0x2200, paddr: 0})
		}, 0x100010},
		{"adjacent segments", func(e *testELF) { e.segs[1].paddr = 0x100200 }, 0x100010},
		{"segment ends at the end of RAM", func(e *testELF) { e.segs[1].paddr = testRAMSize - 0x3000 }, 0x100010},
		{"pure bss segment", func(e *testELF) {
			e.segs = append(e.segs, testSeg{typ: ptLoad, flags: pfR | pfW, offset: 0x2200, paddr: 0x300000, memsz: 0x10000})
		}, 0x100010},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validELF()
			tt.modify(&e)
			entry, err := LoadELF64(newTestMemory(t, testRAMSize), e.build())
			if err != nil {
				t.Fatalf("LoadELF64: %v", err)
			}
			if entry != tt.entry {
				t.Errorf("entry = %#x, want %#x", entry, tt.entry)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{64 << 20, "64 MiB"}, {1 << 30, "1 GiB"}, {3 << 29, "1536 MiB"}, {12 << 10, "12 KiB"}, {100, "100 bytes"}, {0, "0 bytes"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func FuzzLoadELF64(f *testing.F) {
	f.Add(validELF().build())
	one := validELF()
	one.segs = one.segs[:1]
	f.Add(one.build())
	f.Add(validELF().build()[:100])
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(set16(offPhnum, 0xFFFF)(validELF().build()))
	mem := newTestMemory(f, 4<<20)
	f.Fuzz(func(t *testing.T, image []byte) {
		entry, err := LoadELF64(mem, image)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "image: ") {
				t.Errorf("error %q does not start with \"image: \"", err)
			}
			return
		}
		if entry < ImageMinAddr || entry >= uint64(len(mem.RAM)) {
			t.Errorf("accepted entry %#x outside [%#x, %#x)", entry, ImageMinAddr, len(mem.RAM))
		}
	})
}
