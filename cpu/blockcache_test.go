package cpu

import "testing"

// cachedBlocks counts the distinct decoded blocks the cache holds.
func cachedBlocks(c *CPU) int {
	seen := map[*block]bool{}
	for _, l := range c.code.byPage {
		for _, b := range l {
			seen[b] = true
		}
	}
	for _, b := range c.code.byKey {
		seen[b] = true
	}
	return len(seen)
}

// syscallSetup points SYSCALL at label 3 of the snippet (see blockCacheLoops
// and the syscall bench kernel) and drops to CPL 3 at label 2.
const syscallSetup = `mov ecx, 0xC0000081
	xor eax, eax
	mov edx, 0x00100008
	wrmsr
	mov ecx, 0xC0000082
	lea rax, [rip + 3f]
	mov rdx, rax
	shr rdx, 32
	wrmsr
	mov ecx, 0xC0000084
	xor eax, eax
	xor edx, edx
	wrmsr
	lea rcx, [rip + 2f]
	mov r11d, 0x2
	`

// blockCacheLoops run 20000 rounds of a translation change (a CR3 write, an
// INVLPG of a data page, two privilege changes) with a block whose only
// instruction crosses a page boundary (at 0x...FFE) executed in every
// round. misses bounds the lookups that may leave the fast path (0: no
// bound): a CR3 write makes every block's translation be checked again
// unless it is global, an INVLPG only those on its page and those crossing
// pages (here the one crossing block, once a round), a privilege change
// none.
var blockCacheLoops = []struct {
	name   string
	src    string
	setup  func(c *CPU)
	misses uint64
}{
	{"cr3", `mov ecx, 20000
	jmp 2f
	.org 0xffe
	2: mov rax, cr3
	mov cr3, rax
	dec ecx
	jnz 2b`, nil, 0},
	{"cr3 with global pages", `mov ecx, 20000
	jmp 2f
	.org 0xffe
	2: mov rax, cr3
	mov cr3, rax
	dec ecx
	jnz 2b`, globalPages, 20000 + 50},
	{"invlpg", `mov ecx, 20000
	jmp 2f
	.org 0xffe
	2: mov rax, cr3
	invlpg [0x200000]
	dec ecx
	jnz 2b`, nil, 20000 + 50},
	{"syscall", `mov ebx, 20000
	` + syscallSetup + `sysretq
	.org 0xfff
	2: syscall
	jmp 2b
	3: dec ebx
	jz 4f
	sysretq
	4: nop`, userPages, 50},
}

// globalPages sets CR4.PGE and marks the harness's identity map global.
func globalPages(c *CPU) {
	for i := uint64(0); i < 512; i++ {
		put64(c, testPD+i*8, get64(c, testPD+i*8)|1<<8)
	}
	c.CR4 |= CR4PGE
	c.StateChanged()
}

// TestBlockCacheBounded runs blocks through many translation changes: the
// cache must not keep a new copy of a block for each (it used to, for a
// block whose instruction crosses a page: +116 MiB after 200k changes), nor
// decode any block again, and privilege changes and INVLPG must leave the
// blocks on the fast path.
func TestBlockCacheBounded(t *testing.T) {
	for _, tc := range blockCacheLoops {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU(t)
			load(c, assemble(t, tc.src))
			if tc.setup != nil {
				tc.setup(c)
			}
			if r := c.Run(1 << 30); r != StopHalt {
				t.Fatalf("stopped with %v at %#x", r, c.RIP)
			}
			if n := cachedBlocks(c); n > 16 {
				t.Errorf("%d blocks cached after 20000 rounds, want a handful", n)
			}
			if c.code.decodes > 16 {
				t.Errorf("%d blocks decoded in 20000 rounds, want a handful", c.code.decodes)
			}
			if tc.misses != 0 && c.code.misses > tc.misses {
				t.Errorf("%d lookups off the fast path in 20000 rounds, want at most %d", c.code.misses, tc.misses)
			}
		})
	}
}

