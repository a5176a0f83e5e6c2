package cpu

import (
	"errors"
	"fmt"
	"strings"

	"ftvm/mmu"
)

// RecentBlocks returns the linear addresses of the most recently entered
// blocks, oldest first.
func (c *CPU) RecentBlocks() []uint64 {
	n := min(c.nrecent, uint(len(c.recent)))
	out := make([]uint64, 0, n)
	for i := c.nrecent - n; i < c.nrecent; i++ {
		out = append(out, c.recent[i%uint(len(c.recent))])
	}
	return out
}

// ErrUnmapped is returned by ReadLinear for an address with no translation.
var ErrUnmapped = errors.New("linear address not mapped")

// CodeBits returns the size of the code the CPU executes: 64 in 64-bit
// mode, else 32 or 16 by the code segment's D bit.
func (c *CPU) CodeBits() int {
	switch c.csize {
	case Code32:
		return 32
	case Code16:
		return 16
	}
	return 64
}

// ReadLinear copies guest memory at linear address addr into buf through the
// current page tables, for debuggers and tracing: it checks no permissions,
// sets no accessed or dirty bits and raises nothing.
func (c *CPU) ReadLinear(addr uint64, buf []byte) error {
	return c.eachLinear(addr, len(buf), func(phys uint64, i int) { buf[i] = byte(c.mem.Read(phys, 1)) })
}

// WriteLinear copies buf into guest memory at linear address addr through the
// current page tables, for debuggers: like ReadLinear it checks no
// permissions; decoded code the bytes overwrite is dropped.
func (c *CPU) WriteLinear(addr uint64, buf []byte) error {
	if err := c.eachLinear(addr, len(buf), func(uint64, int) {}); err != nil {
		return err // nothing written unless all of it is mapped
	}
	return c.eachLinear(addr, len(buf), func(phys uint64, i int) { c.mem.Write(phys, 1, uint64(buf[i])) })
}

// eachLinear calls byteAt with the physical address of each of the n bytes at
// linear address addr, or fails at the first unmapped page.
func (c *CPU) eachLinear(addr uint64, n int, byteAt func(phys uint64, i int)) error {
	for i := 0; i < n; {
		a := addr + uint64(i)
		if !canonical(a) {
			return ErrUnmapped
		}
		t, _, ok := c.mem.Walk(&c.paging, a, mmu.AccessProbe)
		if !ok {
			return ErrUnmapped
		}
		off := a & (mmu.PageSize - 1)
		k := min(n-i, int(mmu.PageSize-off))
		for j := 0; j < k; j++ {
			byteAt(t.Phys+off+uint64(j), i+j)
		}
		i += k
	}
	return nil
}

// SetTrace sets Trace (nil removes it) between runs, dropping the blocks
// decoded under the other setting: a tracer sees every instruction.
func (c *CPU) SetTrace(f func(c *CPU, rip uint64)) {
	c.Trace = f
	c.code.flushAll()
}

// RegNames are the general registers' names, by index (RAX, RCX, ...).
var RegNames = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// RegisterLine returns the general registers and RFLAGS on one line, for
// instruction traces.
func (c *CPU) RegisterLine() string {
	var b strings.Builder
	for i, n := range RegNames {
		fmt.Fprintf(&b, "%s=%x ", n, c.R[i])
	}
	fmt.Fprintf(&b, "rflags=%x", c.flags())
	return b.String()
}

// Dump returns a multi-line dump of the architectural state.
func (c *CPU) Dump() string {
	var b strings.Builder
	for i, n := range RegNames {
		fmt.Fprintf(&b, "%-3s %016x", n, c.R[i])
		if i%4 == 3 {
			b.WriteByte('\n')
		} else {
			b.WriteString("  ")
		}
	}
	fmt.Fprintf(&b, "rip %016x  rflags %016x  cpl %d\n", c.RIP, c.flags(), c.CPL)
	for i, n := range []string{"es", "cs", "ss", "ds", "fs", "gs"} {
		s := c.Seg[i]
		fmt.Fprintf(&b, "%s  sel=%04x base=%016x limit=%08x attr=%04x\n", n, s.Selector, s.Base, s.Limit, s.Attr)
	}
	fmt.Fprintf(&b, "tr  sel=%04x base=%016x limit=%08x  ldtr sel=%04x\n", c.TR.Selector, c.TR.Base, c.TR.Limit, c.LDTR.Selector)
	fmt.Fprintf(&b, "gdt %016x/%04x  idt %016x/%04x\n", c.GDTR.Base, c.GDTR.Limit, c.IDTR.Base, c.IDTR.Limit)
	fmt.Fprintf(&b, "cr0 %016x  cr2 %016x  cr3 %016x  cr4 %016x  efer %016x\n", c.CR0, c.CR2, c.CR3, c.CR4, c.EFER)
	return b.String()
}
