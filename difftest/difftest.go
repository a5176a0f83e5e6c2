// Package difftest compares the interpreter with the host CPU behind KVM:
// it runs one guest image on both and reports the first difference in what
// they did (serial output, exit, and at the end the registers, RFLAGS,
// control registers and a hash of guest RAM). In stepped mode it also
// compares the registers every N instructions, KVM single-stepping and the
// interpreter following. Differences the Intel SDM allows between two
// correct processors (its don't-care table) are never reported.
package difftest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ftvm/board"
	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/cpu/kvm"
	"ftvm/machine"
)

// Status is the verdict of a comparison; its value is ftvm difftest's exit
// status.
type Status int

// Verdicts.
const (
	// Match: no difference.
	Match Status = 0
	// Mismatch: the two executions differ (an ftvm mismatch, unless the
	// report says otherwise).
	Mismatch Status = 1
	// Inconclusive: no difference, but the image could not be compared to
	// the end because of a limitation of the host's KVM (reported as such).
	Inconclusive Status = 3
)

// Worse returns the worse of two verdicts: mismatch, then inconclusive,
// then match.
func Worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case Mismatch:
			return 2
		case Inconclusive:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Options are the parameters of a comparison.
type Options struct {
	// RAM, Seed and Cmdline are the guest's (both sides run the virtual
	// clock).
	RAM     uint64
	Seed    uint64
	Cmdline string
	// Step, if not zero, compares the registers every Step instructions.
	Step uint64
	// MaxInsns stops the interpreter; Timeout stops the KVM run.
	MaxInsns uint64
	Timeout  time.Duration
}

// Ring3Image returns NAME_r3.elf for NAME.elf when that file exists, and
// path otherwise.
func Ring3Image(path string) string {
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	if strings.HasSuffix(base, "_r3") {
		return path
	}
	r3 := base + "_r3" + ext
	if _, err := os.Stat(r3); err == nil {
		return r3
	}
	return path
}

// side is one of the two executions.
type side struct {
	name string
	m    *machine.Machine
	out  bytes.Buffer
	exit machine.Exit
	wall time.Duration
}

func newSide(name, path string, image []byte, opts *Options) (*side, error) {
	s := &side{name: name}
	spec := machine.Spec{ImagePath: path, Image: image, RAM: opts.RAM, Clock: machine.ClockVirtual, Seed: opts.Seed,
		Cmdline: opts.Cmdline}
	b, err := board.Build(&spec, machine.Config{Console: &s.out}, board.Host{})
	if err != nil {
		return nil, err
	}
	s.m = b.Machine
	return s, nil
}

// difference is one compared item that differs.
type difference struct {
	what        string
	interp, kvm string
	note        string
	// flagBits: the values differ only in status-flag bits, which
	// undefined flags of earlier instructions may explain.
	flagBits bool
}

// recheckStep is the step of the stepped comparison that settles an
// end-of-run mismatch in status-flag bits.
const recheckStep = 1 << 20

// Image compares the guest image (its bytes, read from path) under the
// interpreter and under KVM, and writes the report to w. An error means
// the comparison could not be made (no KVM, a broken image).
//
// The end-of-run comparison (opts.Step zero) cannot follow undefined flags,
// so a mismatch whose every difference is in status-flag bits (R11 after a
// SYSCALL, an RFLAGS image in memory) is settled by comparing again step by
// step, which follows them: the verdict is that comparison's.
func Image(w io.Writer, path string, image []byte, opts Options) (Status, error) {
	st, flagBits, err := imageOnce(w, path, image, opts)
	if err != nil || !flagBits || opts.Step != 0 {
		return st, err
	}
	fmt.Fprintf(w, "difftest: %s: every difference is in status-flag bits, which flags the SDM leaves undefined may explain: "+
		"comparing again step by step (--step %d), which follows them\n", filepath.Base(path), recheckStep)
	opts.Step = recheckStep
	st, _, err = imageOnce(w, path, image, opts)
	return st, err
}

