package cpu

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Tests of the data-movement family (move.go). Exact-value cases use the
// arCase tables of alu_test.go: every status flag is compared, so these also
// check that moves leave the flags alone.

const m1 = ^uint64(0)

// dmCCNames are the condition-code suffixes in encoding order.
var dmCCNames = [16]string{"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"}

// dmCond is the reference evaluation of condition cc on RFLAGS f.
func dmCond(cc uint8, f uint64) bool {
	cf, zf, sf, of, pf := f&FlagCF != 0, f&FlagZF != 0, f&FlagSF != 0, f&FlagOF != 0, f&FlagPF != 0
	var r bool
	switch cc >> 1 {
	case 0:
		r = of
	case 1:
		r = cf
	case 2:
		r = zf
	case 3:
		r = cf || zf
	case 4:
		r = sf
	case 5:
		r = pf
	case 6:
		r = sf != of
	case 7:
		r = zf || sf != of
	}
	return r != (cc&1 != 0)
}

// dmFlagSets are all 32 combinations of C, P, Z, S, O.
func dmFlagSets() []string {
	var out []string
	for m := 0; m < 32; m++ {
		s := ""
		for i, ch := range "CPZSO" {
			if m>>i&1 != 0 {
				s += string(ch)
			}
		}
		out = append(out, s)
	}
	return out
}

// dmSubFlags returns the status flags of a - b at size bytes, as letters.
func dmSubFlags(a, b uint64, size uint8) string {
	_, f := dmArith(lazyOp{flagsSub, a, b, size})
	return f
}

// dmAddFlags returns the status flags of a + b at size bytes, as letters.
func dmAddFlags(a, b uint64, size uint8) string {
	_, f := dmArith(lazyOp{flagsAdd, a, b, size})
	return f
}

// lazyOp is an ADD or a SUB (kind) of a and b at size bytes.
type lazyOp struct {
	kind flagOp
	a, b uint64
	size uint8
}

// dmArith returns the result of o and its status flags, as letters.
func dmArith(o lazyOp) (uint64, string) {
	m := sizeMask(o.size)
	a, b := o.a&m, o.b&m
	r := (a - b) & m
	carry, overflow := a < b, (a^b)&(a^r)
	if o.kind == flagsAdd {
		r = (a + b) & m
		carry, overflow = r < a, (a^r)&(b^r)
	}
	top := uint(o.size*8 - 1)
	var f uint64
	if carry {
		f |= FlagCF
	}
	if r == 0 {
		f |= FlagZF
	}
	if r>>top&1 != 0 {
		f |= FlagSF
	}
	if overflow>>top&1 != 0 {
		f |= FlagOF
	}
	f |= (a ^ b ^ r) & FlagAF
	if parityTable[uint8(r)] {
		f |= FlagPF
	}
	return r, arFlagString(f)
}

// condCode assembles, for each condition cc, form (a format given the
// condition's suffix and cc): code that leaves a byte at [rdi+cc].
func condCode(t *testing.T, form string) []byte {
	t.Helper()
	var src string
	for cc := range 16 {
		src += fmt.Sprintf(form, dmCCNames[cc], cc)
	}
	return assemble(t, src)
}

// runAfterLazy runs code with RDI at dataBase, starting from the lazy
// flags of o, and returns the CPU and the flags o sets, as letters.
func runAfterLazy(t *testing.T, code []byte, o lazyOp) (*CPU, string) {
	t.Helper()
	c := newTestCPU(t)
	c.R[RDI] = dataBase
	m := sizeMask(o.size)
	r, want := dmArith(o)
	c.setFlags(o.kind, o.size, o.a&m, o.b&m, r)
	runCode(t, c, code)
	return c, want
}

