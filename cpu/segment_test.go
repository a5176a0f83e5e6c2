package cpu

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Segmentation in 32-bit protected mode (SDM Vol. 3, 5.3-5.8; Vol. 2 the
// Protected Mode Exceptions of each instruction): the rights checks of data
// accesses, the CS limit on fall-through and on branches, the 16-bit stack
// (SS.B = 0) and expand-down segments with either upper bound.

// Selectors of the 32-bit harness's GDT (gdt32).
const (
	selCode32  = 0x08 // flat 32-bit code, readable
	selData32  = 0x10 // flat data, writable
	selROData  = 0x18 // flat data, read-only
	selXOnly   = 0x20 // flat 32-bit code, execute-only
	selDownBig = 0x28 // expand-down data, limit 0xFFFF, B = 1 (upper bound 4 GiB)
	selDownSm  = 0x30 // expand-down data, limit 0x0FFF, B = 0 (upper bound 64 KiB)
	selStack16 = 0x38 // data, base 0x10000, limit 0xFFFF, B = 0: a 16-bit stack
	selCodeLim = 0x40 // 32-bit code, base 0, limit 0x100FFF (ends at codeBase's first page)
)

const (
	gdt32Base  = 0x600
	idt32Base  = 0x800
	stubs32    = 0x9000 // one HLT per vector: the IDT's handlers
	stackTop32 = 0x80000
)

var gdt32 = []uint64{
	0,
	0x00CF9A000000FFFF, // 0x08
	0x00CF92000000FFFF, // 0x10
	0x00CF90000000FFFF, // 0x18
	0x00CF98000000FFFF, // 0x20
	0x004096000000FFFF, // 0x28
	0x0000960000000FFF, // 0x30
	0x000092010000FFFF, // 0x38
	0x00C09A0000000100, // 0x40
	0x00C092000000007F, // 0x48
}

// newTestCPU32 returns a CPU in 32-bit protected mode without paging at
// CPL 0: flat CS, DS, ES, FS, GS and SS, ESP at stackTop32, and an IDT whose
// 32-bit interrupt gates lead each vector v to a HLT at stubs32+v.
func newTestCPU32(t testing.TB) *CPU {
	t.Helper()
	c := newTestCPU(t)
	for i, d := range gdt32 {
		binary.LittleEndian.PutUint64(c.ram[gdt32Base+8*i:], d)
	}
	for v := uint64(0); v < 32; v++ {
		off := uint64(stubs32 + v)
		binary.LittleEndian.PutUint64(c.ram[idt32Base+8*v:], off&0xFFFF|selCode32<<16|0x8E00<<32|off>>16<<48)
		c.ram[off] = 0xF4
	}
	c.GDTR = DTR{Base: gdt32Base, Limit: uint16(8*len(gdt32) - 1)}
	c.IDTR = DTR{Base: idt32Base, Limit: 32*8 - 1}
	c.Seg[CS] = Segment{Selector: selCode32, Limit: 0xFFFFFFFF, Attr: 0x9B | SegAttrD | 0x8000}
	for _, s := range []int{DS, ES, SS, FS, GS} {
		c.Seg[s] = Segment{Selector: selData32, Limit: 0xFFFFFFFF, Attr: 0x93 | SegAttrD | 0x8000}
	}
	c.CR0 = CR0PE | CR0MP | CR0ET | CR0NE
	c.CR4 = CR4OSFXSR | CR4OSXMMEXCPT
	c.EFER = 0
	c.R[RSP] = stackTop32
	c.StateChanged()
	return c
}

// assemble32 assembles Intel-syntax 32-bit code.
func assemble32(t testing.TB, src string) []byte {
	t.Helper()
	return assemble(t, ".code32;"+src)
}

// noFault is the want of a case that runs to its end.
const noFault = 0xFF

// run32 runs src (then HLT) at codeBase on c and returns the vector of the
// exception it ended in (noFault if none) and the error code the CPU pushed
// for it (0 for a vector without one).
func run32(t *testing.T, c *CPU, src string) (vec uint8, errCode uint32) {
	t.Helper()
	load(c, assemble32(t, src))
	c.Run(100_000)
	if !c.halted {
		t.Fatalf("did not halt: RIP %#x", c.RIP)
	}
	v := c.RIP - 1 - stubs32
	if c.RIP-1 < stubs32 || v >= 32 {
		return noFault, 0
	}
	if hasErrorCode(uint8(v)) {
		errCode = uint32(c.readN(c.Seg[SS].Base+c.R[RSP]&c.stackMask, 4))
	}
	return uint8(v), errCode
}

// frameEIP returns the EIP of the exception frame on the stack.
func frameEIP(c *CPU) uint64 {
	off := uint64(0)
	if hasErrorCode(uint8(c.RIP - 1 - stubs32)) {
		off = 4
	}
	return c.readN(c.Seg[SS].Base+(c.R[RSP]+off)&c.stackMask, 4)
}

// farJump32 is the bytes of JMP ptr16:32 to sel:off.
func farJump32(sel uint16, off uint32) string {
	return fmt.Sprintf(".byte 0xEA; .long %#x; .word %#x", off, sel)
}

func TestSegmentRights(t *testing.T) {
	const d = dataBase
	tests := []struct {
		name  string
		src   string
		vec   uint8
		check func(c *CPU) bool
		err   uint32 // the error code of a fault
	}{
		{"read read-only DS", "mov ax, 0x18; mov ds, ax; mov eax, [0x200000]", noFault,
			func(c *CPU) bool { return uint32(c.R[RAX]) == 0x11223344 }, 0},
		{"write read-only DS", "mov ax, 0x18; mov ds, ax; mov dword ptr [0x200000], 1", VecGP, nil, 0},
		{"RMW read-only DS", "mov ax, 0x18; mov ds, ax; add dword ptr [0x200000], 1", VecGP, nil, 0},
		{"byte write read-only ES", "mov ax, 0x18; mov es, ax; mov byte ptr es:[0x200003], 1", VecGP, nil, 0},
		{"stos read-only ES", "mov ax, 0x18; mov es, ax; mov edi, 0x200000; mov ecx, 4; rep stosd", VecGP,
			func(c *CPU) bool { return c.R[RCX] == 4 }, 0},
		{"movs into read-only ES", "mov ax, 0x18; mov es, ax; mov esi, 0x200000; mov edi, 0x200100; movsd", VecGP, nil, 0},
		{"movs from read-only DS", "mov ax, 0x18; mov ds, ax; mov esi, 0x200000; mov edi, 0x200100; movsd", noFault,
			func(c *CPU) bool { return binary.LittleEndian.Uint32(c.ram[d+0x100:]) == 0x11223344 }, 0},
		{"write through CS", "mov dword ptr cs:[0x200000], 1", VecGP, nil, 0},
		{"read through readable CS", "mov eax, cs:[0x200000]", noFault,
			func(c *CPU) bool { return uint32(c.R[RAX]) == 0x11223344 }, 0},
		{"pop into read-only DS", "push 5; mov ax, 0x18; mov ds, ax; pop dword ptr [0x200000]", VecGP,
			func(c *CPU) bool { return c.R[RSP]+16 == stackTop32-4 }, 0},
		{"fnstcw into read-only DS", "mov ax, 0x18; mov ds, ax; fnstcw [0x200000]", VecGP, nil, 0},
		{"movdqu into read-only DS", "mov ax, 0x18; mov ds, ax; movdqu [0x200000], xmm0", VecGP, nil, 0},
		{"read through execute-only CS", farJump32(selXOnly, codeBase+7) + "; mov eax, cs:[0x200000]", VecGP, nil, 0},
		{"execute-only CS runs", farJump32(selXOnly, codeBase+7) + "; mov eax, 7", noFault,
			func(c *CPU) bool { return c.R[RAX] == 7 && c.Seg[CS].Selector == selXOnly }, 0},
		{"load execute-only code into DS", "mov ax, 0x20; mov ds, ax", VecGP, nil, 0x20},
		{"load readable code into DS, read", "mov ax, 0x08; mov ds, ax; mov eax, [0x200000]", noFault,
			func(c *CPU) bool { return uint32(c.R[RAX]) == 0x11223344 }, 0},
		{"load readable code into DS, write", "mov ax, 0x08; mov ds, ax; mov [0x200000], eax", VecGP, nil, 0},
		{"load read-only data into SS", "mov ax, 0x18; mov ss, ax", VecGP, nil, 0x18},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			binary.LittleEndian.PutUint32(c.ram[d:], 0x11223344)
			vec, code := run32(t, c, tc.src)
			if vec != tc.vec || code != tc.err {
				t.Fatalf("vector %#x error %#x, want %#x error %#x (RIP %#x)", vec, code, tc.vec, tc.err, c.RIP)
			}
			if got := binary.LittleEndian.Uint32(c.ram[d:]); got != 0x11223344 {
				t.Errorf("memory at %#x = %#x, want it unchanged", d, got)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("state after: EAX %#x ECX %#x ESP %#x CS %#x", c.R[RAX], c.R[RCX], c.R[RSP], c.Seg[CS].Selector)
			}
		})
	}
}

