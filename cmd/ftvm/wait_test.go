package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

// The guest-behaviour matrix: testdata/guests/wait/wait.c, built once per way
// a kernel waits (the Makefile's WAIT_FLAGS_*), each build run
//
//   - alone and recorded, its console compared with its golden file, on the
//     host clock and on the virtual clock;
//   - replayed from that recording: the same console, the same number of
//     retired instructions;
//   - under qemu-system-x86_64 -M microvm, where QEMU can run it, compared
//     with the same golden file;
//   - under the pair, with kill -9 of the primary part way: the backup's
//     console continues the primary's with no event missing.
//
// Each build waits for one kind of event: a timer (PIT, local APIC,
// TSC-deadline), a console byte, a disk completion or a received frame; the
// test supplies the bytes, the disk and the frames.

var updateWait = flag.Bool("update-wait", false, "rewrite testdata/guests/wait/*.golden from QEMU (or, where QEMU cannot run a build, from ftvm)")

// waitVariant is one build of the wait guest.
type waitVariant struct {
	name string
	// pair is how many events the guest waits for under the pair (about
	// two seconds of guest time); 0 when the pair is not run, for the
	// reason in noPair. The primary is killed once its console shows event
	// killAt (pair/4 if 0): early enough that its guest, which may run up
	// to a second of execution ahead of its console, has not finished.
	pair   int
	killAt int
	noPair string
}

// waitVariants are the builds of the wait guest (Makefile WAIT_FLAGS_*).
var waitVariants = []waitVariant{
	{name: "pit-periodic-pic-hlt", pair: 200},
	{name: "pit-periodic-ioapic-hlt", pair: 200},
	{name: "pit-oneshot-vwire-hlt", pair: 2000},
	{name: "pit-oneshot-ioapic-pause", pair: 2000},
	{name: "pit-oneshot-poll", pair: 2000},
	{name: "lapic-oneshot-hlt", pair: 2000},
	{name: "lapic-oneshot-poll", pair: 2000},
	{name: "lapic-periodic-pause", pair: 2000},
	{name: "tsc-deadline-hlt", pair: 2000},
	{name: "console-pic-hlt", noPair: "a backup takes no console input"},
	{name: "console-vwire-hlt", noPair: "a backup takes no console input"},
	{name: "console-ioapic-pause", noPair: "a backup takes no console input"},
	{name: "console-poll", noPair: "a backup takes no console input"},
	{name: "disk-pic-hlt", pair: 600, killAt: 10},
	{name: "disk-vwire-hlt", pair: 600, killAt: 10},
	{name: "disk-ioapic-hlt-eventidx-indirect", pair: 600, killAt: 10},
	{name: "disk-pic-pause-indirect", pair: 600, killAt: 10},
	{name: "disk-poll-eventidx", pair: 600, killAt: 10},
	{name: "frame-pic-hlt", pair: 150},
	{name: "frame-ioapic-hlt-eventidx-indirect", pair: 150},
	{name: "frame-vwire-pause-eventidx", pair: 150},
	{name: "frame-poll", pair: 150},
}

// kind is what the variant waits for: pit, lapic, tsc, console, disk or
// frame.
func (v waitVariant) kind() string { k, _, _ := strings.Cut(v.name, "-"); return k }

// count is the number of events of the recorded run and of the golden file.
func (v waitVariant) count() int {
	switch v.kind() {
	case "disk", "frame":
		return 8
	}
	return 20
}

// qemu reports whether QEMU microvm can run the variant: its firmware leaves
// the local APIC's LINT0 masked (the 8259 reaches the CPU only when the
// guest sets virtual-wire mode itself) and its TCG CPU has no TSC-deadline
// timer.
func (v waitVariant) qemu() bool {
	return !strings.Contains(v.name, "-pic-") && v.kind() != "tsc"
}

// eventRE matches an event line: the kind's name and the event number.
var eventRE = regexp.MustCompile(`^(pit-periodic|pit-oneshot|lapic-oneshot|lapic-periodic|tsc-deadline|console|disk|frame) (\d+)\b`)