func TestMOV(t *testing.T) {
	const x = 0x1122334455667788
	runArCases(t, []arCase{
		// Register to register, every width; byte registers AH-BH without REX.
		{asm: "mov rax, rbx", in: regs{RBX: x}, want: regs{RAX: x}},
		{asm: "mov eax, ebx", in: regs{RAX: m1, RBX: x}, want: regs{RAX: 0x55667788}},
		{asm: "mov ax, bx", in: regs{RAX: m1, RBX: x}, want: regs{RAX: 0xFFFFFFFFFFFF7788}},
		{asm: "mov al, bl; mov ah, bh", in: regs{RAX: m1, RBX: 0x5678}, want: regs{RAX: 0xFFFFFFFFFFFF5678}},
		{asm: "mov ah, bl", in: regs{RAX: 0, RBX: 0x99}, want: regs{RAX: 0x9900}},
		{asm: "mov sil, bl", in: regs{RSI: m1, RBX: 0x42}, want: regs{RSI: 0xFFFFFFFFFFFFFF42}},
		{asm: "mov r9, r10; mov r11d, r10d", in: regs{R10: x, R11: m1}, want: regs{R9: x, R11: 0x55667788}},
		{asm: ".byte 0x8b, 0xc3", in: regs{RAX: m1, RBX: x}, want: regs{RAX: 0x55667788}},               // 8B: mov eax, ebx
		{asm: ".byte 0x48, 0x8b, 0xc3", in: regs{RBX: x}, want: regs{RAX: x}},                           // 8B: mov rax, rbx
		{asm: ".byte 0x66, 0x8b, 0xc3", in: regs{RAX: m1, RBX: x}, want: regs{RAX: 0xFFFFFFFFFFFF7788}}, // 8B: mov ax, bx
		{asm: ".byte 0x8a, 0xe3", in: regs{RBX: 0x12}, want: regs{RAX: 0x1200}},                         // 8A: mov ah, bl
		// Memory.
		{asm: "mov [rdi+8], rax", in: regs{RAX: x}, wantMem: regs{1: x}},
		{asm: "mov [rdi+8], eax", in: regs{RAX: x}, mem: regs{1: m1}, wantMem: regs{1: 0xFFFFFFFF55667788}},
		{asm: "mov [rdi+9], ax", in: regs{RAX: x}, wantMem: regs{1: 0x778800}},
		{asm: "mov [rdi+15], ah", in: regs{RAX: x}, wantMem: regs{1: 0x7700000000000000}},
		{asm: "mov rbx, [rdi]", mem: regs{0: x}, want: regs{RBX: x}},
		{asm: "mov ebx, [rdi]", in: regs{RBX: m1}, mem: regs{0: x}, want: regs{RBX: 0x55667788}},
		{asm: "mov bx, [rdi]", in: regs{RBX: m1}, mem: regs{0: x}, want: regs{RBX: 0xFFFFFFFFFFFF7788}},
		{asm: "mov bh, [rdi]", in: regs{RBX: m1}, mem: regs{0: x}, want: regs{RBX: 0xFFFFFFFFFFFF88FF}},
		{asm: "mov rax, [rdi+rcx*8+8]", in: regs{RCX: 1}, mem: regs{2: x}, want: regs{RAX: x}},
		{asm: "mov rax, [rdi+rcx*4-8]", in: regs{RCX: 6}, mem: regs{2: x}, want: regs{RAX: x}},
		{asm: "mov rax, [0x200010]", mem: regs{2: x}, want: regs{RAX: x}},
		{asm: "mov rax, [edi+0x10]", in: regs{RDI: 0xFFFFFFFF00000000 | dataBase}, mem: regs{2: x}, want: regs{RAX: x}},
		// Immediates.
		{asm: "mov qword ptr [rdi], -2", mem: regs{0: 0}, wantMem: regs{0: 0xFFFFFFFFFFFFFFFE}},
		{asm: "mov dword ptr [rdi], 0x80000000", mem: regs{0: m1}, wantMem: regs{0: 0xFFFFFFFF80000000}},
		{asm: "mov word ptr [rdi+2], 0x1234", wantMem: regs{0: 0x12340000}},
		{asm: "mov byte ptr [rdi+7], 0xAB", wantMem: regs{0: 0xAB00000000000000}},
		{asm: "mov rax, 0x123456789abcdef0", want: regs{RAX: 0x123456789abcdef0}},
		{asm: "mov eax, 0xFFFFFFFF", in: regs{RAX: x}, want: regs{RAX: 0xFFFFFFFF}},
		{asm: ".byte 0x48, 0xc7, 0xc0; .long -3", want: regs{RAX: 0xFFFFFFFFFFFFFFFD}},     // C7 /0 REX.W
		{asm: ".byte 0xc7, 0xc0; .long -3", in: regs{RAX: x}, want: regs{RAX: 0xFFFFFFFD}}, // C7 /0
		{asm: "mov ax, 0x8001", in: regs{RAX: x}, want: regs{RAX: 0x1122334455668001}},
		{asm: ".byte 0xc6, 0xc4, 0x12", in: regs{RAX: x}, want: regs{RAX: 0x1122334455661288}},             // C6 /0: mov ah, 0x12
		{asm: ".byte 0x41, 0xc6, 0xc4, 0x12", in: regs{R12: m1}, want: regs{R12: 0xFFFFFFFFFFFFFF12}},      // REX.B C6 /0: mov r12b, 0x12
		{asm: ".byte 0x66, 0xc7, 0xc0, 0x34, 0x12", in: regs{RAX: x}, want: regs{RAX: 0x1122334455661234}}, // C7 /0 16-bit
		{asm: "mov al, 0x80; mov ah, 0x7f", in: regs{RAX: x}, want: regs{RAX: 0x1122334455667f80}},
		{asm: "mov r12b, 0x80; mov spl, 1", in: regs{R12: m1}, want: regs{R12: 0xFFFFFFFFFFFFFF80}},
		{asm: "mov r15, -1", want: regs{R15: m1}},
		// MOV moffs (A0-A3).
		{asm: "movabs rax, [0x200008]", mem: regs{1: x}, want: regs{RAX: x}},
		{asm: "movabs eax, [0x200008]", in: regs{RAX: m1}, mem: regs{1: x}, want: regs{RAX: 0x55667788}},
		{asm: "movabs al, [0x200009]", in: regs{RAX: m1}, mem: regs{1: x}, want: regs{RAX: 0xFFFFFFFFFFFFFF77}},
		{asm: "movabs [0x200010], eax", in: regs{RAX: x}, mem: regs{2: m1}, wantMem: regs{2: 0xFFFFFFFF55667788}},
		{asm: "movabs [0x200010], rax", in: regs{RAX: x}, wantMem: regs{2: x}},
		{asm: "movabs [0x200011], al", in: regs{RAX: x}, wantMem: regs{2: 0x8800}},
		{asm: "movabs [0x200012], ax", in: regs{RAX: x}, wantMem: regs{2: 0x77880000}},
		{asm: "addr32 mov eax, [0x200008]", mem: regs{1: x}, want: regs{RAX: 0x55667788}}, // 67 A1 moffs32
		// MOVNTI.
		{asm: "movnti [rdi], rax", in: regs{RAX: x}, wantMem: regs{0: x}},
		{asm: "movnti [rdi+8], eax", in: regs{RAX: x}, mem: regs{1: m1}, wantMem: regs{1: 0xFFFFFFFF55667788}},
		// A memory operand that faults leaves everything unchanged.
		{asm: "mov rax, [rbx]", in: regs{RBX: 0x8000000000000000}, fault: VecGP + 1},
		{asm: "mov [rbx], rax", in: regs{RBX: 0x8000000000000000}, fault: VecGP + 1},
		{asm: "movabs [0x8000000000000000], al", fault: VecGP + 1},
	})
}