// TestBlockCacheFollowsRemappedCode runs code at a linear address, maps the
// address to other code, invalidates the translation as software must, and
// runs it again: the new code runs, for 4 KiB and 2 MiB pages, an INVLPG
// anywhere in the page or a CR3 reload, and an instruction whose second
// page is remapped.
func TestBlockCacheFollowsRemappedCode(t *testing.T) {
	const (
		pt      = 0x5000   // page table for 0x600000-0x7FFFFF
		small   = 0x601000 // a 4 KiB code page, remapped to 0x700000
		large   = 0x800000 // a 2 MiB code page, remapped to 0xA00000
		cross   = 0x602FFF // an instruction spanning 0x602000 and 0x603000 (remapped to 0x704000)
		ebx1    = "\xbb\x01\x00\x00\x00\xc3"
		ebx2    = "\xbb\x02\x00\x00\x00\xc3"
		cr3     = "mov rcx, cr3; mov cr3, rcx"
		remapS  = "mov qword ptr [0x5008], 0x700003"
		remapL  = "mov qword ptr [0x3020], 0xA00083"
		remapLG = "mov qword ptr [0x3020], 0xA00183"
		remapC  = "mov qword ptr [0x5018], 0x704003"
	)
	cases := []struct {
		name, target, remap, flush string
		global                     bool // the 2 MiB page is global (CR4.PGE set)
	}{
		{"4k invlpg", "0x601000", remapS, "invlpg [0x601000]", false},
		{"4k invlpg elsewhere in the page", "0x601000", remapS, "invlpg [0x601ff8]", false},
		{"4k cr3 reload", "0x601000", remapS, cr3, false},
		{"2m invlpg elsewhere in the page", "0x800000", remapL, "invlpg [0x9ff000]", false},
		{"2m cr3 reload", "0x800000", remapL, cr3, false},
		{"2m global invlpg", "0x800000", remapLG, "invlpg [0x800000]", true},
		{"2m global CR4.PGE toggle", "0x800000", remapLG, "mov rcx, cr4; xor rcx, 0x80; mov cr4, rcx; xor rcx, 0x80; mov cr4, rcx", true},
		{"crossing, second page invlpg", "0x602fff", remapC, "invlpg [0x603000]", false},
		{"crossing, second page cr3 reload", "0x602fff", remapC, cr3, false},
	}
	for _, k := range cases {
		src := "mov rax, " + k.target + "; call rax; mov r12, rbx; " + k.remap + "; " + k.flush + "; call rax; mov r13, rbx"
		c := runAsm(t, src, func(c *CPU) {
			put64(c, testPD+3*8, pt|3)
			for i := uint64(0); i < 512; i++ {
				put64(c, pt+i*8, 0x600000+i<<12|3)
			}
			copy(c.ram[small:], ebx1)
			copy(c.ram[0x700000:], ebx2)
			copy(c.ram[large:], ebx1)
			copy(c.ram[0xA00000:], ebx2)
			copy(c.ram[cross:], ebx1)
			copy(c.ram[0x704000:], ebx2[1:]) // the second page's bytes after the remap
			if k.global {
				put64(c, testPD+4*8, large|0x183)
				c.CR4 |= CR4PGE
			}
			c.StateChanged()
		})
		if c.R[R12] != 1 || c.R[R13] != 2 {
			t.Errorf("%s: before remap EBX %d, after %d; want 1, 2", k.name, c.R[R12], c.R[R13])
		}
	}
}

// TestBlockRunsThroughBranchNotTaken checks that a conditional branch (Jcc,
// LOOP) does not end a decoded block: the block goes on past a branch not
// taken, a taken one leaves it, and a budget stops it at an exact position
// after the branch.
func TestBlockRunsThroughBranchNotTaken(t *testing.T) {
	const src = `xor eax, eax
	jnz 1f
	inc eax
	1: inc eax
	test eax, eax
	jnz 2f
	inc eax
	2: inc eax
	mov ecx, 1
	loop 3f
	inc eax
	3: hlt`
	c := runAsm(t, src, nil)
	if got := c.R[RAX]; got != 4 {
		t.Errorf("RAX = %d, want 4 (a Jcc not taken, one taken, a LOOP not taken)", got)
	}
	if b := c.code.byKey[blockKey{phys: codeBase, rip: codeBase, csize: Code64}]; b == nil || len(b.insts) != 12 {
		t.Fatalf("block at the start: %+v, want the 12 instructions to HLT", b)
	}

	code := assemble(t, src)
	for budget := uint64(1); budget <= 11; budget++ {
		c := newTestCPU(t)
		load(c, code)
		if r := c.Run(budget); r != StopBudget {
			t.Fatalf("budget %d: stopped with %v", budget, r)
		}
		ref := newTestCPU(t)
		load(ref, code)
		for range budget {
			ref.Run(1)
		}
		if c.Retired != budget || c.RIP != ref.RIP || c.R[RAX] != ref.R[RAX] {
			t.Errorf("budget %d: retired %d RIP %#x RAX %d, one at a time: RIP %#x RAX %d",
				budget, c.Retired, c.RIP, c.R[RAX], ref.RIP, ref.R[RAX])
		}
	}
}

// TestLoopBlockRunsAgain checks that a block whose branch back to its own
// start is taken runs again without a lookup, and that every budget still
// stops at the position single steps reach, a self-modifying loop included.
func TestLoopBlockRunsAgain(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		rax     uint64
		entered uint // most blocks entered by lookup
	}{
		{"loop", `mov ecx, 10
	xor eax, eax
	1: add eax, 3
	dec ecx
	jnz 1b
	hlt`, 30, 3},
		// The store rewrites the ADD's immediate (3 -> 5) in the first
		// round: the block must be decoded again for the next rounds.
		{"writes its own code", `mov ecx, 10
	xor eax, eax
	head: add eax, 3
	mov byte ptr [rip + head + 2], 5
	dec ecx
	jnz head
	hlt`, 3 + 9*5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := runAsm(t, tt.src, nil)
			if got := c.R[RAX]; got != tt.rax {
				t.Errorf("RAX = %d, want %d", got, tt.rax)
			}
			if tt.entered != 0 && c.nrecent > tt.entered {
				t.Errorf("%d blocks entered by lookup, want at most %d: the loop's block was looked up again", c.nrecent, tt.entered)
			}
			code := assemble(t, tt.src)
			for budget := uint64(1); budget <= 45; budget++ {
				c := newTestCPU(t)
				load(c, code)
				r := c.Run(budget)
				ref := newTestCPU(t)
				load(ref, code)
				var rr StopReason
				for range budget {
					if rr = ref.Run(1); rr != StopBudget {
						break
					}
				}
				if r != rr || c.Retired != ref.Retired || c.RIP != ref.RIP || c.R[RAX] != ref.R[RAX] || c.R[RCX] != ref.R[RCX] {
					t.Errorf("budget %d: %v retired %d RIP %#x RAX %d RCX %d, one at a time: %v retired %d RIP %#x RAX %d RCX %d",
						budget, r, c.Retired, c.RIP, c.R[RAX], c.R[RCX], rr, ref.Retired, ref.RIP, ref.R[RAX], ref.R[RCX])
				}
			}
		})
	}
}
