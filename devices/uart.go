package devices

import (
	"fmt"
	"io"

	"ftvm/mmu"
)

var _ mmu.PortDevice = (*UART)(nil)

// COM1 port range and interrupt line, as on a PC.
const (
	COM1Base = 0x3F8 // first port of COM1 (RBR/THR/DLL)
	COM1Last = 0x3FF // last port of COM1 (SCR)
	COM1IRQ  = 4     // ISA IRQ of COM1
)

// UARTFIFOSize is the depth of the 16550A receive FIFO.
const UARTFIFOSize = 16

// Register offsets from the UART's base port.
const (
	uartRBR = 0 // receive buffer (read), transmit holding (write), DLL when DLAB
	uartIER = 1 // interrupt enable, DLM when DLAB
	uartIIR = 2 // interrupt identification (read), FIFO control (write)
	uartLCR = 3 // line control
	uartMCR = 4 // modem control
	uartLSR = 5 // line status
	uartMSR = 6 // modem status
	uartSCR = 7 // scratch
)

// IER bits.
const (
	ierRDA  = 1 << 0 // received data available (and character timeout)
	ierTHRE = 1 << 1 // transmit holding register empty
	ierRLS  = 1 << 2 // receiver line status
	ierMSI  = 1 << 3 // modem status
	ierMask = 0x0F
)

// IIR values. Bit 0 clear means an interrupt is pending; bits 6-7 are set
// when the FIFOs are enabled.
const (
	iirNone  = 0x01
	iirMSI   = 0x00
	iirTHRE  = 0x02
	iirRDA   = 0x04
	iirRLS   = 0x06
	iirCTI   = 0x0C // character timeout: data below the trigger level
	iirFIFOs = 0xC0
)

// FCR bits.
const (
	fcrEnable = 1 << iota
	fcrClearRx
	fcrClearTx
	fcrDMA
	fcrTrigger = 0xC0
	fcrKept    = fcrEnable | fcrDMA | fcrTrigger // the bits the UART remembers
)

// LCR bits.
const lcrDLAB = 1 << 7

// MCR bits.
const (
	mcrDTR = 1 << iota
	mcrRTS
	mcrOUT1
	mcrOUT2
	mcrLoop
	mcrMask = 0x1F
)

// LSR bits.
const (
	lsrDR     = 1 << iota // data ready
	lsrOE                 // overrun error
	lsrPE                 // parity error
	lsrFE                 // framing error
	lsrBI                 // break interrupt
	lsrTHRE               // transmit holding register empty
	lsrTEMT               // transmitter empty
	lsrErrors = lsrOE | lsrPE | lsrFE | lsrBI
)

// MSR bits.
const (
	msrDCTS = 1 << iota
	msrDDSR
	msrTERI
	msrDDCD
	msrCTS
	msrDSR
	msrRI
	msrDCD
	msrDeltas = 0x0F
	// msrLine is the modem input state outside loopback: a connected line
	// (carrier, data set ready, clear to send), as QEMU reports for a
	// console backend.
	msrLine = msrDCD | msrDSR | msrCTS
)

// UARTState is the complete guest-visible state of a UART, as plain data for
// snapshots. The zero value is not a reset UART; use NewUART or a Snapshot.
type UARTState struct {
	DLL, DLM uint8 // divisor latch
	IER      uint8 // interrupt enable, bits 0-3
	FCR      uint8 // FIFO control as last written: enable, DMA mode and trigger bits only
	LCR      uint8 // line control
	MCR      uint8 // modem control, bits 0-4
	// LSR holds the sticky receive error bits (OE, PE, FE, BI). DR, THRE
	// and TEMT are derived: DR from RxLen, THRE and TEMT are always set
	// because transmission is instant.
	LSR uint8
	// MSR is the modem status: bits 4-7 the modem inputs, bits 0-3 the
	// delta bits not yet read.
	MSR uint8
	SCR uint8 // scratch

	Rx    [UARTFIFOSize]byte // received bytes, oldest first
	RxLen uint8              // number of valid bytes in Rx

	// THRPending is the transmitter-empty interrupt condition: set when
	// the transmit holding register becomes empty (or the interrupt is
	// enabled while it is empty), cleared when the guest reads IIR
	// reporting it or writes THR.
	THRPending bool
	// IRQ is the level the UART drives on its interrupt line.
	IRQ bool
}