func TestMOVExtend(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "movzx eax, bl", in: regs{RAX: m1, RBX: 0x1FF}, want: regs{RAX: 0xFF}},
		{asm: "movzx rax, bl", in: regs{RAX: m1, RBX: 0x180}, want: regs{RAX: 0x80}},
		{asm: "movzx ax, bl", in: regs{RAX: m1, RBX: 0x180}, want: regs{RAX: 0xFFFFFFFFFFFF0080}},
		{asm: "movzx ecx, ah", in: regs{RAX: 0xAB00, RCX: m1}, want: regs{RCX: 0xAB}},
		{asm: "movzx ecx, bh", in: regs{RBX: 0xCD00, RCX: m1}, want: regs{RCX: 0xCD}},
		{asm: "movzx ecx, sil", in: regs{RSI: 0xCD42, RCX: m1}, want: regs{RCX: 0x42}},
		{asm: "movzx r8d, dil", in: regs{RDI: dataBase | 0x7F, R8: m1}, want: regs{R8: 0x7F}},
		{asm: "movzx eax, bx", in: regs{RAX: m1, RBX: 0x18000}, want: regs{RAX: 0x8000}},
		{asm: "movzx rax, word ptr [rdi+2]", mem: regs{0: 0xFFFF0000}, want: regs{RAX: 0xFFFF}},
		{asm: "movzx eax, byte ptr [rdi+1]", in: regs{RAX: m1}, mem: regs{0: 0x8000}, want: regs{RAX: 0x80}},
		{asm: "movzx ax, byte ptr [rdi+1]", in: regs{RAX: m1}, mem: regs{0: 0x8000}, want: regs{RAX: 0xFFFFFFFFFFFF0080}},
		{asm: "movsx rax, bl", in: regs{RBX: 0x80}, want: regs{RAX: 0xFFFFFFFFFFFFFF80}},
		{asm: "movsx eax, bl", in: regs{RAX: m1, RBX: 0x80}, want: regs{RAX: 0xFFFFFF80}},
		{asm: "movsx eax, bl", in: regs{RAX: m1, RBX: 0x7F}, want: regs{RAX: 0x7F}},
		{asm: "movsx ax, bl", in: regs{RAX: 0x1111111111111111, RBX: 0x80}, want: regs{RAX: 0x111111111111FF80}},
		{asm: "movsx ecx, ah", in: regs{RAX: 0x8000, RCX: m1}, want: regs{RCX: 0xFFFFFF80}},
		{asm: "movsx rax, bx", in: regs{RBX: 0x8000}, want: regs{RAX: 0xFFFFFFFFFFFF8000}},
		{asm: "movsx eax, word ptr [rdi]", in: regs{RAX: m1}, mem: regs{0: 0x8001}, want: regs{RAX: 0xFFFF8001}},
		{asm: "movsx rax, byte ptr [rdi]", mem: regs{0: 0xFE}, want: regs{RAX: 0xFFFFFFFFFFFFFFFE}},
		{asm: "movsxd rax, ebx", in: regs{RBX: 0x80000000}, want: regs{RAX: 0xFFFFFFFF80000000}},
		{asm: "movsxd rax, ebx", in: regs{RBX: 0xFFFFFFFF7FFFFFFF}, want: regs{RAX: 0x7FFFFFFF}},
		{asm: "movsxd rax, dword ptr [rdi]", mem: regs{0: 0x1_80000000}, want: regs{RAX: 0xFFFFFFFF80000000}},
		{asm: ".byte 0x63, 0xc3", in: regs{RAX: m1, RBX: 0xFFFFFFFF80000000}, want: regs{RAX: 0x80000000}},   // movsxd eax, ebx
		{asm: ".byte 0x66, 0x63, 0xc3", in: regs{RAX: m1, RBX: 0x8001}, want: regs{RAX: 0xFFFFFFFFFFFF8001}}, // movsxd ax, bx
	})
}