// imageOnce is one comparison of Image; flagBits reports a mismatch in
// status-flag bits only.
func imageOnce(w io.Writer, path string, image []byte, opts Options) (st Status, flagBits bool, err error) {
	name := filepath.Base(path)
	in, err := newSide("interpreter", path, image, &opts)
	if err != nil {
		return 0, false, err
	}
	kv, err := newSide("kvm", path, image, &opts)
	if err != nil {
		return 0, false, err
	}
	k, err := kv.m.OpenKVM(kvm.Options{})
	if err != nil {
		return 0, false, err
	}
	defer k.Close()
	k.Deadline = time.Now().Add(opts.Timeout)
	k.NoSync = opts.Step != 0 // the steps are read with State; Sync at the end
	r := &diffRun{w: w, name: name, in: in, kv: kv, ref: kvmReference{k}, opts: opts}
	if opts.Step == 0 {
		st, err = r.whole()
	} else {
		st, err = r.stepped()
	}
	return st, r.flagBitsOnly, err
}

// diffRun is the comparison of one image.
type diffRun struct {
	w      io.Writer
	name   string
	in, kv *side
	ref    Reference
	opts   Options

	// Step mode: the don't-cares not yet reconciled, decoded instructions
	// by address, native segments followed, checks made.
	taint      taint
	reconciled reconciled
	// flagBitsOnly: the run ended in a mismatch whose every difference is
	// in status-flag bits (see Image).
	flagBitsOnly bool
	decoded      map[uint64]decodedInst
	segments     uint64 // native stretches KVM ran whole
	multi        uint64 // steps in which the host ran more than one instruction
	checks       uint64
	notes        []string
	followed     []followInst
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
	if n := r.reconciled; n != (reconciled{}) {
		notes = append(notes, fmt.Sprintf("documented don't-cares differed and were not compared (the interpreter took "+
			"the reference's values): undefined status flags in RFLAGS %d times, in registers (R11 after SYSCALL, "+
			"popped RFLAGS images, host values) %d times, in RFLAGS images in memory (PUSHF, interrupt frames) %d times",
			n.flags, n.regs, n.words))
	}
	for _, n := range notes {
		r.printf("  note: %s\n", n)
	}
}

// whole runs both sides to their ends and compares once.
func (r *diffRun) whole() (Status, error) {
	start := time.Now()
	r.in.exit = r.in.m.Run(r.opts.MaxInsns)
	r.in.wall = time.Since(start)
	start = time.Now()
	exit, err := r.ref.Run()
	r.kv.wall = time.Since(start)
	if err != nil {
		return r.kvmFailed(err)
	}
	r.kv.exit = exit
	return r.final()
}

// kvmFailed reports a KVM run that could not finish.
func (r *diffRun) kvmFailed(err error) (Status, error) {
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
		return Inconclusive, nil
	}
	return 0, err
}

