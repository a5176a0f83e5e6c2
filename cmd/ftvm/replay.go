package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"

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
	setup := &guestSetup{imagePath: fs.Arg(0), ram: h.RAM, seed: h.Seed, cmdline: h.Cmdline}
	switch h.Clock {
	case "virtual":
		setup.clock = machine.ClockVirtual
	case "host":
		setup.clock = machine.ClockHost
	default:
		return 0, fmt.Errorf("%s: unknown clock %q in the log header", *logPath, h.Clock)
	}
	if setup.image, err = os.ReadFile(setup.imagePath); err != nil {
		return 0, err
	}
	if sum := sha256.Sum256(setup.image); hex.EncodeToString(sum[:]) != h.ImageSHA256 {
		return 0, fmt.Errorf("%s is not the image recorded in %s (%s)", setup.imagePath, *logPath, h.Image)
	}
	cons, err := openConsole(f.serial)
	if err != nil {
		return 0, err
	}
	defer cons.finish()

	rep := lockstep.NewReplayer(r)
	m, err := setup.build(machine.Config{
		Console: lockstep.HashWriter{W: cons.w, Hash: &rep.Output},
		Inputs:  rep, WrapEnv: rep.WrapEnv, Checker: rep,
	})
	if err != nil {
		return 0, err
	}
	rep.Attach(m)
	exit, _, err := runMachine(m, &f)
	if err != nil {
		return 0, err
	}
	if exit.Reason == machine.ExitInsnLimit {
		return exit.Status(), nil
	}
	if err := rep.Finish(m, exit); err != nil {
		if exit.Reason != machine.ExitDiverged {
			fmt.Fprintf(os.Stderr, "ftvm: %v\n", err)
		}
		return exitInternal, nil
	}
	fmt.Fprintf(os.Stderr, "ftvm: replay matched the recording: %d instructions, same outputs, same final state\n", m.CPU.Retired)
	return exit.Status(), nil
}
