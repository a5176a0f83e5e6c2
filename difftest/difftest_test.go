package difftest

import (
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"testing"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/internal/testenv"
	"ftvm/machine"
)

// otherCPU is a reference that models another correct x86-64 processor:
// the interpreter's execution, except that after every instruction the
// status flags the SDM leaves undefined come out inverted (a different
// host CPU model). With native set it runs user-mode code whole to the
// next kernel entry, as PVM does. breakAt, if not zero, also inverts CF
// (a defined flag) after the breakAt'th ADD: a real difference.
type otherCPU struct {
	m       *machine.Machine
	native  bool
	breakAt int
	adds    int
	acks    *countingSource
	flipped int // instructions whose undefined flags were inverted
}

func newOtherCPU(s *side, native bool) *otherCPU {
	o := &otherCPU{m: s.m, native: native}
	o.acks = &countingSource{InterruptSource: s.m.CPU.InterruptSource()}
	s.m.CPU.SetInterruptSource(o.acks)
	return o
}

// undefinedBits returns the flags inst, executed by c (before it), leaves
// undefined: for the instructions whose rules are simple (shifts by their
// masked count, multiplications, logic, bit tests and scans, divisions).
func undefinedBits(inst disasm.Inst, c *cpu.CPU) uint64 {
	dc := dontCareByMnemonic[inst.Mnemonic]
	if dc == nil {
		return 0
	}
	switch inst.Mnemonic {
	case "shl", "sal", "shr", "sar":
		ops := strings.Split(strings.TrimPrefix(inst.Text, inst.Mnemonic), ",")
		count := uint64(1)
		if last := strings.TrimSpace(ops[len(ops)-1]); last == "cl" {
			count = c.R[cpu.RCX]
		} else if len(ops) > 1 {
			count, _ = strconv.ParseUint(last, 0, 64)
		}
		if i, ok := destReg(inst); ok && strings.Contains(ops[0], cpu.RegNames[i]) || strings.Contains(ops[0], "qword") {
			count &= 63
		} else {
			count &= 31
		}
		switch {
		case count == 0:
			return 0 // flags unaffected
		case count == 1:
			return fAF
		}
		return fAF | fOF
	case "mul", "imul", "and", "or", "xor", "test", "bt", "bts", "btr", "btc", "bsf", "bsr", "div", "idiv":
		return dc.undefined
	}
	return 0
}

// one executes one instruction.
func (o *otherCPU) one() machine.Exit {
	c := o.m.CPU
	inst, ok := decodeAt(c, c.RIP)
	e := o.m.Run(c.Position() + 1)
	if !ok || e.Reason != machine.ExitInsnLimit {
		return e
	}
	u := undefinedBits(inst, c)
	if inst.Mnemonic == "add" && o.breakAt != 0 {
		// A defined flag that differs: CF of an ADD whose flags the
		// guest saves next.
		if next, ok := decodeAt(c, c.RIP); ok && next.Mnemonic == "pushfq" {
			if o.adds++; o.adds == o.breakAt {
				u |= fCF
			}
		}
	}
	if u != 0 {
		c.SetRFLAGS(c.RFLAGS() ^ u)
		o.flipped++
	}
	return e
}

func (o *otherCPU) Step() (machine.Exit, error) {
	e := o.one()
	for o.native && e.Reason == machine.ExitInsnLimit && o.m.CPU.CPL == 3 {
		e = o.one()
	}
	return e, nil
}

func (o *otherCPU) Run() (machine.Exit, error) {
	for {
		if e, _ := o.Step(); e.Reason != machine.ExitInsnLimit {
			return e, nil
		}
	}
}

func (o *otherCPU) State() (cpu.State, error) { return o.m.CPU.State(), nil }
func (o *otherCPU) Sync() error               { return nil }
func (o *otherCPU) Interrupts() uint64        { return o.acks.acked }
func (o *otherCPU) NativeUser() bool          { return o.native }

// decodeAt decodes the instruction at rip.
func decodeAt(c *cpu.CPU, rip uint64) (disasm.Inst, bool) {
	var buf [disasm.MaxInstLen]byte
	in, _, err := disasm.At(c, rip, &buf)
	return in, err == nil
}

// compareWithOther runs the stepped comparison of the first instructions
// of a guest with otherCPU.
func compareWithOther(t *testing.T, guest string, native bool, breakAt int) (*diffRun, Status, string, *otherCPU) {
	t.Helper()
	path := testenv.Guest(t, guest)
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Step: 5000, MaxInsns: 1_500_000}
	in, err := newSide("interpreter", path, image, &opts)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := newSide("reference", path, image, &opts)
	if err != nil {
		t.Fatal(err)
	}
	other := newOtherCPU(ref, native)
	other.breakAt = breakAt
	var out bytes.Buffer
	r := &diffRun{w: &out, name: guest, in: in, kv: ref, ref: other, opts: opts}
	st, err := r.stepped()
	if err != nil {
		t.Fatal(err)
	}
	return r, st, out.String(), other
}

