package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"ftvm/board"
	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/cpu/kvm"
	"ftvm/devices"
	"ftvm/gdbstub"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/metrics"
)

// runFlags are the flags of `ftvm run`.
type runFlags struct {
	mem      string
	serial   string
	clock    string
	maxInsns uint64
	stats    bool
	trace    bool
	disk     string
	net      string
	profile  string
	record   string
	seed     uint64
	cmdline  string
	initrd   string
	mac      string
	pcap     string
	snapshot string // start from this snapshot
	saveSnap string // save a snapshot here at the end
	accel    string
	events   string // JSON lines of events (--events)
	gdb      string // serve the GDB remote protocol here (--gdb)
	gdbWait  bool   // wait for the debugger before the first instruction
	metrics  string // serve Prometheus metrics here (--metrics)
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mem, "m", "64M", "guest RAM size (`SIZE` in bytes, or with K, M or G)")
	fs.StringVar(&f.serial, "serial", "stdio", "guest COM1 output: stdio, file:PATH or none")
	fs.StringVar(&f.clock, "clock", "host", "guest time source: host or virtual (reproducible)")
	fs.Uint64Var(&f.maxInsns, "max-insns", 0, "stop after `N` retired instructions (exit status 124)")
	fs.BoolVar(&f.stats, "stats", false, "print retired instructions, wall time and MIPS on stderr at exit")
	fs.BoolVar(&f.trace, "trace", false, "print each executed instruction with its disassembly and registers on stderr")
	fs.StringVar(&f.disk, "disk", "", "raw disk image `PATH` as virtio-blk (PATH,ro for read-only)")
	fs.StringVar(&f.net, "net", "none", "virtio-net backend `SPEC`: none, tap:NAME or socket:PATH (an ftvm switch)")
	fs.StringVar(&f.mac, "mac", "", "the guest NIC's `MAC` address (default 52:54:00:12:34:56)")
	fs.StringVar(&f.pcap, "pcap", "", "write every frame the guest sends or receives to pcap `FILE`")
	fs.StringVar(&f.profile, "cpuprofile", "", "write a Go CPU profile of ftvm itself to `FILE`")
	fs.StringVar(&f.record, "record", "", "record the run's event log to `LOG` (replay it with ftvm replay)")
	fs.StringVar(&f.snapshot, "snapshot", "", "start from the machine state in snapshot `FILE` instead of boot (same flags and disks as when it was saved)")
	fs.StringVar(&f.saveSnap, "save-snapshot", "", "save the machine state to `FILE` when the run ends (with --max-insns: at that position)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the virtual clock's random numbers")
	fs.StringVar(&f.cmdline, "append", "", "guest command line (`TEXT`: the kernel's, or for an ELF64 guest a string whose address is in RSI)")
	fs.StringVar(&f.initrd, "initrd", "", "initial ramdisk `FILE` for a Linux kernel")
	fs.StringVar(&f.accel, "accel", "interp", "CPU: interp (the interpreter) or kvm (the host's KVM; see ftvm difftest)")
	fs.StringVar(&f.events, "events", "", "write events (joins, failovers, the end) as JSON lines to `FILE`")
	fs.StringVar(&f.gdb, "gdb", "", "serve GDB's remote protocol on `ADDR` (host:port); a debugger that connects stops the guest")
	fs.BoolVar(&f.gdbWait, "gdb-wait", false, "with --gdb: wait for the debugger before the first instruction")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (run, primary)")
}

// parseSize parses a RAM size such as 64M, 1G or 1048576.
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 || v > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}

// lineWriter buffers console output and flushes it at each newline, so the
// console stays interactive without a system call per byte.
type lineWriter struct{ w *bufio.Writer }

func (l lineWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err == nil && (len(p) > 0 && p[len(p)-1] == '\n' || l.w.Buffered() > 4096) {
		err = l.w.Flush()
	}
	return n, err
}

// parseSpec turns run flags and the image argument into a machine spec.
func parseSpec(f *runFlags, imagePath string) (*machine.Spec, error) {
	ram, err := parseSize(f.mem)
	if err != nil {
		return nil, usagef("-m: %v", err)
	}
	s := &machine.Spec{ImagePath: imagePath, RAM: ram, Seed: f.seed, Cmdline: f.cmdline, PCAP: f.pcap,
		MAC: devices.DefaultMAC(0), Snapshot: f.snapshot, NIC: f.net != "" && f.net != "none", Net: f.net}
	if f.disk != "" {
		s.Disks = append(s.Disks, machine.ParseDisk(f.disk))
	}
	if f.mac != "" {
		hw, err := net.ParseMAC(f.mac)
		if err != nil || len(hw) != 6 {
			return nil, usagef("--mac %q: want six bytes like 52:54:00:12:34:56", f.mac)
		}
		copy(s.MAC[:], hw)
	}
	if s.Clock, err = machine.ParseClock(f.clock); err != nil {
		return nil, usagef("--clock: %v", err)
	}
	if s.Clock == machine.ClockHost {
		// The RTC starts at the host's time of day; a recording keeps it.
		s.RTCBase = time.Now().Unix()
	}
	if s.Image, err = os.ReadFile(imagePath); err != nil {
		return nil, err
	}
	if err := readInitrd(s, f.initrd); err != nil {
		return nil, err
	}
	return s, nil
}

