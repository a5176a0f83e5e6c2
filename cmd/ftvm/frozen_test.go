package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"ftvm/failover"
	"ftvm/internal/testenv"
)

// A side's own lateness is not its peer's failure, and a stopped peer is.
// The processes are stopped with SIGSTOP, so each case's outcome follows
// from the stop's length against the failover timeout (300 ms), not from
// the host's load.
func TestFailoverFrozenSide(t *testing.T) {
	t.Run("backup stopped", foFrozenBackup)
	t.Run("primary stopped", foFrozenPrimary)
}

// foFrozenBackup stops the backup five times for twice its failover timeout
// while the primary runs and a client writes through it. A relay drops
// what the primary sends from 20 ms before each stop to 40 ms after it, so
// that on waking the backup finds nothing waiting (as when a starved
// process's socket overflowed, or its watcher runs before its readers):
// the silence spans the whole stop when the backup's watcher looks. The
// primary is given a long timeout, so it keeps the backup and the backup's
// own detector is what is tested: resumed, it must find the silence
// explained by its own stop and neither declare the primary lost nor go
// live (a detector that measured the silence by the wall clock would go
// live at each wake-up). Then the primary is killed, and the backup must go
// live about the timeout after its last packet: the detector is not made
// slower.
func foFrozenBackup(t *testing.T) {
	e := newFoEnv(t)
	pp := &foPair{e: e, sw: e.newSwitch("sw"), arb: e.path("arb")}
	addrA := testenv.FreeAddr(t, "udp")
	proxy := newFoProxy(t, addrA)
	a := e.start("A(primary, 10 s timeout)", append(append([]string{"primary", "--listen", addrA,
		"--disk", e.zeroDisk("a.img", 1<<20), "--wait-backup", "--failover-timeout", "10s"}, pp.common()...), e.image)...)
	b := pp.backup("B(backup via relay)", proxy.addr(), e.zeroDisk("b.img", 1<<20), testenv.FreeAddr(t, "udp"))
	foWaitJoined(t, b)
	c := newFoClient(t, pp.sw, e.path("client.sock"), 100, 250*time.Millisecond, 40)
	const stops, stopFor = 5, 600 * time.Millisecond
	for i := 0; i < stops; i++ {
		if r := c.mustDo(t, fmt.Sprintf("PUT k%d v%d", i, i)); !strings.HasPrefix(r, "OK ") {
			t.Fatalf("PUT: %q", r)
		}
		proxy.cut.Store(true)
		time.Sleep(20 * time.Millisecond) // the backup reads what was on its way
		b.cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(stopFor)
		b.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(40 * time.Millisecond) // the backup's watcher looks before anything arrives
		proxy.cut.Store(false)
		time.Sleep(300 * time.Millisecond) // longer than the timeout: a wrong verdict would be made by now
		if ev, ok := b.findEvent(failover.EventPrimaryLost, 0); ok {
			t.Fatalf("stop %d of the backup for %v: the backup declared the live primary lost: %q", i+1, stopFor, ev.Text)
		}
	}
	for _, p := range []*foProc{a, b} {
		if done, _ := p.exited(); done {
			t.Fatalf("%s exited after the backup's stops", p.name)
		}
	}
	if _, ok := a.findEvent(failover.EventBackupLost, 0); ok {
		t.Fatal("the primary lost its backup")
	}
	if r := c.mustDo(t, "GET k0"); r != "VAL v0" {
		t.Fatalf("GET k0 after the stops = %q", r)
	}

	// A real failure is still seen in about the timeout.
	a.kill()
	ev, ok := b.waitEvent(failover.EventWentLive, 2, 15*time.Second)
	if !ok {
		t.Fatal("the backup did not go live after the primary was killed")
	}
	lost, _ := b.findEvent(failover.EventPrimaryLost, 0)
	if lost.Millis > 2000 {
		t.Errorf("the backup declared the killed primary lost %.0f ms after its last message, want about the 300 ms timeout", lost.Millis)
	}
	for i := 0; i < stops; i++ {
		if r := c.mustDo(t, fmt.Sprintf("GET k%d", i)); r != fmt.Sprintf("VAL v%d", i) {
			t.Errorf("GET k%d after the failover = %q", i, r)
		}
	}
	t.Logf("%d stops of the backup for %v (relay dropped %d datagrams): no takeover; kill -9 of the primary: primary lost %.0f ms after its last message, live at %v",
		stops, stopFor, proxy.dropped.Load(), lost.Millis, ev.At.Sub(b.start).Round(time.Millisecond))
	foCheckGenerations(t, pp.arb, []*foProc{a, b}, 2)
	e.checkNoCrash()
}

// foFrozenPrimary stops the primary for five times the failover timeout:
// that is a failure. The backup goes live as generation 2; the resumed old
// primary loses the arbiter, emits nothing more and exits non-zero.
func foFrozenPrimary(t *testing.T) {
	e := newFoEnv(t)
	pp := &foPair{e: e, sw: e.newSwitch("sw"), arb: e.path("arb")}
	addrA := testenv.FreeAddr(t, "udp")
	a := pp.primary("A(primary)", addrA, e.zeroDisk("a.img", 1<<20), true)
	b := pp.backup("B(backup)", addrA, e.zeroDisk("b.img", 1<<20), testenv.FreeAddr(t, "udp"))
	foWaitJoined(t, b)
	c := newFoClient(t, pp.sw, e.path("client.sock"), 100, 250*time.Millisecond, 40)
	if r := c.mustDo(t, "PUT k v"); !strings.HasPrefix(r, "OK ") {
		t.Fatalf("PUT: %q", r)
	}
	a.cmd.Process.Signal(syscall.SIGSTOP)
	defer a.cmd.Process.Signal(syscall.SIGCONT)
	stoppedAt := time.Now()
	ev, ok := b.waitEvent(failover.EventWentLive, 2, 10*time.Second)
	if !ok {
		t.Fatal("the backup did not go live while the primary was stopped")
	}
	time.Sleep(max(1500*time.Millisecond-time.Since(stoppedAt), 0))
	consoleAtResume := len(a.lines(true))
	a.cmd.Process.Signal(syscall.SIGCONT)
	status, exited := a.waitExit(10 * time.Second)
	if !exited {
		t.Fatal("the resumed old primary still runs after the backup went live")
	}
	if _, found := a.findEvent(failover.EventLostArbiter, 2); !found {
		t.Error("the resumed old primary did not say it lost the arbiter")
	}
	if status == 0 {
		t.Error("the resumed old primary exited with status 0, want non-zero")
	}
	if out := a.lines(true); len(out) > consoleAtResume {
		t.Errorf("the resumed old primary printed %d console lines after losing (first %q)", len(out)-consoleAtResume, out[consoleAtResume].text)
	}
	if r := c.mustDo(t, "GET k"); r != "VAL v" {
		t.Errorf("GET k after the failover = %q", r)
	}
	t.Logf("primary stopped: backup live %v after the stop; old primary exit status %d", ev.At.Sub(stoppedAt).Round(time.Millisecond), status)
	foCheckGenerations(t, pp.arb, []*foProc{a, b}, 2)
	e.checkNoCrash()
}