// Issue 9, failure 4: exercise_r3's user code leaves flags undefined
// (shifts, multiplications, logic), saves RFLAGS with PUSHF and pops the
// image into a register, and enters the kernel by INT 0x80 (RFLAGS into
// the interrupt frame). Against a processor whose undefined flags come out
// differently, the comparison of its first 1.5 million instructions (to
// --max-insns, inconclusive) must find no difference, whether the
// reference single-steps user code or runs it natively as PVM does.
func TestUndefinedFlagsNeverDiffer(t *testing.T) {
	for _, native := range []bool{false, true} {
		r, st, out, other := compareWithOther(t, "exercise_r3", native, 0)
		if st != Inconclusive || strings.Contains(out, "DIFFERENCE") || r.checks < 10 {
			t.Errorf("native=%v: status %d after %d checks, want no difference to --max-insns:\n%s", native, st, r.checks, out)
		}
		n := r.reconciled
		if other.flipped == 0 || n.flags == 0 || native && n.words == 0 {
			t.Errorf("native=%v: the reference inverted undefined flags after %d instructions, %+v reconciled: "+
				"the test did not reach what it tests", native, other.flipped, n)
		}
		t.Logf("native=%v: %d checks; undefined flags inverted after %d instructions; reconciled %+v", native, r.checks,
			other.flipped, n)
	}
}

// A defined flag that differs, pushed by PUSHF like the undefined ones, is
// still reported.
func TestDefinedFlagDifferenceReported(t *testing.T) {
	for _, native := range []bool{false, true} {
		_, st, out, _ := compareWithOther(t, "exercise_r3", native, 3)
		if st != Mismatch || !strings.Contains(out, "FIRST DIFFERENCE") {
			t.Errorf("native=%v: a broken CF after an ADD: status %d, want a mismatch:\n%s", native, st, out)
		}
	}
}

