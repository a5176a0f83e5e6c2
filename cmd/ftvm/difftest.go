package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/cpu/kvm"
	"ftvm/machine"
)

// ftvm difftest runs each image under the interpreter (virtual clock) and
// under the host's KVM, and compares what they did: the serial output, the
// exit status, and at the end (debug-exit or HLT) the general registers,
// RIP, RFLAGS, CR0/CR3/CR4/EFER and a SHA-256 of guest RAM. With --step N
// it also compares the registers every N instructions: KVM single-steps,
// the interpreter follows one instruction at a time. It prints the FIRST
// difference of each image.
//
// Exit status: 0 every image matched; 1 an image differed (an ftvm
// mismatch, unless the report says otherwise); 3 no difference, but an
// image could not be compared to the end because of a limitation of the
// host's KVM (reported as such); 2 usage; 125 internal error or no KVM.

const usageDifftest = `usage: ftvm difftest [--step N] [--ring3] [flags] IMAGE...

Runs each IMAGE under the interpreter (--clock virtual) and under KVM and
reports the first difference: serial output, exit status, and at the end the
registers, RFLAGS, CR0/CR3/CR4/EFER and a SHA-256 of guest RAM.
`

// Statuses of ftvm difftest.
const (
	diffMatch        = 0
	diffMismatch     = 1
	diffInconclusive = 3
)

// dontCare is one documented difference between two correct x86-64
// processors (the interpreter is one, the host CPU behind KVM the other).
type dontCare struct {
	mnemonics []string
	// defines are the status flags the instruction sets to defined values;
	// undefined are those the SDM leaves undefined.
	defines, undefined uint64
	// regs are registers whose value comes from the host (RDTSC).
	regs []int
	// dest: the destination register comes from the host (RDRAND).
	dest bool
	// pageBits are bits of paging-structure entries in RAM that are not
	// compared (a row without mnemonics).
	pageBits uint64
	ref      string
}

const (
	fCF, fPF, fAF, fZF, fSF, fOF = cpu.FlagCF, cpu.FlagPF, cpu.FlagAF, cpu.FlagZF, cpu.FlagSF, cpu.FlagOF
	fAll                         = cpu.FlagsArith
)