func TestLEA(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "lea rax, [rbx+rcx*4+0x10]", in: regs{RBX: 0x1000, RCX: 3}, want: regs{RAX: 0x101C}},
		{asm: "lea rax, [rbx-8]", in: regs{RBX: 4}, want: regs{RAX: 0xFFFFFFFFFFFFFFFC}},
		{asm: "lea eax, [rbx+rcx]", in: regs{RAX: m1, RBX: 0xFFFFFFFF, RCX: 2}, want: regs{RAX: 1}},
		{asm: "lea ax, [rbx+rcx*2]", in: regs{RAX: m1, RBX: 0xFFFF, RCX: 2}, want: regs{RAX: 0xFFFFFFFFFFFF0003}},
		{asm: "lea rax, [ebx+ecx]", in: regs{RBX: 0xFFFFFFFF, RCX: 2}, want: regs{RAX: 1}},
		{asm: "lea rax, [ebx+0x10]", in: regs{RBX: 0x1_FFFFFFF8}, want: regs{RAX: 8}},
		{asm: "lea rax, [rip]", want: regs{RAX: codeBase + 7}},
		{asm: "lea rax, [rip+0x100]", want: regs{RAX: codeBase + 7 + 0x100}},
		{asm: "lea rax, [rcx*8]", in: regs{RCX: 0x10}, want: regs{RAX: 0x80}},
		{asm: "lea r13, [r12+r13*2+1]", in: regs{R12: 1, R13: 2}, want: regs{R13: 6}},
		{asm: "lea rax, [rsp+8]", want: regs{RAX: stackTop + 8}},
		{asm: "lea rax, fs:[rbx]", in: regs{RBX: 0x40}, want: regs{RAX: 0x40}},
	})
}

// TestLEAIgnoresSegmentBase checks that LEA with an FS override does not add
// the FS base.
func TestLEAIgnoresSegmentBase(t *testing.T) {
	c := runAsm(t, "lea rax, fs:[rbx+8]; mov rcx, fs:[rbx]", func(c *CPU) {
		c.Seg[FS].Base = dataBase
		c.R[RBX] = 0x10
		binary.LittleEndian.PutUint64(c.ram[dataBase+0x10:], 0xABCD)
		c.StateChanged()
	})
	if c.R[RAX] != 0x18 || c.R[RCX] != 0xABCD {
		t.Errorf("RAX %#x (want 0x18), RCX %#x (want 0xabcd)", c.R[RAX], c.R[RCX])
	}
}

func TestXCHGXADD(t *testing.T) {
	const x = 0x1122334455667788
	runArCases(t, []arCase{
		{asm: "xchg rax, rbx", in: regs{RAX: 1, RBX: x}, want: regs{RAX: x, RBX: 1}},
		{asm: "xchg eax, ebx", in: regs{RAX: m1, RBX: x}, want: regs{RAX: 0x55667788, RBX: 0xFFFFFFFF}},
		{asm: "xchg ecx, edx", in: regs{RCX: m1, RDX: x}, want: regs{RCX: 0x55667788, RDX: 0xFFFFFFFF}},
		{asm: ".byte 0x87, 0xc0", in: regs{RAX: x}, want: regs{RAX: 0x55667788}}, // xchg eax, eax (87) zero-extends
		{asm: "nop", in: regs{RAX: x}, want: regs{RAX: x}},                       // 90 is not xchg eax, eax
		{asm: "xchg r8, rax", in: regs{RAX: 1, R8: 2}, want: regs{RAX: 2, R8: 1}},
		{asm: "xchg ax, r9w", in: regs{RAX: m1, R9: x}, want: regs{RAX: 0xFFFFFFFFFFFF7788, R9: 0x112233445566FFFF}},
		{asm: "xchg ah, bl", in: regs{RAX: 0x1200, RBX: 0x34}, want: regs{RAX: 0x3400, RBX: 0x12}},
		{asm: "xchg al, ah", in: regs{RAX: 0x1234}, want: regs{RAX: 0x3412}},
		{asm: "xchg [rdi], rcx", in: regs{RCX: x}, mem: regs{0: 5}, want: regs{RCX: 5}, wantMem: regs{0: x}},
		{asm: "xchg [rdi+4], ecx", in: regs{RCX: m1}, mem: regs{0: x}, want: regs{RCX: 0x11223344}, wantMem: regs{0: 0xFFFFFFFF55667788}},
		{asm: "lock xchg [rdi], cl", in: regs{RCX: 0xAB}, mem: regs{0: x}, want: regs{RCX: 0x88}, wantMem: regs{0: 0x11223344556677AB}},
		// XADD: dest = dest + src, src = old dest, flags of the addition.
		{asm: "xadd rax, rbx", in: regs{RAX: 5, RBX: 7}, want: regs{RAX: 12, RBX: 5}, flags: dmAddFlags(5, 7, 8)},
		{asm: "xadd eax, ebx", in: regs{RAX: 0xFFFFFFFF_FFFFFFFF, RBX: 1}, want: regs{RAX: 0, RBX: 0xFFFFFFFF}, flags: dmAddFlags(0xFFFFFFFF, 1, 4)},
		{asm: "xadd al, bl", in: regs{RAX: 0x7F, RBX: 1}, want: regs{RAX: 0x80, RBX: 0x7F}, flags: dmAddFlags(0x7F, 1, 1)},
		{asm: "xadd ax, bx", in: regs{RAX: 0x8000, RBX: 0x8000}, want: regs{RAX: 0, RBX: 0x8000}, flags: dmAddFlags(0x8000, 0x8000, 2)},
		{asm: "xadd rax, rax", in: regs{RAX: 3}, want: regs{RAX: 6}, flags: dmAddFlags(3, 3, 8)},
		{asm: "lock xadd [rdi], rcx", in: regs{RCX: 2}, mem: regs{0: m1}, want: regs{RCX: m1}, wantMem: regs{0: 1}, flags: dmAddFlags(m1, 2, 8)},
		{asm: "xadd [rdi], ecx", in: regs{RCX: m1}, mem: regs{0: 0x100000008}, want: regs{RCX: 8}, wantMem: regs{0: 0x100000007}, flags: dmAddFlags(8, 0xFFFFFFFF, 4)},
	})
}