const waitDiskSectors = 64

// waitEnv is one run's directory.
type waitEnv struct {
	t   *testing.T
	dir string
}

func newWaitEnv(t *testing.T) *waitEnv {
	return &waitEnv{t: t, dir: testenv.ShortTempDir(t)}
}

// disk returns a new zeroed disk image for the disk variants.
func (e *waitEnv) disk(name string) string {
	return apZeroDisk(e.t, filepath.Join(e.dir, name), waitDiskSectors*512)
}

// stdin is what the test types on the guest's console: a byte per event
// for the console builds, nothing for the others.
func (v waitVariant) stdin() string {
	if v.kind() != "console" {
		return ""
	}
	b := make([]byte, v.count())
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// retiredRE matches the retired instruction count of --stats.
var retiredRE = regexp.MustCompile(`ftvm: retired=(\d+)`)

func retired(t *testing.T, stderr string) uint64 {
	t.Helper()
	m := retiredRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no retired= in stderr:\n%s", stderr)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// goldenPath is the variant's golden console.
func (v waitVariant) goldenPath() string {
	return filepath.Join("..", "..", "testdata", "guests", "wait", v.name+".golden")
}

// runProc runs argv[0] with argv[1:], stdin, and an optional frame peer
// running while it does, and returns stdout, stderr and the exit status.
func runProc(t *testing.T, stdin string, peer *framePeer, count int, argv ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr testenv.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var err error
	done := make(chan struct{})
	go func() { err = cmd.Wait(); close(done) }()
	if peer != nil {
		ready := func() bool { return strings.Contains(stdout.String(), "receive buffers") }
		if perr := peer.exchange(count, ready, done); perr != nil {
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s: %v\nconsole:\n%s\nstderr:\n%s", filepath.Base(argv[0]), perr, stdout.String(), stderr.String())
		}
	}
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("%s did not end in 120 s", filepath.Base(argv[0]))
	}
	return stdout.String(), stderr.String(), exitStatus(t, err)
}

// TestWaitMatrix runs every build of the wait guest alone (recorded),
// replayed, under QEMU and under the pair.
func TestWaitMatrix(t *testing.T) {
	for _, v := range waitVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			image := testenv.Guest(t, "wait-"+v.name)
			var golden []byte
			if v.qemu() {
				golden = qemuWait(t, v, image)
			}
			rec, log, disk, n := runWait(t, v, image, "host")
			if golden == nil {
				golden = []byte(rec)
			}
			if *updateWait {
				if err := os.WriteFile(v.goldenPath(), golden, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(v.goldenPath())
			if err != nil {
				t.Fatal(err)
			}
			if rec != string(want) {
				t.Errorf("ftvm console differs from %s:\n%s", v.goldenPath(), rec)
			}
			if v.qemu() && !bytes.Equal(golden, want) {
				t.Errorf("QEMU console differs from %s:\n%s", v.goldenPath(), golden)
			}
			replayWait(t, image, log, disk, rec, n)
			// Guest time from the position alone: idle time is skipped,
			// and the run is the same however the host schedules it.
			if virt, _, _, _ := runWait(t, v, image, "virtual"); virt != string(want) {
				t.Errorf("ftvm --clock virtual console differs from %s:\n%s", v.goldenPath(), virt)
			}
			if v.pair == 0 {
				t.Logf("not run under the pair: %s", v.noPair)
				return
			}
			pairWait(t, v, image)
		})
	}
}

