package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ftvm/kvclient"
	"ftvm/netswitch"
	"ftvm/transport"
)

// cmdDemo shows a failover on one machine: a learning switch, a primary and
// a backup of the kvstore appliance, a client doing PUTs, a kill -9 of the
// primary at a random moment, and a timeline of what followed.
func cmdDemo(args []string) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	image := fs.String("image", filepath.Join("testdata", "guests", "build", "kvstore.elf"), "the appliance `IMAGE`")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random `SEED` for the moment of the kill")
	after := fs.Int("writes-after", 40, "PUTs to make after the failover")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usageError{err.Error()}
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
	events []string
	procs  []*exec.Cmd
	waitCh map[string]chan string // stderr phrase -> channel signalled when seen
}

// event records a timeline entry and prints it.
func (d *demo) event(format string, args ...any) {
	line := fmt.Sprintf("%6d ms  %s", time.Since(d.start).Milliseconds(), fmt.Sprintf(format, args...))
	d.mu.Lock()
	d.events = append(d.events, line)
	d.mu.Unlock()
	fmt.Println(line)
}

// expect returns a channel that receives the first stderr line of a process
// containing phrase.
func (d *demo) expect(phrase string) chan string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waitCh == nil {
		d.waitCh = map[string]chan string{}
	}
	ch := make(chan string, 1)
	d.waitCh[phrase] = ch
	return ch
}

// spawn starts ftvm with args; its stdout (the guest console) and stderr
// are shown with a prefix.
func (d *demo) spawn(name string, args ...string) (*exec.Cmd, error) {
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
			d.event("%s: %s", prefix, strings.TrimPrefix(line, "ftvm: "))
			d.mu.Lock()
			for phrase, ch := range d.waitCh {
				if strings.Contains(line, phrase) {
					ch <- line
					delete(d.waitCh, phrase)
				}
			}
			d.mu.Unlock()
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

func waitFor(ch chan string, timeout time.Duration) error {
	select {
	case <-ch:
		return nil
	case <-time.After(timeout):
		return errors.New("timed out")
	}
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
	joined := d.expect("joined the primary")
	primary, err := d.spawn("host A", append([]string{"primary", "--listen", addrs["a"], "--net", netArg, "--disk", disks["a"], "--wait-backup"},
		append(common, d.image)...)...)
	if err != nil {
		return 0, err
	}
	if _, err := d.spawn("host B", append([]string{"backup", "--primary", addrs["a"], "--net", netArg, "--disk", disks["b"], "--listen", addrs["b"]},
		common...)...); err != nil {
		return 0, err
	}
	if err := waitFor(joined, 20*time.Second); err != nil {
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
	lost := d.expect("went live as generation")
	primary.Process.Kill()
	killedAt := time.Now()
	d.event("host A killed (kill -9) after %d acknowledged writes", len(acked))
	if err := put(i); err != nil {
		return 0, fmt.Errorf("no reply after the failover: %v", err)
	}
	i++
	firstReply := time.Since(killedAt)
	d.event("client: first reply from the new primary, %d ms after the kill", firstReply.Milliseconds())
	if err := waitFor(lost, 5*time.Second); err != nil {
		return 0, errors.New("the backup never went live")
	}
	// A new backup restores protection.
	joined = d.expect("joined the primary")
	if _, err := d.spawn("host C", append([]string{"backup", "--primary", addrs["b"], "--net", netArg, "--disk", disks["c"], "--listen", addrs["c"]},
		common...)...); err != nil {
		return 0, err
	}
	for n := 0; n < after; n++ {
		if err := put(i); err != nil {
			return 0, err
		}
		i++
	}
	if err := waitFor(joined, 20*time.Second); err != nil {
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
	d.mu.Lock()
	for _, e := range d.events {
		if strings.Contains(e, "killed") || strings.Contains(e, "lost") || strings.Contains(e, "went live") ||
			strings.Contains(e, "joined") || strings.Contains(e, "first reply") || strings.Contains(e, "gratuitous") {
			fmt.Println("  " + e)
		}
	}
	d.mu.Unlock()
	fmt.Printf("ftvm demo: failover: first reply %d ms after kill -9; writes acknowledged: %d, lost: %d\n",
		firstReply.Milliseconds(), len(acked), missing)
	if missing != 0 {
		return 1, nil
	}
	return 0, nil
}