func TestCMPXCHG(t *testing.T) {
	const x = 0x1122334455667788
	runArCases(t, []arCase{
		// Success: dest = src, ZF=1, accumulator not written.
		{asm: "cmpxchg rbx, rcx", in: regs{RAX: 5, RBX: 5, RCX: 9}, want: regs{RAX: 5, RBX: 9, RCX: 9}, flags: dmSubFlags(5, 5, 8)},
		{asm: "cmpxchg ebx, ecx", in: regs{RAX: 0xAAAA_AAAA_0000_0005, RBX: 0xBBBB_BBBB_0000_0005, RCX: x},
			want: regs{RAX: 0xAAAA_AAAA_0000_0005, RBX: 0x55667788}, flags: dmSubFlags(5, 5, 4)},
		// Failure: accumulator = dest, register dest untouched.
		{asm: "cmpxchg rbx, rcx", in: regs{RAX: 4, RBX: 5, RCX: 9}, want: regs{RAX: 5, RBX: 5}, flags: dmSubFlags(4, 5, 8)},
		{asm: "cmpxchg ebx, ecx", in: regs{RAX: 0xAAAA_AAAA_0000_0006, RBX: 0xBBBB_BBBB_0000_0005, RCX: x},
			want: regs{RAX: 5, RBX: 0xBBBB_BBBB_0000_0005}, flags: dmSubFlags(6, 5, 4)},
		{asm: "cmpxchg eax, ecx", in: regs{RAX: 0xAAAA_AAAA_0000_0006, RCX: 7}, want: regs{RAX: 7}, flags: dmSubFlags(6, 6, 4)},
		{asm: "cmpxchg bl, cl", in: regs{RAX: 0x1180, RBX: 0x7F, RCX: 1}, want: regs{RAX: 0x117F, RBX: 0x7F}, flags: dmSubFlags(0x80, 0x7F, 1)},
		{asm: "cmpxchg bh, cl", in: regs{RAX: 0x11, RBX: 0x1100, RCX: 0x22}, want: regs{RAX: 0x11, RBX: 0x2200}, flags: dmSubFlags(0x11, 0x11, 1)},
		{asm: "cmpxchg bx, cx", in: regs{RAX: 0, RBX: 0xFFFF_0001, RCX: 2}, want: regs{RAX: 1, RBX: 0xFFFF_0001}, flags: dmSubFlags(0, 1, 2)},
		// Memory: written with src on success, with its own value on failure.
		{asm: "lock cmpxchg [rdi], rcx", in: regs{RAX: x, RCX: 3}, mem: regs{0: x}, want: regs{RAX: x}, wantMem: regs{0: 3}, flags: dmSubFlags(x, x, 8)},
		{asm: "cmpxchg [rdi], rcx", in: regs{RAX: 1, RCX: 3}, mem: regs{0: x}, want: regs{RAX: x}, wantMem: regs{0: x}, flags: dmSubFlags(1, x, 8)},
		{asm: "cmpxchg [rdi+4], ecx", in: regs{RAX: m1, RCX: 3}, mem: regs{0: x}, want: regs{RAX: 0x11223344}, wantMem: regs{0: x}, flags: dmSubFlags(0xFFFFFFFF, 0x11223344, 4)},
		{asm: "cmpxchg [rdi+4], ecx", in: regs{RAX: 0x11223344, RCX: 3}, mem: regs{0: x}, want: regs{RAX: 0x11223344}, wantMem: regs{0: 0x0000000355667788}, flags: "ZP"},
		// CMPXCHG8B/16B change only ZF.
		{asm: "cmpxchg8b [rdi]", in: regs{RAX: 0xFFFF_FFFF_5566_7788, RDX: 0xFFFF_FFFF_1122_3344, RBX: 0xAAAA_AAAA_0000_0001, RCX: 0xBBBB_BBBB_0000_0002},
			mem: regs{0: x}, flagsIn: "CPASO", want: regs{RAX: 0xFFFF_FFFF_5566_7788, RDX: 0xFFFF_FFFF_1122_3344}, wantMem: regs{0: 0x2_00000001}, flags: "CPASOZ"},
		{asm: "cmpxchg8b [rdi+4]", in: regs{RAX: m1, RDX: m1}, mem: regs{0: x, 1: 0xAABBCCDD},
			flagsIn: "Z", want: regs{RAX: 0x11223344, RDX: 0xAABBCCDD}, wantMem: regs{0: x, 1: 0xAABBCCDD}, flags: ""},
		{asm: "cmpxchg16b [rdi]", in: regs{RAX: 1, RDX: 2, RBX: 3, RCX: 4}, mem: regs{0: 1, 1: 2}, flagsIn: "CS",
			want: regs{RAX: 1, RDX: 2}, wantMem: regs{0: 3, 1: 4}, flags: "CSZ"},
		{asm: "lock cmpxchg16b [rdi+16]", in: regs{RAX: 1, RDX: 2, RBX: 3, RCX: 4}, mem: regs{2: 1, 3: 5}, flagsIn: "ZPAO",
			want: regs{RAX: 1, RDX: 5}, wantMem: regs{2: 1, 3: 5}, flags: "PAO"},
		// CMPXCHG16B needs a 16-byte aligned operand.
		{asm: "cmpxchg16b [rdi+8]", in: regs{RAX: 1, RDX: 2, RBX: 3, RCX: 4}, mem: regs{1: 1, 2: 2}, fault: VecGP + 1},
	})
}