// runWait runs the variant alone on clock (host or virtual) with --record
// and returns its console, the log, the copy of the disk (if any) taken
// before the run and the number of instructions retired.
func runWait(t *testing.T, v waitVariant, image, clock string) (console, log, diskCopy string, n uint64) {
	e := newWaitEnv(t)
	log = filepath.Join(e.dir, "run.log")
	args := []string{ftvmBin, "run", "--clock", clock, "--stats", "--record", log, "--append", fmt.Sprintf("count=%d", v.count())}
	var peer *framePeer
	switch v.kind() {
	case "disk":
		d := e.disk("disk.img")
		diskCopy = filepath.Join(e.dir, "disk-copy.img")
		apCopy(t, d, diskCopy)
		args = append(args, "--disk", d)
	case "frame":
		peer = newFramePeer(t, filepath.Join(e.dir, "peer.sock"))
		args = append(args, "--net", "socket:"+peer.path)
	}
	args = append(args, image)
	out, stderr, st := runProc(t, v.stdin(), peer, v.count(), args...)
	if st != 1 {
		t.Fatalf("ftvm run --clock %s: status %d, want 1\nconsole:\n%s\nstderr:\n%s", clock, st, out, stderr)
	}
	return out, log, diskCopy, retired(t, stderr)
}

// replayWait replays the recording and checks the console and the count.
func replayWait(t *testing.T, image, log, diskCopy, want string, n uint64) {
	args := []string{"replay", "--stats", "--log", log}
	if diskCopy != "" {
		args = append(args, "--disk", diskCopy)
	}
	out, stderr, st := ftvm(t, append(args, image)...)
	if st != 1 || out != want {
		t.Fatalf("replay: status %d, console:\n%s\nrecorded:\n%s\nstderr:\n%s", st, out, want, stderr)
	}
	if r := retired(t, stderr); r != n {
		t.Errorf("replay retired %d instructions, the recorded run %d", r, n)
	}
}

// qemuWait runs the variant under QEMU microvm and returns its console.
func qemuWait(t *testing.T, v waitVariant, image string) []byte {
	qemu := testenv.Program(t, "qemu-system-x86_64")
	e := newWaitEnv(t)
	args := []string{qemu,
		"-M", "microvm,x-option-roms=off,rtc=on,acpi=off", "-accel", "tcg", "-m", "64M",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-global", "virtio-mmio.force-legacy=false",
		"-kernel", image, "-append", fmt.Sprintf("count=%d", v.count()),
	}
	var peer *framePeer
	switch v.kind() {
	case "disk":
		args = append(args, "-drive", "file="+e.disk("disk.img")+",if=none,id=d0,format=raw",
			"-device", "virtio-blk-device,drive=d0")
	case "frame":
		peer = newFramePeer(t, filepath.Join(e.dir, "peer.sock"))
		local := filepath.Join(e.dir, "qemu.sock")
		peer.addPort(local)
		args = append(args, "-netdev", "dgram,id=n0,local.type=unix,local.path="+local+",remote.type=unix,remote.path="+peer.path,
			"-device", "virtio-net-device,netdev=n0")
	}
	out, stderr, st := runProc(t, v.stdin(), peer, v.count(), args...)
	if st != 1 {
		t.Fatalf("QEMU: status %d, want 1\nconsole:\n%s\nstderr:\n%s", st, out, stderr)
	}
	return []byte(out)
}

