package acpi

import "encoding/binary"

// Resource is one encoded resource descriptor of a resource template
// (ACPI 6.5 §6.4).
type Resource []byte

// Resource descriptor tags.
const (
	tagIRQ           = 0x04 << 3 // small: IRQ format
	tagIO            = 0x08 << 3 // small: I/O port
	tagEnd           = 0x0F << 3 // small: end tag
	tagMemory32Fixed = 0x86      // large: 32-bit fixed memory range
	tagExtendedIRQ   = 0x89      // large: extended interrupt
)

// ResourceTemplate returns a buffer holding the resource descriptors and an
// end tag, as the ResourceTemplate macro of ASL builds it.
func ResourceTemplate(res ...Resource) Term {
	var b []byte
	for _, r := range res {
		b = append(b, r...)
	}
	// Checksum 0: the template is treated as checksummed correctly.
	return Buffer(append(b, tagEnd|1, 0))
}

// IO returns a 16-bit-decode I/O port descriptor: ports from min to max,
// base alignment align, length ports.
func IO(min, max uint16, align, length uint8) Resource {
	r := Resource{tagIO | 7, 1}
	r = binary.LittleEndian.AppendUint16(r, min)
	r = binary.LittleEndian.AppendUint16(r, max)
	return append(r, align, length)
}

// IRQNoFlags returns an IRQ descriptor without the information byte
// (edge-triggered, active high, exclusive) for the ISA IRQs irqs (0-15).
func IRQNoFlags(irqs ...uint8) Resource {
	var mask uint16
	for _, i := range irqs {
		mask |= 1 << (i & 15)
	}
	return binary.LittleEndian.AppendUint16(Resource{tagIRQ | 2}, mask)
}

// Memory32Fixed returns a fixed 32-bit memory range descriptor of length
// bytes at base, read-write when rw is set.
func Memory32Fixed(rw bool, base, length uint32) Resource {
	r := Resource{tagMemory32Fixed, 9, 0, 0}
	if rw {
		r[3] = 1
	}
	r = binary.LittleEndian.AppendUint32(r, base)
	return binary.LittleEndian.AppendUint32(r, length)
}

// Interrupt trigger and polarity of an extended interrupt descriptor.
const (
	Level      = false // level-triggered
	Edge       = true  // edge-triggered
	ActiveHigh = false
	ActiveLow  = true
)

// Interrupt returns an extended interrupt descriptor for a resource
// consumer: global system interrupts gsis, triggered by edge or level,
// active low or high, exclusive.
func Interrupt(edge, activeLow bool, gsis ...uint32) Resource {
	flags := byte(1) // resource consumer
	if edge {
		flags |= 1 << 1
	}
	if activeLow {
		flags |= 1 << 2
	}
	n := 2 + 4*len(gsis)
	r := Resource{tagExtendedIRQ, byte(n), byte(n >> 8), flags, byte(len(gsis))}
	for _, g := range gsis {
		r = binary.LittleEndian.AppendUint32(r, g)
	}
	return r
}
