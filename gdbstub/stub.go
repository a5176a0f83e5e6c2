// Package gdbstub serves GDB's remote serial protocol for a machine: its
// registers (a target description with the general, segment, x87, SSE and
// control registers), memory through the guest's page tables, breakpoints,
// write watchpoints, single steps, continue and Ctrl-C, at exact positions
// (instructions retired). On a replay it also runs backwards (History).
package gdbstub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"ftvm/cpu"
	"ftvm/machine"
)

// Options says how a debugged run goes.
type Options struct {
	// Wait makes Serve wait for the debugger before the first instruction;
	// otherwise the guest runs until a debugger connects (which stops it).
	Wait bool
	// MaxInsns ends the run at that position, as machine.RunOn does (0: none).
	MaxInsns uint64
	// History, when set, lets the debugger move backwards (a replay).
	History History
	// Log receives one line per connection and disconnection (nil: none).
	Log io.Writer
}

// Serve runs m under the control of debuggers connecting on ln until the
// guest exits, and returns how the run ended, as machine.RunOn would. A
// debugger that detaches or disconnects lets the guest run on freely.
func Serve(ln net.Listener, m *machine.Machine, opts Options) (machine.Exit, error) {
	s := &stub{m: m, opts: opts, bps: map[uint64]byte{}}
	if opts.History != nil {
		s.m = opts.History.Machine()
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
		if !opts.Wait {
			s.m.Pause() // stop the free run for the debugger
		}
	}()
	if !opts.Wait {
		exit, err := s.m.RunOn(s.m.Interpreter(), opts.MaxInsns)
		if err != nil || exit.Reason != machine.ExitPaused {
			return exit, err
		}
	}
	c, ok := <-accepted
	if !ok {
		return machine.Exit{}, errors.New("gdbstub: the listener closed before a debugger connected")
	}
	defer c.Close()
	if opts.Log != nil {
		fmt.Fprintf(opts.Log, "ftvm: debugger connected from %v at position %d\n", c.RemoteAddr(), s.m.CPU.Retired)
	}
	return s.session(c)
}

// stub is one debugging session.
type stub struct {
	m    *machine.Machine
	opts Options
	c    *conn
	// events carries what the reader goroutine read while the guest stood.
	events chan event
	// running is set while the guest runs, so an interrupt pauses it.
	running atomic.Bool
	// interrupted records a Ctrl-C taken while running.
	interrupted atomic.Bool

	// The fields below are used only by the session's goroutine (and the
	// Trace hook it installs on the CPU, which runs on it).
	bps     map[uint64]byte // breakpoint addresses: their Z type (0 soft, 1 hard)
	watches []watch
	// skipPos is the position a continue began at: a breakpoint there was
	// already reported.
	skipPos uint64
	// hit describes the breakpoint or watchpoint that stopped the last run.
	hit string
	// last is the last stop reply, for '?'.
	last string
	// hits collects what triggered while a reverse-continue scans.
	hits []hit
	// final is how the replay ended, at finalPos, while the debugger stays
	// at its end.
	final    *machine.Exit
	finalPos uint64
}

// watch is a write watchpoint: the bytes last seen at its address.
type watch struct {
	addr uint64
	old  []byte
}

// errDetached ends a session whose debugger left (detach or disconnect).
var errDetached = errors.New("debugger detached")

// session serves one connection until the guest exits or the debugger
// leaves; after a detach the guest runs on freely.
func (s *stub) session(nc net.Conn) (machine.Exit, error) {
	s.c = &conn{r: bufio.NewReader(nc), w: nc}
	s.events = make(chan event, 16)
	go s.reader()
	s.last = s.stopReply("T02")
	for {
		ev, ok := <-s.events
		if !ok {
			return s.runFree()
		}
		if ev.interrupt {
			continue // the guest already stands
		}
		exit, done, err := s.handle(ev.packet)
		if errors.Is(err, errDetached) {
			return s.runFree()
		}
		if err != nil || done {
			return exit, err
		}
	}
}

// reader turns the connection into events; an interrupt while the guest
// runs pauses it at once.
func (s *stub) reader() {
	defer close(s.events)
	for {
		ev, err := s.c.read()
		if err != nil {
			return
		}
		if ev.interrupt && s.running.Load() {
			s.interrupted.Store(true)
			s.m.Pause()
			continue
		}
		s.events <- ev
	}
}