// The CS limit: an instruction whose bytes run past it, and the first
// instruction beyond it reached by fall-through, raise #GP(0) with EIP at
// that instruction; a branch to a target beyond it raises #GP(0) at the
// branch (SDM Vol. 3, 5.3; Vol. 2 JMP, Jcc, LOOP, CALL "If target operand is
// beyond the code segment limit").
func TestCodeLimit(t *testing.T) {
	const end = 0x100FFF // selCodeLim's limit
	tests := []struct {
		name string
		at   uint32 // where the code after the far jump is placed
		src  string
		vec  uint8
		eip  uint64 // the frame's EIP, or EAX for noFault
	}{
		{"runs to the limit", end - 5, "mov eax, 0x1234", noFault, 0x1234},
		{"fall-through past the limit", end - 3, "nop; nop; nop; nop; nop", VecGP, end + 1},
		{"instruction straddles the limit", end - 3, "mov eax, 1", VecGP, end - 3},
		{"jmp beyond", end - 0x20, "jmp .+0x40", VecGP, end - 0x20},
		{"jmp within", end - 0x20, "jmp .+0x10; .fill 14, 1, 0xCC; mov eax, 3; hlt", noFault, 3},
		{"jcc taken beyond", end - 0x20, "xor eax, eax; jz .+0x40", VecGP, end - 0x1E},
		{"jcc not taken", end - 0x20, "xor eax, eax; jnz .+0x40; mov eax, 4; hlt", noFault, 4},
		{"loop taken beyond", end - 0x20, "mov ecx, 2; loop .+0x40", VecGP, end - 0x1B},
		{"call beyond", end - 0x20, "call .+0x40", VecGP, end - 0x20},
		{"jmp indirect beyond", end - 0x20, "mov eax, 0x101000; jmp eax", VecGP, end - 0x1B},
		{"ret beyond", end - 0x20, "push 0x101000; ret", VecGP, end - 0x1B},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			code := assemble32(t, tc.src)
			copy(c.ram[tc.at:], code)
			c.ram[int(tc.at)+len(code)] = 0xF4
			vec, code32 := run32(t, c, farJump32(selCodeLim, tc.at))
			if vec != tc.vec || code32 != 0 {
				t.Fatalf("vector %#x error %#x, want %#x (RIP %#x)", vec, code32, tc.vec, c.RIP)
			}
			if vec == noFault {
				if c.R[RAX] != tc.eip {
					t.Errorf("EAX %#x, want %#x", c.R[RAX], tc.eip)
				}
			} else if eip := frameEIP(c); eip != tc.eip {
				t.Errorf("fault EIP %#x, want %#x", eip, tc.eip)
			}
		})
	}
}