// dontCares is THE table of documented don't-cares (Intel SDM Vol. 2, the
// "Flags Affected" section of each instruction). In --step mode it is
// applied per single-stepped instruction: status flags an instruction
// leaves undefined, and registers loaded from host inputs, are not
// compared until an instruction defines them again (and are then copied
// from KVM into the interpreter so both continue alike). A row with only
// `defines` lists an instruction that makes those flags comparable again.
// Flags left undefined by code KVM did not single-step (native CPL3 code
// under PVM) are not tracked; the end-of-run comparison (without --step)
// compares every status flag.
var dontCares = []dontCare{
	{mnemonics: []string{"add", "adc", "sub", "sbb", "cmp", "neg", "xadd", "cmpxchg", "cmpsb", "cmpsw", "cmpsd", "cmpsq",
		"scasb", "scasw", "scasd", "scasq", "popcnt", "popfq", "popf", "iretq", "iret"}, defines: fAll,
		ref: "ADD/SUB/CMP...: all six defined; POPCNT clears OF SF AF CF PF; POPF/IRET load them"},
	{mnemonics: []string{"inc", "dec"}, defines: fAll &^ fCF, ref: "INC/DEC: CF unaffected"},
	{mnemonics: []string{"sahf"}, defines: fSF | fZF | fAF | fPF | fCF, ref: "SAHF"},
	{mnemonics: []string{"clc", "stc", "cmc"}, defines: fCF, ref: "CLC/STC/CMC"},
	{mnemonics: []string{"and", "or", "xor", "test", "andn", "blsi", "blsmsk", "blsr", "bextr"}, defines: fAll &^ fAF, undefined: fAF,
		ref: "AND/OR/XOR/TEST: OF=CF=0, SF ZF PF defined, AF undefined (BMI1: AF and PF undefined)"},
	{mnemonics: []string{"mul", "imul"}, defines: fCF | fOF, undefined: fSF | fZF | fAF | fPF,
		ref: "MUL/IMUL: CF OF defined; SF ZF AF PF undefined"},
	{mnemonics: []string{"div", "idiv"}, undefined: fAll, ref: "DIV/IDIV: CF OF SF ZF AF PF undefined"},
	{mnemonics: []string{"bt", "bts", "btr", "btc"}, defines: fCF, undefined: fOF | fSF | fAF | fPF,
		ref: "BT*: CF = the bit; ZF unaffected; OF SF AF PF undefined"},
	{mnemonics: []string{"bsf", "bsr"}, defines: fZF, undefined: fCF | fOF | fSF | fAF | fPF,
		ref: "BSF/BSR: ZF defined; CF OF SF AF PF undefined (destination undefined for a zero source)"},
	{mnemonics: []string{"tzcnt", "lzcnt"}, defines: fCF | fZF, undefined: fOF | fSF | fAF | fPF,
		ref: "TZCNT/LZCNT: CF ZF defined; OF SF AF PF undefined"},
	{mnemonics: []string{"shl", "sal", "shr", "sar"}, defines: fCF | fSF | fZF | fPF, undefined: fOF | fAF,
		ref: "SHL/SHR/SAR: AF undefined; OF defined only for a count of 1 (CF undefined for counts >= the width)"},
	{mnemonics: []string{"rol", "ror", "rcl", "rcr"}, defines: fCF, undefined: fOF,
		ref: "ROL/ROR/RCL/RCR: OF defined only for a count of 1"},
	{mnemonics: []string{"shld", "shrd"}, defines: fCF | fSF | fZF | fPF, undefined: fOF | fAF,
		ref: "SHLD/SHRD: AF undefined; OF defined only for a count of 1"},
	{mnemonics: []string{"rdtsc"}, regs: []int{cpu.RAX, cpu.RDX}, ref: "RDTSC: the host's time-stamp counter"},
	{mnemonics: []string{"rdtscp"}, regs: []int{cpu.RAX, cpu.RDX}, ref: "RDTSCP: the host's time-stamp counter"},
	{mnemonics: []string{"rdrand", "rdseed"}, dest: true, defines: fAll &^ fCF, undefined: fCF,
		ref: "RDRAND/RDSEED: a random value; CF says whether one was available"},
	{pageBits: 1<<5 | 1<<6, ref: "accessed and dirty bits of paging-structure entries: SDM Vol. 3A §4.8 lets a processor " +
		"set them for accesses it makes speculatively or implicitly (this host's CPU marks the page of the new stack top " +
		"after ENTER with a large frame even though nothing is stored there)"},
}

// pageBitsDontCare is the paging-entry mask of the table.
var pageBitsDontCare = func() (m uint64) {
	for _, d := range dontCares {
		m |= d.pageBits
	}
	return
}()

var dontCareByMnemonic = func() map[string]*dontCare {
	m := map[string]*dontCare{}
	for i := range dontCares {
		for _, mn := range dontCares[i].mnemonics {
			m[mn] = &dontCares[i]
		}
	}
	return m
}()

var regNames = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

func regIndex(name string) (int, bool) {
	for i, n := range regNames {
		if n == name {
			return i, true
		}
	}
	// 32-bit destination names of RDRAND/RDSEED.
	for i, n := range []string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"} {
		if n == name {
			return i, true
		}
	}
	if strings.HasPrefix(name, "r") && (strings.HasSuffix(name, "d") || strings.HasSuffix(name, "w")) {
		return regIndex(name[:len(name)-1])
	}
	return 0, false
}

// difftestFlags are the flags of ftvm difftest.
type difftestFlags struct {
	step     uint64
	ring3    bool
	mem      string
	maxInsns uint64
	timeout  time.Duration
	seed     uint64
	cmdline  string
}

func cmdDifftest(args []string) (int, error) { return difftest(os.Stdout, args) }

// difftest is cmdDifftest writing its report to w.
func difftest(w io.Writer, args []string) (int, error) {
	var f difftestFlags
	fs := flag.NewFlagSet("difftest", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Uint64Var(&f.step, "step", 0, "also compare the registers every `N` instructions (KVM single-steps)")
	fs.BoolVar(&f.ring3, "ring3", false, "run each image's ring-3 build (NAME_r3.elf beside NAME.elf) when there is one")
	fs.StringVar(&f.mem, "m", "64M", "guest RAM size")
	fs.Uint64Var(&f.maxInsns, "max-insns", 20_000_000_000, "stop the interpreter after `N` instructions")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "stop the KVM run after this wall time")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the virtual clock's random numbers")
	fs.StringVar(&f.cmdline, "append", "", "guest command line")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, usageDifftest)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usageError{err.Error()}
	}
	if fs.NArg() == 0 {
		return 0, usagef("difftest needs at least one IMAGE")
	}
	ram, err := parseSize(f.mem)
	if err != nil {
		return 0, usagef("-m: %v", err)
	}
	status := diffMatch
	for _, path := range fs.Args() {
		if f.ring3 {
			path = ring3Image(path)
		}
		image, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		setup := &guestSetup{imagePath: path, image: image, ram: ram, seed: f.seed, cmdline: f.cmdline}
		st, err := difftestImage(w, setup, &f)
		if err != nil {
			return 0, err
		}
		status = worse(status, st)
	}
	return status, nil
}

