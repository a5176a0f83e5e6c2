package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

// Header fields a bzImage loader reads besides those of boot_params.
const (
	hdrSysSize       = 0x1F4 // size of the protected-mode code in 16-byte units
	minSetupProtocol = 0x020C
	sectorSize       = 512
	defaultSetupSect = 4 // setup_sects 0 means 4
)

// loadBzImage checks a bzImage's setup header and copies its protected-mode
// kernel into RAM for the 64-bit boot protocol (boot.rst): protocol 2.12 or
// later, XLF_KERNEL_64 set, loaded at pref_address (aligned up to
// kernel_alignment when relocatable) with init_size bytes of RAM from there.
// Nothing is written unless every check passes.
func loadBzImage(mem *mmu.Memory, image []byte) (*linuxKernel, error) {
	le := binary.LittleEndian
	if len(image) < hdrMagic+4 {
		return nil, fmt.Errorf("image: %d bytes is too short for an ELF file or a bzImage setup header (truncated?)", len(image))
	}
	if string(image[hdrMagic:hdrMagic+4]) != hdrSignature {
		return nil, fmt.Errorf("image: neither an ELF file nor a Linux bzImage (no %q signature at %#x)", hdrSignature, hdrMagic)
	}
	if le.Uint16(image[hdrBootFlag:]) != bootFlagMagic {
		return nil, fmt.Errorf("image: bad boot flag %#x at %#x (want %#x)", le.Uint16(image[hdrBootFlag:]), hdrBootFlag, bootFlagMagic)
	}
	if len(image) < hdrVersion+2 {
		return nil, fmt.Errorf("image: truncated setup header (%d bytes)", len(image))
	}
	version := le.Uint16(image[hdrVersion:])
	if version < minSetupProtocol {
		return nil, fmt.Errorf("image: boot protocol %d.%02d is older than 2.12, the first with the 64-bit entry (XLF_KERNEL_64)",
			version>>8, version&0xFF)
	}
	hdrEnd := hdrJump + 2 + int(image[hdrJump+1])
	if hdrEnd < hdrMinEnd || hdrEnd > len(image) {
		return nil, fmt.Errorf("image: setup header ends at %#x, outside %#x..%#x (truncated?)", hdrEnd, hdrMinEnd, len(image))
	}
	if le.Uint16(image[hdrXLoadFlags:])&xlfKernel64 == 0 {
		return nil, fmt.Errorf("image: a 32-bit-only kernel (xloadflags has no XLF_KERNEL_64); ftvm enters Linux in 64-bit mode")
	}
	sects := int(image[hdrSetupSects])
	if sects == 0 {
		sects = defaultSetupSect
	}
	setup := (sects + 1) * sectorSize
	pmSize := uint64(le.Uint32(image[hdrSysSize:])) * 16
	if setup > len(image) || uint64(len(image)-setup) < pmSize || pmSize == 0 {
		return nil, fmt.Errorf("image: truncated bzImage: %d bytes, the header says %d of setup and %d of kernel",
			len(image), setup, pmSize)
	}
	pm := image[setup:]
	load := le.Uint64(image[hdrPrefAddress:])
	if align := uint64(le.Uint32(image[hdrKernelAlignment:])); image[hdrRelocatable] != 0 && align != 0 && align&(align-1) == 0 {
		load = (load + align - 1) &^ (align - 1)
	}
	size := max(uint64(le.Uint32(image[hdrInitSize:])), uint64(len(pm)))
	ram := uint64(len(mem.RAM))
	if load < ImageMinAddr || load+size > lowRAMTop(ram) || load+size < load {
		return nil, fmt.Errorf("image: needs RAM from %#x to %#x (pref_address and init_size), the guest has %s: give it more with -m",
			load, load+size, formatSize(ram))
	}
	if err := mem.WriteBytes(load, pm); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return &linuxKernel{
		header:     append([]byte(nil), image[hdrStart:hdrEnd]...),
		start:      load,
		end:        load + size,
		entry:      load + startup64,
		cmdlineMax: int(le.Uint32(image[hdrCmdlineSize:])),
		initrdMax:  uint64(le.Uint32(image[hdrInitrdAddrMax:])),
	}, nil
}
