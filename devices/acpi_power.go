package devices

import "ftvm/mmu"

var _ mmu.PortDevice = (*ACPIPower)(nil)

// The ACPI power registers of a hardware-reduced board: the FADT names them
// as its sleep control, sleep status and reset registers (one byte each, in
// I/O space), and the DSDT's \_S5 package gives ACPIS5Type as the sleep type
// of S5, soft off.
const (
	ACPISleepControlPort = 0x600
	ACPISleepStatusPort  = 0x601
	ACPIResetPort        = 0x602
	ACPIPowerLast        = ACPIResetPort
	// ACPIResetValue is the value whose write to the reset register resets
	// the board (FADT RESET_VALUE).
	ACPIResetValue = 1
	// ACPIS5Type is the SLP_TYP value of S5.
	ACPIS5Type = 5
)

// Sleep control register fields (ACPI 6.5 §4.8.3.7).
const (
	sleepTypeShift = 2
	sleepTypeMask  = 7 << sleepTypeShift
	sleepEnable    = 1 << 5
)

// ACPIPower is the sleep control, sleep status and reset registers. A write
// of SLP_EN with sleep type ACPIS5Type to the sleep control register calls
// OnPowerOff; a write of ACPIResetValue to the reset register calls OnReset.
// Other sleep states are not offered (the DSDT declares only \_S5), so their
// writes are ignored, as are other reset values. The registers read 0: no
// wake status is ever pending. ACPIPower implements mmu.PortDevice and has
// no state.
type ACPIPower struct {
	// OnPowerOff is called when the guest enters S5. Nil ignores it.
	OnPowerOff func()
	// OnReset is called when the guest writes the reset value. Nil
	// ignores it.
	OnReset func()
}

// ReadPort implements mmu.PortDevice; every register reads 0.
func (p *ACPIPower) ReadPort(port uint16, size int) uint32 { return 0 }

// WritePort implements mmu.PortDevice. Only the low byte of a write to the
// first port of the access counts.
func (p *ACPIPower) WritePort(port uint16, size int, value uint32) {
	v := uint8(value)
	switch port {
	case ACPISleepControlPort:
		if v&sleepEnable != 0 && v&sleepTypeMask == ACPIS5Type<<sleepTypeShift && p.OnPowerOff != nil {
			p.OnPowerOff()
		}
	case ACPIResetPort:
		if v == ACPIResetValue && p.OnReset != nil {
			p.OnReset()
		}
	}
}