// TestCMOVSETcc runs SETcc and CMOVcc for every condition on every
// combination of C, P, Z, S and O.
func TestCMOVSETcc(t *testing.T) {
	var cases []arCase
	for cc := uint8(0); cc < 16; cc++ {
		n := dmCCNames[cc]
		for _, fs := range dmFlagSets() {
			f := arFlags(fs)
			taken := dmCond(cc, f)
			var b uint64
			if taken {
				b = 1
			}
			cases = append(cases,
				arCase{asm: "set" + n + " al; set" + n + " ah; set" + n + " sil; set" + n + " byte ptr [rdi+1]",
					in: regs{RAX: m1, RSI: m1}, mem: regs{0: m1}, flagsIn: fs, flags: fs,
					want: regs{RAX: 0xFFFFFFFFFFFF0000 | b<<8 | b, RSI: 0xFFFFFFFFFFFFFF00 | b}, wantMem: regs{0: 0xFFFFFFFFFFFF00FF | b<<8}})
			w64, w32, w16 := uint64(0x1111111111111111), uint64(0x11111111), uint64(0x1111111111111111)
			if taken {
				w64, w32, w16 = 0x2222222222222222, 0x22222222, 0x1111111111112222
			}
			cases = append(cases,
				arCase{asm: "cmov" + n + " rax, rbx; cmov" + n + " ecx, ebx; cmov" + n + " dx, bx; cmov" + n + " rsi, [rdi]",
					in:  regs{RAX: 0x1111111111111111, RCX: 0x1111111111111111, RDX: 0x1111111111111111, RBX: 0x2222222222222222, RSI: 1},
					mem: regs{0: 0x2222222222222222}, flagsIn: fs, flags: fs,
					want: regs{RAX: w64, RCX: w32, RDX: w16, RSI: map[bool]uint64{true: 0x2222222222222222, false: 1}[taken]}})
		}
	}
	// A CMOV with a false condition still reads (and faults on) its source.
	cases = append(cases, arCase{asm: "cmovz rax, [rbx]", in: regs{RBX: 0x8000000000000000}, fault: VecGP + 1})
	runArCases(t, cases)
}

// TestSETccLazy checks conditions evaluated from lazy flags (set by the
// flag machinery directly, not by RFLAGS) for every condition.
func TestSETccLazy(t *testing.T) {
	ops := []lazyOp{{flagsSub, 5, 5, 8}, {flagsSub, 4, 5, 8}, {flagsSub, 5, 4, 8}, {flagsSub, 0x80, 1, 1},
		{flagsSub, 0x7FFFFFFF, 0xFFFFFFFF, 4}, {flagsSub, 0, 0x8000, 2}, {flagsSub, 3, 0x80000000_00000000, 8}}
	code := condCode(t, "set%s byte ptr [rdi+%d];")
	for _, o := range ops {
		c, flags := runAfterLazy(t, code, o)
		want := arFlags(flags)
		for cc := uint8(0); cc < 16; cc++ {
			exp := uint8(0)
			if dmCond(cc, want) {
				exp = 1
			}
			if got := c.ram[dataBase+uint64(cc)]; got != exp {
				t.Errorf("set%s after %#x-%#x (size %d) = %d, want %d", dmCCNames[cc], o.a, o.b, o.size, got, exp)
			}
		}
	}
}