// runFree lets the guest run on without a debugger.
func (s *stub) runFree() (machine.Exit, error) {
	if s.m.CPU.Trace != nil {
		s.m.CPU.SetTrace(nil)
	}
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, "ftvm: debugger gone at position %d; the guest runs on\n", s.m.CPU.Retired)
	}
	for {
		exit, err := s.m.RunOn(s.m.Interpreter(), s.opts.MaxInsns)
		if err != nil || exit.Reason != machine.ExitPaused {
			return exit, err
		}
	}
}

// handle answers one packet; done reports that the guest exited (or was
// killed) with exit.
func (s *stub) handle(p string) (exit machine.Exit, done bool, err error) {
	reply := ""
	switch {
	case p == "?":
		reply = s.last
	case strings.HasPrefix(p, "qSupported"):
		reply = fmt.Sprintf("PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+", maxPacket)
		if s.opts.History != nil {
			reply += ";ReverseStep+;ReverseContinue+"
		}
	case strings.HasPrefix(p, "qXfer:features:read:target.xml:"):
		reply = xferRead(targetXML, p[len("qXfer:features:read:target.xml:"):])
	case p == "qC":
		reply = "QC1"
	case p == "qfThreadInfo":
		reply = "m1"
	case p == "qsThreadInfo":
		reply = "l"
	case p == "qAttached":
		reply = "1"
	case strings.HasPrefix(p, "qSymbol"):
		reply = "OK"
	case strings.HasPrefix(p, "H"), strings.HasPrefix(p, "T"):
		reply = "OK"
	case p == "vCont?":
		reply = "vCont;c;C;s;S"
	case strings.HasPrefix(p, "qRcmd,"):
		reply = s.monitor(p[len("qRcmd,"):])
	case p == "g":
		var b strings.Builder
		for i := range regs {
			fmt.Fprintf(&b, "%x", regs[i].read(s.m.CPU))
		}
		reply = b.String()
	case strings.HasPrefix(p, "p"):
		n, ok := parseHex(p[1:])
		if !ok || n >= uint64(len(regs)) {
			reply = "E00"
			break
		}
		reply = fmt.Sprintf("%x", regs[n].read(s.m.CPU))
	case strings.HasPrefix(p, "P"):
		reply = s.writeReg(p[1:])
	case strings.HasPrefix(p, "G"):
		reply = s.writeRegs(p[1:])
	case strings.HasPrefix(p, "m"):
		reply = s.readMem(p[1:])
	case strings.HasPrefix(p, "M"), strings.HasPrefix(p, "X"):
		reply = s.writeMem(p)
	case strings.HasPrefix(p, "Z"), strings.HasPrefix(p, "z"):
		reply = s.breakpoint(p)
	case p == "k":
		return machine.Exit{Reason: machine.ExitStopped}, true, nil
	case strings.HasPrefix(p, "D"):
		s.c.reply("OK")
		return machine.Exit{}, false, errDetached
	case strings.HasPrefix(p, "vCont;"), p[0] == 'c', p[0] == 's', p[0] == 'C', p[0] == 'S':
		return s.resume(p, 1)
	case p == "bs":
		return s.resume("s", -1)
	case p == "bc":
		return s.resume("c", -1)
	}
	return machine.Exit{}, false, s.c.reply(reply)
}

// xferRead answers a qXfer read of doc at "offset,length".
func xferRead(doc, arg string) string {
	o, l, ok := strings.Cut(arg, ",")
	off, ok1 := parseHex(o)
	n, ok2 := parseHex(l)
	if !ok || !ok1 || !ok2 {
		return "E00"
	}
	if off >= uint64(len(doc)) {
		return "l"
	}
	end := min(off+n, uint64(len(doc)))
	if end == uint64(len(doc)) {
		return "l" + doc[off:end]
	}
	return "m" + doc[off:end]
}

func (s *stub) writeReg(arg string) string {
	n, v, ok := strings.Cut(arg, "=")
	i, ok1 := parseHex(n)
	b, ok2 := decodeHex(v)
	if !ok || !ok1 || !ok2 || i >= uint64(len(regs)) || !regs[i].write(s.m.CPU, b) {
		return "E00"
	}
	return "OK"
}

