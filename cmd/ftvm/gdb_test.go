package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// debugSession is ftvm running under --gdb with Debian's gdb driving it in
// batch mode.
type debugSession struct {
	gdb    string // gdb's output
	stdout string // the guest's console
	stderr string
	status int
}

// debug starts ftvm with args plus --gdb on a free port and --gdb-wait, runs
// gdb's commands on the guest's symbols, and waits for both.
func debug(t *testing.T, guest string, args []string, commands ...string) debugSession {
	t.Helper()
	gdb := testenv.Program(t, "gdb")
	args = append(append([]string{}, args...), "--gdb", "127.0.0.1:0", "--gdb-wait", guest)
	cmd := exec.Command(ftvmBin, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(errPipe)
	addr := ""
	var stderr strings.Builder
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if a, ok := strings.CutPrefix(sc.Text(), "ftvm: gdb stub listening on "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		cmd.Wait()
		t.Fatalf("ftvm did not listen; stderr:\n%s", stderr.String())
	}
	rest := make(chan struct{})
	go func() {
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
		}
		close(rest)
	}()
	gargs := []string{"-batch", "-nx", "-ex", "set pagination off", "-ex", "target remote " + addr}
	for _, c := range commands {
		gargs = append(gargs, "-ex", c)
	}
	out, err := exec.Command(gdb, append(gargs, guest)...).CombinedOutput()
	if err != nil {
		t.Errorf("gdb: %v", err)
	}
	werr := cmd.Wait()
	<-rest
	return debugSession{gdb: string(out), stdout: stdout.String(), stderr: stderr.String(), status: exitStatus(t, werr)}
}

// expect checks that each pattern matches gdb's output, in order.
func (s debugSession) expect(t *testing.T, patterns ...string) {
	t.Helper()
	rest := s.gdb
	for _, p := range patterns {
		loc := regexp.MustCompile(p).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("gdb output lacks %q after the earlier matches; gdb:\n%s\nftvm stderr:\n%s", p, s.gdb, s.stderr)
		}
		rest = rest[loc[1]:]
	}
}

// positions returns the positions `monitor position` printed, in order.
func (s debugSession) positions(t *testing.T) []uint64 {
	var ps []uint64
	for _, m := range regexp.MustCompile(`(?m)^position (\d+)$`).FindAllStringSubmatch(s.gdb, -1) {
		p, _ := strconv.ParseUint(m[1], 10, 64)
		ps = append(ps, p)
	}
	return ps
}

func TestGDBRun(t *testing.T) {
	guest := testenv.Guest(t, "gdbtarget")
	s := debug(t, guest, []string{"run", "--clock", "virtual"},
		"break bump", "continue", "print step", "next", "print last_step",
		"watch counter", "continue", "print counter",
		"continue", "print step", "delete", "monitor position",
		"print $mxcsr", "print/x $cr0", "print $st0", "print $xmm0.uint128", "print/x $cs",
		"continue")
	s.expect(t, `Breakpoint 1, bump \(step=1\) at .*gdbtarget.c:21`,
		`\$1 = 1\n`,
		`\$2 = 1\n`, // last_step after the first line of bump
		`Hardware watchpoint 2: counter`,
		`Old value = 0\nNew value = 10\n`,
		`\$3 = 10\n`,
		`Breakpoint 1, bump \(step=2\)`,
		`\$4 = 2\n`,
		`position \d+\n`,
		`\$5 = \[ IM DM ZM OM UM PM \]`, // MXCSR's reset value 0x1F80
		`\$6 = 0x80010033`,              // CR0 = PE|MP|ET|NE|WP|PG, §3
		`\$7 = 0\n`,
		`\$8 = 0\n`,
		`\$9 = 0x8\n`,
		`exited with code 01`)
	if s.stdout != "counter=150\n" || s.status != 1 {
		t.Errorf("guest console %q status %d, want counter=150 and status 1", s.stdout, s.status)
	}
}

