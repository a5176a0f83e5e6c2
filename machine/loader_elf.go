package machine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"

	"ftvm/mmu"
)

// ELF constants the loader checks (see the System V gABI and the x86-64
// psABI). The header is parsed by hand rather than with debug/elf so that
// every field is validated in one place and no section headers are needed.
const (
	elfHeaderSize = 64 // size of an ELF64 file header
	elfPhdrSize   = 56 // size of an ELF64 program header

	elfClass32   = 1
	elfClass64   = 2
	elfData2LSB  = 1
	elfVersion   = 1
	elfTypeExec  = 2
	elfTypeDyn   = 3
	elfMachine86 = 3  // EM_386
	elfMachineX  = 62 // EM_X86_64
	elfPNXNum    = 0xFFFF

	ptLoad = 1
	pfExec = 1
)

var elfMagic = []byte{0x7F, 'E', 'L', 'F'}

// elfSegment is a validated PT_LOAD program header.
type elfSegment struct {
	index          int // program header index, for messages
	offset, filesz uint64
	paddr, memsz   uint64
	exec           bool
}

// LoadELF64 loads a static x86-64 ELF executable into RAM for direct boot in
// long mode (ARCHITECTURE.md §3) and returns its entry point.
//
// Every PT_LOAD segment is copied to its p_paddr and the rest of it, up to
// p_memsz, zeroed; segments with p_memsz 0 are skipped. The image is fully
// validated before RAM is touched, so an error leaves RAM unchanged. The
// loader refuses anything but a little-endian ELF64 ET_EXEC for x86-64;
// truncated headers; program headers, or segment file ranges, outside the
// file; p_filesz larger than p_memsz; a segment below ImageMinAddr or not
// entirely inside RAM; overlapping segments; images with no loadable
// segment; and an entry point outside every executable segment. Since the
// boot page tables are an identity map, e_entry is checked against, and
// executed at, physical addresses.
func LoadELF64(mem *mmu.Memory, image []byte) (entry uint64, err error) {
	if mem == nil {
		return 0, fmt.Errorf("image: no guest memory")
	}
	segs, entry, err := parseELF64(image, uint64(len(mem.RAM)))
	if err != nil {
		return 0, err
	}
	return entry, loadSegments(mem, image, segs)
}

// loadSegments copies validated segments into RAM and zeroes the rest of
// each.
func loadSegments(mem *mmu.Memory, image []byte, segs []elfSegment) error {
	for _, s := range segs {
		if err := mem.WriteBytes(s.paddr, image[s.offset:s.offset+s.filesz]); err != nil {
			return fmt.Errorf("image: segment %d: %w", s.index, err)
		}
		bss := s.paddr + s.filesz
		end := s.paddr + s.memsz
		if bss < end {
			mem.NoteWrite(bss, end-bss)
			clear(mem.RAM[bss:end])
		}
	}
	return nil
}