// A 16-bit stack segment (SS.B = 0): PUSH, POP, CALL, RET, ENTER, LEAVE,
// PUSHA and the exception frame use SP and leave ESP's upper half alone;
// addresses wrap at 64 KiB (SDM Vol. 3, 6.2.3; Vol. 2 PUSH, ENTER, LEAVE).
func TestStack16(t *testing.T) {
	const ssBase = 0x10000
	tests := []struct {
		name  string
		esp   uint32
		src   string
		sp    uint16 // SP afterwards
		slot  uint16 // an SS offset to look at
		value uint32 // the dword there
	}{
		{"push", 0xDEAD0100, "push 0x11223344", 0x00FC, 0x00FC, 0x11223344},
		{"push wraps", 0xDEAD0000, "push 0x55667788", 0xFFFC, 0xFFFC, 0x55667788},
		{"pop", 0xBEEF0200, "push 0x99; pop eax; mov [0x300000], eax", 0x0200, 0x01FC, 0x99},
		{"call and ret", 0xBEEF0200, "call 1f; jmp 2f; 1: ret; 2: nop", 0x0200, 0x01FC, codeBase + 11},
		{"pusha", 0xBEEF0040, "mov ebp, 0x77; pusha", 0x0020, 0x0028, 0x77},
		{"enter", 0xBEEF0100, "mov ebp, 0x12345678; enter 8, 0", 0x00F4, 0x00FC, 0x12345678},
		{"leave", 0xBEEF0100, "mov dword ptr ss:[0x80], 0xABCD; mov ebp, 0xFFFF0080; leave", 0x0084, 0x0080, 0xABCD},
		{"pop into memory", 0xBEEF0300, "push 0x4242; pop dword ptr [0x300000]", 0x0300, 0x02FC, 0x4242},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			c.R[RSP] = uint64(tc.esp)
			vec, _ := run32(t, c, "mov ax, 0x38; mov ss, ax; "+tc.src)
			if vec != noFault {
				t.Fatalf("vector %#x at EIP %#x", vec, frameEIP(c))
			}
			if uint32(c.R[RSP]) != tc.esp&0xFFFF0000|uint32(tc.sp) {
				t.Errorf("ESP %#x, want upper half %#x and SP %#x", c.R[RSP], tc.esp>>16, tc.sp)
			}
			if got := binary.LittleEndian.Uint32(c.ram[ssBase+uint32(tc.slot):]); got != tc.value {
				t.Errorf("SS:%#x = %#x, want %#x", tc.slot, got, tc.value)
			}
		})
	}
	t.Run("exception frame", func(t *testing.T) {
		c := newTestCPU32(t)
		c.R[RSP] = 0xCAFE0010
		vec, _ := run32(t, c, "mov ax, 0x38; mov ss, ax; ud2")
		if vec != VecUD || uint32(c.R[RSP]) != 0xCAFE0004 {
			t.Fatalf("vector %#x ESP %#x, want #UD with ESP 0xCAFE0004", vec, c.R[RSP])
		}
	})
}

