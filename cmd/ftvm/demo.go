package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"ftvm/failover"
	"ftvm/kvclient"
	"ftvm/netswitch"
	"ftvm/transport"
)

// cmdDemo shows a failover on one machine: a learning switch, a primary and
// a backup of the kvstore appliance, a client doing PUTs, a kill -9 of the
// primary at a random moment, and a timeline of what followed. With --linux
// it shows the pair of Debian's kernel across two hosts (cmdDemoLinux).
func cmdDemo(args []string) (int, error) {
	fs := newFlags("demo", "")
	image := fs.String("image", filepath.Join("testdata", "guests", "build", "kvstore.elf"), "the appliance `IMAGE`")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random `SEED` for the moment of the kill")
	after := fs.Int("writes-after", 40, "PUTs to make after the failover")
	var lf linuxDemoFlags
	lf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if lf.linux {
		return cmdDemoLinux(&lf, *seed)
	}
	if _, err := os.Stat(*image); err != nil {
		return 0, fmt.Errorf("%v (build the guests with make guests, or pass --image)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "ftvm-demo")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	d := &demo{start: time.Now(), self: self, dir: dir, image: *image}
	defer d.killAll()
	return d.run(rand.New(rand.NewSource(*seed)), *after)
}

type demo struct {
	start time.Time
	self  string
	dir   string
	image string

	mu     sync.Mutex
	events []timelineEntry // the demo's own
	procs  []*exec.Cmd
	logs   map[string]string // host name -> its --events file
}

// event records a timeline entry of the demo's own and prints it.
func (d *demo) event(format string, args ...any) {
	now := time.Now()
	line := fmt.Sprintf("%6d ms  %s", now.Sub(d.start).Milliseconds(), fmt.Sprintf(format, args...))
	d.mu.Lock()
	d.events = append(d.events, timelineEntry{now, line})
	d.mu.Unlock()
	fmt.Println(line)
}

// expect returns a channel that receives the first event of kind from the
// host name (within timeout).
func (d *demo) expect(name string, kind failover.EventKind, timeout time.Duration) chan error {
	d.mu.Lock()
	path := d.logs[name]
	d.mu.Unlock()
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := failover.WaitEvent(ctx, path, nil, func(e failover.Event) bool { return e.Kind == kind })
		ch <- err
	}()
	return ch
}

// spawn starts ftvm with args (a primary or backup command) writing its
// events to a file of its own; its stdout (the guest console) and stderr
// are shown with a prefix.
func (d *demo) spawn(name string, args ...string) (*exec.Cmd, error) {
	events := filepath.Join(d.dir, strings.ReplaceAll(name, " ", "_")+".events")
	d.mu.Lock()
	if d.logs == nil {
		d.logs = map[string]string{}
	}
	d.logs[name] = events
	d.mu.Unlock()
	args = append([]string{args[0], "--events", events}, args[1:]...)
	cmd := exec.Command(d.self, args...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.procs = append(d.procs, cmd)
	d.mu.Unlock()
	go d.copyLines(name+" console", stdout, false)
	go d.copyLines(name, stderr, true)
	return cmd, nil
}

func (d *demo) copyLines(prefix string, r io.Reader, watch bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if watch {
			fmt.Printf("%6d ms  %s: %s\n", time.Since(d.start).Milliseconds(), prefix, strings.TrimPrefix(line, "ftvm: "))
		} else if strings.Contains(line, "boot") || strings.Contains(line, "serving") {
			fmt.Printf("           %s | %s\n", prefix, line)
		}
	}
}

func (d *demo) killAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.procs {
		if p.ProcessState == nil {
			p.Process.Kill()
			p.Wait()
		}
	}
}

// timelineEntry is a line of the demo's timeline.
type timelineEntry struct {
	at   time.Time
	text string
}

// timelineKinds are the events the final timeline shows.
var timelineKinds = map[failover.EventKind]bool{
	failover.EventBackupJoined: true, failover.EventJoinedPrimary: true, failover.EventPrimaryLost: true,
	failover.EventWentLive: true, failover.EventGARPSent: true, failover.EventBackupLost: true,
}

// timeline returns the demo's entries and the hosts' events of
// timelineKinds, in time order.
func (d *demo) timeline() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	all := append([]timelineEntry(nil), d.events...)
	for name, path := range d.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			var e failover.Event
			if json.Unmarshal([]byte(line), &e) == nil && timelineKinds[e.Kind] {
				all = append(all, timelineEntry{e.At, fmt.Sprintf("%6d ms  %s: %s", e.At.Sub(d.start).Milliseconds(), name, e.Text)})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	var out []string
	for _, e := range all {
		out = append(out, e.text)
	}
	return out
}

