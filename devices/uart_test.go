package devices

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"ftvm/mmu"
)

// lineRecorder is an IRQLine that records every level it is driven to, as
// "H" and "L".
type lineRecorder struct {
	log strings.Builder
}

func (l *lineRecorder) SetLevel(high bool) {
	if high {
		l.log.WriteByte('H')
	} else {
		l.log.WriteByte('L')
	}
}

// uartStep is one action of a UART test script, done through the port bus.
type uartStep struct {
	op   string // "out", "in", "rx", "tx" (output so far), "irq" (transitions so far)
	off  uint16 // register offset from COM1Base
	size int    // access size; 0 means 1
	v    uint32 // value written, or expected value read
	s    string // bytes received, or expected output / transitions
}

func out(off uint16, v uint32) uartStep { return uartStep{op: "out", off: off, v: v} }
func in(off uint16, v uint32) uartStep  { return uartStep{op: "in", off: off, v: v} }
func rx(s string) uartStep              { return uartStep{op: "rx", s: s} }
func tx(s string) uartStep              { return uartStep{op: "tx", s: s} }
func irqs(s string) uartStep            { return uartStep{op: "irq", s: s} }

type uartRig struct {
	mem  *mmu.Memory
	uart *UART
	out  bytes.Buffer
	line lineRecorder
}

func newUARTRig(t *testing.T) *uartRig {
	t.Helper()
	r := &uartRig{}
	r.uart = NewUART(&r.out, &r.line)
	r.mem = portMemory(t, r.uart, [2]uint16{COM1Base, COM1Last})
	return r
}

func (r *uartRig) run(t *testing.T, steps []uartStep) {
	t.Helper()
	for i, st := range steps {
		size := st.size
		if size == 0 {
			size = 1
		}
		switch st.op {
		case "out":
			r.mem.Out(COM1Base+st.off, size, st.v)
		case "in":
			if got := r.mem.In(COM1Base+st.off, size); got != st.v {
				t.Fatalf("step %d: in %#x (size %d) = %#x, want %#x", i, COM1Base+st.off, size, got, st.v)
			}
		case "rx":
			r.uart.Receive([]byte(st.s))
		case "tx":
			if got := r.out.String(); got != st.s {
				t.Fatalf("step %d: output %q, want %q", i, got, st.s)
			}
		case "irq":
			if got := r.line.log.String(); got != st.s {
				t.Fatalf("step %d: IRQ transitions %q, want %q", i, got, st.s)
			}
		default:
			t.Fatalf("step %d: bad op %q", i, st.op)
		}
	}
}

