package machine

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

// ELF note owners and types the Linux loaders look for.
const (
	ptNote            = 4
	noteOwnerLinux    = "Linux" // notes every vmlinux carries (LINUX_ELFNOTE)
	noteOwnerXen      = "Xen"
	xenNotePhys32Entr = 18 // XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point
)

// elfNote is one note of a PT_NOTE segment.
type elfNote struct {
	owner string
	typ   uint32
	desc  []byte
}

// isELF reports whether image starts with the ELF magic.
func isELF(image []byte) bool { return bytes.HasPrefix(image, elfMagic) }

// IsLinuxKernel reports whether image is booted through the Linux boot
// protocol rather than the direct-boot ABI: anything but an ELF file (the
// bzImage loader says what is wrong with it), or an ELF64 carrying a note
// owned by "Linux", as every vmlinux does.
func IsLinuxKernel(image []byte) bool {
	if !isELF(image) {
		return true
	}
	notes, err := elfNotes(image)
	if err != nil {
		return false
	}
	for _, n := range notes {
		if n.owner == noteOwnerLinux {
			return true
		}
	}
	return false
}

// elfNotes returns the notes of an ELF64 image's PT_NOTE segments. Notes
// that run past their segment or the file are an error.
func elfNotes(image []byte) ([]elfNote, error) {
	le := binary.LittleEndian
	if len(image) < elfHeaderSize || image[4] != elfClass64 {
		return nil, fmt.Errorf("image: not an ELF64 file")
	}
	phoff := le.Uint64(image[32:])
	phentsize := uint64(le.Uint16(image[54:]))
	phnum := uint64(le.Uint16(image[56:]))
	if phentsize < elfPhdrSize || phoff > uint64(len(image)) || phnum*phentsize > uint64(len(image))-phoff {
		return nil, fmt.Errorf("image: program headers outside the file")
	}
	var notes []elfNote
	for i := range phnum {
		ph := image[phoff+i*phentsize:]
		if le.Uint32(ph) != ptNote {
			continue
		}
		off, size := le.Uint64(ph[8:]), le.Uint64(ph[32:])
		if off > uint64(len(image)) || size > uint64(len(image))-off {
			return nil, fmt.Errorf("image: note segment %d is outside the file", i)
		}
		seg := image[off : off+size]
		for len(seg) > 0 {
			if len(seg) < 12 {
				return nil, fmt.Errorf("image: truncated note in segment %d", i)
			}
			namesz, descsz := uint64(le.Uint32(seg)), uint64(le.Uint32(seg[4:]))
			typ := le.Uint32(seg[8:])
			nameEnd := 12 + (namesz+3)&^3
			descEnd := nameEnd + (descsz+3)&^3
			if namesz > uint64(len(seg)) || descsz > uint64(len(seg)) || descEnd > uint64(len(seg)) {
				return nil, fmt.Errorf("image: note in segment %d runs past it", i)
			}
			name := string(bytes.TrimRight(seg[12:12+namesz], "\x00"))
			notes = append(notes, elfNote{owner: name, typ: typ, desc: seg[nameEnd : nameEnd+descsz]})
			seg = seg[descEnd:]
		}
	}
	return notes, nil
}

// loadVmlinux loads an uncompressed ELF vmlinux as Firecracker does: each
// PT_LOAD segment at its physical address, entered at e_entry (the physical
// address of startup_64) through the 64-bit boot protocol.
func loadVmlinux(mem *mmu.Memory, image []byte) (*linuxKernel, error) {
	segs, entry, err := parseELF64(image, lowRAMTop(uint64(len(mem.RAM))))
	if err != nil {
		return nil, fmt.Errorf("%v (a vmlinux needs RAM up to its last segment: give the guest more with -m)", err)
	}
	k := &linuxKernel{start: ^uint64(0), entry: entry, cmdlineMax: linuxCmdlineSize, initrdMax: defaultAddrMax}
	for _, s := range segs {
		k.start = min(k.start, s.paddr)
		k.end = max(k.end, s.paddr+s.memsz)
	}
	if err := loadSegments(mem, image, segs); err != nil {
		return nil, err
	}
	return k, nil
}