func TestGDBReplayReverse(t *testing.T) {
	guest := testenv.Guest(t, "gdbtarget")
	dir := t.TempDir()
	log := filepath.Join(dir, "run.log")
	if _, stderr, status := ftvm(t, "run", "--record", log, guest); status != 1 {
		t.Fatalf("recording: status %d\n%s", status, stderr)
	}
	s := debug(t, guest, []string{"replay", "--log", log},
		"break bump", "continue", "monitor position", "print $rip", // P1
		"continue", "monitor position", "print step", // P2
		"reverse-stepi", "monitor position",
		"reverse-continue", "monitor position", "print step", "print $rip",
		"watch counter", "continue", "monitor position", "continue", "continue", // bump(2)'s write
		"print counter", "reverse-continue", "monitor position", "print counter",
		"delete", "reverse-finish", "monitor position",
		"monitor goto 3", "monitor position",
		"reverse-stepi", "reverse-stepi", "monitor position",
		"break gdbtarget.c:22", "continue", "next", "print counter", "reverse-step", "print counter", "delete",
		"continue")
	s.expect(t, `Breakpoint 1, bump \(step=1\)`, `\$1 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <bump\+12>`,
		`Breakpoint 1, bump \(step=2\)`, `\$2 = 2\n`,
		`Breakpoint 1, bump \(step=1\)`, `\$3 = 1\n`, `\$4 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <bump\+12>`,
		`Old value = 0\nNew value = 10\n`, `Breakpoint 1, bump \(step=2\)`,
		`Old value = 10\nNew value = 30\n`, `\$5 = 30\n`,
		`Old value = 30\nNew value = 10\n`, `\$6 = 10\n`,
		`in main \(ram_size=\d+\) at .*gdbtarget.c:29`,                    // reverse-finish: the call
		`Breakpoint 3, bump \(step=1\) at .*gdbtarget.c:22`, `\$7 = 10\n`, // next: the write done
		`(?m)^22\t.*counter \+= step`, `\$8 = 0\n`, // reverse-step: back before it
		`No more reverse-execution history`) // continue to the end of the log
	p := s.positions(t)
	if len(p) != 10 {
		t.Fatalf("positions %v, want 10; gdb:\n%s", p, s.gdb)
	}
	p1, p2 := p[0], p[1]
	want := []uint64{p1, p2, p2 - 1, p1}
	for i, w := range want {
		if p[i] != w {
			t.Errorf("position %d = %d, want %d (all: %v)", i, p[i], w, p)
		}
	}
	if p[4] <= p1 || p[4] >= p2 {
		t.Errorf("watch hit at %d, want between the breakpoints %d and %d", p[4], p1, p2)
	}
	if p[5] <= p2 || p[6] >= p[5] {
		t.Errorf("reverse watch hit at %d (want after %d), reverse-finish at %d (want before it)", p[5], p2, p[6])
	}
	if p[7] != 3 || p[8] != 3 || p[9] != 1 {
		t.Errorf("goto 3 then two steps back at %v, want 3, 3, 1", p[7:])
	}
	if s.stdout != "counter=150\n" {
		t.Errorf("console %q, want counter=150 once (re-execution prints nothing)", s.stdout)
	}
}

func TestReplayToSnapshot(t *testing.T) {
	guest := testenv.Guest(t, "gdbtarget")
	dir := t.TempDir()
	log, snap := filepath.Join(dir, "run.log"), filepath.Join(dir, "at.snap")
	if _, stderr, status := ftvm(t, "run", "--clock", "virtual", "--record", log, guest); status != 1 {
		t.Fatalf("recording: status %d\n%s", status, stderr)
	}
	// 54 is bump(2)'s first instruction (TestGDBReplayReverse finds it).
	s := debug(t, guest, []string{"replay", "--log", log}, "break bump", "continue", "continue", "monitor position")
	p := s.positions(t)
	if len(p) != 1 {
		t.Fatalf("positions %v; gdb:\n%s", p, s.gdb)
	}
	to := strconv.FormatUint(p[0], 10)
	if _, stderr, status := ftvm(t, "replay", "--log", log, "--to", to, "--save-snapshot", snap, guest); status != 0 ||
		!strings.Contains(stderr, "stopped at position "+to) {
		t.Fatalf("replay --to %s: status %d\n%s", to, status, stderr)
	}
	s = debug(t, guest, []string{"run", "--clock", "virtual", "--snapshot", snap}, "monitor position", "print step", "print counter", "continue")
	s.expect(t, `position `+to+`\n`, `\$1 = 2\n`, `\$2 = 10\n`, `exited with code 01`)
	if s.stdout != "counter=150\n" {
		t.Errorf("console %q, want counter=150", s.stdout)
	}
}