func TestCBWCWDXLAT(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "cbw", in: regs{RAX: 0x1111_1111_1111_1180}, want: regs{RAX: 0x1111_1111_1111_FF80}},
		{asm: "cbw", in: regs{RAX: 0x1111_1111_1111_117F}, want: regs{RAX: 0x1111_1111_1111_007F}},
		{asm: "cwde", in: regs{RAX: 0x1111_1111_1111_8000}, want: regs{RAX: 0xFFFF_8000}},
		{asm: "cwde", in: regs{RAX: 0x1111_1111_1111_7000}, want: regs{RAX: 0x7000}},
		{asm: "cdqe", in: regs{RAX: 0x1111_1111_8000_0000}, want: regs{RAX: 0xFFFF_FFFF_8000_0000}},
		{asm: "cdqe", in: regs{RAX: 0x1111_1111_7000_0000}, want: regs{RAX: 0x7000_0000}},
		{asm: "cwd", in: regs{RAX: 0x8000, RDX: 0x1111_1111_1111_1111}, want: regs{RDX: 0x1111_1111_1111_FFFF}},
		{asm: "cwd", in: regs{RAX: 0x7000, RDX: 0x1111_1111_1111_1111}, want: regs{RDX: 0x1111_1111_1111_0000}},
		{asm: "cdq", in: regs{RAX: 0x8000_0000, RDX: m1}, want: regs{RDX: 0xFFFF_FFFF}},
		{asm: "cdq", in: regs{RAX: 0xFFFF_FFFF_7000_0000, RDX: m1}, want: regs{RDX: 0}},
		{asm: "cqo", in: regs{RAX: 0x8000_0000_0000_0000}, want: regs{RDX: m1}},
		{asm: "cqo", in: regs{RAX: 0x7000_0000_0000_0000, RDX: m1}, want: regs{RDX: 0}},
		{asm: "xlatb", in: regs{RAX: 0x1234_0005, RBX: dataBase}, mem: regs{0: 0x0000_AB00_0000_0000}, want: regs{RAX: 0x1234_00AB}},
		{asm: "xlatb", in: regs{RAX: 0xFF, RBX: dataBase - 0xF8}, mem: regs{0: 0x77_0000_0000_0000}, want: regs{RAX: 0x00}},
		{asm: "xlatb", in: regs{RAX: 0xFE, RBX: dataBase - 0xF8}, mem: regs{0: 0x77_0000_0000_0000}, want: regs{RAX: 0x77}},
		{asm: "xlatb", in: regs{RAX: 0xFE, RBX: dataBase - 0xF8 - 2}, mem: regs{0: 0x77_0000_0000_0000}, want: regs{RAX: 0x00}},
		{asm: "addr32 xlatb", in: regs{RAX: 0x10, RBX: 0xFFFFFFFF_00000000 | (dataBase - 0x10)}, mem: regs{0: 0x99}, want: regs{RAX: 0x99}},
	})
}

// dmGDT adds descriptors to the test GDT: 0x28 data with base 0x12345000,
// 0x30 not-present data, 0x38 execute-only code, 0x40 data DPL 3, 0x48 data
// read-only.
func dmGDT(c *CPU) {
	put := func(off uint64, v uint64) { binary.LittleEndian.PutUint64(c.ram[testGDT+off:], v) }
	put(0x28, 0x1200_9234_5000_FFFF|0x00CF_0000_0000_0000)
	put(0x30, 0x0000_1200_0000_0000) // P=0, data read/write
	put(0x38, 0x0020_9800_0000_0000) // execute-only 64-bit code
	put(0x40, 0x0000_F200_0000_0000) // data DPL 3
	put(0x48, 0x0000_9000_0000_0000) // read-only data
	c.GDTR.Limit = 0x4F
}

