package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"ftvm/board"
	"ftvm/lockstep"
	"ftvm/machine"
)

// cmdReplay re-executes a recorded run from its log. The machine is rebuilt
// from the log header, so only the image is named again; it must be the one
// recorded.
func cmdReplay(args []string) (int, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var f runFlags
	f.register(fs)
	logPath := fs.String("log", "", "the event `LOG` written by ftvm run --record")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ftvm replay --log LOG [flags] IMAGE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usageError{err.Error()}
	}
	if *logPath == "" || fs.NArg() != 1 {
		return 0, usagef("replay needs --log LOG and exactly one IMAGE")
	}
	logFile, err := os.Open(*logPath)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	r, err := lockstep.NewReader(logFile)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", *logPath, err)
	}
	h := r.Header
	spec, err := h.Spec()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", *logPath, err)
	}
	spec.ImagePath = fs.Arg(0)
	if f.snapshot != "" {
		spec.Snapshot = f.snapshot
	}
	if f.disk != "" && len(spec.Disks) > 0 {
		spec.Disks[0].Path = machine.ParseDisk(f.disk).Path
	}
	if spec.Image, err = os.ReadFile(spec.ImagePath); err != nil {
		return 0, err
	}
	if f.initrd != "" {
		spec.InitrdPath = f.initrd
	}
	if err := readInitrd(&spec, spec.InitrdPath); err != nil {
		return 0, err
	}
	if err := h.CheckFiles(&spec); err != nil {
		return 0, fmt.Errorf("%s: %v", *logPath, err)
	}
	cons, err := openConsole(f.serial, false)
	if err != nil {
		return 0, err
	}
	defer cons.finish()

	rep := lockstep.NewReplayer(r)
	b, err := board.Build(&spec, machine.Config{
		Console: lockstep.HashWriter{W: cons.w, Hash: &rep.Output},
		Inputs:  rep, WrapEnv: rep.WrapEnv, Checker: rep,
	}, board.Host{})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	m := b.Machine
	rep.SetNextCheck(m.CPU.Retired + r.Header.DigestInterval)
	rep.Attach(m)
	exit, _, err := runMachine(m, &f)
	if err != nil {
		return 0, err
	}
	if exit.Reason == machine.ExitInsnLimit {
		return exit.Status(), nil
	}
	// Replay stops at the log's end record (ExitStopped) when the recording
	// ended by its --max-insns limit or a signal: it ends as that did.
	if end, ok := rep.EndExit(); ok && exit.Reason == machine.ExitStopped {
		exit = end
	}
	if err := rep.Finish(m, exit); errors.Is(err, lockstep.ErrCutShort) {
		fmt.Fprintf(os.Stderr, "ftvm: %v (position %d)\n", err, m.CPU.Retired)
		return exit.Status(), nil
	} else if err != nil {
		if exit.Reason != machine.ExitDiverged {
			fmt.Fprintf(os.Stderr, "ftvm: %v\n", err)
		}
		return exitInternal, nil
	}
	fmt.Fprintf(os.Stderr, "ftvm: replay matched the recording: %d instructions, same outputs, same final state\n", m.CPU.Retired)
	return exit.Status(), nil
}
