package machine

import (
	"fmt"

	"ftvm/devices"
	"ftvm/machine/acpi"
)

// ACPITables returns the ACPI tables that describe the board to an ACPI
// operating system (ARCHITECTURE.md §4), as QEMU's microvm and Firecracker
// describe theirs: a hardware-reduced FADT whose sleep control and reset
// registers are the ACPIPower device; a MADT with the local APIC, the I/O
// APIC, the ISA interrupt source overrides (IRQ 0 reaches pin 2; the
// virtio slots' IRQs are level-triggered) and LINT1 as NMI; and a DSDT
// declaring COM1 (PNP0501), the CMOS RTC (PNP0B00: without it a
// hardware-reduced Linux has no mapping for IRQ 8), each virtio-mmio slot in
// use (LNRO0005, with its registers and interrupt) and the S5 sleep type.
func (m *Machine) ACPITables() acpi.Tables {
	sb := []acpi.Term{
		acpi.Device("COM1",
			acpi.Name("_HID", acpi.EISAID("PNP0501")),
			acpi.Name("_UID", acpi.Integer(0)),
			acpi.Name("_CRS", acpi.ResourceTemplate(
				acpi.IO(devices.COM1Base, devices.COM1Base, 0, devices.COM1Last-devices.COM1Base+1),
				acpi.IRQNoFlags(devices.COM1IRQ),
			))),
		acpi.Device("RTC",
			acpi.Name("_HID", acpi.EISAID("PNP0B00")),
			acpi.Name("_CRS", acpi.ResourceTemplate(
				acpi.IO(devices.RTCIndexPort, devices.RTCIndexPort, 1, devices.RTCDataPort-devices.RTCIndexPort+1),
				acpi.IRQNoFlags(devices.RTCIRQ),
			))),
	}
	overrides := []acpi.Override{{Source: 0, GSI: 2}}
	for n := range m.virtio {
		irq := devices.VirtioMMIOIRQBase + n
		sb = append(sb, acpi.Device(fmt.Sprintf("VR%02d", n),
			acpi.Name("_HID", acpi.String("LNRO0005")),
			acpi.Name("_UID", acpi.Integer(uint64(n))),
			acpi.Name("_CRS", acpi.ResourceTemplate(
				acpi.Memory32Fixed(true, uint32(devices.VirtioMMIOBase+n*devices.VirtioMMIOStride), devices.VirtioMMIOSize),
				acpi.Interrupt(acpi.Level, acpi.ActiveHigh, uint32(irq)),
			))))
		overrides = append(overrides, acpi.Override{Source: uint8(irq), GSI: uint32(irq),
			Flags: acpi.PolarityHigh | acpi.TriggerLevel})
	}
	return acpi.Tables{
		FADT: acpi.FADT{
			Flags:        acpi.FADTPowerButton | acpi.FADTSleepButton | acpi.FADTResetReg,
			BootArch:     acpi.BootArchNoVGA | acpi.BootArchNoMSI,
			Reset:        acpi.IOByte(devices.ACPIResetPort),
			ResetValue:   devices.ACPIResetValue,
			SleepControl: acpi.IOByte(devices.ACPISleepControlPort),
			SleepStatus:  acpi.IOByte(devices.ACPISleepStatusPort),
			HypervisorID: "FTVM",
		},
		MADT: acpi.MADT{
			LAPICBase:  devices.LAPICBase,
			Flags:      acpi.MADTPCATCompat,
			IOAPICBase: devices.IOAPICBase,
			Overrides:  overrides,
			NMILINT:    1,
		},
		DSDT: []acpi.Term{
			acpi.Scope("_SB", sb...),
			acpi.Name("_S5", acpi.Package(acpi.Integer(devices.ACPIS5Type), acpi.Integer(0), acpi.Integer(0), acpi.Integer(0))),
		},
	}
}