// decode decodes hex-free instruction bytes for the taint tests.
func decode(t *testing.T, b ...byte) disasm.Inst {
	t.Helper()
	in, err := disasm.Decode(b, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// The taint rules, one instruction at a time: an undefined OF from SHL
// goes into a PUSHF image and into R11 by SYSCALL; a POP of the image
// carries it into a register; a difference there is not reported, a
// difference in a defined bit is; reconciling copies only the don't-care
// bits.
func TestTaintRules(t *testing.T) {
	m, err := machine.New(machine.Config{RAM: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := machine.SetupLongMode(m.Mem)
	if err != nil {
		t.Fatal(err)
	}
	c := m.CPU
	c.CR3 = tables.CR3
	c.R[cpu.RSP] = 0x100000
	var tt taint
	step := func(in disasm.Inst, change func()) {
		before := pointOf(c)
		change()
		tt.follow(in, true, before, c)
	}
	step(decode(t, 0x48, 0xC1, 0xE0, 0x02), func() {}) // shl rax, 2
	if tt.flags != fOF|fAF {
		t.Fatalf("after shl: undefined %s, want OF AF", flagNames(tt.flags))
	}
	step(decode(t, 0x9C), func() { c.R[cpu.RSP] -= 8 }) // pushfq
	slot := c.R[cpu.RSP]
	step(decode(t, 0x41, 0x5A), func() { c.R[cpu.RSP] += 8 }) // pop r10
	step(decode(t, 0x0F, 0x05), func() {})                    // syscall
	for _, r := range []int{cpu.R10, cpu.R11} {
		if tt.regs[r] != fOF|fAF {
			t.Errorf("register %d: don't-care bits %#x, want OF|AF", r, tt.regs[r])
		}
	}
	if tt.mem[slot] != fOF|fAF {
		t.Errorf("pushed image: don't-care bits %#x, want OF|AF", tt.mem[slot])
	}

	si := c.State()
	sk := si
	sk.R[cpu.R11] ^= fOF
	sk.R[cpu.R10] ^= fAF
	sk.RFLAGS ^= fOF
	if d := diffState(si, sk, &tt); len(d) != 0 {
		t.Errorf("differences only in undefined flags reported: %+v", d)
	}
	sk.R[cpu.R11] ^= fCF
	if d := diffState(si, sk, &tt); len(d) != 1 || d[0].what != "r11" {
		t.Errorf("a defined bit of r11 differs: reported %+v", d)
	}

	// Reconcile: the interpreter takes the reference's don't-care bits.
	ram, refRAM := m.Mem.RAM, bytes.Clone(m.Mem.RAM)
	binary.LittleEndian.PutUint64(ram[slot:], 0x202)
	binary.LittleEndian.PutUint64(refRAM[slot:], 0x202|fOF|fCF)
	c.R[cpu.R11] = 0x202
	sk.R[cpu.R11] = 0x202 | fOF | fCF
	var n reconciled
	tt.reconcile(c, ram, sk, refRAM, &n)
	if n != (reconciled{flags: 1, regs: 2, words: 1}) {
		t.Errorf("reconciled %+v, want RFLAGS, two registers and one word", n)
	}
	if got := c.R[cpu.R11]; got != 0x202|fOF {
		t.Errorf("r11 after reconcile %#x, want %#x (OF from the reference, CF not)", got, 0x202|fOF)
	}
	if got := binary.LittleEndian.Uint64(ram[slot:]); got != 0x202|fOF {
		t.Errorf("pushed image after reconcile %#x, want %#x", got, 0x202|fOF)
	}
	if !tt.empty() {
		t.Errorf("taint not cleared by reconcile: %+v", tt)
	}

	// MUL leaves SF ZF AF PF undefined; an interrupt from user mode pushes
	// them in its frame.
	step(decode(t, 0x48, 0xF7, 0xE3), func() {}) // mul rbx
	user := point{rip: 0x401000, rsp: 0x7ff000, cpl: 3, cs: 0x33, ss: 0x2b}
	frame := []uint64{0x1234 /* pushed by the handler */, user.rip, uint64(user.cs), 0x246, user.rsp, uint64(user.ss)}
	c.R[cpu.RSP] = 0x200000 - 8*uint64(len(frame))
	for i, w := range frame {
		binary.LittleEndian.PutUint64(ram[c.R[cpu.RSP]+8*uint64(i):], w)
	}
	c.CPL = 0
	tt.follow(decode(t, 0x48, 0x01, 0xD8), true, user, c) // add rax, rbx: interrupted before it ran
	if got := tt.mem[c.R[cpu.RSP]+24]; got != fSF|fZF|fAF|fPF {
		t.Errorf("interrupt frame's RFLAGS: don't-care bits %s, want SF ZF AF PF", flagNames(got))
	}
}

// RAM hashes ignore the accessed and dirty bits of paging entries, and
// nothing else.
func TestRAMHashPagingBits(t *testing.T) {
	a := make([]byte, 4*4096)
	put := func(ram []byte, at int, v uint64) { binary.LittleEndian.PutUint64(ram[at:], v) }
	put(a, 0x1000, 0x2000|1)   // PML4[0] -> PDPT at page 2
	put(a, 0x2000, 0x3000|1)   // PDPT[0] -> PD at page 3
	put(a, 0x3000, 0x0|0x80|1) // PD[0]: a 2 MiB page
	put(a, 0x3008, 0x200000|1) // PD[1]
	tables := pagingPages(a, 0x1000)
	if len(tables) != 3 || !tables[1] || !tables[2] || !tables[3] {
		t.Fatalf("paging pages %v, want pages 1, 2 and 3", tables)
	}
	b := bytes.Clone(a)
	put(b, 0x3000, 0x0|0x80|0x60|1) // accessed and dirty set
	if hashRAM(a, tables) != hashRAM(b, tables) || countPageBitDiffs(a, b, tables) != 1 {
		t.Error("accessed/dirty bits of a paging entry make the hashes differ")
	}
	if at := firstRAMDifference(a, b, tables, 0); at != len(a) {
		t.Errorf("first difference at %#x, want none", at)
	}
	b[0x10] = 7 // data
	put(b, 0x3008, 0x400000|1)
	if hashRAM(a, tables) == hashRAM(b, tables) {
		t.Error("a data difference leaves the hashes equal")
	}
	if at := firstRAMDifference(a, b, tables, 0); at != 0x10 {
		t.Errorf("first difference at %#x, want 0x10", at)
	}
}

// Output differences name the first differing line.
func TestDiffOutput(t *testing.T) {
	if _, ok := diffOutput([]byte("a\nb\n"), []byte("a\nb\n")); ok {
		t.Error("equal outputs differ")
	}
	d, ok := diffOutput([]byte("one\ntwo\n"), []byte("one\ntwx\n"))
	if !ok || d.interp != `"two"` || d.kvm != `"twx"` || !strings.Contains(d.note, "line 2") {
		t.Errorf("difference %+v", d)
	}
}

// End-of-run differences are marked as status-flag bits only when they
// are: those are settled by a stepped comparison (Image), others are not.
func TestFlagBitDifferences(t *testing.T) {
	var si cpu.State
	si.R[cpu.R11], si.RFLAGS = 0x246, 0x246
	sk := si
	sk.R[cpu.R11] ^= fOF
	sk.RFLAGS ^= fAF
	d := diffState(si, sk, &taint{})
	if len(d) != 2 || !d[0].flagBits || !d[1].flagBits {
		t.Errorf("R11 and RFLAGS differing in OF and AF: %+v, want two flag-bit differences", d)
	}
	sk.R[cpu.R11] ^= 1 << 40
	if d := diffState(si, sk, &taint{}); len(d) != 2 || d[0].flagBits {
		t.Errorf("R11 differing in bit 40: %+v, want a difference that is not in flag bits", d)
	}

	a := make([]byte, 3*4096)
	b := bytes.Clone(a)
	binary.LittleEndian.PutUint64(a[0x1008:], 0x202|fOF)
	binary.LittleEndian.PutUint64(b[0x1008:], 0x202)
	if !ramDiffersInFlagBits(a, b, nil) {
		t.Error("an RFLAGS image differing in OF: not a flag-bit difference")
	}
	b[0x2003] = 1 // bit 24 of a word
	if ramDiffersInFlagBits(a, b, nil) {
		t.Error("a data byte: reported as a flag-bit difference")
	}
}