// parseELF64 validates image for a guest with ramSize bytes of RAM and
// returns its loadable segments and its entry point.
func parseELF64(image []byte, ramSize uint64) ([]elfSegment, uint64, error) {
	if !bytes.HasPrefix(image, elfMagic) {
		if len(image) < len(elfMagic) && bytes.HasPrefix(elfMagic, image) {
			return nil, 0, fmt.Errorf("image: truncated ELF header (%d of %d bytes)", len(image), elfHeaderSize)
		}
		return nil, 0, fmt.Errorf("image: not an ELF file (bad magic)")
	}
	if len(image) <= 4 {
		return nil, 0, fmt.Errorf("image: truncated ELF header (%d of %d bytes)", len(image), elfHeaderSize)
	}
	switch image[4] {
	case elfClass64:
	case elfClass32:
		return nil, 0, fmt.Errorf("image: ELF32 images need multiboot, which is not supported yet")
	default:
		return nil, 0, fmt.Errorf("image: unknown ELF class %d", image[4])
	}
	if len(image) < elfHeaderSize {
		return nil, 0, fmt.Errorf("image: truncated ELF header (%d of %d bytes)", len(image), elfHeaderSize)
	}
	if image[5] != elfData2LSB {
		return nil, 0, fmt.Errorf("image: ELF data encoding %d is not little-endian", image[5])
	}
	if image[6] != elfVersion {
		return nil, 0, fmt.Errorf("image: unknown ELF version %d", image[6])
	}
	le := binary.LittleEndian
	var (
		typ       = le.Uint16(image[16:])
		machine   = le.Uint16(image[18:])
		version   = le.Uint32(image[20:])
		entry     = le.Uint64(image[24:])
		phoff     = le.Uint64(image[32:])
		phentsize = uint64(le.Uint16(image[54:]))
		phnum     = uint64(le.Uint16(image[56:]))
	)
	switch machine {
	case elfMachineX:
	case elfMachine86:
		return nil, 0, fmt.Errorf("image: ELF machine is i386; 32-bit images need multiboot, which is not supported yet")
	default:
		return nil, 0, fmt.Errorf("image: ELF machine %d is not x86-64 (%d)", machine, elfMachineX)
	}
	if version != elfVersion {
		return nil, 0, fmt.Errorf("image: unknown ELF version %d", version)
	}
	switch typ {
	case elfTypeExec:
	case elfTypeDyn:
		return nil, 0, fmt.Errorf("image: ELF type ET_DYN (position-independent) is not supported; link a static ET_EXEC at or above %#x", ImageMinAddr)
	default:
		return nil, 0, fmt.Errorf("image: ELF type %d is not an executable (ET_EXEC)", typ)
	}
	if phnum == elfPNXNum {
		return nil, 0, fmt.Errorf("image: more than %d program headers (PN_XNUM) is not supported", elfPNXNum-1)
	}
	if phnum == 0 {
		return nil, 0, fmt.Errorf("image: no program headers, so no PT_LOAD segments")
	}
	if phentsize < elfPhdrSize {
		return nil, 0, fmt.Errorf("image: program header size %d is smaller than %d", phentsize, elfPhdrSize)
	}
	// phnum and phentsize are 16-bit, so their product cannot overflow.
	phsize := phnum * phentsize
	if phend, carry := bits.Add64(phoff, phsize, 0); carry != 0 || phend > uint64(len(image)) {
		return nil, 0, fmt.Errorf("image: program headers at %#x (%d x %d bytes) are outside the file (%#x bytes)",
			phoff, phnum, phentsize, len(image))
	}

	var segs []elfSegment
	for i := range phnum {
		ph := image[phoff+i*phentsize:]
		if le.Uint32(ph[0:]) != ptLoad {
			continue
		}
		s := elfSegment{
			index:  int(i),
			exec:   le.Uint32(ph[4:])&pfExec != 0,
			offset: le.Uint64(ph[8:]),
			paddr:  le.Uint64(ph[24:]),
			filesz: le.Uint64(ph[32:]),
			memsz:  le.Uint64(ph[40:]),
		}
		if s.filesz > s.memsz {
			return nil, 0, fmt.Errorf("image: segment %d: file size %#x is larger than its memory size %#x", i, s.filesz, s.memsz)
		}
		if fend, carry := bits.Add64(s.offset, s.filesz, 0); carry != 0 || fend > uint64(len(image)) {
			return nil, 0, fmt.Errorf("image: segment %d: file range %#x+%#x is outside the file (%#x bytes)",
				i, s.offset, s.filesz, len(image))
		}
		if s.memsz == 0 {
			continue
		}
		end, carry := bits.Add64(s.paddr, s.memsz, 0)
		switch {
		case carry != 0:
			return nil, 0, fmt.Errorf("image: segment %d at %#x (size %#x) wraps around the address space", i, s.paddr, s.memsz)
		case s.paddr < ImageMinAddr:
			return nil, 0, fmt.Errorf("image: segment %d at %#x (size %#x) is below %#x; images must be linked at or above 1 MiB",
				i, s.paddr, s.memsz, ImageMinAddr)
		case end > ramSize:
			return nil, 0, fmt.Errorf("image: segment %d at %#x (size %#x) is outside the %s of RAM", i, s.paddr, s.memsz, formatSize(ramSize))
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return nil, 0, fmt.Errorf("image: no PT_LOAD segments to load")
	}

	byAddr := make([]elfSegment, len(segs))
	copy(byAddr, segs)
	sort.Slice(byAddr, func(a, b int) bool { return byAddr[a].paddr < byAddr[b].paddr })
	for k := 1; k < len(byAddr); k++ {
		prev, s := byAddr[k-1], byAddr[k]
		if s.paddr < prev.paddr+prev.memsz {
			return nil, 0, fmt.Errorf("image: segments %d and %d overlap at %#x", prev.index, s.index, s.paddr)
		}
	}

	inExec := false
	for _, s := range segs {
		if s.exec && entry >= s.paddr && entry-s.paddr < s.memsz {
			inExec = true
			break
		}
	}
	if !inExec {
		return nil, 0, fmt.Errorf("image: entry point %#x is not inside a loaded executable segment", entry)
	}
	return segs, entry, nil
}

// formatSize renders a RAM size for messages: "64 MiB", "1 GiB" or bytes.
func formatSize(n uint64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