// pairWait runs the variant under ftvm primary and ftvm backup, kills the
// primary with SIGKILL a quarter of the way, and checks that the backup
// finishes the run and its console continues the primary's.
func pairWait(t *testing.T, v waitVariant, image string) {
	e := newFoEnv(t)
	arb := e.path("arb")
	common := []string{"--tls", e.tls, "--arbiter", "file:" + arb}
	pargs := append([]string{"primary", "--listen", testenv.FreeAddr(t, "udp"), "--wait-backup", "--clock", "host",
		"--append", fmt.Sprintf("count=%d", v.pair)}, common...)
	bargs := append([]string{"backup", "--primary", pargs[2]}, common...)
	var peer *framePeer
	switch v.kind() {
	case "disk":
		d := e.zeroDisk("primary.img", waitDiskSectors*512)
		b := e.zeroDisk("backup.img", waitDiskSectors*512)
		pargs = append(pargs, "--disk", d)
		bargs = append(bargs, "--disk", b)
	case "frame":
		peer = newFramePeer(t, e.path("peer.sock"))
		pargs = append(pargs, "--net", "socket:"+peer.path)
		bargs = append(bargs, "--net", "socket:"+peer.path)
	}
	primary := e.start("primary", append(pargs, image)...)
	backup := e.start("backup", bargs...)
	if peer != nil {
		stop := make(chan struct{})
		defer close(stop)
		go peer.exchange(0, func() bool { return true }, stop)
	}
	killAt := v.killAt
	if killAt == 0 {
		killAt = v.pair / 4
	}
	line := regexp.MustCompile(fmt.Sprintf(`^[a-z-]+ %d\b`, killAt))
	if _, ok := primary.waitMatch(true, line, 60*time.Second); !ok {
		status, _, _ := ftvm(t, "status", "--tls", e.tls, pargs[2])
		t.Fatalf("the primary never printed event %d; ftvm status: %s", killAt, status)
	}
	primary.kill()
	if _, ok := backup.waitMatch(true, regexp.MustCompile(`^wait: done$`), 60*time.Second); !ok {
		t.Fatal("the backup did not finish the run after the primary was killed")
	}
	if st, ok := backup.waitExit(10 * time.Second); !ok || st != 1 {
		t.Errorf("backup: status %d (ended: %v), want 1", st, ok)
	}
	e.checkNoCrash()
	primary.waitExit(10 * time.Second)
	pl, bl := primary.lines(true), seamLines(primary, backup)
	probs := waitSeamProblems(v.pair, pl, bl)
	for _, p := range probs {
		t.Error(p)
	}
	if len(probs) > 0 {
		primary.mu.Lock()
		tail := primary.stdoutTail
		primary.mu.Unlock()
		var b strings.Builder
		for _, l := range pl[max(len(pl)-3, 0):] {
			fmt.Fprintf(&b, "  primary %q\n", l.text)
		}
		fmt.Fprintf(&b, "  primary's unfinished line %q\n", tail)
		for _, l := range bl[:min(len(bl), 4)] {
			fmt.Fprintf(&b, "  backup  %q\n", l.text)
		}
		t.Logf("the seam:\n%s", b.String())
	}
}

// seamLines returns the backup's console lines as they continue the
// primary's (see seamJoin).
func seamLines(primary, backup *foProc) []foLine {
	primary.mu.Lock()
	tail := primary.stdoutTail
	var text strings.Builder
	for _, l := range primary.stdout {
		text.WriteString(l.text + "\n")
	}
	primary.mu.Unlock()
	return seamJoin(text.String()+tail, tail, backup.lines(true))
}

// seamJoin returns the lines of a backup's console after the primary's
// console text (ending with tail, the line the killed primary left
// unfinished). Console bytes go out one at a time, so the seam may cut a
// line; and the backup repeats the outputs the primary released just
// before it died (their release notices died with it), which may begin
// lines before the unfinished one. The longest end of the primary's text
// that starts the backup's is dropped, and the rest completes tail.
func seamJoin(primary, tail string, backup []foLine) []foLine {
	var b strings.Builder
	for _, l := range backup {
		b.WriteString(l.text + "\n")
	}
	btext := b.String()
	k := min(len(primary), len(btext))
	for k > 0 && !strings.HasSuffix(primary, btext[:k]) {
		k--
	}
	rest := strings.TrimSuffix(tail+btext[k:], "\n")
	if rest == "" {
		return nil
	}
	var lines []foLine
	for _, l := range strings.Split(rest, "\n") {
		lines = append(lines, foLine{text: l})
	}
	return lines
}

// waitSeamProblems checks the event lines of the primary's console and then
// the backup's: together they hold every event from 1 to n in order, an
// event at the seam possibly twice.
func waitSeamProblems(n int, consoles ...[]foLine) []string {
	var probs []string
	next := 1
	for k, lines := range consoles {
		first := true
		for _, l := range lines {
			m := eventRE.FindStringSubmatch(l.text)
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[2])
			switch {
			case i == next:
				next++
			case first && k > 0 && i < next:
				next = i + 1 // the seam: lines the primary printed, printed again
			default:
				probs = append(probs, fmt.Sprintf("console %d: event %d after %d", k, i, next-1))
				next = i + 1
			}
			first = false
		}
	}
	if next != n+1 {
		probs = append(probs, fmt.Sprintf("the consoles end at event %d of %d", next-1, n))
	}
	return probs
}