// readInitrd reads the initial ramdisk file path, if any, into s; for a
// multiboot kernel path is the module list QEMU's -initrd takes: modules
// separated by commas, each a file name and optional arguments after a
// space (the whole item is the module's string).
func readInitrd(s *machine.Spec, path string) error {
	if path == "" {
		return nil
	}
	if machine.IsMultiboot(s.Image) {
		s.InitrdPath, s.Initrd, s.Modules = path, []byte{}, nil
		for _, item := range strings.Split(path, ",") {
			file, _, _ := strings.Cut(item, " ")
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("--initrd: %v", err)
			}
			s.Modules = append(s.Modules, machine.MultibootModule{String: item, Data: b})
			s.Initrd = append(s.Initrd, b...)
		}
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--initrd: %v", err)
	}
	s.InitrdPath, s.Initrd = path, b
	return nil
}

// console is where the guest's COM1 output goes.
type console struct {
	w     io.Writer
	flush func() error
	close func() error
}

// openConsole opens the --serial destination. A direct console writes
// each byte out as it comes: a side of a pair counts console output as
// emitted when the gate releases it, and its peer then drops its own copy,
// so bytes in a buffer would be lost with a killed process.
func openConsole(spec string, direct bool) (*console, error) {
	switch {
	case spec == "stdio" && direct:
		return &console{w: os.Stdout}, nil
	case spec == "stdio":
		bw := bufio.NewWriter(os.Stdout)
		return &console{w: lineWriter{bw}, flush: bw.Flush}, nil
	case spec == "none":
		return &console{}, nil
	case strings.HasPrefix(spec, "file:"):
		file, err := os.Create(strings.TrimPrefix(spec, "file:"))
		if err != nil {
			return nil, fmt.Errorf("--serial: %v", err)
		}
		if direct {
			return &console{w: file, close: file.Close}, nil
		}
		bw := bufio.NewWriter(file)
		return &console{w: bw, flush: bw.Flush, close: file.Close}, nil
	}
	return nil, usagef("--serial must be stdio, file:PATH or none, not %q", spec)
}

// flushEachWrite makes a stdio console write each byte as the guest sends
// it.
func (c *console) flushEachWrite() {
	if lw, ok := c.w.(lineWriter); ok {
		c.w = flushWriter{lw.w}
	}
}

// finish flushes and closes the console, reporting errors on stderr.
func (c *console) finish() {
	if c.flush != nil {
		if err := c.flush(); err != nil {
			fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
		}
	}
	if c.close != nil {
		c.close()
	}
}

// parseRunFlags parses the flags of a run-like command with one IMAGE.
func parseRunFlags(name string, args []string, f *runFlags) (string, error) {
	fs := newFlags(name, "usage: ftvm "+name+" [flags] IMAGE")
	f.register(fs)
	help, err := parseFlags(fs, args)
	if help {
		return "", flag.ErrHelp
	}
	if err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", usagef("%s needs exactly one IMAGE (got %d arguments)", name, fs.NArg())
	}
	return fs.Arg(0), nil
}

