package difftest

import (
	"encoding/binary"
	"strings"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
)

// taint is what a stepped comparison knows to be a don't-care at the
// interpreter's current point: the status flags the don't-care table says
// are undefined, and where copies of them went since the two executions
// last agreed — R11 (SYSCALL saves RFLAGS there), a register popped from
// a pushed RFLAGS image, RFLAGS images on the stack (PUSHF, the frame of an
// interrupt or exception) — plus registers loaded from the host (RDTSC,
// RDRAND). It is derived from the instructions the interpreter executes
// and from the SDM alone, never from what the host CPU did, so the verdict
// cannot depend on the host CPU model.
//
// After every step the tainted bits are reconciled: the interpreter takes
// the reference's values for them, so the two continue alike and the
// don't-care never reaches a later comparison (where it could travel on
// in ways no table follows).
type taint struct {
	// flags are the RFLAGS status bits currently undefined.
	flags uint64
	// regs are, per general register, the bits that are don't-cares.
	regs [16]uint64
	// mem maps the linear address of an 8-byte word to its don't-care
	// bits (an RFLAGS image holding undefined flags).
	mem map[uint64]uint64
}

// point is the part of the interpreter's state before an instruction that
// the taint rules need.
type point struct {
	rip, rsp uint64
	cpl      uint8
	cs, ss   uint16
}

func pointOf(c *cpu.CPU) point {
	return point{rip: c.RIP, rsp: c.R[cpu.RSP], cpl: c.CPL, cs: c.Seg[cpu.CS].Selector, ss: c.Seg[cpu.SS].Selector}
}

// empty reports whether nothing is tainted.
func (t *taint) empty() bool {
	return t.flags == 0 && t.regs == [16]uint64{} && len(t.mem) == 0
}

// follow applies one instruction the interpreter executed: inst (ok false
// when it could not be decoded) at before.rip, leaving the CPU c in the
// state after it.
func (t *taint) follow(inst disasm.Inst, ok bool, before point, c *cpu.CPU) {
	if before.cpl == 3 && c.CPL == 0 && !(ok && inst.Mnemonic == "syscall") {
		// An interrupt or exception entered the kernel instead: the
		// instruction did not complete, and the frame's RFLAGS image
		// holds the flags as they were.
		if t.flags != 0 {
			if a, found := frameFlagsSlot(c, before); found {
				t.setMem(a, t.flags)
			}
		}
		return
	}
	if !ok {
		return
	}
	switch inst.Mnemonic {
	case "pushfq", "pushf":
		t.setMem(c.R[cpu.RSP], t.flags)
		return
	case "popfq", "popf":
		t.flags = t.mem[before.rsp] & fAll
		return
	case "iretq", "iret":
		t.flags = t.mem[before.rsp+16] & fAll // RIP, CS, RFLAGS, RSP, SS
		return
	case "syscall":
		t.regs[cpu.R11] = t.flags
		return
	case "sysret", "sysretq":
		t.flags = t.regs[cpu.R11] & fAll
		return
	case "pop":
		if i, ok := destReg(inst); ok {
			t.regs[i] = t.mem[before.rsp]
		}
		return
	}
	dc := dontCareByMnemonic[inst.Mnemonic]
	if dc == nil {
		return
	}
	t.flags = t.flags&^dc.defines | dc.undefined
	for _, reg := range dc.regs {
		t.regs[reg] = ^uint64(0)
	}
	if dc.dest {
		if i, ok := destReg(inst); ok {
			t.regs[i] = ^uint64(0)
		}
	}
}

// setMem records the don't-care bits of the word at linear address a.
func (t *taint) setMem(a, bits uint64) {
	if bits == 0 {
		delete(t.mem, a)
		return
	}
	if t.mem == nil {
		t.mem = map[uint64]uint64{}
	}
	t.mem[a] = bits
}

// frameFlagsSlot finds the RFLAGS slot of the frame an interrupt or
// exception from user mode (state before) pushed on the kernel stack: the
// words RIP, CS, RFLAGS, RSP, SS at or above the current RSP (the handler
// may have pushed more since), recognised by the old CS, RSP and SS.
func frameFlagsSlot(c *cpu.CPU, before point) (uint64, bool) {
	var buf [24 * 8]byte
	sp := c.R[cpu.RSP]
	if c.ReadLinear(sp, buf[:]) != nil {
		return 0, false
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(buf[8*i:]) }
	for i := 0; i+3 < len(buf)/8; i++ {
		if uint16(word(i)) == before.cs && word(i+2) == before.rsp && uint16(word(i+3)) == before.ss {
			return sp + uint64(8*(i+1)), true
		}
	}
	return 0, false
}

// destReg returns the general register an instruction's first operand
// names.
func destReg(inst disasm.Inst) (int, bool) {
	args := strings.TrimSpace(strings.TrimPrefix(inst.Text, inst.Prefixes))
	_, ops, ok := strings.Cut(args, " ")
	if !ok {
		return 0, false
	}
	first, _, _ := strings.Cut(ops, ",")
	return regIndex(strings.TrimSpace(first))
}

// reconciled counts don't-cares that differed between the two sides when
// they were reconciled.
type reconciled struct {
	flags, regs, words uint64
}

// reconcile gives the interpreter (c, its RAM ram) the reference's values
// (state ref, RAM refRAM) of every tainted bit, counts in n those that
// differed, and clears the taint.
func (t *taint) reconcile(c *cpu.CPU, ram []byte, ref cpu.State, refRAM []byte, n *reconciled) {
	if t.flags != 0 {
		if f := c.RFLAGS(); (f^ref.RFLAGS)&t.flags != 0 {
			c.SetRFLAGS(f&^t.flags | ref.RFLAGS&t.flags)
			n.flags++
		}
	}
	for i, m := range t.regs {
		if (c.R[i]^ref.R[i])&m != 0 {
			c.R[i] = c.R[i]&^m | ref.R[i]&m
			n.regs++
		}
	}
	for a, m := range t.mem {
		p, ok := physAddr(ram, c.CR3, a)
		if !ok || p+8 > uint64(len(ram)) || p+8 > uint64(len(refRAM)) {
			continue
		}
		w, rw := binary.LittleEndian.Uint64(ram[p:]), binary.LittleEndian.Uint64(refRAM[p:])
		if (w^rw)&m != 0 {
			binary.LittleEndian.PutUint64(ram[p:], w&^m|rw&m)
			n.words++
		}
	}
	t.flags, t.regs = 0, [16]uint64{}
	clear(t.mem)
}

// physAddr translates linear address a through the 4-level page tables at
// cr3 in ram, for a word that does not cross a page.
func physAddr(ram []byte, cr3, a uint64) (uint64, bool) {
	if a&0xFFF > 0xFF8 {
		return 0, false
	}
	const addrMask = 0x000F_FFFF_FFFF_F000
	table := cr3 & addrMask
	for level := 4; level >= 1; level-- {
		idx := a >> (12 + 9*(level-1)) & 511
		if table+8*idx+8 > uint64(len(ram)) {
			return 0, false
		}
		e := binary.LittleEndian.Uint64(ram[table+8*idx:])
		if e&1 == 0 {
			return 0, false
		}
		if level == 1 || (level <= 3 && e&0x80 != 0) {
			size := uint64(1) << (12 + 9*(level-1))
			return e&addrMask&^(size-1) | a&(size-1), true
		}
		table = e & addrMask
	}
	return 0, false
}