// UART is a 16550A serial port. Transmission is instant: a byte written to
// THR goes straight to the output writer (or, in loopback mode, to the
// receive FIFO), so LSR.THRE and LSR.TEMT always read as set. Received bytes
// enter through Receive.
//
// The interrupt output follows QEMU's model: it is asserted whenever an
// enabled interrupt condition is pending, without gating by MCR.OUT2. In FIFO
// mode, data below the trigger level is reported at once as a character
// timeout (IIR 0xC), since the model has no time to wait four characters.
//
// UART implements mmu.PortDevice; map it at 8 consecutive ports whose first
// is a multiple of 8 (COM1Base..COM1Last).
type UART struct {
	s   UARTState
	out io.Writer
	irq IRQLine
	err error
	buf [1]byte
}

// NewUART returns a UART in its reset state. Transmitted bytes are written to
// out, one Write per byte (nil discards them; wrap a slow writer in a
// bufio.Writer). irq, which may be nil, is the interrupt line the UART
// drives.
func NewUART(out io.Writer, irq IRQLine) *UART {
	return &UART{
		s: UARTState{
			DLL: 0x0C, // 9600 baud, as QEMU resets it
			MCR: mcrOUT2,
			MSR: msrLine,
		},
		out: out,
		irq: irq,
	}
}

// Err returns the first error the output writer returned, if any. The guest
// never sees output errors; the board may report them.
func (u *UART) Err() error { return u.err }

// Snapshot returns the UART's complete state.
func (u *UART) Snapshot() UARTState { return u.s }

// Restore replaces the UART's state with s, after checking that s is one a
// UART can be in, and drives the interrupt line to the restored level.
func (u *UART) Restore(s UARTState) error {
	switch {
	case s.IER&^ierMask != 0:
		return fmt.Errorf("uart: restore: IER %#x has reserved bits set", s.IER)
	case s.FCR&^fcrKept != 0, s.FCR&fcrEnable == 0 && s.FCR != 0:
		return fmt.Errorf("uart: restore: invalid FCR %#x", s.FCR)
	case s.MCR&^mcrMask != 0:
		return fmt.Errorf("uart: restore: MCR %#x has reserved bits set", s.MCR)
	case s.LSR&^lsrErrors != 0:
		return fmt.Errorf("uart: restore: LSR %#x holds bits other than the error bits", s.LSR)
	case int(s.RxLen) > rxCapacity(s.FCR):
		return fmt.Errorf("uart: restore: %d received bytes exceed the receive buffer (%d)", s.RxLen, rxCapacity(s.FCR))
	case s.MSR&^msrDeltas != modemInputs(s.MCR):
		return fmt.Errorf("uart: restore: MSR %#x does not match MCR %#x", s.MSR, s.MCR)
	case s.THRPending && s.IER&ierTHRE == 0:
		return fmt.Errorf("uart: restore: THRE interrupt pending while disabled")
	}
	if want := (&UART{s: s}).interrupt() != iirNone; want != s.IRQ {
		return fmt.Errorf("uart: restore: IRQ level %v does not match the pending interrupts", s.IRQ)
	}
	u.s = s
	if u.irq != nil {
		u.irq.SetLevel(s.IRQ)
	}
	return nil
}

// Receive queues bytes received from the line. Bytes that do not fit in the
// receive buffer (16 bytes in FIFO mode, 1 otherwise) are lost and set the
// overrun error bit LSR.OE: in FIFO mode the new byte is dropped, otherwise
// it overwrites the unread one, as on the 16550A. In loopback mode the line
// input is disconnected and the bytes are ignored.
func (u *UART) Receive(b []byte) {
	if u.s.MCR&mcrLoop != 0 || len(b) == 0 {
		return
	}
	for _, c := range b {
		u.push(c)
	}
	u.update()
}

