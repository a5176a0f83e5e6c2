package acpi

import (
	"encoding/binary"
	"fmt"
)

// OEM identification written into every table.
const (
	OEMID       = "FTVM  "   // 6 bytes
	OEMTableID  = "FTVMBRD " // 8 bytes
	OEMRevision = 1
	CreatorID   = "FTVM"
	CreatorRev  = 1
)

// headerSize is the size of the common system description table header.
const headerSize = 36

// Checksum returns the byte that makes the bytes of b sum to zero.
func Checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

// table returns a system description table: the common header with
// signature sig and revision rev, then body; length and checksum filled in.
func table(sig string, rev uint8, body []byte) []byte {
	t := make([]byte, headerSize, headerSize+len(body))
	copy(t[0:4], sig)
	binary.LittleEndian.PutUint32(t[4:], uint32(headerSize+len(body)))
	t[8] = rev
	copy(t[10:16], OEMID)
	copy(t[16:24], OEMTableID)
	binary.LittleEndian.PutUint32(t[24:], OEMRevision)
	copy(t[28:32], CreatorID)
	binary.LittleEndian.PutUint32(t[32:], CreatorRev)
	t = append(t, body...)
	t[9] = Checksum(t)
	return t
}

// rsdpSize is the size of the ACPI 2.0+ root system description pointer.
const rsdpSize = 36

// rsdp returns the root system description pointer (revision 2) naming the
// XSDT at xsdt; it has no RSDT.
func rsdp(xsdt uint64) []byte {
	b := make([]byte, rsdpSize)
	copy(b, "RSD PTR ")
	copy(b[9:15], OEMID)
	b[15] = 2
	binary.LittleEndian.PutUint32(b[20:], rsdpSize)
	binary.LittleEndian.PutUint64(b[24:], xsdt)
	b[8] = Checksum(b[:20])
	b[32] = Checksum(b)
	return b
}

// xsdt returns the extended system description table listing the tables at
// addrs.
func xsdt(addrs []uint64) []byte {
	var body []byte
	for _, a := range addrs {
		body = binary.LittleEndian.AppendUint64(body, a)
	}
	return table("XSDT", 1, body)
}

// Address space identifiers of a generic address.
const (
	SpaceMemory = 0 // system memory
	SpaceIO     = 1 // system I/O ports
)

// GenericAddress is a register location (ACPI 6.5 §5.2.3.2).
type GenericAddress struct {
	Space      uint8  // SpaceMemory or SpaceIO
	BitWidth   uint8  // register width in bits
	BitOffset  uint8  // offset of the register in the address
	AccessSize uint8  // 1 byte, 2 word, 3 dword, 4 qword access
	Address    uint64 // address or port
}

func (g GenericAddress) append(b []byte) []byte {
	b = append(b, g.Space, g.BitWidth, g.BitOffset, g.AccessSize)
	return binary.LittleEndian.AppendUint64(b, g.Address)
}

// IOByte is the generic address of a one-byte I/O port register.
func IOByte(port uint16) GenericAddress {
	return GenericAddress{Space: SpaceIO, BitWidth: 8, AccessSize: 1, Address: uint64(port)}
}

// FADT flags and IA-PC boot architecture flags.
const (
	FADTWBINVD       = 1 << 0  // WBINVD works
	FADTPowerButton  = 1 << 4  // the power button, if any, is a control-method device
	FADTSleepButton  = 1 << 5  // the sleep button, if any, is a control-method device
	FADTResetReg     = 1 << 10 // the reset register is supported
	FADTHWReduced    = 1 << 20 // hardware-reduced ACPI: no fixed hardware, no SCI
	BootArchNoVGA    = 1 << 2  // VGA not present
	BootArchNoMSI    = 1 << 3  // MSI must not be enabled
	BootArchNoCMOS   = 1 << 5  // no CMOS RTC
	BootArchLegacy   = 1 << 0  // legacy (ISA) devices present
	BootArchI8042    = 1 << 1  // an 8042 keyboard controller is present
	fadtSize         = 276     // revision 6
	fadtRevision     = 6
	fadtMinorVersion = 5
)

// FADT is the content of a hardware-reduced fixed ACPI description table.
type FADT struct {
	// Flags holds FADT* bits; FADTHWReduced is always set.
	Flags uint32
	// BootArch holds the IA-PC boot architecture BootArch* bits.
	BootArch uint16
	// Reset is the reset register, written with ResetValue to reset the
	// system (valid when Flags has FADTResetReg).
	Reset      GenericAddress
	ResetValue uint8
	// SleepControl and SleepStatus are the sleep registers of a
	// hardware-reduced platform: writing SLP_EN with a sleep type to the
	// control register enters that sleep state (S5 powers off).
	SleepControl, SleepStatus GenericAddress
	// HypervisorID names the hypervisor (8 bytes, NUL-padded).
	HypervisorID string
}