func TestUARTRegisters(t *testing.T) {
	tests := []struct {
		name  string
		steps []uartStep
	}{
		{"reset values", []uartStep{
			in(uartIER, 0), in(uartIIR, 0x01), in(uartLCR, 0), in(uartMCR, 0x08),
			in(uartLSR, 0x60), in(uartMSR, 0xB0), in(uartSCR, 0),
			out(uartLCR, 0x80), in(uartRBR, 0x0C), in(uartIER, 0),
			irqs(""),
		}},
		{"DLAB switches DLL and DLM", []uartStep{
			out(uartLCR, 0x83), out(uartRBR, 0x01), out(uartIER, 0x02),
			out(uartLCR, 0x03), in(uartLCR, 0x03), in(uartIER, 0),
			out(uartIER, 0x05), in(uartIER, 0x05),
			out(uartLCR, 0x83), in(uartRBR, 0x01), in(uartIER, 0x02),
			out(uartLCR, 0x03), in(uartIER, 0x05),
			tx(""), // a DLL write is not a transmission
		}},
		{"IER keeps bits 0-3", []uartStep{
			out(uartIER, 0xF0), in(uartIER, 0), out(uartIER, 0xFF), in(uartIER, 0x0F),
		}},
		{"MCR keeps bits 0-4", []uartStep{
			out(uartMCR, 0xE3), in(uartMCR, 0x03),
		}},
		{"scratch", []uartStep{
			out(uartSCR, 0x5A), in(uartSCR, 0x5A), out(uartSCR, 0xA5), in(uartSCR, 0xA5),
		}},
		{"transmit", []uartStep{
			out(uartRBR, 'h'), out(uartRBR, 'i'), tx("hi"), in(uartLSR, 0x60),
		}},
		{"LSR and MSR ignore writes", []uartStep{
			out(uartLSR, 0xFF), in(uartLSR, 0x60), out(uartMSR, 0x0F), in(uartMSR, 0xB0),
		}},
		{"receive sets DR", []uartStep{
			rx("a"), in(uartLSR, 0x61), in(uartRBR, 'a'), in(uartLSR, 0x60), in(uartRBR, 0),
		}},
		{"FIFO keeps order", []uartStep{
			out(uartIIR, 0x01), rx("abc"), in(uartRBR, 'a'), in(uartRBR, 'b'),
			in(uartLSR, 0x61), in(uartRBR, 'c'), in(uartLSR, 0x60),
		}},
		{"FIFO overflow sets OE once", []uartStep{
			out(uartIIR, 0x01), rx("0123456789abcdefXY"),
			in(uartLSR, 0x63), in(uartLSR, 0x61),
			in(uartRBR, '0'), in(uartRBR, '1'), in(uartRBR, '2'), in(uartRBR, '3'),
			in(uartRBR, '4'), in(uartRBR, '5'), in(uartRBR, '6'), in(uartRBR, '7'),
			in(uartRBR, '8'), in(uartRBR, '9'), in(uartRBR, 'a'), in(uartRBR, 'b'),
			in(uartRBR, 'c'), in(uartRBR, 'd'), in(uartRBR, 'e'), in(uartRBR, 'f'),
			in(uartLSR, 0x60),
		}},
		{"16450 mode overrun overwrites", []uartStep{
			rx("ab"), in(uartLSR, 0x63), in(uartRBR, 'b'), in(uartLSR, 0x60),
		}},
		{"IIR shows FIFOs enabled", []uartStep{
			out(uartIIR, 0xC7), in(uartIIR, 0xC1), out(uartIIR, 0x00), in(uartIIR, 0x01),
		}},
		{"FCR clears receive FIFO", []uartStep{
			out(uartIIR, 0x01), rx("ab"), out(uartIIR, 0x03), in(uartLSR, 0x60), in(uartIIR, 0xC1),
		}},
		{"changing FIFO mode clears receive FIFO", []uartStep{
			out(uartIIR, 0x01), rx("ab"), out(uartIIR, 0x00), in(uartLSR, 0x60),
			rx("c"), out(uartIIR, 0x01), in(uartLSR, 0x60),
		}},
		{"IIR priorities", []uartStep{
			out(uartIER, 0x0F), irqs("H"), // THR empty: THRE pending
			rx("ab"),          // 16450 mode: overrun
			in(uartIIR, 0x06), // receiver line status first
			in(uartLSR, 0x63), // clears OE
			in(uartIIR, 0x04), // then received data
			in(uartRBR, 'b'),
			in(uartIIR, 0x02), // then THRE, cleared by this read
			irqs("HL"),
			in(uartIIR, 0x01),
			out(uartMCR, 0x18), // loopback, OUT2: CTS and DSR drop
			irqs("HLH"),
			in(uartIIR, 0x00), // modem status last
			in(uartMSR, 0x83), // DCD with DCTS and DDSR; clears the deltas
			in(uartIIR, 0x01),
			irqs("HLHL"),
			in(uartLSR, 0x60),
		}},
		{"character timeout below trigger level", []uartStep{
			out(uartIIR, 0x41), out(uartIER, 0x01), // trigger level 4
			rx("ab"), in(uartIIR, 0xCC),
			rx("cd"), in(uartIIR, 0xC4),
			in(uartRBR, 'a'), in(uartIIR, 0xCC),
			in(uartRBR, 'b'), in(uartRBR, 'c'), in(uartRBR, 'd'), in(uartIIR, 0xC1),
			irqs("HL"),
		}},
		{"RDA drives the line", []uartStep{
			rx("a"), irqs(""), out(uartIER, 0x01), irqs("H"),
			in(uartRBR, 'a'), irqs("HL"), rx("b"), irqs("HLH"),
			out(uartIER, 0x00), irqs("HLHL"),
		}},
		{"THRE interrupt transitions", []uartStep{
			out(uartIER, 0x02), irqs("H"),
			in(uartIIR, 0x02), irqs("HL"), in(uartIIR, 0x01),
			out(uartRBR, 'x'), irqs("HLH"), // THR empties again at once
			out(uartRBR, 'y'), irqs("HLHLH"), // the write clears it first
			out(uartIER, 0x00), irqs("HLHLHL"),
			out(uartRBR, 'z'), irqs("HLHLHL"),
			tx("xyz"),
		}},
		{"THRE re-armed by enabling", []uartStep{
			out(uartIER, 0x02), in(uartIIR, 0x02), in(uartIIR, 0x01),
			out(uartIER, 0x00), out(uartIER, 0x02), in(uartIIR, 0x02),
			irqs("HLHL"),
		}},
		{"receive line status interrupt", []uartStep{
			out(uartIER, 0x04), rx("ab"), irqs("H"), in(uartIIR, 0x06),
			in(uartLSR, 0x63), irqs("HL"), in(uartIIR, 0x01),
		}},
		{"loopback", []uartStep{
			out(uartMCR, 0x10), // loopback, all outputs off
			in(uartMSR, 0x0B),  // CTS, DSR, DCD dropped
			in(uartMSR, 0x00),
			out(uartRBR, 'z'), tx(""), in(uartLSR, 0x61), in(uartRBR, 'z'),
			rx("q"), in(uartLSR, 0x60), // line input disconnected
			out(uartMCR, 0x11), in(uartMSR, 0x22), // DTR -> DSR
			out(uartMCR, 0x12), in(uartMSR, 0x13), // RTS -> CTS
			out(uartMCR, 0x14), in(uartMSR, 0x41), // OUT1 -> RI
			out(uartMCR, 0x18), in(uartMSR, 0x8C), // OUT2 -> DCD, trailing edge of RI
			out(uartMCR, 0x1A), in(uartMSR, 0x91), // the Linux loopback probe
			out(uartMCR, 0x08), in(uartMSR, 0xB2), // back to the line
			out(uartRBR, '!'), tx("!"),
		}},
		{"wide accesses split into bytes", []uartStep{
			{op: "out", off: uartLCR, size: 2, v: 0x0B03},
			in(uartLCR, 0x03), in(uartMCR, 0x0B),
			{op: "in", off: uartLCR, size: 2, v: 0x0B03},
			out(uartSCR, 0x77),
			{op: "in", off: uartSCR - 1, size: 4, v: 0xFFFF77B0},
			{op: "out", off: uartSCR, size: 4, v: 0xAABBCC11},
			in(uartSCR, 0x11),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newUARTRig(t).run(t, tt.steps)
		})
	}
}

