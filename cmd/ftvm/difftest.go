package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"ftvm/difftest"
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

func cmdDifftest(args []string) (int, error) { return runDifftestCmd(os.Stdout, args) }

// difftest is cmdDifftest writing its report to w.
func runDifftestCmd(w io.Writer, args []string) (int, error) {
	var f difftestFlags
	fs := newFlags("difftest", "")
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
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, usagef("difftest needs at least one IMAGE")
	}
	ram, err := parseSize(f.mem)
	if err != nil {
		return 0, usagef("-m: %v", err)
	}
	opts := difftest.Options{RAM: ram, Seed: f.seed, Cmdline: f.cmdline, Step: f.step, MaxInsns: f.maxInsns,
		Timeout: f.timeout}
	status := difftest.Match
	for _, path := range fs.Args() {
		if f.ring3 {
			path = difftest.Ring3Image(path)
		}
		image, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		st, err := difftest.Image(w, path, image, opts)
		if err != nil {
			return 0, err
		}
		status = difftest.Worse(status, st)
	}
	return int(status), nil
}