// fadt returns the table, pointing at the DSDT at dsdt.
func (f FADT) table(dsdt uint64) []byte {
	b := make([]byte, fadtSize-headerSize)
	at := func(off int) []byte { return b[off-headerSize:] }
	le := binary.LittleEndian
	if dsdt < 1<<32 {
		le.PutUint32(at(40), uint32(dsdt))
	}
	le.PutUint16(at(109), f.BootArch)
	le.PutUint32(at(112), f.Flags|FADTHWReduced)
	f.Reset.append(at(116)[:0])
	at(128)[0] = f.ResetValue
	at(131)[0] = fadtMinorVersion
	le.PutUint64(at(140), dsdt)
	f.SleepControl.append(at(244)[:0])
	f.SleepStatus.append(at(256)[:0])
	copy(at(268)[:8], f.HypervisorID)
	return table("FACP", fadtRevision, b)
}

// MADT flags and entry types.
const (
	MADTPCATCompat = 1 << 0 // a dual 8259 is present (and must be masked)
	madtLocalAPIC  = 0
	madtIOAPIC     = 1
	madtOverride   = 2
	madtLocalNMI   = 4
)

// Interrupt source override flags (MPS INTI flags).
const (
	PolarityConforming = 0
	PolarityHigh       = 1
	PolarityLow        = 3
	TriggerConforming  = 0 << 2
	TriggerEdge        = 1 << 2
	TriggerLevel       = 3 << 2
)

// Override says that ISA IRQ Source reaches global system interrupt GSI
// with the given polarity and trigger flags.
type Override struct {
	Source uint8
	GSI    uint32
	Flags  uint16
}

// MADT is the content of the multiple APIC description table of a
// single-processor board.
type MADT struct {
	LAPICBase  uint32 // physical address of the local APIC
	Flags      uint32 // MADT* flags
	APICID     uint8  // the processor's local APIC ID
	IOAPICID   uint8
	IOAPICBase uint32
	// Overrides lists the ISA interrupts not wired identically to I/O APIC
	// pins, or wired with other than ISA's edge/active-high default.
	Overrides []Override
	// NMILINT is the local APIC LINT input (0 or 1) wired to NMI.
	NMILINT uint8
}

func (m MADT) table() []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, m.LAPICBase)
	b = le.AppendUint32(b, m.Flags)
	b = append(b, madtLocalAPIC, 8, 0, m.APICID)
	b = le.AppendUint32(b, 1) // enabled
	b = append(b, madtIOAPIC, 12, m.IOAPICID, 0)
	b = le.AppendUint32(b, m.IOAPICBase)
	b = le.AppendUint32(b, 0) // GSI base
	for _, o := range m.Overrides {
		b = append(b, madtOverride, 10, 0, o.Source)
		b = le.AppendUint32(b, o.GSI)
		b = le.AppendUint16(b, o.Flags)
	}
	// Processor UID 0xFF: all processors.
	b = append(b, madtLocalNMI, 6, 0xFF, 0, 0, m.NMILINT)
	return table("APIC", 5, b)
}

// dsdt returns the differentiated system description table holding the
// AML terms (revision 2: integers are 64 bits).
func dsdt(terms []Term) []byte { return table("DSDT", 2, join(terms)) }

// Tables is the set of tables of a board.
type Tables struct {
	FADT FADT
	MADT MADT
	// DSDT holds the AML terms of the DSDT's definition block.
	DSDT []Term
}

// Image is the tables laid out in guest memory.
type Image struct {
	Base  uint64 // guest physical address of Bytes[0]
	Bytes []byte
	RSDP  uint64 // address of the root pointer (= Base)
	// Tables maps each table signature to its address.
	Tables map[string]uint64
}

// align16 rounds n up to a multiple of 16.
func align16(n int) int { return (n + 15) &^ 15 }

// Build lays the tables out from guest physical address base, which must be
// 16-byte aligned (the RSDP's alignment): the RSDP, the DSDT, the FADT,
// the MADT and the XSDT, each at a 16-byte boundary. The image must fit
// below 4 GiB, where 32-bit table pointers reach.
func (t Tables) Build(base uint64) (Image, error) {
	if base%16 != 0 {
		return Image{}, fmt.Errorf("acpi: tables base %#x is not 16-byte aligned", base)
	}
	img := Image{Base: base, RSDP: base, Tables: map[string]uint64{}}
	var b []byte
	place := func(sig string, tb []byte) uint64 {
		b = append(b, make([]byte, align16(len(b))-len(b))...)
		addr := base + uint64(len(b))
		if sig != "" {
			img.Tables[sig] = addr
		}
		b = append(b, tb...)
		return addr
	}
	place("", make([]byte, rsdpSize)) // filled in last
	d := place("DSDT", dsdt(t.DSDT))
	f := place("FACP", t.FADT.table(d))
	m := place("APIC", t.MADT.table())
	x := place("XSDT", xsdt([]uint64{f, m}))
	if base+uint64(len(b)) > 1<<32 {
		return Image{}, fmt.Errorf("acpi: tables at %#x (%d bytes) end above 4 GiB", base, len(b))
	}
	copy(b, rsdp(x))
	img.Bytes = b
	return img, nil
}
