package cpu

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// kindsProgram has at least one instruction of every handler kind the run
// loop's switch dispatches (TestKindsProgramCoversEveryKind checks it),
// operating on data at dataBase (RSI) and on the stack. {load} makes the
// assembler pick the G, E encoding (opcode 03, 8B, ...) of a register to
// register operation.
var kindsProgram = func() string {
	var b strings.Builder
	b.WriteString(`mov esi, 0x200000
	mov rsi, 0x200000
	mov rax, 0x123456789abcdef
	mov rbx, -5
	mov ecx, 2
	nop
	mov rdx, rax; mov edx, eax; {load} mov rdx, rax; {load} mov edx, eax
	lea rdx, [rax+rbx*4+8]; lea rdx, [rax+8]
	inc rax; inc eax; dec rax; dec eax
	imul rax, rbx
	shl rax, 3; shr rax, 2; shl rax, cl; shr rax, cl
	cmp rax, rbx; cmovl rax, rbx
	mov qword ptr [rsi+8], 0x5a5a
	`)
	for _, op := range []string{"add", "or", "and", "sub", "xor", "cmp"} {
		fmt.Fprintf(&b, "%[1]s rax, rbx; {load} %[1]s rax, rbx; %[1]s rax, 0x1234; %[1]s eax, ebx; {load} %[1]s eax, ebx; %[1]s eax, 77; %[1]s rax, [rsi+8]; %[1]s eax, [rsi+8]\n", op)
	}
	b.WriteString(`test rax, rbx; test rax, 0x100; test eax, ebx; test eax, 0x100
	mov rax, [rsi+16]; mov rax, [rsi+rcx*8+16]; mov eax, [rsi+4]
	mov [rsi+24], rax; mov [rsi+rcx*8+24], rax; mov [rsi+28], eax
	movzx eax, byte ptr [rsi+3]
	mov byte ptr [rsi+40], 7; mov dword ptr [rsi+44], 7; mov qword ptr [rsi+48], -7
	movzx eax, bl; movsxd rax, ebx
	sete al; sete byte ptr [rsi+56]
	add al, bl; add byte ptr [rsi+57], 3
	test al, bl; cmp bl, 5; test bl, 3; cmp byte ptr [rsi+57], 3; test byte ptr [rsi+57], 3
	push rax; pop rdx
	call 1f
	jmp 2f
	1: ret
	2: nop
	`)
	for i, j := range []string{"jb", "jnb", "jz", "jnz", "jbe", "ja", "js", "jns", "jl", "jge", "jle", "jg"} {
		// Each condition once taken and once not, after a compare whose
		// result the step before changed.
		fmt.Fprintf(&b, "add rbx, 0x%x; cmp rbx, rax; %s 3f; inc rdx; 3: cmp rax, rbx; %s 4f; inc rdx; 4: nop\n", 0x1f3b*(i+1), j, j)
	}
	// Each of the other pairs once.
	for _, p := range superPairsAsm {
		fmt.Fprintf(&b, "add rbx, 0x77; %s; %s\n", p[0], p[1])
	}
	// Each fused branch pair once, after a step that changed the
	// registers it reads.
	n := 0
	for _, fu := range fusedPairs {
		for _, f := range fu.firsts {
			for _, j := range fu.jccs {
				n++
				fmt.Fprintf(&b, "add rbx, 0x%x; xor rax, rbx; %s; %s 5f; inc rdx; 5: nop\n", 0x2d9b*n, f, j)
			}
		}
	}
	return b.String()
}()

// superPairsAsm are the pairs runBlocks runs together that do not end in
// a conditional branch, in assembly (a CALL's target returns at once).
var superPairsAsm = [][2]string{
	{"mov rdx, rax", "mov edx, eax"}, {"add rax, rbx", "cmp rax, rbx"}, {"mov edx, eax", "shr rdx, 2"},
	{"imul rax, rbx", "imul rdx, rbx"}, {"imul rax, rbx", "mov rdx, rax"}, {"mov rdx, rax", "mov rcx, rdx"},
	{"mov rdx, rax", "imul rdx, rbx"}, {"xor eax, ebx", "mov edx, eax"}, {"mov rdx, rax", "call 7f; jmp 8f; 7: ret; 8:"},
	{"add eax, ebx", "mov edx, eax"}, {"add rax, rbx", "add rdx, rbx"}, {"mov rdx, rax", "push rax; pop rdx"},
	{"nop", "push rax; pop rdx"}, {"cmp rax, rbx", "mov rdx, rax"}, {"mov rdx, rax", "cmovl rdx, rbx"},
	{"mov edx, eax", "add edx, ebx"}, {"add rax, rbx", "mov rdx, rax"}, {"cmp rax, rbx", "setl dl"},
	{"mov rdx, rax", "add rdx, rbx"}, {"shl rax, 3", "add rax, rbx"}, {"shr rax, 3", "add rax, rbx"},
	{"cmovl rax, rbx", "add rax, rbx"}, {"lea rdx, [rax+rbx*4+8]", "mov rax, rdx"}, {"shr rax, 3", "mov rdx, rax"},
	{"add eax, ebx", "mov byte ptr [rsi+40], 7"}, {"shr rax, cl", "add eax, 77"},
}