// TestMOVSeg checks MOV to and from segment registers, including the
// descriptor checks and the FS/GS base.
func TestMOVSeg(t *testing.T) {
	ar := newArRunner(t)
	dmGDT(ar.c)
	type tc struct {
		asm   string
		sel   uint64
		seg   int
		fault uint64
		code  uint64 // error code when faulting
		base  uint64
	}
	cases := []tc{
		{asm: "mov ds, ax", sel: 0x10, seg: DS},
		{asm: "mov es, ax", sel: 0x28, seg: ES, base: 0x12345000},
		{asm: "mov fs, ax", sel: 0x28, seg: FS, base: 0x12345000},
		{asm: "mov gs, ax", sel: 0x28, seg: GS, base: 0x12345000},
		{asm: "mov gs, ax", sel: 0, seg: GS, base: 0},
		{asm: "mov fs, ax", sel: 3, seg: FS, base: 0},
		{asm: "mov ss, ax", sel: 0x10, seg: SS},
		{asm: "mov ss, ax", sel: 0, seg: SS},
		{asm: "mov ds, ax", sel: 0x08, seg: DS}, // readable code is allowed
		{asm: "mov ds, ax", sel: 0x40, seg: DS}, // DPL 3 data at CPL 0
		{asm: "mov ds, ax", sel: 0x48, seg: DS},
		{asm: "mov ds, ax", sel: 0x30, fault: VecNP + 1, code: 0x30},
		{asm: "mov ds, ax", sel: 0x38, fault: VecGP + 1, code: 0x38},
		{asm: "mov ds, ax", sel: 0x50, fault: VecGP + 1, code: 0x50},
		{asm: "mov ds, ax", sel: 0x55, fault: VecGP + 1, code: 0x54}, // LDT (limit 0)
		{asm: "mov ss, ax", sel: 0x48, fault: VecGP + 1, code: 0x48}, // read-only
		{asm: "mov ss, ax", sel: 0x40, fault: VecGP + 1, code: 0x40}, // DPL 3
		{asm: "mov ss, ax", sel: 0x13, fault: VecGP + 1, code: 0x10}, // RPL 3
		{asm: "mov ss, ax", sel: 0x30, fault: VecSS + 1, code: 0x30},
		{asm: "mov ss, ax", sel: 0x08, fault: VecGP + 1, code: 0x08},
		{asm: "mov ds, word ptr [rdi]", sel: 0x28, seg: DS, base: 0x12345000},
		{asm: "mov fs, word ptr [rdi]", sel: 0x28, seg: FS, base: 0x12345000},
		{asm: "mov fs, rax", sel: 0x28, seg: FS, base: 0x12345000},
		{asm: ".byte 0x8e, 0xc8", fault: VecUD + 1}, // mov cs, ax
		{asm: ".byte 0x8e, 0xf0", fault: VecUD + 1}, // mov sreg6, ax
	}
	codes := assembleEach(t, cases, func(k tc) string { return k.asm })
	for i, tc := range cases {
		c := ar.c
		for _, s := range []int{DS, ES, SS, FS, GS} {
			c.Seg[s] = Segment{Selector: 0x10, Limit: 0xFFFFFFFF, Attr: 0x93 | SegAttrD | 0x8000}
		}
		c.Seg[FS].Base, c.Seg[GS].Base = 0x777000, 0x888000
		c.StateChanged()
		out := ar.run(codes[i], arState{R: [16]uint64{RAX: 0xFFFF0000 | tc.sel, RDI: dataBase}, Mem: [8]uint64{tc.sel}})
		if out.Fault != tc.fault {
			t.Errorf("%s sel %#x: fault %d, want %d", tc.asm, tc.sel, out.Fault, tc.fault)
			continue
		}
		if tc.fault != 0 {
			if tc.fault != VecUD+1 {
				if code := binary.LittleEndian.Uint64(c.ram[c.R[RSP]:]); code != tc.code {
					t.Errorf("%s sel %#x: error code %#x, want %#x", tc.asm, tc.sel, code, tc.code)
				}
			}
			if c.Seg[DS].Selector != 0x10 || c.Seg[SS].Selector != 0x10 || c.Seg[FS].Base != 0x777000 {
				t.Errorf("%s sel %#x: segment state changed by a faulting load", tc.asm, tc.sel)
			}
			continue
		}
		s := c.Seg[tc.seg]
		if uint64(s.Selector) != tc.sel {
			t.Errorf("%s: selector %#x, want %#x", tc.asm, s.Selector, tc.sel)
		}
		if tc.seg == FS || tc.seg == GS || tc.base != 0 {
			if s.Base != tc.base || c.segBase64[tc.seg] != tc.base && tc.seg >= FS {
				t.Errorf("%s sel %#x: base %#x (linear %#x), want %#x", tc.asm, tc.sel, s.Base, c.segBase64[tc.seg], tc.base)
			}
		}
	}
	// MOV SS blocks interrupts for one instruction.
	c := newTestCPU(t)
	load(c, assemble(t, "mov ss, ax"))
	c.R[RAX] = 0x10
	c.Run(1)
	if !c.intShadow || c.RIP != codeBase+2 {
		t.Errorf("after mov ss: shadow %v RIP %#x", c.intShadow, c.RIP)
	}
}

func TestMOVFromSeg(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "mov eax, ds", in: regs{RAX: m1}, want: regs{RAX: 0x10}},
		{asm: "mov rax, cs", in: regs{RAX: m1}, want: regs{RAX: 0x08}},
		{asm: "mov ax, ss", in: regs{RAX: m1}, want: regs{RAX: 0xFFFFFFFFFFFF0010}},
		{asm: "mov [rdi+2], es", mem: regs{0: m1}, wantMem: regs{0: 0xFFFFFFFF0010FFFF}},
		{asm: ".byte 0x48, 0x8c, 0x0f", mem: regs{0: m1}, wantMem: regs{0: 0xFFFFFFFFFFFF0008}}, // REX.W mov [rdi], cs: 16-bit store
		{asm: ".byte 0x8c, 0xf0", fault: VecUD + 1},                                             // sreg 6
	})
}
