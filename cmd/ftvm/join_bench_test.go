package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ftvm/failover"
	"ftvm/internal/netlab"
	"ftvm/internal/testenv"
)

// BenchmarkLinuxJoin measures a backup's live join (iterative pre-copy) to
// a primary running Debian's kernel in 256 MiB, in each mode, across the
// two hosts of internal/netlab (a file arbiter): first with the
// guest idle at its shell, then while a client in namespace C streams
// request/response pairs over one TCP connection to busybox nc -e cat in
// the guest, then with that stream and a writer in the guest (dd from
// /dev/urandom over an 8 MiB tmpfs file, again and again). It reports the
// guest's pause for the final section, the bytes of state, the pre-copy
// rounds, and the longest request/response the client saw while the backup
// joined (outputs are held from the pause until the backup acknowledges
// them).
//
//	go test -run '^$' -bench LinuxJoin -benchtime 1x ./cmd/ftvm
func BenchmarkLinuxJoin(b *testing.B) {
	for _, m := range failover.Modes {
		mode := m.String()
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchLinuxJoin(b, mode)
			}
		})
	}
}

// benchLinuxJoin is one round of BenchmarkLinuxJoin in mode.
func benchLinuxJoin(b *testing.B, mode string) {
	vmlinux, initrd := testenv.LinuxGuest(b)
	testenv.RequireRoot(b)
	lab, err := netlab.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lab.Close() })
	dir := b.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if out, err := exec.Command(ftvmBin, "certs", tlsDir).CombinedOutput(); err != nil {
		b.Fatalf("certs: %v: %s", err, out)
	}
	pairAddr := netlab.AddrA + ":7400"
	common := []string{"--tls", tlsDir, "--arbiter", "file:" + filepath.Join(dir, "arb"), "--net", "tap:" + netlab.TAP}
	var pout, perr testenv.Buffer
	pevents := filepath.Join(dir, "p.events")
	_, pinw, pdone := startIn(b, lab, netlab.HostA, &pout, &perr, append([]string{"primary", "--mode", mode, "--listen", pairAddr,
		"--events", pevents, "-m", "256M", "--initrd", initrd, "--append",
		fmt.Sprintf("console=ttyS0 ftvm.ip=%s/%d", netlab.AddrGuest, netlab.PrefixLen)}, append(common, vmlinux)...)...)
	if !waitConsole(&pout, initramfsMarker, pdone, 8*time.Minute) {
		b.Fatalf("no %q from the primary:\n%s\n%s", initramfsMarker, pout.String(), perr.String())
	}
	fmt.Fprintln(pinw, "nc -ll -p 7000 -e cat & echo server-$((6*7))")
	if !waitConsole(&pout, "server-42", pdone, 2*time.Minute) {
		b.Fatalf("the guest did not start its server:\n%s", pout.String())
	}
	joins := 0
	var longest atomic.Int64 // the client's longest request/response (ns)
	// join starts a backup in B, waits for the primary's backup-joined
	// event and for the backup to have loaded the state, lets the held
	// outputs go, and returns the event and the client's longest
	// request/response since the backup started; the backup is killed
	// after.
	join := func(what string) (failover.Event, time.Duration) {
		joins++
		var bout, berr testenv.Buffer
		longest.Store(0)
		bk, _, bdone := startIn(b, lab, netlab.HostB, &bout, &berr, append([]string{"backup", "--primary", pairAddr}, common...)...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		n := 0
		ev, err := failover.WaitEvent(ctx, pevents, pdone, func(e failover.Event) bool {
			if e.Kind == failover.EventBackupJoined {
				n++
			}
			return n == joins
		})
		if err != nil {
			b.Fatalf("%s: no backup-joined: %v\nprimary stderr:\n%s\nbackup stderr:\n%s", what, err, perr.String(), berr.String())
		}
		if !waitConsole(&berr, "joined the primary", bdone, time.Minute) {
			b.Fatalf("%s: the backup did not load the state:\n%s", what, berr.String())
		}
		time.Sleep(time.Second)
		wait := time.Duration(longest.Load())
		bk.Process.Signal(syscall.SIGKILL)
		<-bdone
		if _, err := failover.WaitEvent(ctx, pevents, pdone, func(e failover.Event) bool {
			return e.Kind == failover.EventBackupLost && e.Generation == uint64(joins+1)
		}); err != nil {
			b.Fatalf("%s: the primary did not carry on alone: %v\n%s", what, err, perr.String())
		}
		b.Logf("%s: %s", what, ev.Text)
		return ev, wait
	}
	report := func(what string, e failover.Event, wait time.Duration) {
		if what != "idle" {
			b.ReportMetric(float64(wait)/1e6, what+"-longest-reqresp-ms")
		}
		b.ReportMetric(e.Millis, what+"-pause-ms")
		b.ReportMetric(float64(e.Bytes)/(1<<20), what+"-MiB")
		b.ReportMetric(float64(e.Rounds), what+"-rounds")
	}
	ev, wait := join("idle")
	report("idle", ev, wait)

	// The TCP load: request/response pairs, back to back.
	var conn net.Conn
	testenv.Poll(b, time.Minute, "a TCP connection from the client to the guest", func() bool {
		c, err := lab.Dial(netlab.Client, netlab.AddrGuest+":7000", 2*time.Second)
		if err == nil {
			conn = c
		}
		return err == nil
	})
	defer conn.Close()
	var count atomic.Int64
	stop := make(chan struct{})
	loadDone := make(chan error, 1)
	go func() {
		reply := make([]byte, 11)
		for i := 0; ; i++ {
			select {
			case <-stop:
				loadDone <- nil
				return
			default:
			}
			t0 := time.Now()
			req := fmt.Sprintf("req %06d\n", i%1000000)
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write([]byte(req)); err != nil {
				loadDone <- err
				return
			}
			if _, err := io.ReadFull(conn, reply); err != nil || string(reply) != req {
				loadDone <- fmt.Errorf("reply %d: %q, %v", i, reply, err)
				return
			}
			longest.Store(max(longest.Load(), int64(time.Since(t0))))
			count.Add(1)
		}
	}()
	time.Sleep(2 * time.Second)
	n0, t0 := count.Load(), time.Now()
	ev, wait = join("load")
	report("load", ev, wait)
	b.ReportMetric(float64(count.Load()-n0)/time.Since(t0).Seconds(), "load-reqresp/s")

	// The TCP load and a writer in the guest: 8 MiB of a tmpfs file
	// rewritten from /dev/urandom, over and over.
	fmt.Fprintln(pinw, "(while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/tmp/x bs=64k count=128 2>/dev/null; done) & echo writer-$((6*7))")
	if !waitConsole(&pout, "writer-42", pdone, 2*time.Minute) {
		b.Fatalf("the guest did not start its writer:\n%s", pout.String())
	}
	time.Sleep(2 * time.Second)
	ev, wait = join("write")
	report("write", ev, wait)
	fmt.Fprintln(pinw, "touch /tmp/stop")
	close(stop)
	if err := <-loadDone; err != nil {
		b.Fatalf("the TCP load: %v", err)
	}
}

// startIn starts ftvm with args in lab's host h; the test kills it when it
// ends. done is closed when it exited.
func startIn(t testing.TB, lab *netlab.Lab, h netlab.Host, out, errOut io.Writer, args ...string) (cmd *exec.Cmd, stdin io.WriteCloser, done chan struct{}) {
	t.Helper()
	cmd = lab.Command(h, ftvmBin, args...)
	cmd.Stdout, cmd.Stderr = out, errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd, stdin, done
}