// Expand-down data segments: valid offsets lie above the limit and up to
// 0xFFFF (B = 0) or 0xFFFFFFFF (B = 1) (SDM Vol. 3, 5.3).
func TestExpandDown(t *testing.T) {
	tests := []struct {
		name string
		sel  uint16
		off  uint32
		vec  uint8
	}{
		{"B=1 above the limit", selDownBig, 0x10000, noFault},
		{"B=1 at the limit", selDownBig, 0xFFFF, VecGP},
		{"B=1 straddles the limit", selDownBig, 0xFFFE, VecGP},
		{"B=1 high", selDownBig, 0x00FFFFFC, noFault},
		{"B=1 past 4 GiB", selDownBig, 0xFFFFFFFE, VecGP},
		{"B=0 above the limit", selDownSm, 0x1000, noFault},
		{"B=0 at the top", selDownSm, 0xFFFC, noFault},
		{"B=0 past 64 KiB", selDownSm, 0xFFFE, VecGP},
		{"B=0 far past 64 KiB", selDownSm, 0x10000, VecGP},
		{"B=0 below the limit", selDownSm, 0x0800, VecGP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			src := fmt.Sprintf("mov ax, %#x; mov es, ax; mov eax, 0x5A5A; mov ebx, %#x; mov es:[ebx], eax", tc.sel, tc.off)
			vec, code := run32(t, c, src)
			if vec != tc.vec || code != 0 {
				t.Fatalf("vector %#x error %#x, want %#x", vec, code, tc.vec)
			}
			if vec == noFault && binary.LittleEndian.Uint32(c.ram[tc.off:]) != 0x5A5A {
				t.Errorf("nothing written at %#x", tc.off)
			}
		})
	}
}