func TestUARTRxFree(t *testing.T) {
	u := NewUART(nil, nil)
	if got := u.RxFree(); got != 1 {
		t.Errorf("16450 mode: RxFree = %d, want 1", got)
	}
	u.WritePort(COM1Base+uartIIR, 1, 0x01)
	u.Receive([]byte("abc"))
	if got := u.RxFree(); got != UARTFIFOSize-3 {
		t.Errorf("FIFO mode: RxFree = %d, want %d", got, UARTFIFOSize-3)
	}
	u.WritePort(COM1Base, 1, 'x') // nil writer: discarded
	if err := u.Err(); err != nil {
		t.Errorf("Err = %v with a nil writer", err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("closed")
}

func TestUARTWriteError(t *testing.T) {
	w := &failWriter{}
	u := NewUART(w, nil)
	u.WritePort(COM1Base, 1, 'a')
	u.WritePort(COM1Base, 1, 'b')
	if u.Err() == nil || w.n != 2 {
		t.Errorf("Err = %v after %d writes, want the writer's error after 2", u.Err(), w.n)
	}
	if got := u.ReadPort(COM1Base+uartLSR, 1); got != 0x60 {
		t.Errorf("LSR = %#x after failed writes, want 0x60", got)
	}
}

func TestUARTSnapshotRestore(t *testing.T) {
	a := newUARTRig(t)
	a.run(t, []uartStep{
		out(uartLCR, 0x83), out(uartRBR, 0x01), out(uartLCR, 0x03),
		out(uartIIR, 0x81), out(uartIER, 0x05), out(uartSCR, 0x42),
		rx("hello"), in(uartRBR, 'h'), out(uartMCR, 0x0B),
	})
	snap := a.uart.Snapshot()

	b := newUARTRig(t)
	if err := b.uart.Restore(snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := b.uart.Snapshot(); got != snap {
		t.Fatalf("Snapshot after Restore = %+v, want %+v", got, snap)
	}
	if got := b.line.log.String(); got != "H" {
		t.Errorf("Restore drove the line %q, want %q", got, "H")
	}
	steps := []uartStep{
		in(uartIIR, 0xCC), in(uartSCR, 0x42), in(uartRBR, 'e'), in(uartRBR, 'l'),
		in(uartRBR, 'l'), in(uartRBR, 'o'), in(uartIIR, 0xC1), in(uartLSR, 0x60),
		out(uartLCR, 0x83), in(uartRBR, 0x01), out(uartLCR, 0x03),
	}
	a.run(t, steps)
	b.run(t, steps)
	if a.uart.Snapshot() != b.uart.Snapshot() {
		t.Errorf("restored UART diverged: %+v vs %+v", a.uart.Snapshot(), b.uart.Snapshot())
	}
}

func TestUARTRestoreRejectsBadState(t *testing.T) {
	good := NewUART(nil, nil).Snapshot()
	tests := []struct {
		name   string
		change func(*UARTState)
		want   string
	}{
		{"IER reserved bits", func(s *UARTState) { s.IER = 0x10 }, "IER"},
		{"FCR reserved bits", func(s *UARTState) { s.FCR = 0x07 }, "FCR"},
		{"FCR bits without enable", func(s *UARTState) { s.FCR = 0xC0 }, "FCR"},
		{"MCR reserved bits", func(s *UARTState) { s.MCR = 0x20 }, "MCR"},
		{"LSR status bits", func(s *UARTState) { s.LSR = 0x01 }, "LSR"},
		{"FIFO too long", func(s *UARTState) { s.FCR = 0x01; s.RxLen = 17 }, "exceed"},
		{"16450 buffer too long", func(s *UARTState) { s.RxLen = 2 }, "exceed"},
		{"MSR inputs", func(s *UARTState) { s.MSR = 0x30 }, "MSR"},
		{"THRE pending while disabled", func(s *UARTState) { s.THRPending = true }, "THRE"},
		{"IRQ level", func(s *UARTState) { s.IRQ = true }, "IRQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.change(&s)
			u := NewUART(nil, nil)
			before := u.Snapshot()
			err := u.Restore(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want an error mentioning %q", err, tt.want)
			}
			if u.Snapshot() != before {
				t.Errorf("failed Restore changed the state")
			}
		})
	}
}