// fusedPairs are the pairs runBlocks fuses (pairKinds), in assembly.
var fusedPairs = func() []struct{ firsts, jccs []string } {
	all := []string{"jb", "jnb", "jz", "jnz", "jbe", "ja", "js", "jns", "jl", "jge", "jle", "jg"}
	return []struct{ firsts, jccs []string }{
		{[]string{"cmp rax, rbx", "cmp eax, ebx", "cmp rax, 0x1234", "cmp eax, 77", "sub rax, 0x1234"}, all},
		{[]string{"test rax, rbx", "test eax, ebx", "test eax, 0x100", "add eax, 77", "add rax, 77"}, []string{"jz", "jnz", "js", "jns"}},
	}
}()

// TestFusedPairsBranchAsApart runs each fused pair on operands at the
// edges of every condition (equal, either side of zero and of the signed
// and unsigned limits, equal to the immediate), fused and with every
// handler called through Inst.fn, and compares where each branch went.
func TestFusedPairsBranchAsApart(t *testing.T) {
	as := []uint64{0, 1, 77, 0x1234, 0x7fffffff, 0x80000000, 1 << 63, ^uint64(0), ^uint64(76), ^uint64(0x1233)}
	bs := []uint64{0, 1, 77, 0x7fffffff, 0x80000000, ^uint64(0)}
	var src strings.Builder
	src.WriteString("mov esi, 0x200000\n")
	k := 0
	for _, fu := range fusedPairs {
		for _, f := range fu.firsts {
			for _, j := range fu.jccs {
				for _, a := range as {
					for _, b := range bs {
						// Not taken, the branch's own bit in the data page is set.
						fmt.Fprintf(&src, "mov rax, %#x; mov rbx, %#x; %s; %s 1f; or byte ptr [rsi+%d], %d; 1:\n",
							a, b, f, j, k%4096, 1<<(k/4096))
						k++
					}
				}
			}
		}
	}
	src.WriteString("hlt\n")
	code := assemble(t, src.String())
	run := func(byCall bool) (string, string) {
		c := newTestCPU(t)
		c.dispatchByCall = byCall
		load(c, code)
		for r := StopBudget; r == StopBudget; {
			r = c.Run(1 << 20)
		}
		return dispatchState(c), fmt.Sprintf("%x", c.ram[dataBase:dataBase+4096])
	}
	if k > 8*4096 {
		t.Fatalf("%d cases: more than the data page can tell apart", k)
	}
	kind, kindData := run(false)
	call, callData := run(true)
	if kind != call {
		t.Errorf("fused:\n%s\nby call:\n%s", kindData, callData)
	}
}