// writeRegs takes a G packet: writable registers whose value changed are set;
// a change to a read-only one is refused.
func (s *stub) writeRegs(arg string) string {
	b, ok := decodeHex(arg)
	if !ok {
		return "E00"
	}
	for i := range regs {
		r := &regs[i]
		n := r.bits / 8
		if len(b) < n {
			break
		}
		if string(b[:n]) != string(r.read(s.m.CPU)) && !r.write(s.m.CPU, b[:n]) {
			return "E01"
		}
		b = b[n:]
	}
	return "OK"
}

func (s *stub) readMem(arg string) string {
	a, l, ok := strings.Cut(arg, ",")
	addr, ok1 := parseHex(a)
	n, ok2 := parseHex(l)
	if !ok || !ok1 || !ok2 || n > maxPacket/2 {
		return "E00"
	}
	buf := make([]byte, n)
	if err := s.m.CPU.ReadLinear(addr, buf); err != nil {
		return "E14"
	}
	return fmt.Sprintf("%x", buf)
}

// writeMem takes M addr,len:hex and X addr,len:binary.
func (s *stub) writeMem(p string) string {
	head, data, ok := strings.Cut(p[1:], ":")
	a, l, ok1 := strings.Cut(head, ",")
	addr, ok2 := parseHex(a)
	n, ok3 := parseHex(l)
	if !ok || !ok1 || !ok2 || (!ok3 && l != "0") {
		return "E00"
	}
	b := []byte(data)
	if p[0] == 'M' {
		if b, ok = decodeHex(data); !ok {
			return "E00"
		}
	}
	if uint64(len(b)) != n {
		return "E00"
	}
	if err := s.m.CPU.WriteLinear(addr, b); err != nil {
		return "E14"
	}
	return "OK"
}

// breakpoint inserts (Z) or removes (z) a breakpoint (types 0 and 1) or a
// write watchpoint (type 2). Read and access watchpoints are not offered.
func (s *stub) breakpoint(p string) string {
	parts := strings.Split(p[1:], ",")
	if len(parts) < 3 {
		return "E00"
	}
	addr, ok1 := parseHex(parts[1])
	kind, ok2 := parseHex(parts[2])
	if !ok1 || !ok2 {
		return "E00"
	}
	insert := p[0] == 'Z'
	switch parts[0] {
	case "0", "1":
		if insert {
			s.bps[addr] = parts[0][0]
		} else {
			delete(s.bps, addr)
		}
	case "2":
		if kind == 0 || kind > 8 {
			return "E00"
		}
		for i, w := range s.watches {
			if w.addr == addr && uint64(len(w.old)) == kind {
				s.watches = append(s.watches[:i], s.watches[i+1:]...)
				break
			}
		}
		if insert {
			s.watches = append(s.watches, watch{addr: addr, old: make([]byte, kind)})
		}
	default:
		return ""
	}
	return "OK"
}

// monitor runs a qRcmd command (hex encoded) and returns its reply.
func (s *stub) monitor(hexCmd string) string {
	b, ok := decodeHex(hexCmd)
	if !ok {
		return "E00"
	}
	out, err := s.command(strings.Fields(string(b)))
	if err != nil {
		out = "error: " + err.Error()
	}
	s.c.reply(fmt.Sprintf("O%x", out+"\n"))
	return "OK"
}

// command runs a monitor command.
func (s *stub) command(args []string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("commands: position, goto N")
	}
	switch args[0] {
	case "position":
		return fmt.Sprintf("position %d", s.m.CPU.Retired), nil
	case "goto":
		if len(args) != 2 {
			return "", errors.New("usage: monitor goto POSITION")
		}
		pos, err := strconv.ParseUint(args[1], 0, 64)
		if err != nil {
			return "", fmt.Errorf("bad position %q", args[1])
		}
		if err := s.goTo(pos); err != nil {
			return "", err
		}
		return fmt.Sprintf("position %d", s.m.CPU.Retired), nil
	}
	return "", fmt.Errorf("unknown command %q (position, goto N)", args[0])
}

// stopReply formats a stop reply with the thread and the position.
func (s *stub) stopReply(head string) string {
	return fmt.Sprintf("%sthread:01;position:%x;", head, s.m.CPU.Retired)
}

