package devices

// ISALine returns the line of ISA IRQ irq (0-15) as a PC wires it: to input
// irq of the 8259 pair and to the same pin of the I/O APIC, except IRQ 0,
// which reaches I/O APIC pin 2 (the interrupt source override of a PC's
// ACPI tables and MP table). IRQ 2 is the 8259 cascade and connects to
// nothing. pic or ioapic may be nil; a line for an IRQ outside 0-15 is not
// connected.
func ISALine(pic *PIC, ioapic *IOAPIC, irq int) IRQLine {
	if irq < 0 || irq > 15 || irq == PICCascadeIRQ {
		return nopLine{}
	}
	l := isaLine{}
	if pic != nil {
		l.pic = pic.Line(irq)
	}
	if ioapic != nil {
		pin := irq
		if irq == 0 {
			pin = 2
		}
		l.ioapic = ioapic.Line(pin)
	}
	return l
}

type isaLine struct {
	pic, ioapic IRQLine
}

func (l isaLine) SetLevel(high bool) {
	if l.pic != nil {
		l.pic.SetLevel(high)
	}
	if l.ioapic != nil {
		l.ioapic.SetLevel(high)
	}
}
