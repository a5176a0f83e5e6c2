package cpu

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Call gates, 16-bit interrupt and trap gates, and the task switches the CPU
// refuses (SDM Vol. 3, 5.8.3-5.8.6, 6.11-6.12; Vol. 2 CALL, JMP, RET).

// Selectors the gate tests add to the 32-bit harness's GDT.
const (
	selUserCode32 = 0x50 // flat 32-bit code, DPL 3
	selUserData32 = 0x58 // flat data, DPL 3
	selTSS32      = 0x60 // 32-bit TSS at tss32Base
	selGate32     = 0x68 // 32-bit call gate, DPL 3, 2 parameters -> 0x08:gateHLT
	selGate16     = 0x70 // 16-bit call gate, DPL 3, 1 parameter -> 0x08:gateHLT
	selGateDPL0   = 0x78 // 32-bit call gate, DPL 0
	selGateNP     = 0x80 // 32-bit call gate, not present
	selTaskGate   = 0x88 // task gate, DPL 3
	selGateRetf   = 0x90 // 32-bit call gate, DPL 3, 2 parameters -> 0x08:gateRETF
)

const (
	tss32Base = 0xA000
	gateHLT   = 0xB000 // HLT
	gateRETF  = 0xB100 // RETF 8
	userStack = 0x60000
	kernStack = 0x70000
)

// gateDesc returns a gate descriptor.
func gateDesc(sel uint16, off uint32, typ, dpl, params uint64, present bool) uint64 {
	d := uint64(off)&0xFFFF | uint64(sel)<<16 | params<<32 | typ<<40 | dpl<<45 | uint64(off)>>16<<48
	if present {
		d |= 1 << 47
	}
	return d
}

// gateSetup adds the gate tests' descriptors, a TSS whose ring-0 stack is
// 0x10:kernStack, gate targets, and IDT vectors 0x40 (a 16-bit interrupt
// gate to gateHLT), 0x41 (a 16-bit trap gate to gateHLT) and 0x42 (a task
// gate).
func gateSetup(c *CPU) {
	descs := map[uint16]uint64{
		selUserCode32: 0x00CFFA000000FFFF,
		selUserData32: 0x00CFF2000000FFFF,
		selTSS32:      0x0000890000000067 | tss32Base<<16,
		selGate32:     gateDesc(selCode32, gateHLT, 0xC, 3, 2, true),
		selGate16:     gateDesc(selCode32, gateHLT, 0x4, 3, 1, true),
		selGateDPL0:   gateDesc(selCode32, gateHLT, 0xC, 0, 0, true),
		selGateNP:     gateDesc(selCode32, gateHLT, 0xC, 3, 0, false),
		selTaskGate:   gateDesc(selTSS32, 0, 0x5, 3, 0, true),
		selGateRetf:   gateDesc(selCode32, gateRETF, 0xC, 3, 2, true),
	}
	for sel, d := range descs {
		put64(c, gdt32Base+uint64(sel), d)
	}
	c.GDTR.Limit = selGateRetf + 7
	binary.LittleEndian.PutUint32(c.ram[tss32Base+4:], kernStack)
	binary.LittleEndian.PutUint32(c.ram[tss32Base+8:], selData32)
	c.TR = Segment{Selector: selTSS32, Base: tss32Base, Limit: 0x67, Attr: 0x8B}
	c.ram[gateHLT] = 0xF4
	copy(c.ram[gateRETF:], []byte{0xCA, 0x08, 0x00})
	put64(c, idt32Base+0x40*8, gateDesc(selCode32, gateHLT, 0x6, 0, 0, true))
	put64(c, idt32Base+0x41*8, gateDesc(selCode32, gateHLT, 0x7, 0, 0, true))
	put64(c, idt32Base+0x42*8, gateDesc(selTSS32, 0, 0x5, 0, 0, true))
	c.IDTR.Limit = 0x43*8 - 1
}

// toRing3 is code that IRETs to CPL 3 at the label user (flat selectors,
// ESP userStack).
const toRing3 = `call 1f
1: pop eax
lea eax, [eax + (user - 1b)]
push 0x5B
push 0x60000
push 2
push 0x53
push eax
iret
user: `

// farCall32 is the bytes of CALL ptr16:32 to sel:0.
func farCall32(sel uint16) string { return fmt.Sprintf(".byte 0x9A; .long 0; .word %#x", sel) }

