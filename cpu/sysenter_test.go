package cpu

import "testing"

// SYSENTER and SYSEXIT in IA-32e mode: the entry state, the #GP for a null
// IA32_SYSENTER_CS, and SYSEXIT to 32-bit code at CPL 3 (compatibility
// mode), whose INT3 reaches the 64-bit IDT through a DPL-3 gate.
func TestSYSENTER(t *testing.T) {
	const target = codeBase + 0x800
	tests := []struct {
		name   string
		code   []byte // at codeBase
		sel    uint64 // IA32_SYSENTER_CS
		vector uint64 // R15 afterwards: sysNoFault, or the exception's vector
		check  func(c *CPU) bool
	}{
		{"null SYSENTER_CS", []byte{0x0F, 0x34}, 0, VecGP, nil},
		{"enter", []byte{0xFB, 0x0F, 0x34}, 0x08, VecBP, func(c *CPU) bool { // sti; sysenter
			// The INT3 frame at the entry: 64-bit CS 0x08, IF clear, RSP
			// from SYSENTER_ESP, SS 0x10.
			f := c.R[RSP]
			return get64(c, f) == target+1 && get64(c, f+8) == 0x08 && get64(c, f+16)&FlagIF == 0 &&
				get64(c, f+24) == 0x7000 && get64(c, f+32) == 0x10
		}},
		{"exit to 32-bit code", []byte{0x0F, 0x35}, 0x08, VecBP, func(c *CPU) bool {
			// The INT3 frame: return EIP after the INT3, CS 0x1B (32-bit,
			// DPL 3), ESP from RCX, SS 0x23.
			f := c.R[RSP]
			return get64(c, f) == target+1 && get64(c, f+8) == 0x1B && get64(c, f+24) == 0x5000 && get64(c, f+32) == 0x23
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU(t)
			sysSetup(c)
			sysLoadTR(c)
			userPages(c)
			c.SysenterCS, c.SysenterESP, c.SysenterEIP = tc.sel, 0x7000, target
			c.R[RDX], c.R[RCX] = target, 0x5000
			c.ram[target] = 0xCC // INT3: its handler reports vector 3
			load(c, tc.code)
			c.Run(1000)
			if !checkVector(t, tc.name, c, tc.vector) {
				return
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("state after: RIP %#x CS %+v SS %+v RSP %#x RFLAGS %#x", c.RIP, c.Seg[CS], c.Seg[SS], c.R[RSP], c.flags())
			}
		})
	}
}

// Compatibility-mode code reaches the 64-bit kernel's tables and stack at
// canonical high addresses (as Linux's IDT, GDT, TSS and RSP0 are): an INT3
// from 32-bit code at CPL 3 reads the IDT and GDT and pushes its frame there
// while CS is still the 32-bit one.
func TestCompatHighKernelTables(t *testing.T) {
	const high = 0xffff800000000000
	const target = codeBase + 0x800
	c := newTestCPU(t)
	sysSetup(c)
	sysLoadTR(c)
	userPages(c)
	put64(c, testPML4+256*8, testPDPT|3) // the first 1 GiB again at high
	put64(c, sysTSS+4, high+sysRSP0)
	c.IDTR.Base += high
	c.GDTR.Base += high
	c.TR.Base += high
	c.SysenterCS = 0x08
	c.R[RDX], c.R[RCX] = target, 0x5000
	c.ram[target] = 0xCC
	c.StateChanged()
	load(c, []byte{0x0F, 0x35}) // SYSEXIT to 32-bit code at CPL 3, which runs INT3
	c.Run(1000)
	if !checkVector(t, "int3 from compatibility mode", c, VecBP) {
		return
	}
	if f := c.R[RSP]; f != high+sysRSP0-40 || get64(c, sysRSP0-40) != target+1 || get64(c, sysRSP0-32) != 0x1B {
		t.Errorf("frame at RSP %#x: %#x %#x, want at %#x RIP %#x CS 0x1B", f, get64(c, sysRSP0-40), get64(c, sysRSP0-32),
			uint64(high+sysRSP0-40), target+1)
	}
}
