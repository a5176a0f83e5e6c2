package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"ftvm/internal/netlab"
	"ftvm/internal/twohost"
)

// linuxDemoFlags are the flags of ftvm demo --linux.
type linuxDemoFlags struct {
	linux         bool
	dir           string
	mode, arbiter string
	kill          string
}

func (f *linuxDemoFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.linux, "linux", false, "show Debian's kernel paired across two hosts (network namespaces; needs root)")
	fs.StringVar(&f.dir, "linux-dir", filepath.Join("testdata", "guests", "build", "linux"), "with --linux: the `DIR` with vmlinux and initramfs.cpio.gz (make linux-guest)")
	fs.StringVar(&f.mode, "mode", "lockstep", "with --linux: the pair's mode: lockstep, checkpoint[:INTERVAL] or io-sync")
	fs.StringVar(&f.arbiter, "arbiter", "", "with --linux: `file` or etcd (default: etcd when installed, else file)")
	fs.StringVar(&f.kill, "kill", "primary", "with --linux: the `SIDE` killed: primary or backup")
}

// cmdDemoLinux shows the failover of twohost.Run: two hosts, a client with
// one TCP connection to a service in the guest, a kill -9, a timeline.
func cmdDemoLinux(f *linuxDemoFlags, seed int64) (int, error) {
	var kill twohost.Side
	switch f.kill {
	case "primary":
		kill = twohost.Primary
	case "backup":
		kill = twohost.Backup
	default:
		return 0, usagef("--kill %q: want primary or backup", f.kill)
	}
	cfg := twohost.Config{Kill: kill, Vmlinux: filepath.Join(f.dir, "vmlinux"), Initrd: filepath.Join(f.dir, "initramfs.cpio.gz"),
		Mode: f.mode, Arbiter: f.arbiter}
	if cfg.Arbiter == "" {
		cfg.Arbiter = "file"
		if _, err := exec.LookPath("etcd"); err == nil {
			cfg.Arbiter = "etcd"
		}
	}
	var err error
	if cfg.Ftvm, err = os.Executable(); err != nil {
		return 0, err
	}
	if cfg.Dir, err = os.MkdirTemp("", "ftvm-demo-linux"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(cfg.Dir)
	cfg.KillAfter = time.Duration(1000+rand.New(rand.NewSource(seed)).Intn(2000)) * time.Millisecond
	var start time.Time
	line := func(e twohost.Event) string {
		return fmt.Sprintf("%7d ms  %-9s %s", e.At.Sub(start).Milliseconds(), e.Who+":", e.Text)
	}
	cfg.OnEvent = func(e twohost.Event) {
		if start.IsZero() { // the first event: Run has its hosts
			start = e.At
			fmt.Printf("ftvm demo --linux: Debian's kernel as a %s pair on two hosts (network namespaces), the %s killed after %v of streaming\n",
				cfg.Mode, cfg.Kill, cfg.KillAfter)
		}
		fmt.Println(line(e))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := onSignal(cancel)
	defer release()
	res, err := twohost.Run(ctx, cfg)
	switch {
	case errors.Is(err, netlab.ErrNotRoot):
		return 0, errors.New("ftvm demo --linux needs root: it creates network namespaces, bridges and TAP devices (run it as root, e.g. with sudo)")
	case errors.Is(err, fs.ErrNotExist) && res.Timeline == nil: // Run's check of its files, before any event
		return 0, fmt.Errorf("%v (build the Linux guest with make linux-guest, or pass --linux-dir)", err)
	}
	fmt.Println()
	fmt.Println("ftvm demo --linux: timeline")
	for _, e := range res.Timeline {
		fmt.Println("  " + line(e))
	}
	if ctx.Err() != nil {
		fmt.Println("ftvm demo --linux: interrupted; its namespaces and processes are removed")
		return 128 + int(syscall.SIGINT), nil
	}
	if err != nil {
		return 0, err
	}
	fmt.Printf("ftvm demo --linux: %s killed; the stream resumed %d ms after the kill (longest wait %d ms; %d ms while the new backup joined)\n",
		res.Killed, res.Resumed.Milliseconds(), res.Stall.Milliseconds(), res.JoinStall.Milliseconds())
	if res.Killed == twohost.Primary {
		fmt.Printf("ftvm demo --linux: GARP on LAN port %s %d ms after the kill; the guest's MAC moved from %s to %s\n",
			res.GARPPort, res.GARP.Milliseconds(), res.PortBefore, res.PortAfter)
	}
	fmt.Printf("ftvm demo --linux: bytes sent %d, echoed %d, lost %d; generations live on two sides: %d\n",
		res.BytesSent, res.BytesEcho, res.LostBytes, res.DoubleLive())
	for _, s := range append(res.Unexpected(), res.Spurious()...) {
		fmt.Println("ftvm demo --linux: " + s)
	}
	if p := res.Problems(); len(p) > 0 {
		for _, s := range p {
			fmt.Println("ftvm demo --linux: BROKEN: " + s)
		}
		return 1, nil
	}
	return 0, nil
}