// final compares the ends of both runs and prints the verdict.
func (r *diffRun) final() (Status, error) {
	r.printf("difftest: %s: interpreter: %s after %d instructions (%.3fs); kvm: %s (%.3fs)\n",
		r.name, describeExit(r.in.exit), r.in.m.CPU.Retired, r.in.wall.Seconds(), describeExit(r.kv.exit), r.kv.wall.Seconds())
	if r.kv.exit.Reason == machine.ExitStopped {
		r.printf("difftest: %s: INCONCLUSIVE: the KVM run did not end within --timeout %v\n", r.name, r.opts.Timeout)
		return Inconclusive, nil
	}
	if r.in.exit.Reason == machine.ExitInsnLimit {
		r.printf("difftest: %s: INCONCLUSIVE: the interpreter did not end within --max-insns %d\n", r.name, r.opts.MaxInsns)
		return Inconclusive, nil
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
	diffs = append(diffs, diffState(si, sk, &r.taint)...)
	ramI, ramK := r.in.m.Mem.RAM, r.kv.m.Mem.RAM
	tables := pagingPages(ramI, si.Sys.CR3, machine.BootPML4Addr)
	for p := range pagingPages(ramK, sk.Sys.CR3, machine.BootPML4Addr) {
		tables[p] = true
	}
	hi, hk := hashRAM(ramI, tables), hashRAM(ramK, tables)
	if hi != hk {
		at := firstRAMDifference(ramI, ramK, tables, 0)
		diffs = append(diffs, difference{what: "RAM sha256", interp: fmt.Sprintf("%x", hi[:8]), kvm: fmt.Sprintf("%x", hk[:8]),
			note:     fmt.Sprintf("first differing byte at physical %#x: interpreter %#02x, kvm %#02x", at, ramI[at], ramK[at]),
			flagBits: ramDiffersInFlagBits(ramI, ramK, tables)})
	} else if n := countPageBitDiffs(ramI, ramK, tables); n > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d paging-structure entries differ only in accessed/dirty bits (a documented don't-care)", n))
	}
	if len(diffs) == 0 {
		r.printf("difftest: %s: MATCH: serial output (%d bytes), exit, RIP, registers, RFLAGS, CR0/CR3/CR4/EFER, RAM sha256 %x\n",
			r.name, r.in.out.Len(), hi[:8])
		if r.opts.Step != 0 {
			r.printf("  --step %d: %d register checks", r.opts.Step, r.checks)
			if r.multi > 0 {
				r.printf(", %d host steps over two or more instructions (after I/O)", r.multi)
			}
			r.printf("\n")
		}
		r.printNotes()
		return Match, nil
	}
	r.report("at the end", si.Retired, si.RIP, diffs)
	r.flagBitsOnly = true
	for _, d := range diffs {
		r.flagBitsOnly = r.flagBitsOnly && d.flagBits
	}
	return Mismatch, nil
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

// countingSource counts the interrupts the interpreter takes.
type countingSource struct {
	cpu.InterruptSource
	acked uint64
}

func (s *countingSource) Acknowledge() uint8 {
	s.acked++
	return s.InterruptSource.Acknowledge()
}

// stepped runs both sides in lockstep: the reference single-steps (one
// instruction where it can single-step it, a whole native segment where it
// cannot), the interpreter follows until it is at the same RIP and
// privilege level, the don't-cares of the step are reconciled, and every
// opts.Step instructions the registers are compared.
func (r *diffRun) stepped() (Status, error) {
	ci := r.in.m.CPU
	var acks *countingSource
	if src := ci.InterruptSource(); src != nil {
		acks = &countingSource{InterruptSource: src}
		ci.SetInterruptSource(acks)
	}
	interrupts := func() uint64 {
		n := r.ref.Interrupts()
		if acks != nil {
			n += acks.acked
		}
		return n
	}
	noUserStep := r.ref.NativeUser()
	nextCheck := r.opts.Step
	start := time.Now()
	for {
		ripBefore, cplBefore := ci.RIP, ci.CPL
		inst, decoded := r.decode(ci, ripBefore)
		intsBefore, haltBefore := interrupts(), ci.Halted() || decoded && inst.Mnemonic == "hlt"
		t0 := time.Now()
		exitK, err := r.ref.Step()
		r.kv.wall += time.Since(t0)
		if err != nil {
			r.in.wall = time.Since(start) - r.kv.wall
			return r.kvmFailed(err)
		}
		sk, err := r.ref.State()
		if err != nil {
			return 0, err
		}
		if exitK.Reason != machine.ExitInsnLimit {
			// The reference ended: the interpreter must end with the
			// instruction it is about to execute.
			r.kv.exit = exitK
			if err := r.ref.Sync(); err != nil {
				return 0, err
			}
			r.in.exit = r.in.m.Run(min(ci.Position()+4, r.opts.MaxInsns))
			if r.in.exit.Reason == machine.ExitInsnLimit && noUserStep && sk.Sys.Seg[cpu.CS].Selector&3 == 3 {
				r.in.exit = r.in.m.Run(r.opts.MaxInsns)
			}
			r.in.wall = time.Since(start) - r.kv.wall
			return r.final()
		}
		// Follow, one instruction at a time, tracking the don't-cares.
		limit := uint64(4)
		n := uint64(0)
		cplK := uint8(sk.Sys.Seg[cpu.CS].Selector & 3)
		followed := append(r.followed[:0], followInst{ripBefore, inst, decoded})
		native := false
		for {
			before := pointOf(ci)
			if n > 0 {
				inst, decoded = r.decode(ci, ci.RIP)
				if !native {
					followed = append(followed, followInst{ci.RIP, inst, decoded})
				}
			}
			pos := ci.Position()
			if pos >= r.opts.MaxInsns {
				r.in.exit = machine.Exit{Reason: machine.ExitInsnLimit}
				r.in.wall = time.Since(start) - r.kv.wall
				r.kv.exit = machine.Exit{Reason: machine.ExitStopped}
				r.printf("difftest: %s: INCONCLUSIVE: --max-insns %d reached while following KVM\n", r.name, r.opts.MaxInsns)
				return Inconclusive, nil
			}
			e := r.in.m.Run(pos + 1)
			n++
			if e.Reason != machine.ExitInsnLimit {
				r.in.exit = e
				d := difference{what: "end of run", interp: describeExit(e),
					kvm: fmt.Sprintf("still running, at RIP %#x (CPL %d)", sk.RIP, cplK)}
				if followed[0].ok {
					d.note = fmt.Sprintf("the step began at %#x: %s", ripBefore, followed[0].inst.Text)
				}
				r.report("while following a step", ci.Retired, ci.RIP, []difference{d})
				return Mismatch, nil
			}
			r.taint.follow(inst, decoded, before, ci)
			if ci.RIP == sk.RIP && ci.CPL == cplK {
				break
			}
			if n == 1 && noUserStep && (cplBefore == 3 || ci.CPL == 3) {
				// A native segment: the reference ran it whole.
				limit, native = r.opts.MaxInsns, true
			}
			if n >= limit {
				if interrupts() != intsBefore || haltBefore {
					return r.interruptTiming(ci.Retired, ripBefore)
				}
				d := difference{what: "rip after one step",
					interp: fmt.Sprintf("%#x (CPL %d) after %d instructions", ci.RIP, ci.CPL, n),
					kvm:    fmt.Sprintf("%#x (CPL %d)", sk.RIP, cplK)}
				if followed[0].ok {
					d.note = fmt.Sprintf("the step began at %#x: %s", ripBefore, followed[0].inst.Text)
				}
				r.report("in step mode", ci.Retired, ripBefore, append([]difference{d}, diffState(ci.State(), sk, &r.taint)...))
				return Mismatch, nil
			}
		}
		r.followed = followed
		if native {
			r.segments++
		} else if n > 1 {
			r.multi++
		}
		// The don't-cares of the step take the reference's values, so the
		// two sides continue alike.
		r.taint.reconcile(ci, r.in.m.Mem.RAM, sk, r.kv.m.Mem.RAM, &r.reconciled)
		if ci.Position() >= nextCheck {
			r.checks++
			si := ci.State()
			diffs := diffState(si, sk, &r.taint)
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
				return Mismatch, nil
			}
			nextCheck = ci.Position() + r.opts.Step
		}
	}
}

// decodedInst is a cached decoding of the instruction bytes at an address.
type decodedInst struct {
	bytes [disasm.MaxInstLen]byte
	n     int
	inst  disasm.Inst
	ok    bool
}

// decode decodes the interpreter's instruction at rip, from a cache when
// the bytes there are the ones decoded before.
func (r *diffRun) decode(c *cpu.CPU, rip uint64) (disasm.Inst, bool) {
	var buf [disasm.MaxInstLen]byte
	n := len(buf)
	for n > 0 && c.ReadLinear(rip, buf[:n]) != nil {
		n--
	}
	if d, ok := r.decoded[rip]; ok && d.n == n && d.bytes == buf {
		return d.inst, d.ok
	}
	in, _, err := disasm.At(c, rip, &buf)
	if r.decoded == nil {
		r.decoded = map[uint64]decodedInst{}
	}
	r.decoded[rip] = decodedInst{bytes: buf, n: n, inst: in, ok: err == nil}
	return in, err == nil
}

// interruptTiming ends a step comparison that an asynchronous interrupt
// made meaningless: KVM takes interrupts when the host's time says (the
// guest clock follows host time there), the interpreter when its virtual
// clock does.
func (r *diffRun) interruptTiming(pos, rip uint64) (Status, error) {
	r.printf("difftest: %s: INCONCLUSIVE in step mode at interpreter position %d (RIP %#x): an asynchronous interrupt "+
		"(or HLT waiting for one) came at a different instruction under KVM, whose timers follow host time, than in the "+
		"interpreter, whose virtual clock follows the position; this is not an ftvm mismatch. Run without --step to "+
		"compare the end of the run.\n", r.name, pos, rip)
	r.printNotes()
	return Inconclusive, nil
}
