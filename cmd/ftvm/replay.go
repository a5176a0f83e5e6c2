package main

import (
	"errors"
	"fmt"
	"os"

	"ftvm/board"
	"ftvm/gdbstub"
	"ftvm/lockstep"
	"ftvm/machine"
)

// cmdReplay re-executes a recorded run from its log. The machine is rebuilt
// from the log header, so only the image is named again; it must be the one
// recorded.
func cmdReplay(args []string) (int, error) {
	fs := newFlags("replay", "usage: ftvm replay --log LOG [flags] IMAGE")
	var f runFlags
	f.register(fs)
	logPath := fs.String("log", "", "the event `LOG` written by ftvm run --record")
	to := fs.Uint64("to", 0, "stop the replay at `POSITION` (with --save-snapshot: save the machine there)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
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
	out := &gdbstub.Console{W: cons.w}
	b, err := board.Build(&spec, machine.Config{
		Console: lockstep.HashWriter{W: out, Hash: &rep.Output},
		Inputs:  rep, WrapEnv: rep.WrapEnv, Checker: rep,
	}, board.Host{})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	m := b.Machine
	rep.SetNextCheck(m.CPU.Retired + r.Header.DigestInterval)
	rep.Attach(m)
	var hist gdbstub.History
	if f.gdb != "" {
		open := func() (lockstep.Source, error) { return reopenLog(*logPath) }
		if out.Replay, err = gdbstub.NewReplay(m, rep, open, 0); err != nil {
			return 0, err
		}
		hist = out.Replay
	}
	if *to != 0 {
		f.maxInsns = *to
	}
	exit, _, err := runMachine(m, &f, hist)
	if err != nil {
		return 0, err
	}
	if f.saveSnap != "" {
		if err := m.SaveSnapshotFile(f.saveSnap); err != nil {
			return 0, err
		}
	}
	if exit.Reason == machine.ExitInsnLimit && *to != 0 {
		fmt.Fprintf(os.Stderr, "ftvm: replay stopped at position %d\n", m.CPU.Retired)
		return 0, nil
	}
	if exit.Reason == machine.ExitInsnLimit {
		return exit.Status(), nil
	}
	// Replay stops at the log's end record (ExitStopped) when the recording
	// ended by its --max-insns limit or a signal: it ends as that did.
	if end, ok := rep.EndExit(); ok && exit.Reason == machine.ExitStopped {
		exit = end
	}
	if end, ok := rep.End(); hist != nil && (!ok || m.CPU.Retired != end) {
		// a debugger killed the replay before its end
		fmt.Fprintf(os.Stderr, "ftvm: replay left at position %d\n", m.CPU.Retired)
		return exit.Status(), nil
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

// reopenLog opens a log again at its first record, for a debugger going
// back (the replay closes it when it rewinds again).
func reopenLog(path string) (lockstep.Source, error) {
	lf, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := lockstep.NewReader(lf)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return logSource{r, lf}, nil
}

// logSource is a log reader that owns its file.
type logSource struct {
	*lockstep.Reader
	f *os.File
}

func (l logSource) Close() error { return l.f.Close() }
