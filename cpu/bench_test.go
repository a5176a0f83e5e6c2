package cpu

import (
	"testing"
)

// Interpreter throughput on small integer kernels. Each reports guest
// instructions per second as "Minsn/s" next to the usual ns/op.

var benchKernels = []struct {
	name string
	src  string
}{
	// Register ALU work and a counted loop: the dispatch cost.
	{"alu", `mov ecx, 100000
	1: add rax, rcx
	xor rdx, rax
	lea rbx, [rbx+rax*2+1]
	sub rdx, rbx
	dec ecx
	jnz 1b`},
	// Loads and stores through the TLB.
	{"memory", `mov ecx, 100000
	mov rsi, 0x200000
	1: mov rax, [rsi]
	add rax, rcx
	mov [rsi+8], rax
	mov rdx, [rsi+8]
	add [rsi], rdx
	dec ecx
	jnz 1b`},
	// Calls and returns.
	{"call", `mov ecx, 100000
	1: call 2f
	dec ecx
	jnz 1b
	jmp 3f
	2: add rax, 1
	ret
	3: nop`},
}

func BenchmarkKernels(b *testing.B) {
	for _, k := range benchKernels {
		b.Run(k.name, func(b *testing.B) {
			code := assemble(b, k.src)
			c := newTestCPU(b)
			load(c, code)
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