func cmdRun(args []string) (status int, err error) {
	var f runFlags
	imagePath, err := parseRunFlags("run", args, &f)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	spec, err := parseSpec(&f, imagePath)
	if err != nil {
		return 0, err
	}
	if err := checkAccel(&f); err != nil {
		return 0, err
	}
	cons, err := openConsole(f.serial, false)
	if err != nil {
		return 0, err
	}
	defer cons.finish()
	// A terminal on stdin: raw mode, every key to the guest, Ctrl-A x quits.
	var interactive bool
	if f.serial == "stdio" {
		if restore, err := rawTerminal(int(os.Stdin.Fd())); err == nil {
			defer restore()
			interactive = true
			cons.flushEachWrite()
			fmt.Fprintln(os.Stderr, "ftvm: the console is on this terminal; Ctrl-A x quits")
		}
	}

	cfg := machine.Config{Console: cons.w}
	var rec *lockstep.Recorder
	var logFile *os.File
	if f.record != "" {
		if logFile, err = os.Create(f.record); err != nil {
			return 0, fmt.Errorf("--record: %v", err)
		}
		defer logFile.Close()
		h, err := lockstep.NewHeader(spec)
		if err != nil {
			return 0, fmt.Errorf("--record: %v", err)
		}
		cfg.Live = machine.NewLiveInputs(spec.Clock == machine.ClockHost)
		if rec, err = lockstep.NewRecorder(logFile, h, cfg.Live); err != nil {
			return 0, err
		}
		cfg.Inputs, cfg.WrapEnv, cfg.Checker = rec, rec.WrapEnv, rec
		cfg.Console = lockstep.HashWriter{W: cons.w, Hash: &rec.Output}
	}
	b, err := board.Build(spec, cfg, board.Host{Live: true})
	if err != nil {
		return 0, err
	}
	defer b.Close()
	m := b.Machine
	if rec != nil {
		rec.SetNextCheck(m.CPU.Retired + lockstep.DefaultDigestInterval)
	}
	if f.serial == "stdio" {
		var quit func()
		if interactive {
			quit = m.RequestStop
		}
		readConsoleInputTo(m.Live.Post, m.Live.AddProducer(), quit)
	}
	ev, err := openEvents(f.events)
	if err != nil {
		return 0, err
	}
	stopMetrics, err := serveMetrics(newMetrics(f.metrics), f.metrics, func() metrics.Sample {
		s := metrics.Sample{Role: "run", Position: m.SeenPosition()}
		if rec != nil {
			s.LogBytesByKind = rec.BytesByKind()
		}
		return s
	})
	if err != nil {
		return 0, err
	}
	defer stopMetrics()
	exit, wall, err := runMachine(m, &f, nil)
	if err != nil {
		return 0, err
	}
	defer func() { ev.ended(m, status) }()
	if f.saveSnap != "" {
		if err := m.SaveSnapshotFile(f.saveSnap); err != nil {
			return 0, fmt.Errorf("--save-snapshot: %v", err)
		}
	}
	if rec != nil {
		if err := rec.Finish(m, exit); err != nil {
			return 0, fmt.Errorf("--record: %v", err)
		}
		// On stable storage before the run is reported done.
		if err := errors.Join(logFile.Sync(), logFile.Close()); err != nil {
			return 0, fmt.Errorf("--record: %v", err)
		}
		if f.stats {
			w := rec.Writer()
			fmt.Fprintf(os.Stderr, "ftvm: log bytes=%d (%.0f bytes/s, %.1f bytes per million instructions)\n",
				w.Bytes[0], float64(w.Bytes[0])/wall.Seconds(), float64(w.Bytes[0])/float64(max(m.CPU.Retired, 1))*1e6)
		}
	}
	return exit.Status(), nil
}

