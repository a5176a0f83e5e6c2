package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"

	"ftvm/devices"
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
	setup := &guestSetup{imagePath: fs.Arg(0), ram: h.RAM, seed: h.Seed, cmdline: h.Cmdline, rtcBase: h.RTCBase,
		mac: devices.DefaultMAC(0), snapshot: h.Snapshot}
	if f.snapshot != "" {
		setup.snapshot = f.snapshot
	}
	if setup.snapshot != "" {
		sum, err := lockstep.FileSHA256(setup.snapshot)
		if err != nil {
			return 0, err
		}
		if sum != h.SnapshotSHA256 {
			return 0, fmt.Errorf("snapshot %s is not the one the recording started from (%s)", setup.snapshot, h.Snapshot)
		}
	}
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
	if h.Net {
		if len(h.Nets) > 0 {
			if hw, err := net.ParseMAC(h.Nets[0]); err == nil && len(hw) == 6 {
				copy(setup.mac[:], hw)
			}
		}
		setup.net = noLink // the NIC exists; frames come from the log
	}
	for i, d := range h.Disks {
		path := d.Path
		if i == 0 && f.disk != "" {
			path = parseDisk(f.disk).path
		}
		// The replaying side's disk must be an identical copy of the
		// recorded one as it was when recording started.
		sum, err := lockstep.FileSHA256(path)
		if err != nil {
			return 0, err
		}
		if sum != d.SHA256 {
			return 0, fmt.Errorf("disk %s differs from the recorded disk's starting state (%s); replay needs a copy taken before the recording (use --disk PATH)", path, d.Path)
		}
		setup.disks = append(setup.disks, diskSpec{path: path, readOnly: d.ReadOnly})
	}
	cons, err := openConsole(f.serial)
	if err != nil {
		return 0, err
	}
	defer cons.finish()

	rep := lockstep.NewReplayer(r)
	b, err := setup.build(machine.Config{
		Console: lockstep.HashWriter{W: cons.w, Hash: &rep.Output},
		Inputs:  rep, WrapEnv: rep.WrapEnv, Checker: rep,
	}, buildHooks{})
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