// The limit applies to every byte an instruction accesses, whatever its
// operand size attribute: a byte at the limit is fine, a word there is not;
// 16-byte SSE operands, x87 80-bit operands, CMPXCHG8B, far pointers,
// descriptor-table images and FXSAVE's 512 bytes are checked to their last
// byte (SDM Vol. 3, 5.3). DS and SS are selStack16: base 0x10000, limit
// 0xFFFF.
func TestSegmentLimitSizes(t *testing.T) {
	tests := []struct {
		src string
		vec uint8
	}{
		{"movzx eax, byte ptr [0xFFFF]", noFault},
		{"mov ax, [0xFFFF]", VecGP},
		{"mov eax, [0xFFFC]", noFault},
		{"mov eax, [0xFFFD]", VecGP},
		{"movdqu xmm0, [0xFFF0]", noFault},
		{"movdqu xmm0, [0xFFF8]", VecGP},
		{"movdqu [0xFFF8], xmm0", VecGP},
		{"movsd xmm0, [0xFFFC]", VecGP},
		{"fld tbyte ptr [0xFFF6]", noFault},
		{"fld tbyte ptr [0xFFF8]", VecGP},
		{"cmpxchg8b [0xFFFC]", VecGP},
		{"les eax, [0xFFFC]", VecGP},
		{"lgdt [0xFFFC]", VecGP},
		{"fxsave [0xFE00]", noFault},
		{"fxsave [0xFF00]", VecGP},
		{"fnsave [0xFFA0]", VecGP},
		{"mov ebp, 0xFFF8; movdqu xmm0, [ebp]", VecSS},
		{"mov ebp, 0xFFF0; movdqu xmm0, [ebp]", noFault},
		{"mov esi, 0xFFFE; lodsd", VecGP},
		{"mov esi, 0xFFFC; lodsd", noFault},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			c := newTestCPU32(t)
			vec, code := run32(t, c, "mov ax, 0x38; mov ds, ax; mov es, ax; mov ss, ax; mov esp, 0x8000; "+tc.src)
			if vec != tc.vec || code != 0 {
				t.Fatalf("vector %#x error %#x, want %#x", vec, code, tc.vec)
			}
		})
	}
}

// An exception frame that does not fit in the stack segment is #SS (SDM
// Vol. 3, 6.12.1.1; INT n's protected-mode exceptions); with the same stack
// for #SS and #DF the CPU shuts down.
func TestExceptionFrameOutsideSS(t *testing.T) {
	c := newTestCPU32(t)
	load(c, assemble32(t, "mov ax, 0x48; mov ss, ax; mov esp, 0x80100; ud2"))
	if r := c.Run(1000); r != StopTripleFault {
		t.Fatalf("run stopped with %v at RIP %#x, want a triple fault", r, c.RIP)
	}
	c = newTestCPU32(t)
	vec, _ := run32(t, c, "mov ax, 0x48; mov ss, ax; mov esp, 0x7FFF0; ud2")
	if vec != VecUD {
		t.Fatalf("vector %#x, want #UD with the frame inside the limit", vec)
	}
}
