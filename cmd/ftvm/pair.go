package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"ftvm/board"
	"ftvm/devices"
	"ftvm/failover"
	"ftvm/hostio"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/metrics"
	"ftvm/transport"
)

// pairFlags are the flags the primary and the backup share.
type pairFlags struct {
	tls, arbiter, listen string
	heartbeat, timeout   time.Duration
	maxLag               time.Duration
}

func (p *pairFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.tls, "tls", "", "`DIR` with ca.crt, node.crt and node.key (ftvm certs DIR)")
	fs.StringVar(&p.arbiter, "arbiter", "", "atomic test-and-set: file:`PATH` on shared storage, or etcd:URL[,URL...]/PREFIX")
	fs.DurationVar(&p.heartbeat, "heartbeat", 50*time.Millisecond, "heartbeat interval")
	fs.DurationVar(&p.timeout, "failover-timeout", 300*time.Millisecond, "declare the peer dead after this long without heartbeats or log traffic")
	fs.DurationVar(&p.maxLag, "max-lag", time.Second, "throttle the primary when the backup lags more than this much of its execution")
}

// options turns the flags into failover options.
func (p *pairFlags) options() (failover.Options, error) {
	if p.tls == "" {
		return failover.Options{}, usagef("--tls DIR is required (create it with ftvm certs DIR)")
	}
	tlsCfg, err := transport.LoadTLS(p.tls)
	if err != nil {
		return failover.Options{}, err
	}
	arb, err := failover.ParseArbiter(p.arbiter, tlsCfg.Client)
	if err != nil {
		return failover.Options{}, usageError{err.Error()}
	}
	return failover.Options{TLS: tlsCfg, Heartbeat: p.heartbeat, FailoverTimeout: p.timeout, MaxLag: p.maxLag,
		Arbiter: arb, Listen: p.listen, Log: os.Stderr}, nil
}

// pairMember is what the primary and the backup share: the hooks of their
// board's devices and their run.
type pairMember interface {
	Post(devices.Input)
	WrapNet(hostio.Net) hostio.Net
	WrapDisk(devices.BlockBackend, int) devices.BlockBackend
	Producer() func()
	Run(maxInsns uint64) machine.Exit
	Err() error
	OutputErr() error
}

// nodeHost connects a board's devices to a member of a pair.
func nodeHost(n pairMember) board.Host {
	return board.Host{Live: true, Post: n.Post, WrapNet: n.WrapNet, WrapDisk: n.WrapDisk, Producer: n.Producer}
}

func cmdPrimary(args []string) (int, error) {
	fs := newFlags("primary", "usage: ftvm primary --listen ADDR --tls DIR [--arbiter file:PATH|etcd:URLS/PREFIX] [--mode lockstep|checkpoint[:INTERVAL]|io-sync] [--wait-backup] [run flags] IMAGE")
	var f runFlags
	var p pairFlags
	f.register(fs)
	p.register(fs)
	fs.StringVar(&p.listen, "listen", "", "`ADDR` (host:port, UDP) where the backup connects")
	waitBackup := fs.Bool("wait-backup", false, "hold the guest at its first instruction until a backup has joined")
	mode := fs.String("mode", "lockstep", "how the backup is kept: lockstep (it replays the inputs), checkpoint[:INTERVAL] (Remus: a checkpoint every INTERVAL, default 25ms) or io-sync (Kemari: a checkpoint before each output)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() != 1 || p.listen == "" {
		return 0, usagef("primary needs --listen ADDR, --tls DIR and exactly one IMAGE")
	}
	pmode, interval, err := failover.ParseMode(*mode)
	if err != nil {
		return 0, usageError{err.Error()}
	}
	if err := checkPairRunFlags(&f); err != nil {
		return 0, err
	}
	opts, err := p.options()
	if err != nil {
		return 0, err
	}
	opts.Mode, opts.Interval = pmode, interval
	ev, err := openEvents(f.events)
	if err != nil {
		return 0, err
	}
	met := newMetrics(f.metrics)
	opts.OnEvent = eventSinks(ev, met)
	spec, err := parseSpec(&f, fs.Arg(0))
	if err != nil {
		return 0, err
	}
	if _, ok := opts.Arbiter.(failover.NoArbiter); ok {
		fmt.Fprintln(os.Stderr, "ftvm: no --arbiter: if the link between two healthy hosts breaks, both sides may go live")
	}
	cons, err := openConsole(f.serial, true)
	if err != nil {
		return 0, err
	}
	defer cons.finish()
	opts.Clock = spec.Clock
	node := failover.NewPrimary(opts)
	status := metrics.FromStatus(node.Status)
	stopMetrics, err := serveMetrics(met, f.metrics, func() metrics.Sample {
		s := status()
		s.LogBytesByKind = node.LogBytesByKind()
		return s
	})
	if err != nil {
		return 0, err
	}
	defer stopMetrics()
	b, err := board.Build(spec, node.Configure(machine.Config{}, cons.w), nodeHost(node))
	if err != nil {
		return 0, err
	}
	defer b.Close()
	h, err := lockstep.NewHeader(spec)
	if err != nil {
		return 0, err
	}
	var disks []string
	for _, d := range spec.Disks {
		disks = append(disks, d.Path)
	}
	node.Attach(b.Machine, h, disks, b.Blks)
	if err := node.Claim(); err != nil {
		return 0, err
	}
	if err := node.Listen(); err != nil {
		return 0, err
	}
	defer onSignal(node.Stop)()
	if *waitBackup {
		if err := node.WaitBackup(context.Background()); errors.Is(err, failover.ErrStopped) {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
	}
	if f.serial == "stdio" {
		readConsoleInputTo(node.Post, node.Producer(), nil)
	}
	exit, _, err := runNode(node, b.Machine, &f)
	if err != nil {
		return 0, err
	}
	if f.stats {
		throttled, end := node.BackupWaits()
		fmt.Fprintf(os.Stderr, "ftvm: waited for the backup: throttled=%.3fs end=%.3fs\n", throttled.Seconds(), end.Seconds())
	}
	ev.ended(b.Machine, exit)
	return exit, nil
}

// checkPairRunFlags refuses the run flags a pair member cannot honour,
// rather than ignoring them.
func checkPairRunFlags(f *runFlags) error {
	switch {
	case f.accel == "kvm":
		return usagef("--accel kvm cannot run a pair member, in any --mode: lockstep places every input at an " +
			"instruction count and the checkpoint modes find the pages written since the last checkpoint through " +
			"the interpreter's writes; KVM gives neither (ftvm run --accel kvm runs a guest alone)")
	case f.accel != "" && f.accel != "interp":
		return usagef("--accel must be interp or kvm, not %q", f.accel)
	case f.record != "":
		return usagef("--record is for ftvm run: a pair's log is the stream to the backup")
	case f.trace, f.gdb != "":
		return usagef("--trace and --gdb are for ftvm run and ftvm replay, not a pair member")
	case f.saveSnap != "":
		return usagef("--save-snapshot is for ftvm run and ftvm replay, not a pair member")
	}
	return nil
}

// runNode runs a pair member's machine and reports like runMachine.
func runNode(node pairMember, m *machine.Machine, f *runFlags) (int, time.Duration, error) {
	stopProfile, err := startProfile(f.profile)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	exit := node.Run(f.maxInsns)
	stopProfile()
	wall := time.Since(start)
	if node.Err() != nil {
		return exitInternal, wall, nil
	}
	if err := node.OutputErr(); err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
	}
	report(m, exit, wall, f, nil)
	return exit.Status(), wall, nil
}

