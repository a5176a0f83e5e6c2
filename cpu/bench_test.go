package cpu

import (
	"fmt"
	"strings"
	"testing"
)

// Interpreter throughput on small integer and SSE kernels. Each reports guest
// instructions per second as "Minsn/s" next to the usual ns/op.

var benchKernels = []struct {
	name   string
	src    string
	setup  func(c *CPU) // prepares the CPU after the code is loaded (nil: nothing)
	code32 bool         // 32-bit code in protected mode (newTestCPU32)
}{
	// Register ALU work and a counted loop: the dispatch cost.
	{"alu", `mov ecx, 100000
	1: add rax, rcx
	xor rdx, rax
	lea rbx, [rbx+rax*2+1]
	sub rdx, rbx
	dec ecx
	jnz 1b`, nil, false},
	// Loads and stores through the TLB.
	{"memory", memoryLoop("r", 0x200000), nil, false},
	// Calls and returns.
	{"call", `mov ecx, 100000
	1: call 2f
	dec ecx
	jnz 1b
	jmp 3f
	2: add rax, 1
	ret
	3: nop`, nil, false},
	// String instructions under REP, each iteration one position: a 4 KiB
	// byte copy, a 4 KiB quadword fill and a 1 KiB byte scan that finds
	// nothing.
	{"string", `mov ebx, 100
	mov al, 0xFF
	1: mov rsi, 0x200000
	mov rdi, 0x201000
	mov ecx, 4096
	rep movsb
	mov rdi, 0x202000
	mov ecx, 512
	rep stosq
	mov rdi, 0x201000
	mov ecx, 1024
	repne scasb
	dec ebx
	jnz 1b`, nil, false},
	// System calls: user code calls SYSCALL in a loop, the kernel handler
	// returns with SYSRETQ; two privilege changes per five instructions.
	{"syscall", `mov ebx, 100000
	` + syscallSetup + `sysretq
	2: syscall
	jmp 2b
	3: dec ebx
	jz 4f
	sysretq
	4: nop`, userPages, false},
	// SSE2 scalar binary64 arithmetic (softfp's round-to-nearest path): a
	// multiply-add recurrence and a division per iteration.
	{"sse-scalar", `mov eax, 3
	cvtsi2sd xmm1, eax
	mov eax, 7
	cvtsi2sd xmm2, eax
	divsd xmm1, xmm2
	movapd xmm0, xmm1
	mov ecx, 100000
	1: mulsd xmm0, xmm1
	addsd xmm0, xmm2
	divsd xmm0, xmm2
	dec ecx
	jnz 1b`, nil, false},
	// SSE packed binary32 arithmetic: four lanes per instruction.
	{"sse-packed", `mov eax, 3
	cvtsi2ss xmm1, eax
	shufps xmm1, xmm1, 0
	mov eax, 7
	cvtsi2ss xmm2, eax
	shufps xmm2, xmm2, 0
	divps xmm1, xmm2
	movaps xmm0, xmm1
	mov ecx, 100000
	1: mulps xmm0, xmm1
	addps xmm0, xmm2
	sqrtps xmm0, xmm0
	dec ecx
	jnz 1b`, nil, false},
	// x87 extended-precision arithmetic: a recurrence on the register stack
	// (x = ((x + 1) × pi / 3) / pi², which stays near 0.1), a memory
	// operand and FCOMI.
	{"x87", `fninit
	fldpi
	fld1
	fldz
	mov rsi, 0x200000
	mov qword ptr [rsi], 3
	mov ecx, 100000
	1: fadd st(0), st(1)
	fmul st(0), st(2)
	fidiv dword ptr [rsi]
	fdiv st(0), st(2)
	fdiv st(0), st(2)
	fcomi st(0), st(1)
	dec ecx
	jnz 1b`, nil, false},
	// Address-space switches: CR3 reloaded in a loop, the code on a page
	// that is not global, then on a global page (kept across CR3 writes).
	// SSE2: a strlen-style scan (aligned load, PCMPEQB, PMOVMSKB) and a
	// 16-byte copy with integer lane work (PADDB, PSHUFD, PXOR) over a
	// 4 KiB buffer.
	{"sse", `mov ecx, 100
	pxor xmm0, xmm0
	1: mov rsi, 0x200000
	mov edx, 256
	2: movdqa xmm1, [rsi]
	pcmpeqb xmm1, xmm0
	pmovmskb eax, xmm1
	movdqu xmm2, [rsi+1]
	paddb xmm2, xmm1
	pshufd xmm3, xmm2, 0x1b
	pxor xmm3, xmm2
	movdqa [rsi+0x1000], xmm3
	add rsi, 16
	dec edx
	jnz 2b
	dec ecx
	jnz 1b`, nil, false},
	{"cr3", cr3Loop, nil, false},
	{"cr3-global", cr3Loop, globalPages, false},
	// The memory kernel in 32-bit protected mode: with flat segments (no
	// segment checks), and through a DS with a base and a limit.
	{"memory32", memory32, nil, true},
	{"memory32-seg", "mov ax, 0x38; mov ds, ax; " + memory32, nil, true},
}

var memory32 = memoryLoop("e", 0x2000)

// memoryLoop is the memory kernel with registers of prefix r (64-bit) or e
// (32-bit) on the words at base.
func memoryLoop(r string, base int) string {
	return strings.NewReplacer("%r", r, "%base", fmt.Sprint(base)).Replace(`mov ecx, 100000
	mov %rsi, %base
	1: mov %rax, [%rsi]
	add %rax, %rcx
	mov [%rsi+8], %rax
	mov %rdx, [%rsi+8]
	add [%rsi], %rdx
	dec ecx
	jnz 1b`)
}

const cr3Loop = `mov ecx, 100000
	1: mov rax, cr3
	mov cr3, rax
	dec ecx
	jnz 1b`

func BenchmarkKernels(b *testing.B) {
	for _, k := range benchKernels {
		b.Run(k.name, func(b *testing.B) {
			code, c := []byte(nil), (*CPU)(nil)
			if k.code32 {
				code, c = assemble32(b, k.src), newTestCPU32(b)
			} else {
				code, c = assemble(b, k.src), newTestCPU(b)
			}
			load(c, code)
			if k.setup != nil {
				k.setup(c)
			}
			var insns uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.RIP = codeBase
				c.halted = false
				start := c.Retired
				if r := c.Run(1 << 40); r != StopHalt {
					b.Fatalf("stopped with %v at %#x", r, c.RIP)
				}
				insns += c.Retired - start
			}
			b.ReportMetric(float64(insns)/b.Elapsed().Seconds()/1e6, "Minsn/s")
		})
	}
}