// RxFree returns how many bytes Receive can queue without an overrun.
func (u *UART) RxFree() int {
	return rxCapacity(u.s.FCR) - int(u.s.RxLen)
}

// ReadPort implements mmu.PortDevice. Accesses wider than a byte are split
// into byte accesses of consecutive registers, as an 8-bit ISA device sees
// them; bytes beyond the eighth register read as 0xFF.
func (u *UART) ReadPort(port uint16, size int) uint32 {
	var v uint32
	for i := 0; i < size && i < 4; i++ {
		off := int(port&7) + i
		b := uint8(0xFF)
		if off < 8 {
			b = u.readReg(off)
		}
		v |= uint32(b) << (8 * i)
	}
	return v
}

// WritePort implements mmu.PortDevice; wide accesses are split as in
// ReadPort and bytes beyond the eighth register are ignored.
func (u *UART) WritePort(port uint16, size int, value uint32) {
	for i := 0; i < size && i < 4; i++ {
		off := int(port&7) + i
		if off < 8 {
			u.writeReg(off, uint8(value>>(8*i)))
		}
	}
}

func (u *UART) readReg(off int) uint8 {
	s := &u.s
	switch off {
	case uartRBR:
		if s.LCR&lcrDLAB != 0 {
			return s.DLL
		}
		return u.pop()
	case uartIER:
		if s.LCR&lcrDLAB != 0 {
			return s.DLM
		}
		return s.IER
	case uartIIR:
		id := u.interrupt()
		if id == iirTHRE {
			s.THRPending = false
			u.update()
		}
		if s.FCR&fcrEnable != 0 {
			id |= iirFIFOs
		}
		return id
	case uartLCR:
		return s.LCR
	case uartMCR:
		return s.MCR
	case uartLSR:
		v := s.LSR | lsrTHRE | lsrTEMT
		if s.RxLen > 0 {
			v |= lsrDR
		}
		if s.LSR != 0 {
			s.LSR = 0
			u.update()
		}
		return v
	case uartMSR:
		v := s.MSR
		if s.MSR&msrDeltas != 0 {
			s.MSR &^= msrDeltas
			u.update()
		}
		return v
	default:
		return s.SCR
	}
}

func (u *UART) writeReg(off int, v uint8) {
	s := &u.s
	switch off {
	case uartRBR:
		if s.LCR&lcrDLAB != 0 {
			s.DLL = v
			return
		}
		u.transmit(v)
	case uartIER:
		if s.LCR&lcrDLAB != 0 {
			s.DLM = v
			return
		}
		changed := (s.IER ^ v) & ierMask
		s.IER = v & ierMask
		if changed&ierTHRE != 0 {
			// Enabling the THRE interrupt while THR is empty (always,
			// here) raises it, as on real parts and in QEMU.
			s.THRPending = s.IER&ierTHRE != 0
		}
		u.update()
	case uartIIR: // FCR
		if (v^s.FCR)&fcrEnable != 0 {
			v |= fcrClearRx | fcrClearTx // changing the FIFO mode resets the FIFOs
		}
		if v&fcrClearRx != 0 {
			s.RxLen = 0
			s.Rx = [UARTFIFOSize]byte{}
		}
		// The other bits are programmed only while the FIFO is enabled.
		if v&fcrEnable != 0 {
			s.FCR = v & fcrKept
		} else {
			s.FCR = 0
		}
		u.update()
	case uartLCR:
		s.LCR = v
	case uartMCR:
		s.MCR = v & mcrMask
		u.setModemInputs(modemInputs(s.MCR))
		u.update()
	case uartLSR, uartMSR:
		// Read-only status registers; writes are ignored as in QEMU.
	default:
		s.SCR = v
	}
}