func cmdBackup(args []string) (int, error) {
	fs := newFlags("backup", "usage: ftvm backup --primary ADDR --tls DIR [--arbiter file:PATH|etcd:URLS/PREFIX] [--net SPEC] [--disk PATH] [--listen ADDR]")
	var p pairFlags
	p.register(fs)
	primary := fs.String("primary", "", "the primary's `ADDR` (host:port)")
	netSpec := fs.String("net", "none", "this host's network backend for the guest NIC when live: none, tap:NAME, socket:PATH")
	disk := fs.String("disk", "", "this host's copy of the guest's disk (`PATH`; overwritten if it differs)")
	serial := fs.String("serial", "stdio", "guest COM1 output when live: stdio, file:PATH or none")
	fs.StringVar(&p.listen, "listen", "", "`ADDR` where a new backup can connect once this side is live")
	stats := fs.Bool("stats", false, "print statistics at exit")
	profile := fs.String("cpuprofile", "", "write a Go CPU profile of ftvm itself to `FILE`")
	events := fs.String("events", "", "write events (join, failover, the end) as JSON lines to `FILE`")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if *primary == "" || fs.NArg() != 0 {
		return 0, usagef("backup needs --primary ADDR and --tls DIR, and no IMAGE (the state comes from the primary)")
	}
	opts, err := p.options()
	if err != nil {
		return 0, err
	}
	ev, err := openEvents(*events)
	if err != nil {
		return 0, err
	}
	met := newMetrics(*metricsAddr)
	opts.OnEvent = eventSinks(ev, met)
	cons, err := openConsole(*serial, true)
	if err != nil {
		return 0, err
	}
	defer cons.finish()
	node := failover.NewBackup(opts)
	stopMetrics, err := serveMetrics(met, *metricsAddr, metrics.FromStatus(node.Status))
	if err != nil {
		return 0, err
	}
	defer stopMetrics()
	var disks []string
	if *disk != "" {
		disks = []string{machine.ParseDisk(*disk).Path}
	}
	var b *board.Board
	build := func(h lockstep.Header, cfg machine.Config) (*machine.Machine, []*devices.VirtioBlk, error) {
		spec, err := h.Spec()
		if err != nil {
			return nil, nil, err
		}
		spec.Net = *netSpec
		if len(spec.Disks) > len(disks) {
			return nil, nil, fmt.Errorf("the guest has %d disks: give this backup a copy with --disk PATH", len(spec.Disks))
		}
		for i := range spec.Disks {
			spec.Disks[i].Path = disks[i]
		}
		b, err = board.Build(&spec, cfg, nodeHost(node))
		if err != nil {
			return nil, nil, err
		}
		return b.Machine, b.Blks, nil
	}
	defer func() {
		if b != nil {
			b.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer onSignal(func() {
		cancel()
		node.Stop()
	})()
	if err := node.JoinPrimary(ctx, *primary, disks, build, cons.w); errors.Is(err, context.Canceled) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	f := runFlags{stats: *stats, profile: *profile}
	exit, _, err := runNode(node, b.Machine, &f)
	if err == nil {
		ev.ended(b.Machine, exit)
	}
	return exit, err
}

func cmdStatus(args []string) (int, error) {
	fs := newFlags("status", "")
	tlsDir := fs.String("tls", "", "`DIR` with the pair's certificates")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() != 1 || *tlsDir == "" {
		return 0, usagef("usage: ftvm status --tls DIR ADDR")
	}
	tlsCfg, err := transport.LoadTLS(*tlsDir)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b, err := transport.QueryStatus(ctx, fs.Arg(0), tlsCfg)
	if err != nil {
		return 0, err
	}
	fmt.Println(string(b))
	return 0, nil
}
