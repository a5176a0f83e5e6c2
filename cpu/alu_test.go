package cpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// Test support shared by the arithmetic families (alu, muldiv, shift, bits,
// flagops tests): a reusable CPU that runs one snippet from a given state,
// exact-value tables, and a comparison against the host CPU.

// arState is the machine state a snippet starts from and ends in: the
// sixteen general registers (RSP is not used), RFLAGS, eight quadwords at
// dataBase, and the exception raised (0: none, else vector+1).
type arState struct {
	R     [16]uint64
	Flags uint64
	Mem   [8]uint64
	Fault uint64
}

const (
	arIDT      = 0x6000 // IDT of the test CPU: every vector v goes to arStubs+v
	arStubs    = 0x7000 // 32 HLT instructions
	arNumState = 26     // uint64 words in an arState
)

// arRunner runs snippets on one CPU, reloading the code when it changes.
type arRunner struct {
	t    testing.TB
	c    *CPU
	code []byte
}

func newArRunner(t testing.TB) *arRunner {
	c := newTestCPU(t)
	// An IDT that sends exception v to a HLT at arStubs+v, so that a
	// fault is observable (and distinguishable from a triple fault).
	for v := uint64(0); v < 32; v++ {
		target := uint64(arStubs + v)
		lo := target&0xFFFF | 0x08<<16 | uint64(0x8E)<<40 | (target>>16&0xFFFF)<<48
		binary.LittleEndian.PutUint64(c.ram[arIDT+v*16:], lo)
		binary.LittleEndian.PutUint64(c.ram[arIDT+v*16+8:], target>>32)
		c.ram[arStubs+v] = 0xF4
	}
	c.IDTR = DTR{Base: arIDT, Limit: 32*16 - 1}
	return &arRunner{t: t, c: c}
}

// run executes code (followed by HLT) from state in and returns the state it
// ends in.
func (ar *arRunner) run(code []byte, in arState) arState {
	ar.t.Helper()
	c := ar.c
	if !bytes.Equal(code, ar.code) {
		load(c, code)
		c.code.flushAll()
		ar.code = append(ar.code[:0], code...)
	}
	c.R = [len(c.R)]uint64{}
	copy(c.R[:16], in.R[:])
	c.R[RSP] = stackTop
	c.SetRFLAGS(in.Flags &^ FlagIF)
	for i, v := range in.Mem {
		binary.LittleEndian.PutUint64(c.ram[dataBase+8*i:], v)
	}
	c.halted = false
	c.RIP = codeBase
	if r := c.Run(1000); r != StopHalt {
		ar.t.Fatalf("run stopped with %v at RIP %#x, want halt", r, c.RIP)
	}
	var out arState
	copy(out.R[:], c.R[:16])
	out.R[RSP] = in.R[RSP]
	out.Flags = c.RFLAGS()
	for i := range out.Mem {
		out.Mem[i] = binary.LittleEndian.Uint64(c.ram[dataBase+8*i:])
	}
	switch {
	case c.RIP == codeBase+uint64(len(code))+1:
	case c.RIP > arStubs && c.RIP <= arStubs+32:
		out.Fault = c.RIP - arStubs
	default:
		ar.t.Fatalf("halted at unexpected RIP %#x", c.RIP)
	}
	return out
}

// arFlags parses a set of status flags written as letters: C P A Z S O.
func arFlags(s string) uint64 {
	var f uint64
	for _, ch := range s {
		switch ch {
		case 'C':
			f |= FlagCF
		case 'P':
			f |= FlagPF
		case 'A':
			f |= FlagAF
		case 'Z':
			f |= FlagZF
		case 'S':
			f |= FlagSF
		case 'O':
			f |= FlagOF
		case 'D':
			f |= FlagDF
		case ' ', '-':
		default:
			panic("bad flag letter " + string(ch))
		}
	}
	return f
}