// TestSuperPairsRunAsApart runs each pair of superPairsAsm from several
// register values, storing RAX, RDX and RFLAGS after it, with the pairs
// fused and with every handler called through Inst.fn, and compares what
// was stored.
func TestSuperPairsRunAsApart(t *testing.T) {
	vals := [][2]uint64{{0x123456789abcdef, ^uint64(4)}, {0xffffffff80000000, 0x7fffffff}, {0, 0}, {^uint64(0), 1}}
	var src strings.Builder
	src.WriteString("mov esi, 0x200000\nmov ecx, 5\n")
	k := 0
	for _, p := range superPairsAsm {
		for _, v := range vals {
			fmt.Fprintf(&src, "mov rax, %#x; mov rbx, %#x; lea rdx, [rbx]; %s; %s\n", v[0], v[1], p[0], p[1])
			fmt.Fprintf(&src, "mov [rsi+%d], rax; mov [rsi+%d], rdx; pushfq; pop qword ptr [rsi+%d]\n", 24*k, 24*k+8, 24*k+16)
			k++
		}
	}
	src.WriteString("hlt\n")
	if 24*k > 4096 {
		t.Fatalf("%d cases do not fit the data page", k)
	}
	code := assemble(t, src.String())
	run := func(byCall bool) (*CPU, string) {
		c := newTestCPU(t)
		c.dispatchByCall = byCall
		load(c, code)
		for r := StopBudget; r == StopBudget; {
			r = c.Run(1 << 20)
		}
		return c, fmt.Sprintf("%x", c.ram[dataBase:dataBase+24*k])
	}
	c, kind := run(false)
	_, call := run(true)
	seen := map[uint8]bool{}
	for _, b := range c.code.byKey {
		for _, in := range b.insts {
			seen[in.kind] = true
		}
	}
	for _, p := range pairKinds {
		if !p.branch && !seen[p.pair] {
			t.Errorf("no pair of kind %d (%s, %s) ran fused", p.pair, handlerName(kindHandlers[p.first]), handlerName(kindHandlers[p.second]))
		}
	}
	if kind != call {
		for i := 0; i < k; i++ {
			if a, b := kind[48*i:48*i+48], call[48*i:48*i+48]; a != b {
				t.Errorf("%s; %s from %#x: fused stored %s, apart %s", superPairsAsm[i/len(vals)][0], superPairsAsm[i/len(vals)][1], vals[i%len(vals)], a, b)
			}
		}
	}
}

// dispatchState is what the dispatch tests compare: the registers, RIP,
// RFLAGS, the position and the data and stack pages.
func dispatchState(c *CPU) string {
	return fmt.Sprintf("R=%x RIP=%#x RFLAGS=%#x retired=%d data=%x stack=%x",
		c.R[:16], c.RIP, c.flags(), c.Retired, c.ram[dataBase:dataBase+4096], c.ram[stackTop-4096:stackTop])
}

// TestKindsProgramCoversEveryKind checks that kindsProgram decodes to every
// kind, so the tests below run the inlined body of each.
func TestKindsProgramCoversEveryKind(t *testing.T) {
	c := runAsm(t, kindsProgram, nil)
	var seen [int(numKinds) + len(pairKinds)]bool
	for _, b := range c.code.byKey {
		for _, in := range b.insts {
			seen[in.kind] = true
		}
	}
	for k := kindEnd + 1; k < numKinds; k++ {
		if !seen[k] {
			t.Errorf("kindsProgram has no instruction of kind %d (%s)", k, handlerName(kindHandlers[k]))
		}
	}
	for _, p := range pairKinds {
		if !seen[p.pair] {
			t.Errorf("kindsProgram has no pair of kind %d (%s, %s)", p.pair, handlerName(kindHandlers[p.first]), handlerName(kindHandlers[p.second]))
		}
	}
}

// TestDispatchByKindMatchesCall runs kindsProgram in runs of a few
// instructions, and then the bench kernels whole, both with the switch
// and with every handler called through Inst.fn, and compares the state
// after each run.
func TestDispatchByKindMatchesCall(t *testing.T) {
	code := assemble(t, kindsProgram)
	// Runs of n instructions: one at a time, and lengths that cut blocks
	// and fused pairs at every place.
	for _, n := range []uint64{1, 2, 3, 5, 7, 11, 13, 1 << 20} {
		t.Run(fmt.Sprintf("runs of %d", n), func(t *testing.T) {
			byKind, byCall := newTestCPU(t), newTestCPU(t)
			byCall.dispatchByCall = true
			load(byKind, code)
			load(byCall, code)
			for step := 0; ; step++ {
				rk, rc := byKind.Run(n), byCall.Run(n)
				if k, c := dispatchState(byKind), dispatchState(byCall); rk != rc || k != c {
					t.Fatalf("run %d: by kind %v %s\nby call %v %s", step, rk, k, rc, c)
				}
				if rk == StopHalt {
					break
				}
				if step > 10000 {
					t.Fatal("kindsProgram did not halt")
				}
			}
		})
	}
	for _, k := range benchKernels {
		if k.code32 {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			run := func(byCall bool) string {
				c := newTestCPU(t)
				c.dispatchByCall = byCall
				load(c, assemble(t, k.src))
				if k.setup != nil {
					k.setup(c)
				}
				// Budgets that end blocks at odd places.
				for r := StopBudget; r == StopBudget; {
					r = c.Run(7919)
				}
				return dispatchState(c)
			}
			if byKind, byCall := run(false), run(true); byKind != byCall {
				t.Errorf("by kind %s\nby call %s", byKind, byCall)
			}
		})
	}
}

// handlerName names h for messages.
func handlerName(h handler) string {
	return runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
}