// TestWaitVariants checks that the matrix covers every build of the wait
// guest the Makefile makes, and only those.
func TestWaitVariants(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for _, m := range regexp.MustCompile(`(?m)^WAIT_FLAGS_(\S+)\s*:=`).FindAllStringSubmatch(string(mk), -1) {
		built = append(built, m[1])
	}
	var listed []string
	for _, v := range waitVariants {
		listed = append(listed, v.name)
	}
	slices.Sort(built)
	slices.Sort(listed)
	if !slices.Equal(built, listed) {
		t.Errorf("Makefile builds %q,\nthe matrix lists %q", built, listed)
	}
}

// TestWaitSeamProblems makes sure the seam checker sees gaps.
func TestWaitSeamProblems(t *testing.T) {
	lines := func(evs ...int) []foLine {
		var ls []foLine
		for _, e := range evs {
			ls = append(ls, foLine{text: fmt.Sprintf("disk %d sector 1 sum 0", e)}, foLine{text: "noise"})
		}
		return ls
	}
	tests := []struct {
		name     string
		p, b     []foLine
		problems int
	}{
		{"clean seam", lines(1, 2, 3), lines(4, 5), 0},
		{"repeated seam", lines(1, 2, 3), lines(2, 3, 4, 5), 0},
		{"gap at the seam", lines(1, 2), lines(4, 5), 1},
		{"gap inside", lines(1, 2, 3), lines(4, 6), 2},
		{"short", lines(1, 2), lines(3), 1},
		{"backwards", lines(1, 2, 3), lines(4, 3, 4, 5), 1},
	}
	for _, tc := range tests {
		if got := waitSeamProblems(5, tc.p, tc.b); len(got) != tc.problems {
			t.Errorf("%s: %q, want %d problems", tc.name, got, tc.problems)
		}
	}
}