// arFlagString formats the status flags of f in the letters arFlags reads.
func arFlagString(f uint64) string {
	var b strings.Builder
	for _, x := range []struct {
		bit uint64
		ch  byte
	}{{FlagCF, 'C'}, {FlagPF, 'P'}, {FlagAF, 'A'}, {FlagZF, 'Z'}, {FlagSF, 'S'}, {FlagOF, 'O'}} {
		if f&x.bit != 0 {
			b.WriteByte(x.ch)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// regs gives register values by number (RAX...R15); mem gives quadwords at
// dataBase by index.
type regs map[int]uint64

// arCase is an exact-value test: run asm from registers in (every other
// register zero except RDI = dataBase), memory mem and status flags
// flagsIn; expect the registers and memory quadwords in want and exactly
// the status flags flags (all six are compared unless mask is set). fault,
// when non-zero, is the exception vector+1 expected (and the state must be
// unchanged).
type arCase struct {
	asm     string
	in      regs
	mem     regs
	flagsIn string
	want    regs
	wantMem regs
	flags   string
	mask    uint64
	fault   uint64
}

func runArCases(t *testing.T, cases []arCase) {
	t.Helper()
	ar := newArRunner(t)
	codes := assembleEach(t, cases, func(k arCase) string { return k.asm })
	for i, tc := range cases {
		var in arState
		in.R[RDI] = dataBase
		for r, v := range tc.in {
			in.R[r] = v
		}
		for i, v := range tc.mem {
			in.Mem[i] = v
		}
		in.Flags = 0x2 | arFlags(tc.flagsIn)
		out := ar.run(codes[i], in)
		name := fmt.Sprintf("%s (in %x mem %x flags %s)", tc.asm, map[int]uint64(tc.in), map[int]uint64(tc.mem), arFlagString(in.Flags))
		if out.Fault != tc.fault {
			t.Errorf("%s: fault %d, want %d", name, out.Fault, tc.fault)
			continue
		}
		if tc.fault != 0 {
			if out.R != in.R || out.Mem != in.Mem || out.Flags&FlagsArith != in.Flags&FlagsArith {
				t.Errorf("%s: state changed by faulting instruction", name)
			}
			continue
		}
		for r, v := range tc.want {
			if out.R[r] != v {
				t.Errorf("%s: reg %d = %#x, want %#x", name, r, out.R[r], v)
			}
		}
		for i, v := range tc.wantMem {
			if out.Mem[i] != v {
				t.Errorf("%s: mem[%d] = %#x, want %#x", name, i, out.Mem[i], v)
			}
		}
		mask := tc.mask
		if mask == 0 {
			mask = FlagsArith
		}
		if got, want := out.Flags&mask, arFlags(tc.flags)&mask; got != want {
			t.Errorf("%s: flags %s, want %s", name, arFlagString(got), arFlagString(want))
		}
	}
}

// Host comparison: the same machine code runs on the host CPU (through a
// small C program with a trampoline that loads and stores the register
// state) and on ftvm, from thousands of random states; results, memory and
// the flags the SDM defines must agree. The host is an AMD CPU, so flags the
// SDM leaves undefined are masked out (ftvm follows Intel there).

// arHostCase is one snippet to compare. setup adjusts the random state
// (for example to bound a shift count); mask returns the status flags that
// are defined for that input (nil: all six).
type arHostCase struct {
	asm   string
	setup func(r *rand.Rand, s *arState)
	mask  func(s *arState) uint64
}

const arHostC = `#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NS 26
#define DATA 0x200000UL
uint64_t hst[NS];
void *codeptr;
uint64_t savedsp;
void tramp(void);
__asm__(
".intel_syntax noprefix\n"
".text\n"
".globl tramp\n"
"tramp:\n"
"push rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n"
"mov [rip+savedsp], rsp\n"
"push qword ptr [rip+hst+128]\npopfq\n"
"mov rax, [rip+hst+0]\nmov rcx, [rip+hst+8]\nmov rdx, [rip+hst+16]\nmov rbx, [rip+hst+24]\n"
"mov rbp, [rip+hst+40]\nmov rsi, [rip+hst+48]\nmov rdi, [rip+hst+56]\n"
"mov r8, [rip+hst+64]\nmov r9, [rip+hst+72]\nmov r10, [rip+hst+80]\nmov r11, [rip+hst+88]\n"
"mov r12, [rip+hst+96]\nmov r13, [rip+hst+104]\nmov r14, [rip+hst+112]\nmov r15, [rip+hst+120]\n"
"call qword ptr [rip+codeptr]\n"
"pushfq\npop qword ptr [rip+hst+128]\ncld\n"
"mov [rip+hst+0], rax\nmov [rip+hst+8], rcx\nmov [rip+hst+16], rdx\nmov [rip+hst+24], rbx\n"
"mov [rip+hst+40], rbp\nmov [rip+hst+48], rsi\nmov [rip+hst+56], rdi\n"
"mov [rip+hst+64], r8\nmov [rip+hst+72], r9\nmov [rip+hst+80], r10\nmov [rip+hst+88], r11\n"
"mov [rip+hst+96], r12\nmov [rip+hst+104], r13\nmov [rip+hst+112], r14\nmov [rip+hst+120], r15\n"
"mov rsp, [rip+savedsp]\n"
"pop r15\npop r14\npop r13\npop r12\npop rbp\npop rbx\nret\n"
".att_syntax prefix\n");

static sigjmp_buf env;
static void onsig(int sig) { siglongjmp(env, sig); }

static void rd(void *p, size_t n) {
	if (fread(p, 1, n, stdin) != n) exit(0);
}

int main(void) {
	void *data = mmap((void *)DATA, 4096, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (data != (void *)DATA) { fprintf(stderr, "cannot map data page\n"); return 2; }
	unsigned char *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) { fprintf(stderr, "cannot map code page\n"); return 2; }
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onsig;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGFPE, &sa, 0);
	sigaction(SIGILL, &sa, 0);
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGBUS, &sa, 0);
	codeptr = code;
	for (;;) {
		uint32_t n;
		rd(&n, 4);
		if (n > 4000) return 3;
		rd(code, n);
		code[n] = 0xC3;
		uint32_t cases;
		rd(&cases, 4);
		for (uint32_t i = 0; i < cases; i++) {
			uint64_t in[NS];
			rd(in, sizeof in);
			memcpy(hst, in, sizeof hst);
			memcpy(data, &in[17], 64);
			int sig = sigsetjmp(env, 1);
			if (sig == 0) {
				tramp();
				memcpy(&hst[17], data, 64);
				hst[25] = 0;
			} else {
				memcpy(hst, in, sizeof hst);
				hst[25] = sig == SIGFPE ? 1 : sig == SIGILL ? 7 : 14;
			}
			fwrite(hst, 8, NS, stdout);
		}
		fflush(stdout);
	}
}
`

// arHostBinary compiles the host runner.
func arHostBinary(t *testing.T) string {
	t.Helper()
	gcc := testenv.Program(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "host.c")
	bin := filepath.Join(dir, "host")
	if err := os.WriteFile(src, []byte(arHostC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cannot build the host runner: %v\n%s", err, out)
	}
	return bin
}

// arInteresting returns an operand value biased towards edge cases.
func arInteresting(r *rand.Rand) uint64 {
	special := [...]uint64{0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
		0xFFFFFFFF, 1<<63 - 1, 1 << 63, ^uint64(0), ^uint64(0) - 1, 0x100, 0x10000, 0x100000000}
	switch r.IntN(8) {
	case 0, 1:
		return special[r.IntN(len(special))]
	case 2:
		return r.Uint64N(64)
	case 3:
		return -r.Uint64N(64)
	case 4:
		return signExtend(r.Uint64(), uint8(1<<r.IntN(3)))
	case 5:
		return special[r.IntN(len(special))] ^ 1<<r.IntN(64)
	}
	return r.Uint64()
}

// arRandomState returns a random starting state: random registers, RDI =
// dataBase, random memory and random status flags.
func arRandomState(r *rand.Rand) arState {
	var s arState
	for i := range s.R {
		s.R[i] = arInteresting(r)
	}
	s.R[RSP] = 0
	s.R[RDI] = dataBase
	for i := range s.Mem {
		s.Mem[i] = arInteresting(r)
	}
	s.Flags = 0x202 | r.Uint64()&FlagsArith
	return s
}

// compareWithHost runs every case n times from random states on the host
// and on ftvm and reports differences.
func compareWithHost(t *testing.T, n int, cases []arHostCase) {
	t.Helper()
	bin := arHostBinary(t)
	rng := rand.New(rand.NewPCG(0x5EED, uint64(len(cases))))
	var input bytes.Buffer
	inputs := make([][]arState, len(cases))
	codes := assembleEach(t, cases, func(k arHostCase) string { return k.asm })
	for i, hc := range cases {
		binary.Write(&input, binary.LittleEndian, uint32(len(codes[i])))
		input.Write(codes[i])
		binary.Write(&input, binary.LittleEndian, uint32(n))
		for k := 0; k < n; k++ {
			s := arRandomState(rng)
			if hc.setup != nil {
				hc.setup(rng, &s)
			}
			inputs[i] = append(inputs[i], s)
			binary.Write(&input, binary.LittleEndian, &s)
		}
	}
	cmd := exec.Command(bin)
	cmd.Stdin = &input
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "cannot map") {
			t.Skipf("host runner: %s", stderr.String())
		}
		t.Fatalf("host runner: %v\n%s", err, stderr.String())
	}
	rd := bytes.NewReader(out)
	ar := newArRunner(t)
	for i, hc := range cases {
		bad := 0
		for _, in := range inputs[i] {
			var want arState
			if err := binary.Read(rd, binary.LittleEndian, &want); err != nil {
				t.Fatalf("host runner output: %v", err)
			}
			got := ar.run(codes[i], in)
			mask := uint64(FlagsArith)
			if hc.mask != nil {
				mask = hc.mask(&in)
			}
			mask |= FlagDF
			if got.R != want.R || got.Mem != want.Mem || got.Fault != want.Fault || (got.Flags^want.Flags)&mask != 0 {
				bad++
				if bad <= 5 {
					t.Errorf("%s from %s:\n got  %s\n want %s (flags compared: %s)", hc.asm, arDescribe(in), arDescribe(got),
						arDescribe(want), arFlagString(mask))
				}
			}
		}
		if bad > 5 {
			t.Errorf("%s: %d of %d cases differ", hc.asm, bad, n)
		}
	}
}

// arDescribe formats the interesting part of a state.
func arDescribe(s arState) string {
	var b strings.Builder
	names := [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
	for i, v := range s.R {
		if i == RSP || i == RDI {
			continue
		}
		if i < 4 || v != 0 {
			fmt.Fprintf(&b, "%s=%#x ", names[i], v)
		}
	}
	fmt.Fprintf(&b, "mem=%x flags=%s", s.Mem[:2], arFlagString(s.Flags))
	if s.Fault != 0 {
		fmt.Fprintf(&b, " fault=#%d", s.Fault-1)
	}
	return b.String()
}

// assembleEach assembles the source src returns for each case (one
// assembler run, as assembleMany).
func assembleEach[T any](t testing.TB, cases []T, src func(T) string) [][]byte {
	t.Helper()
	srcs := make([]string, len(cases))
	for i, k := range cases {
		srcs[i] = src(k)
	}
	return assembleMany(t, srcs)
}

// assembleMany assembles several snippets with one run of the assembler and
// returns their machine code.
func assembleMany(t testing.TB, srcs []string) [][]byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("arbase:\n")
	for i, s := range srcs {
		fmt.Fprintf(&b, "ars%d:\n%s\nare%d:\n", i, s, i)
	}
	b.WriteString(".balign 4\n")
	for i := range srcs {
		fmt.Fprintf(&b, ".long ars%d - arbase, are%d - ars%d\n", i, i, i)
	}
	all := assemble(t, b.String())
	table := all[len(all)-8*len(srcs):]
	out := make([][]byte, len(srcs))
	for i := range srcs {
		start := binary.LittleEndian.Uint32(table[8*i:])
		n := binary.LittleEndian.Uint32(table[8*i+4:])
		out[i] = all[start : start+n]
	}
	return out
}

func TestALUExact(t *testing.T) {
	runArCases(t, []arCase{
		// ADD at every width, with the byte registers AH-BH.
		{asm: "add al, bl", in: regs{RAX: 0x112233445566777F, RBX: 1}, want: regs{RAX: 0x1122334455667780}, flags: "ASO"},
		{asm: "add al, bl", in: regs{RAX: 0xFF, RBX: 1}, want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "add ah, bh", in: regs{RAX: 0x1234, RBX: 0xF000}, want: regs{RAX: 0x0234, RBX: 0xF000}, flags: "C"},
		{asm: "add ch, dh", in: regs{RCX: 0x7F00, RDX: 0x0100}, want: regs{RCX: 0x8000}, flags: "ASO"},
		{asm: "add bh, al", in: regs{RBX: 0x10FF, RAX: 0xF0}, want: regs{RBX: 0x00FF}, flags: "CPZ"},
		{asm: "add ax, bx", in: regs{RAX: 0xFFFFFFFFFFFF7FFF, RBX: 1}, want: regs{RAX: 0xFFFFFFFFFFFF8000}, flags: "PASO"},
		{asm: "add eax, ebx", in: regs{RAX: 0xAAAAAAAAFFFFFFFF, RBX: 1}, want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "{load} add eax, ebx", in: regs{RAX: 0xAAAAAAAA7FFFFFFF, RBX: 1}, want: regs{RAX: 0x80000000}, flags: "PASO"},
		{asm: "add rax, rbx", in: regs{RAX: 1 << 63, RBX: 1 << 63}, want: regs{RAX: 0}, flags: "CPZO"},
		{asm: "{load} add rcx, rdx", in: regs{RCX: 5, RDX: 7}, want: regs{RCX: 12, RDX: 7}, flags: "P"},
		{asm: "add al, 0x80", in: regs{RAX: 0x80}, want: regs{RAX: 0}, flags: "CPZO"},
		{asm: "add rax, -1", in: regs{RAX: 1}, want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "add r9d, 0x7fffffff", in: regs{R9: 0xFFFFFFFF00000001}, want: regs{R9: 0x80000000}, flags: "PASO"},
		{asm: "add si, 0x7fff", in: regs{RSI: 0x10001}, want: regs{RSI: 0x18000}, flags: "PASO"},
		// ADC and SBB with and without carry in.
		{asm: "adc eax, ebx", in: regs{RAX: 0xFFFFFFFF}, flagsIn: "C", want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "adc eax, ebx", in: regs{RAX: 0xFFFFFFFF}, want: regs{RAX: 0xFFFFFFFF}, flags: "PS"},
		{asm: "adc rax, rbx", in: regs{RAX: 1<<63 - 1}, flagsIn: "C", want: regs{RAX: 1 << 63}, flags: "PASO"},
		{asm: "adc al, 0xff", in: regs{RAX: 0}, flagsIn: "C", want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "adc rax, rbx", in: regs{RAX: ^uint64(0), RBX: ^uint64(0)}, flagsIn: "C", want: regs{RAX: ^uint64(0)}, flags: "CPAS"},
		{asm: "sbb eax, ebx", flagsIn: "C", want: regs{RAX: 0xFFFFFFFF}, flags: "CPAS"},
		{asm: "sbb al, bl", in: regs{RAX: 0x80}, flagsIn: "C", want: regs{RAX: 0x7F}, flags: "AO"},
		{asm: "sbb rax, rbx", in: regs{RAX: 5, RBX: 7}, want: regs{RAX: ^uint64(1)}, flags: "CAS"},
		{asm: "sbb rax, rbx", in: regs{RAX: 5, RBX: ^uint64(0)}, flagsIn: "C", want: regs{RAX: 5}, flags: "CPA"},
		{asm: "sbb dh, ah", in: regs{RDX: 0x0500, RAX: 0x0500}, flagsIn: "C", want: regs{RDX: 0xFF00}, flags: "CPAS"},
		// SUB and CMP.
		{asm: "cmp rax, rbx", in: regs{RAX: 5, RBX: 5}, want: regs{RAX: 5}, flags: "PZ"},
		{asm: "sub al, 1", in: regs{RAX: 0x100}, want: regs{RAX: 0x1FF}, flags: "CPAS"},
		{asm: "cmp eax, 0x80000000", want: regs{RAX: 0}, flags: "CPSO"},
		{asm: "sub rax, rbx", in: regs{RAX: 1 << 63, RBX: 1}, want: regs{RAX: 1<<63 - 1}, flags: "PAO"},
		{asm: "cmp ah, 0x7f", in: regs{RAX: 0x8000}, want: regs{RAX: 0x8000}, flags: "AO"},
		{asm: "sub bh, ch", in: regs{RBX: 0x0100, RCX: 0x0200}, want: regs{RBX: 0xFF00}, flags: "CPAS"},
		{asm: "sub eax, 0x12345678", in: regs{RAX: 0xFFFFFFFF12345678}, want: regs{RAX: 0}, flags: "PZ"},
		{asm: "{load} sub r10, r11", in: regs{R10: 3, R11: 5}, want: regs{R10: ^uint64(1)}, flags: "CAS"},
		{asm: "cmp rax, -1", in: regs{RAX: ^uint64(0)}, flags: "PZ"},
		{asm: "cmp ax, 0x8000", in: regs{RAX: 0x7FFF}, flags: "CPSO"},
		// Logic: CF, OF and AF cleared.
		{asm: "and eax, ebx", in: regs{RAX: 0xFFFFFFFFF0F0F0F0, RBX: 0x0F0F0F0F}, flagsIn: "CAO", want: regs{RAX: 0}, flags: "PZ"},
		{asm: "or ax, 0x8000", in: regs{RAX: 0x1230001}, flagsIn: "CO", want: regs{RAX: 0x1238001}, flags: "S"},
		{asm: "xor rax, rax", in: regs{RAX: 0x1234}, flagsIn: "CPAZSO", want: regs{RAX: 0}, flags: "PZ"},
		{asm: "xor eax, eax", in: regs{RAX: ^uint64(0)}, want: regs{RAX: 0}, flags: "PZ"},
		{asm: "test al, 0x80", in: regs{RAX: 0x80}, flagsIn: "C", want: regs{RAX: 0x80}, flags: "S"},
		{asm: "test rax, rbx", in: regs{RAX: 3, RBX: 1}, flagsIn: "ZO", want: regs{RAX: 3}, flags: ""},
		{asm: "test ah, ah", in: regs{RAX: 0x8100}, flags: "PS"},
		{asm: "and rax, 0x7fffffff", in: regs{RAX: ^uint64(0)}, want: regs{RAX: 0x7FFFFFFF}, flags: "P"},
		{asm: "and rax, -16", in: regs{RAX: 0x1234567F}, want: regs{RAX: 0x12345670}, flags: ""},
		{asm: "xor r8b, sil", in: regs{R8: 0x1FF, RSI: 0x0F}, want: regs{R8: 0x1F0}, flags: "PS"},
		{asm: "or bh, 1", in: regs{RBX: 0xFF0000}, want: regs{RBX: 0xFF0100}, flags: ""},
		// Memory operands.
		{asm: "add [rdi], rax", in: regs{RAX: 2}, mem: regs{0: 1}, wantMem: regs{0: 3}, flags: "P"},
		{asm: "add rax, [rdi+8]", in: regs{RAX: 1}, mem: regs{1: ^uint64(0)}, want: regs{RAX: 0}, flags: "CPAZ"},
		{asm: "add eax, [rdi+8]", in: regs{RAX: 0xFFFFFFFF00000001}, mem: regs{1: 0x7FFFFFFF}, want: regs{RAX: 0x80000000}, flags: "PASO"},
		{asm: "sub dword ptr [rdi], 1", mem: regs{0: 0xAAAAAAAA00000000}, wantMem: regs{0: 0xAAAAAAAAFFFFFFFF}, flags: "CPAS"},
		{asm: "sub [rdi], ecx", in: regs{RCX: 1}, mem: regs{0: 0x80000000}, wantMem: regs{0: 0x7FFFFFFF}, flags: "PAO"},
		{asm: "cmp qword ptr [rdi], 0x7f", mem: regs{0: 0x7F}, wantMem: regs{0: 0x7F}, flags: "PZ"},
		{asm: "add byte ptr [rdi+1], 0x10", mem: regs{0: 0x1234}, wantMem: regs{0: 0x2234}, flags: "P"},
		{asm: "or [rdi], eax", mem: regs{0: 0xFFFFFFFF00000000}, wantMem: regs{0: 0xFFFFFFFF00000000}, flags: "PZ"},
		{asm: "adc word ptr [rdi], -1", mem: regs{0: 0x50001}, flagsIn: "C", wantMem: regs{0: 0x50001}, flags: "CA"},
		{asm: "add bx, [rdi]", in: regs{RBX: 0x111100008000}, mem: regs{0: 0x8000}, want: regs{RBX: 0x111100000000}, flags: "CPZO"},
		{asm: "sbb [rdi+8], ah", in: regs{RAX: 0x0100}, mem: regs{1: 0x0100}, flagsIn: "C", wantMem: regs{1: 0x01FE}, flags: "CAS"},
		{asm: "lock add [rdi], rax", in: regs{RAX: 1}, mem: regs{0: 1<<63 - 1}, wantMem: regs{0: 1 << 63}, flags: "PASO"},
		{asm: "lock and dword ptr [rdi+4], 0", mem: regs{0: ^uint64(0)}, wantMem: regs{0: 0xFFFFFFFF}, flags: "PZ"},
		{asm: "test [rdi], rcx", in: regs{RCX: 1 << 63}, mem: regs{0: 1 << 63}, wantMem: regs{0: 1 << 63}, flags: "PS"},
		{asm: "test dword ptr [rdi], 0x100", mem: regs{0: 0xFF}, flags: "PZ"},
		{asm: "cmp rbx, [rdi]", in: regs{RBX: 1}, mem: regs{0: 2}, flags: "CPAS"},
		{asm: "xor [rdi+8], rsi", in: regs{RSI: 0xFF}, mem: regs{1: 0x0F}, wantMem: regs{1: 0xF0}, flags: "P"},
		// INC and DEC keep CF.
		{asm: "inc eax", in: regs{RAX: 0x7FFFFFFF}, flagsIn: "C", want: regs{RAX: 0x80000000}, flags: "CPASO"},
		{asm: "inc rax", in: regs{RAX: ^uint64(0)}, want: regs{RAX: 0}, flags: "PAZ"},
		{asm: "dec al", in: regs{RAX: 0x80}, flagsIn: "C", want: regs{RAX: 0x7F}, flags: "CAO"},
		{asm: "dec bh", in: regs{RBX: 0x12}, want: regs{RBX: 0xFF12}, flags: "PAS"},
		{asm: "dec r12d", in: regs{R12: 0x100000001}, flagsIn: "CS", want: regs{R12: 0}, flags: "CPZ"},
		{asm: "inc word ptr [rdi]", mem: regs{0: 0xFFFF}, flagsIn: "C", wantMem: regs{0: 0}, flags: "CPAZ"},
		{asm: "lock inc dword ptr [rdi]", mem: regs{0: 0x111111117FFFFFFF}, wantMem: regs{0: 0x1111111180000000}, flags: "PASO"},
		{asm: "dec qword ptr [rdi+8]", mem: regs{1: 1}, flagsIn: "C", wantMem: regs{1: 0}, flags: "CPZ"},
		{asm: "cmp rax, rbx; inc rcx", in: regs{RAX: 1, RBX: 2}, want: regs{RCX: 1}, flags: "C"},
		{asm: "add rax, rbx; dec rcx", in: regs{RAX: 1, RBX: ^uint64(0), RCX: 0x10}, want: regs{RCX: 0xF}, flags: "CPA"},
		// NEG and NOT.
		{asm: "neg rax", flagsIn: "C", want: regs{RAX: 0}, flags: "PZ"},
		{asm: "neg eax", in: regs{RAX: 0x100000001}, want: regs{RAX: 0xFFFFFFFF}, flags: "CPAS"},
		{asm: "neg al", in: regs{RAX: 0x80}, want: regs{RAX: 0x80}, flags: "CSO"},
		{asm: "neg byte ptr [rdi+8]", mem: regs{1: 0x05}, wantMem: regs{1: 0xFB}, flags: "CAS"},
		{asm: "neg ch", in: regs{RCX: 0x0100}, want: regs{RCX: 0xFF00}, flags: "CPAS"},
		{asm: "neg rbx", in: regs{RBX: 1 << 63}, want: regs{RBX: 1 << 63}, flags: "CPSO"},
		{asm: "not rax", flagsIn: "CZ", want: regs{RAX: ^uint64(0)}, flags: "CZ"},
		{asm: "not ah", in: regs{RAX: 0x1200}, want: regs{RAX: 0xED00}, flags: ""},
		{asm: "not ecx", in: regs{RCX: 0xFFFFFFFF00000000}, flagsIn: "O", want: regs{RCX: 0xFFFFFFFF}, flags: "O"},
		{asm: "not word ptr [rdi]", mem: regs{0: 0x12340000FFFF}, wantMem: regs{0: 0x123400000000}, flags: ""},
	})
}

// arALUForms returns host-comparison snippets for a two-operand ALU op.
func arALUForms(op string) []string {
	if op == "test" {
		return []string{"test rax, rbx", "test eax, ecx", "test dx, si", "test al, bl", "test ah, ch",
			"test bh, dl", "test r9, r10", "test r11b, sil", "test [rdi], rcx", "test [rdi+4], edx",
			"test [rdi+2], si", "test [rdi+3], ah", "test rax, 0x12345678", "test eax, 0x80000001",
			"test ax, 0x8000", "test al, 0x7f", "test bl, 0x81", "test rbx, -2", "test ecx, 0xff",
			"test qword ptr [rdi], -0x100", "test dword ptr [rdi+4], 0x80000000", "test byte ptr [rdi+7], 0x80"}
	}
	return []string{
		op + " rax, rbx", op + " eax, ebx", op + " ax, bx", op + " al, bl", op + " ah, ch", op + " dh, bl",
		"{load} " + op + " rcx, rdx", "{load} " + op + " ecx, edx", "{load} " + op + " si, bp",
		"{load} " + op + " bh, cl", op + " r9d, r10d", op + " r11b, sil", op + " r12, r13",
		op + " rax, [rdi+8]", op + " ebx, [rdi]", op + " cx, [rdi+6]", op + " dh, [rdi+5]",
		op + " [rdi], rcx", op + " [rdi+4], edx", op + " [rdi+2], si", op + " [rdi+3], ah",
		op + " rax, 0x12345678", op + " rbx, -100", op + " eax, -1", op + " ecx, 0x80000000",
		op + " ax, 0x8000", op + " al, 0x7f", op + " bl, 0x80", op + " ch, 1", op + " si, 5", op + " r8w, -3",
		op + " r14, -0x80000000",
		op + " dword ptr [rdi], 0x7fffffff", op + " qword ptr [rdi+8], -5", op + " word ptr [rdi], 0x1234",
		op + " byte ptr [rdi+1], 1", op + " dword ptr [rdi+4], 1", op + " qword ptr [rdi], 0x7f",
	}
}

func TestALUHost(t *testing.T) {
	t.Parallel()
	var cases []arHostCase
	noAF := func(*arState) uint64 { return FlagsArith &^ FlagAF }
	for _, op := range []string{"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"} {
		for _, src := range arALUForms(op) {
			hc := arHostCase{asm: src}
			switch op {
			case "and", "or", "xor", "test":
				hc.mask = noAF // AF is undefined after logic instructions
			}
			cases = append(cases, hc)
		}
	}
	for _, src := range []string{"lock add [rdi], rax", "lock sbb dword ptr [rdi+4], 3", "lock xor [rdi+1], bl",
		"inc rax", "inc eax", "inc ax", "inc al", "inc ah", "inc r13b", "inc qword ptr [rdi]", "lock inc word ptr [rdi+2]",
		"dec rbx", "dec ecx", "dec dx", "dec bh", "dec r10w", "dec dword ptr [rdi+4]", "dec byte ptr [rdi+5]",
		"neg rbx", "neg ecx", "neg dl", "neg ah", "neg r15w", "neg word ptr [rdi]", "lock neg qword ptr [rdi+8]",
		"not rax", "not esi", "not bh", "not r8w", "not byte ptr [rdi]", "not dword ptr [rdi+4]",
		"add rax, rbx; adc rcx, rdx", "sub eax, ebx; sbb ecx, edx", "cmp rax, rbx; inc rcx", "add al, bl; dec ecx"} {
		cases = append(cases, arHostCase{asm: src})
	}
	compareWithHost(t, 300, cases)
}