// resume continues or steps (dir 1) or does so backwards (dir -1), then
// reports the stop or the guest's exit.
func (s *stub) resume(p string, dir int) (machine.Exit, bool, error) {
	step := p[0] == 's' || p[0] == 'S'
	if strings.HasPrefix(p, "vCont;") {
		action := strings.Split(p[len("vCont;"):], ";")[0]
		step = action != "" && (action[0] == 's' || action[0] == 'S')
	} else if !step && p[0] == 'c' && len(p) > 1 {
		if a, ok := parseHex(p[1:]); ok {
			s.m.CPU.RIP = a
		}
	}
	var reply string
	var exit machine.Exit
	var done bool
	var err error
	if dir < 0 {
		reply, err = s.backward(step)
	} else {
		reply, exit, done, err = s.forward(step)
	}
	if err != nil {
		return exit, true, err
	}
	s.last = reply
	return exit, done, s.c.reply(reply)
}

// forward runs one step, or until a breakpoint, a watchpoint, Ctrl-C or
// the guest's exit.
func (s *stub) forward(step bool) (string, machine.Exit, bool, error) {
	c := s.m.CPU
	limit := s.opts.MaxInsns
	if step {
		limit = c.Retired + 1
		if s.opts.MaxInsns != 0 {
			limit = min(limit, s.opts.MaxInsns)
		}
	}
	armed := !step && (len(s.bps) > 0 || len(s.watches) > 0)
	if armed {
		s.arm(false)
	}
	s.hit = ""
	s.interrupted.Store(false)
	s.running.Store(true)
	if s.final != nil && s.finalPos == c.Retired {
		return fmt.Sprintf("W%02x", s.final.Status()), *s.final, true, nil
	}
	exit, err := s.run(limit)
	s.running.Store(false)
	if armed {
		c.SetTrace(nil)
	}
	if err != nil {
		return "", exit, true, err
	}
	switch {
	case exit.Reason == machine.ExitInsnLimit && step && limit != s.opts.MaxInsns:
		return s.stopReply("T05"), exit, false, nil
	case exit.Reason == machine.ExitPaused && s.hit != "":
		return s.stopReply("T05" + s.hit), exit, false, nil
	case exit.Reason == machine.ExitPaused:
		return s.stopReply("T02"), exit, false, nil
	}
	if s.opts.History != nil {
		// Stay at the end of the replay, so the debugger can go back.
		s.final, s.finalPos = &exit, c.Retired
		return s.stopReply("T05replaylog:end;"), exit, false, nil
	}
	return fmt.Sprintf("W%02x", exit.Status()), exit, true, nil
}

// run executes forward to limit, through the History when there is one.
func (s *stub) run(limit uint64) (machine.Exit, error) {
	if s.opts.History != nil {
		return s.opts.History.Run(limit)
	}
	return s.m.RunOn(s.m.Interpreter(), limit)
}

// arm installs the per-instruction check of breakpoints and watchpoints;
// the interpreter runs at full speed whenever none is set. When record is
// set, hits are collected in s.hits instead of stopping the run.
func (s *stub) arm(record bool) {
	c := s.m.CPU
	s.skipPos = c.Retired
	for i := range s.watches {
		w := &s.watches[i]
		if c.ReadLinear(w.addr, w.old) != nil {
			clear(w.old)
		}
	}
	c.SetTrace(func(c *cpu.CPU, rip uint64) {
		if h, ok := s.check(c, rip); ok {
			if record {
				s.hits = append(s.hits, h)
				return
			}
			s.hit = h.why
			c.RequestStop()
			s.m.Pause()
		}
	})
}

// hit is a breakpoint or watchpoint that triggered at a position.
type hit struct {
	pos uint64
	why string // the stop reply's reason ("swbreak:;", "watch:ADDR;")
}

// check looks for a breakpoint at rip or a change of a watched value
// (made by the instruction before the current position).
func (s *stub) check(c *cpu.CPU, rip uint64) (hit, bool) {
	var cur [8]byte
	for i := range s.watches {
		w := &s.watches[i]
		now := cur[:len(w.old)]
		if c.ReadLinear(w.addr, now) != nil {
			clear(now)
		}
		if string(now) != string(w.old) {
			copy(w.old, now)
			return hit{pos: c.Retired - 1, why: fmt.Sprintf("watch:%x;", w.addr)}, true
		}
	}
	if t, ok := s.bps[rip]; ok && c.Retired != s.skipPos {
		return hit{pos: c.Retired, why: map[byte]string{'0': "swbreak:;", '1': "hwbreak:;"}[t]}, true
	}
	return hit{}, false
}