// TestSeamJoin: the backup's console joins the killed primary's at its
// unfinished line, after dropping what the backup repeated.
func TestSeamJoin(t *testing.T) {
	lines := func(texts ...string) []foLine {
		var ls []foLine
		for _, s := range texts {
			ls = append(ls, foLine{text: s})
		}
		return ls
	}
	for _, tc := range []struct {
		name, primary, tail string
		backup              []foLine
		want                []string
	}{
		{"at a line's end", "e 1\ne 2\n", "", lines("e 3", "done"), []string{"e 3", "done"}},
		{"in a line", "e 1\ne 2 x", "e 2 x", lines("y", "e 3"), []string{"e 2 xy", "e 3"}},
		{"repeating the unfinished line", "e 1\ne 2 x", "e 2 x", lines("e 2 xy", "e 3"), []string{"e 2 xy", "e 3"}},
		{"repeating lines before it", "e 1\ne 2\ne 3\ne 4 x", "e 4 x", lines("e 2", "e 3", "e 4 xy", "e 5"), []string{"e 4 xy", "e 5"}},
		{"nothing more", "e 1\n", "", nil, nil},
	} {
		var got []string
		for _, l := range seamJoin(tc.primary, tc.tail, tc.backup) {
			got = append(got, l.text)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// framePeer is the other end of the guest's link: a unix datagram socket
// that floods each frame it sends to every port it knows (those that sent
// it a datagram, as ftvm's socket backend does when it opens, and those
// added), and collects the frames the guest sends back.
type framePeer struct {
	t    *testing.T
	path string
	conn *net.UnixConn

	mu    sync.Mutex
	ports map[string]*net.UnixAddr
	echo  chan uint32 // sequence numbers of the frames echoed back
}

// peerMAC is the peer's address; waitGuestMAC the guest's (ftvm's and
// QEMU's default for the first NIC).
var (
	peerMAC      = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	waitGuestMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

func newFramePeer(t *testing.T, path string) *framePeer {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	p := &framePeer{t: t, path: path, conn: c, ports: map[string]*net.UnixAddr{}, echo: make(chan uint32, 1024)}
	t.Cleanup(func() { c.Close() })
	go p.read()
	return p
}

func (p *framePeer) addPort(path string) {
	p.mu.Lock()
	p.ports[path] = &net.UnixAddr{Name: path, Net: "unixgram"}
	p.mu.Unlock()
}

func (p *framePeer) read() {
	buf := make([]byte, 1<<16+64)
	for {
		n, from, err := p.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		if from != nil && from.Name != "" {
			p.mu.Lock()
			p.ports[from.Name] = from
			p.mu.Unlock()
		}
		f := buf[:n]
		if n >= 18 && bytes.Equal(f[0:6], peerMAC[:]) && binary.BigEndian.Uint16(f[12:]) == 0x88B5 {
			select {
			case p.echo <- binary.BigEndian.Uint32(f[14:]):
			default:
			}
		}
	}
}

// waitFrame returns frame seq: to the guest, EtherType 0x88B5, the sequence
// number, then bytes derived from it; 60 to 1059 bytes long.
func waitFrame(seq uint32) []byte {
	f := make([]byte, 60+int(seq*97)%1000)
	copy(f[0:], waitGuestMAC[:])
	copy(f[6:], peerMAC[:])
	binary.BigEndian.PutUint16(f[12:], 0x88B5)
	binary.BigEndian.PutUint32(f[14:], seq)
	for i := 18; i < len(f); i++ {
		f[i] = byte(seq*7) + byte(i)
	}
	return f
}

// awaitEcho waits up to d for the echo of frame seq.
func (p *framePeer) awaitEcho(seq uint32, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case e := <-p.echo:
			if e == seq {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// send floods f to every known port and returns how many there are.
func (p *framePeer) send(f []byte) int {
	p.mu.Lock()
	ports := make([]*net.UnixAddr, 0, len(p.ports))
	for _, a := range p.ports {
		ports = append(ports, a)
	}
	p.mu.Unlock()
	for _, a := range ports {
		p.conn.WriteToUnix(f, a)
	}
	return len(ports)
}

// exchange sends frames, once ready says the guest is, until stop is
// closed. With count > 0 it sends frames 1..count one at a time, each after
// the previous one's echo (an error when an echo does not come within 20 s);
// with count 0 (the pair, whose link may lose frames at a failover) it sends
// a frame every 10 ms, or as soon as the previous one is echoed.
func (p *framePeer) exchange(count int, ready func() bool, stop <-chan struct{}) error {
	for !ready() {
		select {
		case <-stop:
			return errors.New("the guest ended before its driver was ready")
		case <-time.After(5 * time.Millisecond):
		}
	}
	for seq := uint32(1); count == 0 || seq <= uint32(count); seq++ {
		wait := 10 * time.Millisecond
		if count > 0 {
			wait = 20 * time.Second
		}
		timer := time.NewTimer(wait)
		// Until the guest's backend has registered, there is no port to
		// send to: retry the frame every 10 ms until it went somewhere.
		retry := time.NewTicker(10 * time.Millisecond)
		sent := p.send(waitFrame(seq)) > 0
	waitEcho:
		for {
			select {
			case e := <-p.echo:
				if e == seq {
					break waitEcho
				}
			case <-retry.C:
				if !sent {
					sent = p.send(waitFrame(seq)) > 0
				}
			case <-timer.C:
				if count > 0 {
					retry.Stop()
					return fmt.Errorf("frame %d: no echo in %v", seq, wait)
				}
				break waitEcho
			case <-stop:
				timer.Stop()
				retry.Stop()
				if count == 0 {
					return nil
				}
				// The guest ends right after its last echo, which may
				// still be on its way to the reader.
				if seq == uint32(count) && p.awaitEcho(seq, 5*time.Second) {
					return nil
				}
				return fmt.Errorf("the guest ended before frame %d was echoed", seq)
			}
		}
		timer.Stop()
		retry.Stop()
	}
	return nil
}
