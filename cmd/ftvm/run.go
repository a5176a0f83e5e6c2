package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/machine"
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
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mem, "m", "64M", "guest RAM size (`SIZE` in bytes, or with K, M or G)")
	fs.StringVar(&f.serial, "serial", "stdio", "guest COM1 output: stdio, file:PATH or none")
	fs.StringVar(&f.clock, "clock", "host", "guest time source: host or virtual (reproducible)")
	fs.Uint64Var(&f.maxInsns, "max-insns", 0, "stop after `N` retired instructions (exit status 124)")
	fs.BoolVar(&f.stats, "stats", false, "print retired instructions, wall time and MIPS on stderr at exit")
	fs.BoolVar(&f.trace, "trace", false, "print each executed instruction with its disassembly and registers on stderr")
	fs.StringVar(&f.disk, "disk", "", "raw disk image `PATH` as virtio-blk (not available yet)")
	fs.StringVar(&f.net, "net", "none", "network backend `SPEC`: none (others not available yet)")
	fs.StringVar(&f.profile, "cpuprofile", "", "write a Go CPU profile of ftvm itself to `FILE`")
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

func cmdRun(args []string) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var f runFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ftvm run [flags] IMAGE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return 0, usagef("run needs exactly one IMAGE (got %d arguments)", fs.NArg())
	}
	ram, err := parseSize(f.mem)
	if err != nil {
		return 0, usagef("-m: %v", err)
	}
	if f.disk != "" {
		return 0, usagef("--disk: virtio-blk is not available yet")
	}
	if f.net != "none" {
		return 0, usagef("--net %s: only 'none' is available yet", f.net)
	}
	var clock machine.ClockMode
	switch f.clock {
	case "host":
		clock = machine.ClockHost
	case "virtual":
		clock = machine.ClockVirtual
	default:
		return 0, usagef("--clock must be host or virtual, not %q", f.clock)
	}
	var console io.Writer
	var flush func() error
	switch {
	case f.serial == "stdio":
		bw := bufio.NewWriter(os.Stdout)
		console, flush = lineWriter{bw}, bw.Flush
	case f.serial == "none":
	case strings.HasPrefix(f.serial, "file:"):
		file, err := os.Create(strings.TrimPrefix(f.serial, "file:"))
		if err != nil {
			return 0, fmt.Errorf("--serial: %v", err)
		}
		defer file.Close()
		bw := bufio.NewWriter(file)
		console, flush = bw, bw.Flush
	default:
		return 0, usagef("--serial must be stdio, file:PATH or none, not %q", f.serial)
	}

	image, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return 0, err
	}
	m, err := machine.New(machine.Config{RAM: ram, Console: console, Clock: clock})
	if err != nil {
		return 0, err
	}
	if err := m.LoadELF64(image); err != nil {
		return 0, fmt.Errorf("%s: %v", fs.Arg(0), err)
	}
	if f.trace {
		tw := bufio.NewWriterSize(os.Stderr, 1<<16)
		defer tw.Flush()
		m.CPU.Trace = traceFunc(tw)
	}

	if f.profile != "" {
		pf, err := os.Create(f.profile)
		if err != nil {
			return 0, fmt.Errorf("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return 0, fmt.Errorf("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}

	start := time.Now()
	exit := m.Run(f.maxInsns)
	wall := time.Since(start)
	if flush != nil {
		if err := flush(); err != nil {
			fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
		}
	}
	if err := m.UART.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: console: %v\n", err)
	}
	c := m.CPU
	switch exit.Reason {
	case machine.ExitTripleFault:
		fmt.Fprintf(os.Stderr, "ftvm: triple fault at position %d\n%s%s", c.Retired, c.Dump(), faultingInst(c))
	case machine.ExitInsnLimit:
		fmt.Fprintf(os.Stderr, "ftvm: instruction limit %d reached\n", f.maxInsns)
	case machine.ExitIdle:
		fmt.Fprintf(os.Stderr, "ftvm: guest halted with interrupts enabled and no device that can interrupt it\n")
	}
	if f.stats {
		secs := wall.Seconds()
		mips := 0.0
		if secs > 0 {
			mips = float64(c.Retired) / secs / 1e6
		}
		fmt.Fprintf(os.Stderr, "ftvm: retired=%d wall=%.3fs mips=%.1f unimplemented=%d\n", c.Retired, secs, mips, c.UD)
	}
	return exit.Status(), nil
}

// faultingInst disassembles the instruction at the CPU's RIP.
func faultingInst(c *cpu.CPU) string {
	var buf [15]byte
	n := len(buf)
	for n > 0 && c.ReadLinear(c.RIP, buf[:n]) != nil {
		n--
	}
	if n == 0 {
		return fmt.Sprintf("%016x: (not mapped)\n", c.RIP)
	}
	in, err := disasm.Decode(buf[:n], c.RIP)
	if err != nil {
		return fmt.Sprintf("%016x: % x  (bad)\n", c.RIP, buf[:n])
	}
	return fmt.Sprintf("%016x: % x  %s\n", c.RIP, buf[:in.Len], in.Text)
}

// traceFunc returns a tracer printing each instruction before it executes:
// position, address, bytes, disassembly and the registers.
func traceFunc(w io.Writer) func(c *cpu.CPU, rip uint64) {
	var buf [15]byte
	return func(c *cpu.CPU, rip uint64) {
		n := len(buf)
		for n > 0 && c.ReadLinear(rip, buf[:n]) != nil {
			n--
		}
		text := "(not mapped)"
		if in, err := disasm.Decode(buf[:n], rip); err == nil {
			text, n = in.Text, in.Len
		} else if n > 0 {
			text, n = "(bad)", 1
		}
		fmt.Fprintf(w, "%d %016x %-30x %-32s %s\n", c.Retired, rip, buf[:n], text, c.RegisterLine())
	}
}