// readConsoleInputTo posts stdin's bytes as console inputs, calling done
// when stdin ends. With quit set, the input is the interactive console's:
// its Ctrl-A escapes are taken out and Ctrl-A x calls quit.
func readConsoleInputTo(post func(devices.Input), done func(), quit func()) {
	go func() {
		defer done()
		var esc escapeFilter
		buf := make([]byte, 512)
		for {
			n, err := os.Stdin.Read(buf)
			data, stop := buf[:n], false
			if quit != nil {
				data, stop = esc.filter(data)
			}
			if len(data) > 0 {
				post(devices.Input{Kind: devices.InputConsole, Data: append([]byte(nil), data...)})
			}
			if stop {
				quit()
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// startProfile starts a Go CPU profile of ftvm written to path (none when
// path is empty) and returns the function that ends it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, fmt.Errorf("--cpuprofile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		pf.Close()
	}, nil
}

// runMachine runs m to its end with the run flags' limit, trace, profile and
// statistics, and reports how it ended on stderr.
func runMachine(m *machine.Machine, f *runFlags, hist gdbstub.History) (machine.Exit, time.Duration, error) {
	if f.trace && f.gdb != "" {
		return machine.Exit{}, 0, usagef("--trace and --gdb cannot be combined (the debugger uses the trace hook)")
	}
	if f.trace {
		tw := bufio.NewWriterSize(os.Stderr, 1<<16)
		defer tw.Flush()
		m.CPU.Trace = traceFunc(tw)
	}
	stopProfile, err := startProfile(f.profile)
	if err != nil {
		return machine.Exit{}, 0, err
	}
	defer stopProfile()
	// SIGINT and SIGTERM end the run cleanly: the console is flushed and a
	// recording gets its end record.
	defer onSignal(m.RequestStop)()
	acc, maxInsns := m.Interpreter(), f.maxInsns
	var k *machine.KVM
	if f.accel == "kvm" {
		if k, err = m.OpenKVM(kvm.Options{}); err != nil {
			return machine.Exit{}, 0, err
		}
		defer k.Close()
		if f.maxInsns != 0 {
			fmt.Fprintf(os.Stderr, "ftvm: --max-insns is ignored with --accel kvm (KVM does not count instructions)\n")
		}
		acc, maxInsns = k, 0
	}
	start := time.Now()
	var exit machine.Exit
	if f.gdb != "" {
		exit, err = serveGDB(m, f, hist)
	} else {
		exit, err = m.RunOn(acc, maxInsns)
	}
	wall := time.Since(start)
	if err != nil {
		return machine.Exit{}, wall, err
	}
	report(m, exit, wall, f, k)
	return exit, wall, nil
}

// report says on stderr how a run ended, and prints --stats; k is the KVM
// the guest ran on, nil for the interpreter.
func report(m *machine.Machine, exit machine.Exit, wall time.Duration, f *runFlags, k *machine.KVM) {
	if err := m.UART.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
	}
	if m.Live != nil {
		if d := m.Live.Dropped(); d > 0 {
			fmt.Fprintf(os.Stderr, "ftvm: %d received frames dropped: more than %d waited for the guest\n", d, machine.MaxPendingFrames)
		}
	}
	c := m.CPU
	switch exit.Reason {
	case machine.ExitTripleFault:
		if k != nil {
			fmt.Fprintf(os.Stderr, "ftvm: triple fault (kvm)\n%s%s", c.Dump(), faultingInst(c))
		} else {
			fmt.Fprintf(os.Stderr, "ftvm: triple fault at position %d\n%s%s", c.Retired, c.Dump(), faultingInst(c))
		}
	case machine.ExitInsnLimit:
		if f.maxInsns != 0 {
			fmt.Fprintf(os.Stderr, "ftvm: instruction limit %d reached\n", f.maxInsns)
		} else {
			fmt.Fprintf(os.Stderr, "ftvm: the recorded run's instruction limit was reached at position %d\n", c.Retired)
		}
	case machine.ExitIdle:
		fmt.Fprintf(os.Stderr, "ftvm: guest halted with interrupts enabled and nothing that can interrupt it\n")
	case machine.ExitDiverged:
		fmt.Fprintf(os.Stderr, "ftvm: %v\n", m.Err)
	}
	if f.stats && k != nil {
		var exits []string
		for kind, n := range k.Exits {
			exits = append(exits, fmt.Sprintf("%s:%d", kind, n))
		}
		sort.Strings(exits)
		fmt.Fprintf(os.Stderr, "ftvm: accel=kvm wall=%.3fs exits=%s (KVM does not count retired instructions)\n",
			k.Wall.Seconds(), strings.Join(exits, ","))
	} else if f.stats {
		secs := wall.Seconds()
		mips := 0.0
		if secs > 0 {
			mips = float64(c.Retired) / secs / 1e6
		}
		fmt.Fprintf(os.Stderr, "ftvm: retired=%d wall=%.3fs mips=%.1f unimplemented=%d\n", c.Retired, secs, mips, c.UD)
	}
}

// faultingInst disassembles the instruction at the CPU's RIP.
func faultingInst(c *cpu.CPU) string {
	var buf [disasm.MaxInstLen]byte
	in, code, err := disasm.At(c, c.RIP, &buf)
	switch {
	case errors.Is(err, disasm.ErrNotMapped):
		return fmt.Sprintf("%016x: (not mapped)\n", c.RIP)
	case err != nil:
		return fmt.Sprintf("%016x: % x  (bad)\n", c.RIP, code)
	}
	return fmt.Sprintf("%016x: % x  %s\n", c.RIP, code, in.Text)
}

// traceFunc returns a tracer printing each instruction before it executes:
// position, address, bytes, disassembly and the registers.
func traceFunc(w io.Writer) func(c *cpu.CPU, rip uint64) {
	var buf [disasm.MaxInstLen]byte
	return func(c *cpu.CPU, rip uint64) {
		in, code, err := disasm.At(c, rip, &buf)
		text := in.Text
		switch {
		case errors.Is(err, disasm.ErrNotMapped):
			text = "(not mapped)"
		case err != nil:
			text, code = "(bad)", code[:1]
		}
		fmt.Fprintf(w, "%d %016x %-30x %-32s %s\n", c.Retired, rip, code, text, c.RegisterLine())
	}
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
		if f.gdb != "" {
			return usagef("--gdb needs --accel interp: positions come from the interpreter")
		}
		return nil
	}
	return usagef("--accel must be interp or kvm, not %q", f.accel)
}