// freePort returns a free UDP port on the loopback interface.
func freePort() (string, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.LocalAddr().String(), nil
}

func (d *demo) run(rng *rand.Rand, after int) (int, error) {
	tlsDir := filepath.Join(d.dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		return 0, err
	}
	if err := transport.GenerateCerts(tlsDir); err != nil {
		return 0, err
	}
	swPath := filepath.Join(d.dir, "switch.sock")
	sw, err := netswitch.Listen(swPath)
	if err != nil {
		return 0, err
	}
	go sw.Serve()
	defer sw.Close()
	disks := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		disks[n] = filepath.Join(d.dir, n+".img")
		if err := os.WriteFile(disks[n], make([]byte, 16<<20), 0o644); err != nil {
			return 0, err
		}
	}
	addrs := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		if addrs[n], err = freePort(); err != nil {
			return 0, err
		}
	}
	arb := "file:" + filepath.Join(d.dir, "arbiter")
	common := []string{"--tls", tlsDir, "--arbiter", arb}
	netArg := "socket:" + swPath

	d.event("starting a learning switch, the primary (host A) and the backup (host B) of %s", filepath.Base(d.image))
	primary, err := d.spawn("host A", append([]string{"primary", "--listen", addrs["a"], "--net", netArg, "--disk", disks["a"], "--wait-backup"},
		append(common, d.image)...)...)
	if err != nil {
		return 0, err
	}
	if _, err := d.spawn("host B", append([]string{"backup", "--primary", addrs["a"], "--net", netArg, "--disk", disks["b"], "--listen", addrs["b"]},
		common...)...); err != nil {
		return 0, err
	}
	if err := <-d.expect("host B", failover.EventJoinedPrimary, 20*time.Second); err != nil {
		return 0, fmt.Errorf("the backup did not join: %v", err)
	}

	l2, err := kvclient.NewL2("10.0.2.15:7000", kvclient.L2Config{Switch: swPath, Local: filepath.Join(d.dir, "client.sock")})
	if err != nil {
		return 0, err
	}
	defer l2.Close()
	client := kvclient.New(l2)
	client.Timeout = 300 * time.Millisecond
	client.Retries = 20
	acked := map[string]string{}
	put := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		k, v := fmt.Sprintf("key%03d", i), fmt.Sprintf("value%03d", i)
		reply, err := client.Do(ctx, "PUT "+k+" "+v)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(reply, "OK ") {
			return fmt.Errorf("PUT %s: %s", k, reply)
		}
		acked[k] = v
		time.Sleep(5 * time.Millisecond) // a steady client, not a flood
		return nil
	}

	killAfter := time.Duration(1500+rng.Intn(2000)) * time.Millisecond
	d.event("client: PUTs begin; the primary will be killed after %v", killAfter)
	i := 0
	deadline := time.Now().Add(killAfter)
	for time.Now().Before(deadline) {
		if err := put(i); err != nil {
			return 0, err
		}
		i++
	}
	lost := d.expect("host B", failover.EventWentLive, 20*time.Second)
	primary.Process.Kill()
	killedAt := time.Now()
	d.event("host A killed (kill -9) after %d acknowledged writes", len(acked))
	if err := put(i); err != nil {
		return 0, fmt.Errorf("no reply after the failover: %v", err)
	}
	i++
	firstReply := time.Since(killedAt)
	d.event("client: first reply from the new primary, %d ms after the kill", firstReply.Milliseconds())
	if err := <-lost; err != nil {
		return 0, errors.New("the backup never went live")
	}
	// A new backup restores protection.
	if _, err := d.spawn("host C", append([]string{"backup", "--primary", addrs["b"], "--net", netArg, "--disk", disks["c"], "--listen", addrs["c"]},
		common...)...); err != nil {
		return 0, err
	}
	joined := d.expect("host C", failover.EventJoinedPrimary, 20*time.Second)
	for n := 0; n < after; n++ {
		if err := put(i); err != nil {
			return 0, err
		}
		i++
	}
	if err := <-joined; err != nil {
		d.event("host C did not join: %v", err)
	}
	// Every acknowledged write must be there.
	missing := 0
	for k, v := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		reply, err := client.Do(ctx, "GET "+k)
		cancel()
		if err != nil || reply != "VAL "+v {
			missing++
			d.event("LOST: %s (got %q, %v)", k, reply, err)
		}
	}
	fmt.Println()
	fmt.Println("ftvm demo: timeline")
	for _, e := range d.timeline() {
		fmt.Println("  " + e)
	}
	fmt.Printf("ftvm demo: failover: first reply %d ms after kill -9; writes acknowledged: %d, lost: %d\n",
		firstReply.Milliseconds(), len(acked), missing)
	if missing != 0 {
		return 1, nil
	}
	return 0, nil
}