// worse orders difftest statuses: mismatch > inconclusive > match.
func worse(a, b int) int {
	rank := func(s int) int {
		switch s {
		case diffMismatch:
			return 2
		case diffInconclusive:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// ring3Image returns NAME_r3.elf for NAME.elf when that file exists.
func ring3Image(path string) string {
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	if strings.HasSuffix(base, "_r3") {
		return path
	}
	if r3 := base + "_r3" + ext; fileExists(r3) {
		return r3
	}
	return path
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// side is one of the two executions.
type side struct {
	name string
	m    *machine.Machine
	out  bytes.Buffer
	exit machine.Exit
	wall time.Duration
}

func newSide(name string, setup *guestSetup) (*side, error) {
	s := &side{name: name}
	m, err := machine.New(machine.Config{RAM: setup.ram, Console: &s.out, Clock: machine.ClockVirtual,
		Seed: setup.seed, Cmdline: setup.cmdline})
	if err != nil {
		return nil, err
	}
	if err := m.LoadELF64(setup.image); err != nil {
		return nil, fmt.Errorf("%s: %v", setup.imagePath, err)
	}
	s.m = m
	return s, nil
}

// difference is one compared item that differs.
type difference struct {
	what        string
	interp, kvm string
	note        string
}

// difftestImage compares one image and prints its report.
func difftestImage(w io.Writer, setup *guestSetup, f *difftestFlags) (int, error) {
	name := filepath.Base(setup.imagePath)
	in, err := newSide("interpreter", setup)
	if err != nil {
		return 0, err
	}
	kv, err := newSide("kvm", setup)
	if err != nil {
		return 0, err
	}
	k, err := kv.m.OpenKVM(kvm.Options{})
	if err != nil {
		return 0, err
	}
	defer k.Close()
	k.Deadline = time.Now().Add(f.timeout)

	r := &diffRun{w: w, name: name, in: in, kv: kv, k: k, f: f}
	if f.step == 0 {
		return r.whole()
	}
	return r.stepped()
}

// diffRun is the comparison of one image.
type diffRun struct {
	w      io.Writer
	name   string
	in, kv *side
	k      *machine.KVM
	f      *difftestFlags

	// Step mode: status flags and registers currently not comparable
	// (dontCares), native segments followed, checks made.
	undef    uint64
	hostRegs uint32
	segments uint64 // native stretches KVM ran whole
	multi    uint64 // steps in which the host ran more than one instruction
	checks   uint64
	notes    []string
	followed []followInst
}

// followInst is an instruction the interpreter executed to follow a step.
type followInst struct {
	rip  uint64
	inst disasm.Inst
	ok   bool
}

// describe lists the instructions of the last step.
func (r *diffRun) describeStep() string {
	var parts []string
	for _, fi := range r.followed {
		if fi.ok {
			parts = append(parts, fmt.Sprintf("%#x: %s", fi.rip, fi.inst.Text))
		} else {
			parts = append(parts, fmt.Sprintf("%#x: (not decoded)", fi.rip))
		}
	}
	return strings.Join(parts, "; ")
}

func (r *diffRun) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

// printNotes prints the notes of the comparison.
func (r *diffRun) printNotes() {
	notes := r.notes
	if r.segments > 0 {
		notes = append(notes, fmt.Sprintf("PVM does not single-step CPL3 code (it runs natively): %d stretches of user-mode "+
			"code between kernel entries were run whole by KVM, followed by the interpreter and compared at their ends", r.segments))
	}
	for _, n := range notes {
		r.printf("  note: %s\n", n)
	}
}

// whole runs both sides to their ends and compares once.
func (r *diffRun) whole() (int, error) {
	start := time.Now()
	r.in.exit = r.in.m.Run(r.f.maxInsns)
	r.in.wall = time.Since(start)
	start = time.Now()
	exit, err := r.k.Run()
	r.kv.wall = time.Since(start)
	if err != nil {
		return r.kvmFailed(err)
	}
	r.kv.exit = exit
	return r.final()
}

// kvmFailed reports a KVM run that could not finish.
func (r *diffRun) kvmFailed(err error) (int, error) {
	var ee *kvm.EmulationError
	var fe *kvm.FailEntryError
	if errors.As(err, &ee) || errors.As(err, &fe) || errors.Is(err, kvm.ErrUnknownExit) {
		r.printf("difftest: %s: INCONCLUSIVE: %v\n", r.name, err)
		r.printf("  the comparison stopped there (interpreter at position %d); serial output so far: interpreter %d bytes, kvm %d bytes",
			r.in.m.CPU.Retired, r.in.out.Len(), r.kv.out.Len())
		if p := commonPrefix(r.in.out.Bytes(), r.kv.out.Bytes()); p == r.kv.out.Len() {
			r.printf(" (kvm's is a prefix of the interpreter's)\n")
		} else {
			r.printf(" (they differ at byte %d)\n", p)
		}
		return diffInconclusive, nil
	}
	return 0, err
}

// final compares the ends of both runs and prints the verdict.
func (r *diffRun) final() (int, error) {
	r.printf("difftest: %s: interpreter: %s after %d instructions (%.3fs); kvm: %s (%.3fs)\n",
		r.name, describeExit(r.in.exit), r.in.m.CPU.Retired, r.in.wall.Seconds(), describeExit(r.kv.exit), r.kv.wall.Seconds())
	if r.kv.exit.Reason == machine.ExitStopped {
		r.printf("difftest: %s: INCONCLUSIVE: the KVM run did not end within --timeout %v\n", r.name, r.f.timeout)
		return diffInconclusive, nil
	}
	if r.in.exit.Reason == machine.ExitInsnLimit {
		r.printf("difftest: %s: INCONCLUSIVE: the interpreter did not end within --max-insns %d\n", r.name, r.f.maxInsns)
		return diffInconclusive, nil
	}
	var diffs []difference
	if d, ok := diffOutput(r.in.out.Bytes(), r.kv.out.Bytes()); ok {
		diffs = append(diffs, d)
	}
	if r.in.exit != r.kv.exit {
		diffs = append(diffs, difference{what: "exit", interp: describeExit(r.in.exit), kvm: describeExit(r.kv.exit)})
	}
	si := r.in.m.CPU.State()
	sk := r.kv.m.CPU.State()
	diffs = append(diffs, diffState(si, sk, r.undef, r.hostRegs)...)
	ramI, ramK := r.in.m.Mem.RAM, r.kv.m.Mem.RAM
	tables := pagingPages(ramI, si.Sys.CR3, machine.BootPML4Addr)
	for p := range pagingPages(ramK, sk.Sys.CR3, machine.BootPML4Addr) {
		tables[p] = true
	}
	hi, hk := hashRAM(ramI, tables), hashRAM(ramK, tables)
	if hi != hk {
		at := firstRAMDifference(ramI, ramK, tables)
		diffs = append(diffs, difference{what: "RAM sha256", interp: fmt.Sprintf("%x", hi[:8]), kvm: fmt.Sprintf("%x", hk[:8]),
			note: fmt.Sprintf("first differing byte at physical %#x: interpreter %#02x, kvm %#02x", at, ramI[at], ramK[at])})
	} else if n := countPageBitDiffs(ramI, ramK, tables); n > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d paging-structure entries differ only in accessed/dirty bits (a documented don't-care)", n))
	}
	if len(diffs) == 0 {
		r.printf("difftest: %s: MATCH: serial output (%d bytes), exit, RIP, registers, RFLAGS, CR0/CR3/CR4/EFER, RAM sha256 %x\n",
			r.name, r.in.out.Len(), hi[:8])
		if r.f.step != 0 {
			r.printf("  --step %d: %d register checks", r.f.step, r.checks)
			if r.multi > 0 {
				r.printf(", %d host steps over two or more instructions (after I/O)", r.multi)
			}
			r.printf("\n")
		}
		r.printNotes()
		return diffMatch, nil
	}
	r.report("at the end", si.Retired, si.RIP, diffs)
	return diffMismatch, nil
}

// report prints the first difference (and names the others).
func (r *diffRun) report(when string, pos, rip uint64, diffs []difference) {
	d := diffs[0]
	r.printf("difftest: %s: FIRST DIFFERENCE %s (interpreter position %d, RIP %#x): %s\n", r.name, when, pos, rip, d.what)
	r.printf("  interpreter: %s\n  kvm:         %s\n", d.interp, d.kvm)
	if d.note != "" {
		r.printf("  %s\n", d.note)
	}
	if len(diffs) > 1 {
		var others []string
		for _, o := range diffs[1:] {
			others = append(others, o.what)
		}
		r.printf("  also different: %s\n", strings.Join(others, ", "))
	}
	r.printNotes()
}

func describeExit(e machine.Exit) string {
	if e.Reason == machine.ExitDebug {
		return fmt.Sprintf("debug-exit(%#x) status %d", e.Value, e.Status())
	}
	return fmt.Sprintf("%s status %d", e.Reason, e.Status())
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i += 4096 {
		j := min(i+4096, n)
		if !bytes.Equal(a[i:j], b[i:j]) {
			for k := i; k < j; k++ {
				if a[k] != b[k] {
					return k
				}
			}
		}
	}
	return n
}

// pagingPages returns the physical page numbers of the 4-level paging
// structures reachable from the given CR3 values.
func pagingPages(ram []byte, cr3s ...uint64) map[uint64]bool {
	pages := map[uint64]bool{}
	var walk func(table uint64, level int)
	walk = func(table uint64, level int) {
		if table+4096 > uint64(len(ram)) || pages[table>>12] || len(pages) > 1<<16 {
			return
		}
		pages[table>>12] = true
		if level == 1 {
			return
		}
		for i := uint64(0); i < 512; i++ {
			e := binary.LittleEndian.Uint64(ram[table+8*i:])
			if e&1 == 0 || level < 4 && e&0x80 != 0 {
				continue // not present, or a large page
			}
			walk(e&0x000F_FFFF_FFFF_F000, level-1)
		}
	}
	for _, c := range cr3s {
		walk(c&0x000F_FFFF_FFFF_F000, 4)
	}
	return pages
}

// hashRAM hashes guest RAM with the don't-care bits of paging entries in
// the given table pages cleared.
func hashRAM(ram []byte, tables map[uint64]bool) [32]byte {
	h := sha256.New()
	var page [4096]byte
	for a := 0; a < len(ram); a += 4096 {
		p := ram[a : a+4096]
		if tables[uint64(a)>>12] {
			copy(page[:], p)
			for i := 0; i < 4096; i += 8 {
				binary.LittleEndian.PutUint64(page[i:], binary.LittleEndian.Uint64(page[i:])&^pageBitsDontCare)
			}
			p = page[:]
		}
		h.Write(p)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// firstRAMDifference returns the first byte that differs other than in
// don't-care bits of paging entries.
func firstRAMDifference(a, b []byte, tables map[uint64]bool) int {
	for at := 0; at < len(a); {
		at += commonPrefix(a[at:], b[at:])
		if at >= len(a) {
			break
		}
		w := at &^ 7
		if tables[uint64(at)>>12] && (binary.LittleEndian.Uint64(a[w:])^binary.LittleEndian.Uint64(b[w:]))&^pageBitsDontCare == 0 {
			at = w + 8
			continue
		}
		return at
	}
	return len(a)
}

// countPageBitDiffs counts paging entries that differ only in don't-care bits.
func countPageBitDiffs(a, b []byte, tables map[uint64]bool) int {
	n := 0
	for p := range tables {
		for i := p << 12; i < p<<12+4096 && i+8 <= uint64(len(a)); i += 8 {
			if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
				n++
			}
		}
	}
	return n
}

// diffOutput compares the serial outputs.
func diffOutput(a, b []byte) (difference, bool) {
	if bytes.Equal(a, b) {
		return difference{}, false
	}
	at := commonPrefix(a, b)
	line := bytes.Count(a[:at], []byte("\n")) + 1
	lineOf := func(s []byte) string {
		start := bytes.LastIndexByte(s[:at], '\n') + 1
		end := len(s)
		if i := bytes.IndexByte(s[at:], '\n'); i >= 0 {
			end = at + i
		}
		return fmt.Sprintf("%q", s[start:end])
	}
	return difference{what: "serial output", interp: lineOf(a), kvm: lineOf(b),
		note: fmt.Sprintf("first differing byte %d (line %d); %d bytes vs %d bytes", at, line, len(a), len(b))}, true
}

// diffState compares registers: RIP, GPRs (except hostRegs), RFLAGS (status
// flags in undef and RF excepted), CR0, CR3, CR4, EFER.
func diffState(si, sk cpu.State, undef uint64, hostRegs uint32) []difference {
	var diffs []difference
	hex := func(v uint64) string { return fmt.Sprintf("%#x", v) }
	if si.RIP != sk.RIP {
		diffs = append(diffs, difference{what: "rip", interp: hex(si.RIP), kvm: hex(sk.RIP)})
	}
	for i := range si.R {
		if si.R[i] != sk.R[i] && hostRegs&(1<<i) == 0 {
			diffs = append(diffs, difference{what: regNames[i], interp: hex(si.R[i]), kvm: hex(sk.R[i])})
		}
	}
	mask := ^uint64(cpu.FlagRF) &^ undef
	if si.RFLAGS&mask != sk.RFLAGS&mask {
		d := difference{what: "rflags", interp: hex(si.RFLAGS), kvm: hex(sk.RFLAGS),
			note: "differing bits: " + flagNames((si.RFLAGS^sk.RFLAGS)&mask)}
		if undef != 0 {
			d.note += " (not compared: " + flagNames(undef) + ", left undefined by the SDM)"
		}
		diffs = append(diffs, d)
	}
	for _, c := range []struct {
		n    string
		a, b uint64
	}{{"cr0", si.Sys.CR0, sk.Sys.CR0}, {"cr3", si.Sys.CR3, sk.Sys.CR3}, {"cr4", si.Sys.CR4, sk.Sys.CR4}, {"efer", si.Sys.EFER, sk.Sys.EFER}} {
		if c.a != c.b {
			diffs = append(diffs, difference{what: c.n, interp: hex(c.a), kvm: hex(c.b)})
		}
	}
	return diffs
}

func flagNames(f uint64) string {
	var n []string
	for _, b := range []struct {
		bit  uint64
		name string
	}{{cpu.FlagCF, "CF"}, {cpu.FlagPF, "PF"}, {cpu.FlagAF, "AF"}, {cpu.FlagZF, "ZF"}, {cpu.FlagSF, "SF"}, {cpu.FlagTF, "TF"},
		{cpu.FlagIF, "IF"}, {cpu.FlagDF, "DF"}, {cpu.FlagOF, "OF"}, {cpu.FlagIOPL, "IOPL"}, {cpu.FlagNT, "NT"}, {cpu.FlagAC, "AC"}, {cpu.FlagID, "ID"}} {
		if f&b.bit != 0 {
			n = append(n, b.name)
			f &^= b.bit
		}
	}
	if f != 0 {
		n = append(n, fmt.Sprintf("%#x", f))
	}
	return strings.Join(n, " ")
}

// decodeAt decodes the interpreter's instruction at rip.
func decodeAt(c *cpu.CPU, rip uint64) (disasm.Inst, bool) {
	var buf [disasm.MaxInstLen]byte
	n := len(buf)
	for n > 0 && c.ReadLinear(rip, buf[:n]) != nil {
		n--
	}
	in, err := disasm.Decode(buf[:n], rip)
	return in, err == nil
}

// countingSource counts the interrupts the interpreter takes.
type countingSource struct {
	cpu.InterruptSource
	acked uint64
}

func (s *countingSource) Acknowledge() uint8 {
	s.acked++
	return s.InterruptSource.Acknowledge()
}

// stepped runs both sides in lockstep: KVM single-steps (one instruction
// where the host can single-step it, a whole native segment where it
// cannot), the interpreter follows until it is at the same RIP and
// privilege level, and every --step instructions the registers are
// compared.
func (r *diffRun) stepped() (int, error) {
	ci := r.in.m.CPU
	r.k.NoSync = true
	var acks *countingSource
	if src := ci.InterruptSource(); src != nil {
		acks = &countingSource{InterruptSource: src}
		ci.SetInterruptSource(acks)
	}
	interrupts := func() uint64 {
		n := r.k.Injected
		if acks != nil {
			n += acks.acked
		}
		return n
	}
	noUserStep := kvm.IsPVM()
	nextCheck := r.f.step
	start := time.Now()
	for {
		ripBefore, cplBefore := ci.RIP, ci.CPL
		inst, decoded := decodeAt(ci, ripBefore)
		intsBefore, haltBefore := interrupts(), ci.Halted() || decoded && inst.Mnemonic == "hlt"
		t0 := time.Now()
		exitK, err := r.k.Step(1)
		r.kv.wall += time.Since(t0)
		if err != nil {
			r.in.wall = time.Since(start) - r.kv.wall
			return r.kvmFailed(err)
		}
		sk, err := r.k.State()
		if err != nil {
			return 0, err
		}
		if exitK.Reason != machine.ExitInsnLimit {
			// KVM ended: the interpreter must end with the instruction it
			// is about to execute.
			r.kv.exit = exitK
			if err := r.k.Sync(); err != nil {
				return 0, err
			}
			r.in.exit = r.in.m.Run(min(ci.Position()+4, r.f.maxInsns))
			if r.in.exit.Reason == machine.ExitInsnLimit && noUserStep && sk.Sys.Seg[cpu.CS].Selector&3 == 3 {
				r.in.exit = r.in.m.Run(r.f.maxInsns)
			}
			r.in.wall = time.Since(start) - r.kv.wall
			return r.final()
		}
		// Follow.
		limit := uint64(4)
		n := uint64(0)
		cplK := uint8(sk.Sys.Seg[cpu.CS].Selector & 3)
		followed := append(r.followed[:0], followInst{ripBefore, inst, decoded})
		native := false
		for {
			if n > 0 && !native {
				in, ok := decodeAt(ci, ci.RIP)
				followed = append(followed, followInst{ci.RIP, in, ok})
			}
			pos := ci.Position()
			if pos >= r.f.maxInsns {
				r.in.exit = machine.Exit{Reason: machine.ExitInsnLimit}
				r.in.wall = time.Since(start) - r.kv.wall
				r.kv.exit = machine.Exit{Reason: machine.ExitStopped}
				r.printf("difftest: %s: INCONCLUSIVE: --max-insns %d reached while following KVM\n", r.name, r.f.maxInsns)
				return diffInconclusive, nil
			}
			e := r.in.m.Run(pos + 1)
			n++
			if e.Reason != machine.ExitInsnLimit {
				r.in.exit = e
				d := difference{what: "end of run", interp: describeExit(e),
					kvm: fmt.Sprintf("still running, at RIP %#x (CPL %d)", sk.RIP, cplK)}
				if decoded {
					d.note = fmt.Sprintf("the step began at %#x: %s", ripBefore, inst.Text)
				}
				r.report("while following a step", ci.Retired, ci.RIP, []difference{d})
				return diffMismatch, nil
			}
			if ci.RIP == sk.RIP && ci.CPL == cplK {
				break
			}
			if n == 1 && noUserStep && (cplBefore == 3 || ci.CPL == 3) {
				// A native segment: KVM ran it whole.
				limit, native = r.f.maxInsns, true
			}
			if n >= limit {
				if interrupts() != intsBefore || haltBefore {
					return r.interruptTiming(ci.Retired, ripBefore)
				}
				d := difference{what: "rip after one step",
					interp: fmt.Sprintf("%#x (CPL %d) after %d instructions", ci.RIP, ci.CPL, n),
					kvm:    fmt.Sprintf("%#x (CPL %d)", sk.RIP, cplK)}
				if decoded {
					d.note = fmt.Sprintf("the step began at %#x: %s", ripBefore, inst.Text)
				}
				r.report("in step mode", ci.Retired, ripBefore, append([]difference{d}, diffState(ci.State(), sk, r.undef, r.hostRegs)...))
				return diffMismatch, nil
			}
		}
		r.followed = followed
		switch {
		case native:
			r.segments++
		default:
			if n > 1 {
				r.multi++
			}
			for _, fi := range followed {
				if fi.ok {
					r.track(fi.inst)
				}
			}
		}
		if ci.Position() >= nextCheck {
			r.checks++
			si := ci.State()
			diffs := diffState(si, sk, r.undef, r.hostRegs)
			if d, ok := diffOutput(r.in.out.Bytes(), r.kv.out.Bytes()); ok {
				diffs = append([]difference{d}, diffs...)
			}
			if len(diffs) > 0 && (interrupts() != intsBefore || haltBefore) {
				return r.interruptTiming(si.Retired, ripBefore)
			}
			if len(diffs) > 0 {
				if native {
					r.notes = append(r.notes, fmt.Sprintf("this check ends a native stretch of %d instructions that KVM ran whole", n))
				} else {
					r.notes = append(r.notes, "the last step executed "+r.describeStep())
				}
				r.report(fmt.Sprintf("at check %d", r.checks), si.Retired, si.RIP, diffs)
				return diffMismatch, nil
			}
			r.resync(sk)
			nextCheck = ci.Position() + r.f.step
		}
	}
}

// interruptTiming ends a step comparison that an asynchronous interrupt
// made meaningless: KVM takes interrupts when the host's time says (the
// guest clock follows host time there), the interpreter when its virtual
// clock does.
func (r *diffRun) interruptTiming(pos, rip uint64) (int, error) {
	r.printf("difftest: %s: INCONCLUSIVE in step mode at interpreter position %d (RIP %#x): an asynchronous interrupt "+
		"(or HLT waiting for one) came at a different instruction under KVM, whose timers follow host time, than in the "+
		"interpreter, whose virtual clock follows the position; this is not an ftvm mismatch. Run without --step to "+
		"compare the end of the run.\n", r.name, pos, rip)
	r.printNotes()
	return diffInconclusive, nil
}

// track applies the don't-care table to one single-stepped instruction.
func (r *diffRun) track(inst disasm.Inst) {
	dc := dontCareByMnemonic[inst.Mnemonic]
	if dc == nil {
		return
	}
	r.undef = r.undef&^dc.defines | dc.undefined
	for _, reg := range dc.regs {
		r.hostRegs |= 1 << reg
	}
	if dc.dest {
		args := strings.Fields(strings.TrimPrefix(inst.Text, inst.Prefixes))
		if len(args) > 1 {
			if i, ok := regIndex(strings.TrimSuffix(args[1], ",")); ok {
				r.hostRegs |= 1 << i
			}
		}
	}
}

// resync copies the don't-care flags and registers from KVM into the
// interpreter after a check, so both continue from the same values.
func (r *diffRun) resync(sk cpu.State) {
	c := r.in.m.CPU
	if r.undef != 0 {
		c.SetRFLAGS(c.RFLAGS()&^r.undef | sk.RFLAGS&r.undef)
	}
	for i := range 16 {
		if r.hostRegs&(1<<i) != 0 {
			c.R[i] = sk.R[i]
		}
	}
	r.undef, r.hostRegs = 0, 0
}

// checkAccel validates ftvm run's --accel.
func checkAccel(f *runFlags) error {
	switch f.accel {
	case "", "interp":
		return nil
	case "kvm":
		if f.record != "" {
			return usagef("--record needs --accel interp: a KVM run cannot be recorded (KVM does not count instructions)")
		}
		if f.trace {
			return usagef("--trace needs --accel interp")
		}
		return nil
	}
	return usagef("--accel must be interp or kvm, not %q", f.accel)
}

// runKVM is runMachine for --accel kvm: the guest runs on the host's KVM
// with the board's devices. --max-insns cannot be honoured (KVM does not
// count instructions) and --stats reports the wall time and vCPU exits
// instead of MIPS.
func runKVM(m *machine.Machine, f *runFlags) (machine.Exit, time.Duration, error) {
	k, err := m.OpenKVM(kvm.Options{})
	if err != nil {
		return machine.Exit{}, 0, err
	}
	defer k.Close()
	if f.maxInsns != 0 {
		fmt.Fprintf(os.Stderr, "ftvm: --max-insns is ignored with --accel kvm (KVM does not count instructions)\n")
	}
	exit, err := k.Run()
	if err != nil {
		return machine.Exit{}, k.Wall, err
	}
	if err := m.UART.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
	}
	c := m.CPU
	switch exit.Reason {
	case machine.ExitTripleFault:
		fmt.Fprintf(os.Stderr, "ftvm: triple fault (kvm)\n%s%s", c.Dump(), faultingInst(c))
	case machine.ExitIdle:
		fmt.Fprintf(os.Stderr, "ftvm: guest halted with interrupts enabled and nothing that can interrupt it\n")
	}
	if f.stats {
		var exits []string
		for kind, n := range k.Exits {
			exits = append(exits, fmt.Sprintf("%s:%d", kind, n))
		}
		sort.Strings(exits)
		fmt.Fprintf(os.Stderr, "ftvm: accel=kvm wall=%.3fs exits=%s (KVM does not count retired instructions)\n",
			k.Wall.Seconds(), strings.Join(exits, ","))
	}
	return exit, k.Wall, nil
}