func TestGates(t *testing.T) {
	dw := func(c *CPU, a uint64) uint64 { return uint64(binary.LittleEndian.Uint32(c.ram[a:])) }
	w := func(c *CPU, a uint64) uint64 { return uint64(binary.LittleEndian.Uint16(c.ram[a:])) }
	tests := []struct {
		name  string
		src   string
		vec   uint8
		err   uint32
		check func(c *CPU) bool
	}{
		{"call gate 32 to ring 0", toRing3 + "push 0x1111; push 0x2222; " + farCall32(selGate32|3), noFault, 0, func(c *CPU) bool {
			sp := c.R[RSP]
			return c.RIP == gateHLT+1 && c.Seg[CS].Selector == selCode32 && c.CPL == 0 && c.Seg[SS].Selector == selData32 &&
				sp == kernStack-24 && dw(c, sp+4) == selUserCode32|3 && dw(c, sp+8) == 0x2222 && dw(c, sp+12) == 0x1111 &&
				dw(c, sp+16) == userStack-8 && dw(c, sp+20) == selUserData32|3 && dw(c, sp) > codeBase
		}},
		{"call gate 32 and RETF 8", toRing3 + "push 0x1111; push 0x2222; " + farCall32(selGateRetf|3) + "; mov eax, 0x42; ud2", VecUD, 0, func(c *CPU) bool {
			sp := c.R[RSP] // the #UD frame on the ring-0 stack: EIP, CS, EFLAGS, ESP, SS
			return c.R[RAX] == 0x42 && dw(c, sp+4) == selUserCode32|3 && dw(c, sp+12) == userStack && dw(c, sp+16) == selUserData32|3
		}},
		{"call gate 16 to ring 0", toRing3 + "push 0x1111; push 0x2222; " + farCall32(selGate16|3), noFault, 0, func(c *CPU) bool {
			sp := c.R[RSP]
			return c.RIP == gateHLT+1 && sp == kernStack-10 && w(c, sp+2) == selUserCode32|3 && w(c, sp+4) == 0x2222 &&
				w(c, sp+6) == (userStack-8)&0xFFFF && w(c, sp+8) == selUserData32|3
		}},
		{"call gate with DPL < CPL", toRing3 + farCall32(selGateDPL0|3), VecGP, selGateDPL0, nil},
		{"call gate with RPL > DPL", farCall32(selGateDPL0 | 3), VecGP, selGateDPL0, nil},
		{"call gate not present", toRing3 + farCall32(selGateNP|3), VecNP, selGateNP, nil},
		{"jmp gate to more privilege", toRing3 + farJump32(selGate32|3, 0), VecGP, selCode32, nil},
		{"call gate same privilege", farCall32(selGate32), noFault, 0, func(c *CPU) bool {
			sp := c.R[RSP]
			return c.RIP == gateHLT+1 && sp == stackTop32-8 && dw(c, sp) == codeBase+7 && dw(c, sp+4) == selCode32
		}},
		{"jmp gate same privilege", farJump32(selGate32, 0), noFault, 0, func(c *CPU) bool {
			return c.RIP == gateHLT+1 && c.R[RSP] == stackTop32 && c.Seg[CS].Selector == selCode32
		}},
		{"call task gate", toRing3 + farCall32(selTaskGate|3), VecGP, selTaskGate, func(c *CPU) bool {
			return c.UD == 1 && c.Unimplemented[unimplTaskSwitch|5] == 1
		}},
		{"jmp TSS", farJump32(selTSS32, 0), VecGP, selTSS32, func(c *CPU) bool {
			return c.UD == 1 && c.Unimplemented[unimplTaskSwitch|9] == 1
		}},
		{"16-bit interrupt gate", "sti; int 0x40", noFault, 0, func(c *CPU) bool {
			sp := c.R[RSP]
			return c.RIP == gateHLT+1 && sp == stackTop32-6 && w(c, sp) == (codeBase+3)&0xFFFF && w(c, sp+2) == selCode32 &&
				w(c, sp+4)&FlagIF != 0 && c.flags()&FlagIF == 0
		}},
		{"16-bit trap gate", "sti; int 0x41", noFault, 0, func(c *CPU) bool {
			return c.RIP == gateHLT+1 && c.R[RSP] == stackTop32-6 && c.flags()&FlagIF != 0
		}},
		{"interrupt through a task gate", "int 0x42", VecGP, 0x42<<3 | 2, func(c *CPU) bool {
			return c.UD == 1 && c.Unimplemented[unimplTaskSwitch|5] == 1
		}},
		{"IRET with NT (task return)", "pushfd; or dword ptr [esp], 0x4000; popfd; iretd", VecGP, 0, func(c *CPU) bool {
			return c.UD == 1 && c.Unimplemented[unimplTaskSwitch] == 1
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			gateSetup(c)
			vec, code := run32(t, c, tc.src)
			if vec != tc.vec || code != tc.err {
				t.Fatalf("vector %#x error %#x, want %#x error %#x (RIP %#x)", vec, code, tc.vec, tc.err, c.RIP)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("state after: RIP %#x CS %#x SS %#x ESP %#x EAX %#x UD %d; stack %x", c.RIP, c.Seg[CS].Selector,
					c.Seg[SS].Selector, c.R[RSP], c.R[RAX], c.UD, c.ram[c.R[RSP]&0xFFFFFF:c.R[RSP]&0xFFFFFF+24])
			}
		})
	}
}

// In IA-32e mode a call gate is 16 bytes and leads to 64-bit code: CALL
// from CPL 3 to CPL 0 switches to the TSS's RSP0 with a null SS and pushes
// SS, RSP, CS and RIP as quadwords (no parameters).
func TestCallGate64(t *testing.T) {
	const target = 0x40000
	c := newTestCPU(t)
	userSetup(c)
	lo := gateDesc(0x08, target, 0xC, 3, 0, true)
	put64(c, testGDT+0x48, lo)
	put64(c, testGDT+0x50, 0)
	c.GDTR.Limit = 0x57
	c.ram[target] = 0xF4
	code := assemble(t, "call fword ptr [rip + 1f]; ud2; 1: .long 0; .word 0x4B")
	load(c, code)
	c.Run(1000)
	sp := c.R[RSP]
	if c.R[R15] != sysNoFault || c.RIP != target+1 || c.CPL != 0 || c.Seg[SS].Selector != 0 || sp != sysRSP0-32 ||
		get64(c, sp) != codeBase+6 || get64(c, sp+8) != selUserCode || get64(c, sp+16) != stackTop || get64(c, sp+24) != selUserData {
		t.Errorf("R15 %#x RIP %#x CPL %d SS %#x RSP %#x frame %#x %#x %#x %#x", c.R[R15], c.RIP, c.CPL, c.Seg[SS].Selector, sp,
			get64(c, sp), get64(c, sp+8), get64(c, sp+16), get64(c, sp+24))
	}
}