// transmit sends c. THR empties at once, so the THRE interrupt condition is
// cleared and set again; a guest with the interrupt enabled sees the line
// fall and rise, as it would after the character time on real hardware.
func (u *UART) transmit(c uint8) {
	s := &u.s
	s.THRPending = false
	u.update()
	if s.MCR&mcrLoop != 0 {
		u.push(c)
	} else if u.out != nil {
		u.buf[0] = c
		if _, err := u.out.Write(u.buf[:]); err != nil && u.err == nil {
			u.err = err
		}
	}
	s.THRPending = s.IER&ierTHRE != 0
	u.update()
}

// push queues one received byte, recording an overrun when it does not fit.
func (u *UART) push(c uint8) {
	s := &u.s
	capacity := rxCapacity(s.FCR)
	if int(s.RxLen) < capacity {
		s.Rx[s.RxLen] = c
		s.RxLen++
		return
	}
	s.LSR |= lsrOE
	if capacity == 1 {
		s.Rx[0] = c // 16450 mode: the new character overwrites RBR
	}
}

// pop removes and returns the oldest received byte, or 0 when none is queued.
func (u *UART) pop() uint8 {
	s := &u.s
	if s.RxLen == 0 {
		return 0
	}
	c := s.Rx[0]
	copy(s.Rx[:], s.Rx[1:s.RxLen])
	s.RxLen--
	s.Rx[s.RxLen] = 0
	u.update()
	return c
}

// setModemInputs sets the modem input bits of MSR to in, recording the
// changes in the delta bits.
func (u *UART) setModemInputs(in uint8) {
	s := &u.s
	old := s.MSR &^ msrDeltas
	diff := old ^ in
	d := s.MSR & msrDeltas
	if diff&msrCTS != 0 {
		d |= msrDCTS
	}
	if diff&msrDSR != 0 {
		d |= msrDDSR
	}
	if old&msrRI != 0 && in&msrRI == 0 {
		d |= msrTERI // trailing edge of ring indicator
	}
	if diff&msrDCD != 0 {
		d |= msrDDCD
	}
	s.MSR = in | d
}

// interrupt returns the IIR identification of the highest-priority pending
// enabled interrupt, or iirNone.
func (u *UART) interrupt() uint8 {
	s := &u.s
	switch {
	case s.IER&ierRLS != 0 && s.LSR&lsrErrors != 0:
		return iirRLS
	case s.IER&ierRDA != 0 && s.RxLen > 0:
		if s.FCR&fcrEnable != 0 && int(s.RxLen) < triggerLevel(s.FCR) {
			return iirCTI
		}
		return iirRDA
	case s.IER&ierTHRE != 0 && s.THRPending:
		return iirTHRE
	case s.IER&ierMSI != 0 && s.MSR&msrDeltas != 0:
		return iirMSI
	}
	return iirNone
}

// update drives the interrupt line when its level changes.
func (u *UART) update() {
	level := u.interrupt() != iirNone
	if level == u.s.IRQ {
		return
	}
	u.s.IRQ = level
	if u.irq != nil {
		u.irq.SetLevel(level)
	}
}

// modemInputs returns the modem input bits of MSR for modem control mcr: in
// loopback mode the outputs are wired to the inputs (DTR->DSR, RTS->CTS,
// OUT1->RI, OUT2->DCD); otherwise the line is connected.
func modemInputs(mcr uint8) uint8 {
	if mcr&mcrLoop == 0 {
		return msrLine
	}
	var in uint8
	for _, w := range loopbackWires {
		if mcr&w.out != 0 {
			in |= w.in
		}
	}
	return in
}

// loopbackWires connect each modem control output to a modem status input
// in loopback mode.
var loopbackWires = [...]struct{ out, in uint8 }{
	{mcrDTR, msrDSR}, {mcrRTS, msrCTS}, {mcrOUT1, msrRI}, {mcrOUT2, msrDCD},
}

// rxCapacity is the receive buffer size for FIFO control fcr.
func rxCapacity(fcr uint8) int {
	if fcr&fcrEnable != 0 {
		return UARTFIFOSize
	}
	return 1
}

// triggerLevel is the receive FIFO interrupt trigger level for fcr.
func triggerLevel(fcr uint8) int {
	return [4]int{1, 4, 8, 14}[fcr>>6]
}
