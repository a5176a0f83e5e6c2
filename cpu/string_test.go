package cpu

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Tests of the string family (string.go), including the REP retirement
// contract: every iteration retires as one instruction.

// dmFwdCopy simulates a forward element-by-element copy of n elements of
// size sz from offset src to offset dst within b.
func dmFwdCopy(b []byte, src, dst, sz, n int) {
	for i := 0; i < n; i++ {
		var e [8]byte
		copy(e[:sz], b[src+i*sz:])
		copy(b[dst+i*sz:], e[:sz])
	}
}

// dmMem returns the eight data quadwords of b.
func dmMem(b []byte) regs {
	r := regs{}
	for i := 0; i < 8; i++ {
		r[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return r
}

func TestStringOps(t *testing.T) {
	const (
		a = 0x0807060504030201
		b = 0x1817161514131211
		d = dataBase
	)
	// Overlapping forward copies replicate, element by element.
	ov := make([]byte, 64)
	for i := range ov {
		ov[i] = byte(i)
	}
	ov1 := append([]byte(nil), ov...)
	dmFwdCopy(ov1, 0, 1, 1, 20)
	ov4 := append([]byte(nil), ov...)
	dmFwdCopy(ov4, 0, 4, 8, 3)
	ovIn := dmMem(ov)

	runArCases(t, []arCase{
		// MOVS, each size and direction.
		{asm: "movsb", in: regs{RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RSI: d + 1, RDI: d + 9}, wantMem: regs{1: 0x01}},
		{asm: "movsw", in: regs{RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RSI: d + 2, RDI: d + 10}, wantMem: regs{1: 0x0201}},
		{asm: "movsd", in: regs{RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RSI: d + 4, RDI: d + 12}, wantMem: regs{1: 0x04030201}},
		{asm: "movsq", in: regs{RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RSI: d + 8, RDI: d + 16}, wantMem: regs{1: a}},
		{asm: "movsq", in: regs{RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, flagsIn: "D", flags: "D", want: regs{RSI: d - 8, RDI: d}, wantMem: regs{1: a}},
		{asm: "movsb", in: regs{RSI: d + 7, RDI: d + 15}, mem: regs{0: a, 1: 0}, flagsIn: "D", flags: "D", want: regs{RSI: d + 6, RDI: d + 14}, wantMem: regs{1: 0x08 << 56}},
		// REP MOVS.
		{asm: "rep movsb", in: regs{RCX: 0, RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RCX: 0, RSI: d, RDI: d + 8}, wantMem: regs{1: 0}},
		{asm: "rep movsq", in: regs{RCX: 3, RSI: d, RDI: d + 32}, mem: regs{0: a, 1: b, 2: 3}, want: regs{RCX: 0, RSI: d + 24, RDI: d + 56}, wantMem: regs{4: a, 5: b, 6: 3, 7: 0}},
		{asm: "rep movsb", in: regs{RCX: 11, RSI: d, RDI: d + 32}, mem: regs{0: a, 1: b}, want: regs{RCX: 0, RSI: d + 11, RDI: d + 43}, wantMem: regs{4: a, 5: 0x131211}},
		{asm: "rep movsd", in: regs{RCX: 3, RSI: d + 8, RDI: d + 0x28}, mem: regs{0: a, 1: b, 5: 0}, flagsIn: "D", flags: "D",
			want: regs{RCX: 0, RSI: d - 4, RDI: d + 0x1C}, wantMem: regs{4: a, 5: 0x14131211}},
		{asm: ".byte 0xf2, 0xa4", in: regs{RCX: 2, RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RCX: 0}, wantMem: regs{1: 0x0201}}, // REPNE MOVSB repeats
		{asm: "rep movsb", in: regs{RCX: 20, RSI: d, RDI: d + 1}, mem: ovIn, want: regs{RCX: 0}, wantMem: dmMem(ov1)},
		{asm: "rep movsq", in: regs{RCX: 3, RSI: d, RDI: d + 4}, mem: ovIn, want: regs{RCX: 0}, wantMem: dmMem(ov4)},
		{asm: "rep movsq", in: regs{RCX: 3, RSI: d + 4, RDI: d}, mem: ovIn, want: regs{RCX: 0}, wantMem: func() regs {
			o := append([]byte(nil), ov...)
			dmFwdCopy(o, 4, 0, 8, 3)
			return dmMem(o)
		}()},
		// STOS.
		{asm: "stosb", in: regs{RAX: 0xAB, RDI: d + 1}, mem: regs{0: 0}, want: regs{RDI: d + 2}, wantMem: regs{0: 0xAB00}},
		{asm: "stosw", in: regs{RAX: 0xABCD, RDI: d}, mem: regs{0: 0}, flagsIn: "D", flags: "D", want: regs{RDI: d - 2}, wantMem: regs{0: 0xABCD}},
		{asm: "stosd", in: regs{RAX: b, RDI: d}, mem: regs{0: m1}, want: regs{RDI: d + 4}, wantMem: regs{0: 0xFFFFFFFF14131211}},
		{asm: "rep stosq", in: regs{RAX: b, RCX: 3, RDI: d + 8}, mem: regs{0: 0, 4: 0}, want: regs{RCX: 0, RDI: d + 32}, wantMem: regs{0: 0, 1: b, 2: b, 3: b, 4: 0}},
		{asm: "rep stosb", in: regs{RAX: 0x5A, RCX: 5, RDI: d + 4}, mem: regs{0: 0, 1: 0}, flagsIn: "D", flags: "D",
			want: regs{RCX: 0, RDI: d - 1}, wantMem: regs{0: 0x5A5A5A5A5A, 1: 0}},
		{asm: "rep stosw", in: regs{RAX: 0x1234, RCX: 5, RDI: d + 1}, mem: regs{0: 0, 1: 0}, want: regs{RDI: d + 11}, wantMem: regs{0: 0x3412341234123400, 1: 0x123412}},
		{asm: "rep stosd", in: regs{RAX: 0x11223344, RCX: 0, RDI: d}, mem: regs{0: 0}, want: regs{RDI: d}, wantMem: regs{0: 0}},
		// LODS.
		{asm: "lodsb", in: regs{RAX: m1, RSI: d + 1}, mem: regs{0: a}, want: regs{RAX: 0xFFFFFFFFFFFFFF02, RSI: d + 2}},
		{asm: "lodsw", in: regs{RAX: m1, RSI: d + 1}, mem: regs{0: a}, flagsIn: "D", flags: "D", want: regs{RAX: 0xFFFFFFFFFFFF0302, RSI: d - 1}},
		{asm: "lodsd", in: regs{RAX: m1, RSI: d}, mem: regs{0: a}, want: regs{RAX: 0x04030201, RSI: d + 4}},
		{asm: "lodsq", in: regs{RSI: d}, mem: regs{0: a}, want: regs{RAX: a, RSI: d + 8}},
		{asm: "rep lodsb", in: regs{RCX: 3, RSI: d}, mem: regs{0: a}, want: regs{RAX: 3, RSI: d + 3, RCX: 0}},
		// Segment-prefixed LODS with a zero base, 32-bit address size.
		{asm: "addr32 lodsd", in: regs{RSI: 0xFFFFFFFF_00000000 | d}, mem: regs{0: a}, want: regs{RAX: 0x04030201, RSI: d + 4}},
		{asm: "addr32 stosb", in: regs{RAX: 0x77, RDI: 0xFFFFFFFF_00000000 | d}, mem: regs{0: 0}, want: regs{RDI: d + 1}, wantMem: regs{0: 0x77}},
		// 32-bit wraparound: EDI = 0 going down becomes 0xFFFFFFFF.
		{asm: "addr32 rep stosb", in: regs{RAX: 0, RCX: 0xFFFFFFFF_00000001, RDI: 0xFFFFFFFF_00000000}, flagsIn: "D", flags: "D", want: regs{RCX: 0, RDI: 0xFFFFFFFF}},
		{asm: "addr32 rep movsb", in: regs{RCX: 0x1_00000000, RSI: d, RDI: d + 8}, mem: regs{0: a, 1: 0}, want: regs{RCX: 0x1_00000000, RSI: d, RDI: d + 8}, wantMem: regs{1: 0}},
		{asm: "addr32 rep movsb", in: regs{RCX: 0x1_00000002, RSI: 0xF_00000000 | d, RDI: 0xF_00000000 | d + 8}, mem: regs{0: a, 1: 0},
			want: regs{RCX: 0, RSI: d + 2, RDI: d + 10}, wantMem: regs{1: 0x0201}},
	})
}

func TestStringCompare(t *testing.T) {
	const d = dataBase
	var cases []arCase
	// CMPS and SCAS flags for many operand pairs and every size.
	pairs := [][2]uint64{{0, 0}, {1, 0}, {0, 1}, {0x80, 0x7F}, {0x7F, 0x80}, {0x8000, 1}, {0x10, 0x01}, {0xFFFFFFFF, 0xFFFFFFFF},
		{0x80000000, 1}, {0x8000000000000000, 1}, {0x1234567890, 0x1234567891}, {m1, 0}}
	for _, p := range pairs {
		for _, sz := range []struct {
			s    string
			n    uint8
			step uint64
		}{{"b", 1, 1}, {"w", 2, 2}, {"d", 4, 4}, {"q", 8, 8}} {
			m := sizeMask(sz.n)
			f := dmSubFlags(p[0], p[1], sz.n)
			cases = append(cases,
				arCase{asm: "cmps" + sz.s, in: regs{RSI: d, RDI: d + 8}, mem: regs{0: p[0], 1: p[1]}, flagsIn: "CPAZSO", flags: f,
					want: regs{RSI: d + sz.step, RDI: d + 8 + sz.step}},
				arCase{asm: "cmps" + sz.s, in: regs{RSI: d, RDI: d + 8}, mem: regs{0: p[0], 1: p[1]}, flagsIn: "D", flags: f,
					want: regs{RSI: d - sz.step, RDI: d + 8 - sz.step}},
				arCase{asm: "scas" + sz.s, in: regs{RAX: p[0] | ^m, RDI: d + 8}, mem: regs{1: p[1]}, flags: f,
					want: regs{RAX: p[0] | ^m, RDI: d + 8 + sz.step}},
			)
		}
	}
	cases = append(cases,
		// REPE CMPS stops at the first difference, REPNE at the first match.
		arCase{asm: "repe cmpsb", in: regs{RCX: 8, RSI: d, RDI: d + 8}, mem: regs{0: 0x0807060504030201, 1: 0x0807060505030201},
			want: regs{RCX: 4, RSI: d + 4, RDI: d + 12}, flags: dmSubFlags(4, 5, 1)},
		arCase{asm: "repe cmpsb", in: regs{RCX: 8, RSI: d, RDI: d + 8}, mem: regs{0: 0x0807060504030201, 1: 0x0807060504030201},
			want: regs{RCX: 0, RSI: d + 8, RDI: d + 16}, flags: "ZP"},
		arCase{asm: "repe cmpsq", in: regs{RCX: 2, RSI: d, RDI: d + 16}, mem: regs{0: 5, 1: 7, 2: 5, 3: 6},
			want: regs{RCX: 0, RSI: d + 16, RDI: d + 32}, flags: dmSubFlags(7, 6, 8)},
		arCase{asm: "repne cmpsw", in: regs{RCX: 4, RSI: d, RDI: d + 8}, mem: regs{0: 0x0004_0003_0002_0001, 1: 0x0004_0009_0008_0007},
			want: regs{RCX: 0, RSI: d + 8, RDI: d + 16}, flags: "ZP"},
		arCase{asm: "repne cmpsw", in: regs{RCX: 4, RSI: d, RDI: d + 8}, mem: regs{0: 0x0004_0003_0002_0001, 1: 0x0005_0003_0008_0007},
			want: regs{RCX: 1, RSI: d + 6, RDI: d + 14}, flags: "ZP"},
		arCase{asm: "repe cmpsb", in: regs{RCX: 4, RSI: d + 3, RDI: d + 11}, mem: regs{0: 0x01020304, 1: 0x01020304}, flagsIn: "D",
			want: regs{RCX: 0, RSI: d - 1, RDI: d + 7}, flags: "DZP"},
		arCase{asm: "repne scasb", in: regs{RAX: 0x55, RCX: 16, RDI: d}, mem: regs{0: 0x0000_5500_0000_0000, 1: 0},
			want: regs{RCX: 10, RDI: d + 6}, flags: "ZP"},
		arCase{asm: "repne scasb", in: regs{RAX: 0x55, RCX: 8, RDI: d}, mem: regs{0: 0x0102030405060708},
			want: regs{RCX: 0, RDI: d + 8}, flags: dmSubFlags(0x55, 0x01, 1)},
		arCase{asm: "repe scasd", in: regs{RAX: 7, RCX: 4, RDI: d}, mem: regs{0: 0x7_00000007, 1: 0x7_00000008},
			want: regs{RCX: 1, RDI: d + 12}, flags: dmSubFlags(7, 8, 4)},
		arCase{asm: "repe scasb", in: regs{RCX: 0, RDI: d}, flagsIn: "CO", flags: "CO", want: regs{RCX: 0, RDI: d}},
		arCase{asm: "repne scasq", in: regs{RCX: 0, RDI: d}, flagsIn: "Z", flags: "Z", want: regs{RCX: 0, RDI: d}},
	)
	runArCases(t, cases)
}

// TestStringSegmentOverride checks that an FS/GS override applies to the
// source (seg:rSI) and never to ES:rDI.
func TestStringSegmentOverride(t *testing.T) {
	c := runAsm(t, "movs byte ptr es:[rdi], byte ptr fs:[rsi]; lods qword ptr gs:[rsi]; mov r8, rax; lodsq; cmps qword ptr fs:[rsi], qword ptr es:[rdi]; mov rcx, 2; rep movs byte ptr es:[rdi], byte ptr gs:[rsi]",
		func(c *CPU) {
			c.Seg[FS].Base = 0x1000
			c.Seg[GS].Base = 0x2000
			c.StateChanged()
			c.R[RSI] = dataBase
			c.R[RDI] = dataBase + 0x800
			c.ram[dataBase+0x1000] = 0xF5
			c.ram[dataBase] = 0xAA
			binary.LittleEndian.PutUint64(c.ram[dataBase+0x2001:], 0x6666)
			binary.LittleEndian.PutUint64(c.ram[dataBase+9:], 0x1234)
			binary.LittleEndian.PutUint64(c.ram[dataBase+0x1011:], 0x77)
			binary.LittleEndian.PutUint64(c.ram[dataBase+0x801:], 0x77)
			c.ram[dataBase+0x2019] = 0x31
			c.ram[dataBase+0x201A] = 0x32
		})
	if got := c.ram[dataBase+0x800]; got != 0xF5 {
		t.Errorf("movs fs: copied %#x, want 0xf5", got)
	}
	if c.R[R8] != 0x6666 || c.R[RAX] != 0x1234 {
		t.Errorf("lods gs: %#x, lods: %#x", c.R[R8], c.R[RAX])
	}
	if c.RFLAGS()&FlagZF == 0 {
		t.Errorf("cmps fs: ZF clear")
	}
	if got := c.ram[dataBase+0x809 : dataBase+0x80B]; !bytes.Equal(got, []byte{0x31, 0x32}) {
		t.Errorf("rep movs gs: %x", got)
	}
}

// dmPorts is a port device that returns successive values and records
// writes.
type dmPorts struct {
	next   uint32
	writes []uint32
	sizes  []int
}

func (p *dmPorts) ReadPort(port uint16, size int) uint32 {
	p.next++
	p.sizes = append(p.sizes, size)
	return p.next * 0x01010101 & (1<<(8*size) - 1)
}

func (p *dmPorts) WritePort(port uint16, size int, v uint32) {
	p.writes = append(p.writes, v)
	p.sizes = append(p.sizes, size)
}

func TestINSOUTS(t *testing.T) {
	setup := func(dev *dmPorts) func(c *CPU) {
		return func(c *CPU) {
			if err := c.mem.MapPorts(0x100, 0x10F, dev); err != nil {
				t.Fatal(err)
			}
			c.R[RDX] = 0x100
			c.R[RSI] = dataBase
			c.R[RDI] = dataBase + 0x100
			copy(c.ram[dataBase:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
		}
	}
	dev := &dmPorts{}
	c := runAsm(t, "mov ecx, 3; rep outsb; outsw; rex.w outsd; insb; mov ecx, 2; rep insw; std; insd; outsb", setup(dev))
	wantW := []uint32{1, 2, 3, 0x0504, 0x09080706, 0x0A}
	if len(dev.writes) != len(wantW) {
		t.Fatalf("port writes %x, want %x", dev.writes, wantW)
	}
	for i := range wantW {
		if dev.writes[i] != wantW[i] {
			t.Errorf("port writes %x, want %x", dev.writes, wantW)
			break
		}
	}
	wantS := []int{1, 1, 1, 2, 4, 1, 2, 2, 4, 1}
	for i := range wantS {
		if i >= len(dev.sizes) || dev.sizes[i] != wantS[i] {
			t.Errorf("access sizes %v, want %v", dev.sizes, wantS)
			break
		}
	}
	in := c.ram[dataBase+0x100 : dataBase+0x10A]
	if !bytes.Equal(in, []byte{1, 2, 2, 3, 3, 4, 4, 4, 4, 0}) {
		t.Errorf("input bytes %x", in)
	}
	if c.R[RDI] != dataBase+0x101 || c.R[RSI] != dataBase+8 {
		t.Errorf("RDI %#x RSI %#x", c.R[RDI], c.R[RSI])
	}

	// At CPL 3 with IOPL 0, INS and OUTS raise #GP before any access.
	dev = &dmPorts{}
	c = newArRunner(t).c
	setup(dev)(c)
	dmUserMode(c)
	c.R[RCX] = 4
	load(c, assemble(t, "rep outsb"))
	c.Run(2)
	if code, rip, _ := dmFrame(c); c.RIP != arStubs+VecGP+1 || code != 0 || rip != codeBase || len(dev.writes) != 0 || c.R[RCX] != 4 {
		t.Errorf("outs at CPL 3: RIP %#x code %d rip %#x writes %v RCX %d", c.RIP, code, rip, dev.writes, c.R[RCX])
	}
}

// dmRepCase is a REP string instruction run under a tight budget.
type dmRepCase struct {
	name  string
	asm   string // the REP instruction
	n     uint64 // iterations it runs to completion
	setup func(c *CPU)
}

var dmRepCases = []dmRepCase{
	{"rep movsb fast", "rep movsb", 100, func(c *CPU) { c.R[RCX] = 100 }},
	{"rep movsq fast", "rep movsq", 40, func(c *CPU) { c.R[RCX] = 40 }},
	{"rep movsb down", "rep movsb", 30, func(c *CPU) { c.R[RCX] = 30; c.R[RSI] += 64; c.R[RDI] += 64; c.SetRFLAGS(FlagDF | 2) }},
	{"rep movsb addr32", "addr32 rep movsb", 30, func(c *CPU) { c.R[RCX] = 30 }},
	{"rep stosb fast", "rep stosb", 50, func(c *CPU) { c.R[RCX] = 50 }},
	{"rep stosq fast", "rep stosq", 20, func(c *CPU) { c.R[RCX] = 20 }},
	{"rep stosw", "rep stosw", 20, func(c *CPU) { c.R[RCX] = 20 }},
	{"rep lodsb", "rep lodsb", 25, func(c *CPU) { c.R[RCX] = 25 }},
	{"repe cmpsb", "repe cmpsb", 12, func(c *CPU) { c.R[RCX] = 40; c.ram[dataBase+0x1000+11] = 1 }},
	{"repne scasb", "repne scasb", 7, func(c *CPU) { c.R[RCX] = 40; c.R[RAX] = 0x42; c.ram[dataBase+0x1000+6] = 0x42 }},
	{"rep movsb cross page", "rep movsb", 30, func(c *CPU) { c.R[RCX] = 30; c.R[RSI] += 0xFF0; c.R[RDI] += 0x1FF5 }},
	{"rep movsq cross page", "rep movsq", 10, func(c *CPU) { c.R[RCX] = 10; c.R[RSI] += 0xFF4; c.R[RDI] += 0x1FF9 }},
	{"rep outsb", "rep outsb", 9, func(c *CPU) { c.R[RCX] = 9; c.R[RDX] = 0x80 }},
	{"rep stosd into MMIO", "rep stosd", 6, func(c *CPU) { c.R[RCX] = 6; c.R[RDI] = testRAM - 8; c.R[RAX] = 0x11223344 }},
	{"rep movsb from MMIO", "rep movsb", 12, func(c *CPU) { c.R[RCX] = 12; c.R[RSI] = testRAM - 5 }},
}

// dmMMIO is a memory-mapped device that records writes and reads back
// the low byte of the offset in every byte.
type dmMMIO struct{ writes []uint64 }

func (d *dmMMIO) ReadMMIO(off uint64, size int) uint64 {
	return (off & 0xFF) * 0x0101010101010101 & sizeMask(uint8(size))
}
func (d *dmMMIO) WriteMMIO(off uint64, size int, v uint64) { d.writes = append(d.writes, off, v) }

// dmRepCPU returns a CPU loaded with "mov r8d, 1; <rep>; mov r9d, 2" (then
// HLT), RSI and RDI pointing at scratch data, and a port at 0x80.
func dmRepCPU(t *testing.T, rc dmRepCase) *CPU {
	c := newTestCPU(t)
	c.mem.MapPorts(0x80, 0x80, &dmPorts{})
	c.mem.MapMMIO(testRAM, 0x1000, &dmMMIO{})
	load(c, assemble(t, "mov r8d, 1; "+rc.asm+"; mov r9d, 2"))
	dmRepReset(c, rc)
	return c
}

// dmRepReset puts the CPU of dmRepCPU back in its initial state.
func dmRepReset(c *CPU, rc dmRepCase) {
	for i := 0; i < 0x4000; i++ {
		c.ram[dataBase+i] = byte(i*7 + 3)
	}
	c.R = [len(c.R)]uint64{}
	c.R[RSP] = stackTop
	c.R[RSI] = dataBase
	c.R[RDI] = dataBase + 0x1000
	c.SetRFLAGS(2)
	c.RIP = codeBase
	c.Retired = 0
	c.halted = false
	rc.setup(c)
}

// TestREPRetirement checks the retirement contract: a REP MOVSB of 100
// bytes under a budget of 50 stops after exactly 50 iterations at the
// instruction, and finishes when continued.
func TestREPRetirement(t *testing.T) {
	c := newTestCPU(t)
	for i := 0; i < 100; i++ {
		c.ram[dataBase+i] = byte(i + 1)
	}
	c.R[RSI], c.R[RDI], c.R[RCX] = dataBase, dataBase+0x1000, 100
	load(c, assemble(t, "rep movsb"))
	if r := c.Run(50); r != StopBudget {
		t.Fatalf("stop %v", r)
	}
	if c.Retired != 50 || c.R[RCX] != 50 || c.RIP != codeBase {
		t.Fatalf("after Run(50): retired %d RCX %d RIP %#x", c.Retired, c.R[RCX], c.RIP)
	}
	if c.R[RSI] != dataBase+50 || c.R[RDI] != dataBase+0x1000+50 || c.ram[dataBase+0x1000+49] != 50 || c.ram[dataBase+0x1000+50] != 0 {
		t.Fatalf("after Run(50): RSI %#x RDI %#x", c.R[RSI], c.R[RDI])
	}
	if r := c.Run(1000); r != StopHalt {
		t.Fatalf("stop %v", r)
	}
	if c.Retired != 101 || c.R[RCX] != 0 || c.RIP != codeBase+3 {
		t.Fatalf("at the end: retired %d RCX %d RIP %#x", c.Retired, c.R[RCX], c.RIP)
	}
	for i := 0; i < 100; i++ {
		if c.ram[dataBase+0x1000+i] != byte(i+1) {
			t.Fatalf("byte %d not copied", i)
		}
	}
}

// TestREPBudgets runs each REP case in single steps and under many budgets:
// each step retires exactly one instruction (one iteration), rCX counts
// down by one per step, and the instruction after the REP never runs before
// the budget allows it. The final state must match a run without budget.
func TestREPBudgets(t *testing.T) {
	for _, rc := range dmRepCases {
		ref := dmRepCPU(t, rc)
		if r := ref.Run(1 << 20); r != StopHalt {
			t.Fatalf("%s: reference run stopped with %v", rc.name, r)
		}
		total := 1 + rc.n + 2
		if ref.Retired != total {
			t.Errorf("%s: reference retired %d, want %d", rc.name, ref.Retired, total)
			continue
		}

		// Single steps.
		c := dmRepCPU(t, rc)
		startCX := uint64(0)
		for step := uint64(1); step <= total; step++ {
			if step == 2 {
				startCX = c.R[RCX]
			}
			before := c.Retired
			c.Run(1)
			if c.Retired != before+1 {
				t.Fatalf("%s: step %d retired %d instructions", rc.name, step, c.Retired-before)
			}
			if step >= 2 && step <= 1+rc.n {
				if want := startCX - (step - 1); c.R[RCX] != want {
					t.Fatalf("%s: step %d RCX %d, want %d", rc.name, step, c.R[RCX], want)
				}
				if c.R[R9] != 0 {
					t.Fatalf("%s: step %d: the next instruction ran early", rc.name, step)
				}
			}
		}
		if !c.Halted() || c.R != ref.R || !bytes.Equal(c.ram[dataBase:dataBase+0x4000], ref.ram[dataBase:dataBase+0x4000]) {
			t.Errorf("%s: single-stepped state differs from the reference", rc.name)
		}

		// Budgets around the interesting points, from a fresh start.
		for _, budget := range []uint64{1, 2, 3, 4, rc.n / 2, rc.n - 1, rc.n, rc.n + 1, rc.n + 2, total - 1, total} {
			dmRepReset(c, rc)
			c.Run(budget)
			if c.Retired != budget {
				t.Fatalf("%s: Run(%d) retired %d", rc.name, budget, c.Retired)
			}
			if budget <= 1+rc.n && c.R[R9] != 0 {
				t.Fatalf("%s: Run(%d) ran the instruction after the REP", rc.name, budget)
			}
			if budget > 1 && budget < 1+rc.n && c.RIP != codeBase+6 {
				t.Fatalf("%s: Run(%d) left RIP at %#x, want the REP", rc.name, budget, c.RIP)
			}
			c.Run(1 << 20)
			if c.Retired != total || c.R != ref.R || !bytes.Equal(c.ram[dataBase:dataBase+0x4000], ref.ram[dataBase:dataBase+0x4000]) {
				t.Fatalf("%s: Run(%d) then continuing: state differs from the reference", rc.name, budget)
			}
		}
	}
}

// TestREPFault checks a REP instruction that faults mid-way (a page fault
// on the destination or source): the completed iterations are retired and
// reflected in the registers, and RIP in the frame is the REP instruction.
func TestREPFault(t *testing.T) {
	const hole = 0xA00000 // PD entry 5 (0xA00000-0xBFFFFF) is made not present
	for _, tc := range []struct {
		asm          string
		rsi, rdi     uint64
		df           bool
		done         uint64 // iterations completed before the fault
		code, cr2    uint64
		wantSI       uint64
		wantDI       uint64
		elementBytes uint64
	}{
		{"rep movsb", dataBase, hole - 10, false, 10, 2, hole, dataBase + 10, hole, 1},
		{"rep movsq", dataBase, hole - 20, false, 2, 2, hole, dataBase + 16, hole - 4, 8}, // third element straddles
		{"rep stosq", 0, hole - 24, false, 3, 2, hole, 0, hole, 8},
		{"rep stosb", 0, hole + 0x200000 + 4, true, 5, 2, hole + 0x1FFFFF, 0, hole + 0x1FFFFF, 1},
		{"rep movsb", hole - 7, dataBase, false, 7, 0, hole, hole, dataBase + 7, 1},
		{"rep movsb", dataBase + 0x100, hole + 0x200000 + 2, true, 3, 2, hole + 0x1FFFFF, dataBase + 0x100 - 3, hole + 0x1FFFFF, 1},
		{"rep lodsd", hole - 8, 0, false, 2, 0, hole, hole, 0, 4},
		{"repe cmpsb", hole - 5, hole - 5, false, 5, 0, hole, hole, hole, 1},
		{"addr32 rep movsb", dataBase, hole - 3, false, 3, 2, hole, dataBase + 3, hole, 1},
	} {
		c := newArRunner(t).c
		binary.LittleEndian.PutUint64(c.ram[testPD+5*8:], 0)
		c.StateChanged()
		c.R[RSI], c.R[RDI], c.R[RCX] = tc.rsi, tc.rdi, 100
		if tc.df {
			c.SetRFLAGS(FlagDF | 2)
		}
		load(c, assemble(t, tc.asm))
		c.Run(1000)
		code, rip, _ := dmFrame(c)
		if c.RIP != arStubs+VecPF+1 || rip != codeBase || code != tc.code || c.CR2 != tc.cr2 {
			t.Errorf("%s: RIP %#x frame rip %#x code %d CR2 %#x; want #PF code %d CR2 %#x", tc.asm, c.RIP, rip, code, c.CR2, tc.code, tc.cr2)
			continue
		}
		// The completed iterations plus the stub's HLT.
		if c.Retired != tc.done+1 {
			t.Errorf("%s: retired %d, want %d", tc.asm, c.Retired, tc.done+1)
		}
		if c.R[RCX] != 100-tc.done || c.R[RSI] != tc.wantSI || c.R[RDI] != tc.wantDI {
			t.Errorf("%s: RCX %d RSI %#x RDI %#x, want %d %#x %#x", tc.asm, c.R[RCX], c.R[RSI], c.R[RDI], 100-tc.done, tc.wantSI, tc.wantDI)
		}
	}
}

// TestREPMMIO checks REP STOS and MOVS whose memory is partly RAM and
// partly a device.
func TestREPMMIO(t *testing.T) {
	dev := &dmMMIO{}
	c := runAsm(t, "mov ecx, 4; rep stosd; mov rsi, rdx; mov ecx, 6; rep movsb", func(c *CPU) {
		c.mem.MapMMIO(testRAM, 0x1000, dev)
		c.R[RDI] = testRAM - 8
		c.R[RAX] = 0xAABBCCDD
		c.R[RDX] = testRAM - 2 // MOVS source; its destination follows the STOS
	})
	want := []uint64{0, 0xAABBCCDD, 4, 0xAABBCCDD, 8, 0xBB, 9, 0xAA, 10, 0, 11, 1, 12, 2, 13, 3}
	if len(dev.writes) != len(want) {
		t.Fatalf("device writes %x, want %x", dev.writes, want)
	}
	for i := range want {
		if dev.writes[i] != want[i] {
			t.Fatalf("device writes %x, want %x", dev.writes, want)
		}
	}
	if got := binary.LittleEndian.Uint64(c.ram[testRAM-8:]); got != 0xAABBCCDDAABBCCDD {
		t.Errorf("RAM part %#x", got)
	}
	// The MOVS reads BB AA from RAM, then 00 01 02 03 from the device, and
	// writes them all to the device at offsets 8-13.
	if c.R[RCX] != 0 || c.R[RSI] != testRAM+4 || c.R[RDI] != testRAM+14 {
		t.Errorf("RCX %d RSI %#x RDI %#x", c.R[RCX], c.R[RSI], c.R[RDI])
	}
}

// TestREPSelfModifying overwrites the code that follows a REP STOSB/MOVSB
// in the same block: the new code must run.
func TestREPSelfModifying(t *testing.T) {
	c := runAsm(t, "lea rdi, [rip+1f]; mov ecx, 5; mov al, 0x90; rep stosb; 1: mov eax, 1", nil)
	if c.R[RAX] != 0x90 {
		t.Errorf("rep stosb over code: RAX %#x, want 0x90 (the MOV replaced by NOPs)", c.R[RAX])
	}
	c = runAsm(t, "lea rdi, [rip+1f]; mov ecx, 5; mov rsi, 0x200000; rep movsb; 1: mov eax, 1", func(c *CPU) {
		copy(c.ram[dataBase:], []byte{0x90, 0x90, 0x90, 0x90, 0x90})
		c.R[RAX] = 7
	})
	if c.R[RAX] != 7 {
		t.Errorf("rep movsb over code: RAX %#x, want 7", c.R[RAX])
	}
	// A slow-path REP (DF=1) over the code too.
	c = runAsm(t, "lea rdi, [rip+1f+4]; mov ecx, 5; mov al, 0x90; std; rep stosb; cld; 1: mov eax, 1", nil)
	if c.R[RAX] != 0x90 {
		t.Errorf("rep stosb down over code: RAX %#x, want 0x90", c.R[RAX])
	}
}
