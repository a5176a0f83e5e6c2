package main

import (
	"regexp"
	"testing"
	"time"

	"ftvm/failover"
	"ftvm/internal/netlab"
	"ftvm/internal/testenv"
)

// TestTwoHostEtcdPartition runs a pair across two hosts (netlab: the
// primary in namespace A, the backup in B, the QUIC link over the LAN
// bridge) with a real etcd as the arbiter in the client's namespace, and
// partitions the network with routes (blackhole: packets to that address
// go nowhere) rather than by closing anything: the link between A and B is
// cut, and so is the way to etcd of the sides in cut. A side that cannot
// reach etcd must not be live, must say so (arbiter-unreachable) and keep
// asking; when only one side reaches etcd, exactly that side is live; when
// neither does, no side is live until etcd is reachable again, and then
// exactly one is. The side that lost learns it once it reaches etcd
// (lost-arbiter) and exits with a failure status. The guest is pit_hlt
// (PIT ticks, a console line every 100 ms), so the cases cost little.
func TestTwoHostEtcdPartition(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.Program(t, "etcd")
	image := testenv.Guest(t, "pit_hlt")
	for _, tc := range []struct {
		name string
		cut  []netlab.Host // the hosts that cannot reach etcd
		want netlab.Host   // the side that must be live ("": either, once etcd is back)
	}{
		{"only B reaches etcd", []netlab.Host{netlab.HostA}, netlab.HostB},
		{"only A reaches etcd", []netlab.Host{netlab.HostB}, netlab.HostA},
		{"etcd unreachable", []netlab.Host{netlab.HostA, netlab.HostB}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { twoHostEtcdCase(t, image, tc.cut, tc.want) })
	}
}

func twoHostEtcdCase(t *testing.T, image string, cut []netlab.Host, want netlab.Host) {
	lab, err := netlab.New()
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	t.Cleanup(func() { lab.Close() })
	e := newFoEnv(t)
	etcd := testenv.EtcdAt(t, "", netlab.AddrClient+":2379", netlab.AddrClient+":2380", lab.Wrap(netlab.Client)...)
	common := []string{"--tls", e.tls, "--arbiter", "etcd:" + etcd + "/ftvm-partition"}
	addrA := netlab.AddrA + ":7400"
	a := e.startIn(lab.Wrap(netlab.HostA), "A(primary)", append(append([]string{"primary", "--listen", addrA, "--wait-backup",
		"--append", "lines=100000"}, common...), image)...)
	b := e.startIn(lab.Wrap(netlab.HostB), "B(backup)", append([]string{"backup", "--primary", addrA, "--serial", "none"}, common...)...)
	foWaitJoined(t, b)
	if _, ok := a.waitMatch(true, regexp.MustCompile(`line 3:`), 30*time.Second); !ok {
		t.Fatal("the paired guest did not run")
	}
	side := map[netlab.Host]*foProc{netlab.HostA: a, netlab.HostB: b}
	route := func(h netlab.Host, op, to string) {
		t.Helper()
		if out, err := lab.Command(h, "ip", "route", op, "blackhole", to+"/32").CombinedOutput(); err != nil {
			t.Fatalf("ip route %s blackhole %s in %s: %v: %s", op, to, h, err, out)
		}
	}
	// The partition: the sides in cut lose etcd, then A and B lose each
	// other (a send into a blackhole fails at once, so the pair notices
	// without waiting for the failure timeout).
	for _, h := range cut {
		route(h, "add", netlab.AddrClient)
	}
	route(netlab.HostA, "add", netlab.AddrB)
	route(netlab.HostB, "add", netlab.AddrA)
	cutAt := time.Now()
	live := func(h netlab.Host) bool {
		if h == netlab.HostA {
			_, ok := a.findEvent(failover.EventBackupLost, 2)
			return ok
		}
		_, ok := b.findEvent(failover.EventWentLive, 2)
		return ok
	}
	for _, h := range cut {
		if _, ok := side[h].waitEvent(failover.EventArbiterUnreachable, 0, 20*time.Second); !ok {
			t.Fatalf("%s did not say etcd is unreachable", side[h].name)
		}
	}
	if want != "" {
		if !testenv.WaitFor(20*time.Second, func() bool { return live(want) }) {
			t.Fatalf("%s, the side that reaches etcd, did not take generation 2", side[want].name)
		}
	} else {
		// Neither reaches etcd: nobody is live, both keep asking.
		time.Sleep(2 * time.Second)
		for h, p := range side {
			if live(h) {
				t.Fatalf("%s went live without the arbiter", p.name)
			}
			if n := countEvents(p, failover.EventArbiterUnreachable); n < 2 {
				t.Errorf("%s said etcd is unreachable %d times in 2 s; it should keep asking", p.name, n)
			}
		}
	}
	// etcd reachable again (A and B still apart): whoever did not win
	// learns it lost and stops.
	for _, h := range cut {
		route(h, "del", netlab.AddrClient)
	}
	var winner netlab.Host
	if !testenv.WaitFor(20*time.Second, func() bool {
		for h := range side {
			if live(h) {
				winner = h
				return true
			}
		}
		return false
	}) {
		t.Fatal("no side took generation 2 once etcd was back")
	}
	loser := netlab.HostA
	if winner == netlab.HostA {
		loser = netlab.HostB
	}
	status, ok := side[loser].waitExit(20 * time.Second)
	if !ok {
		t.Fatalf("%s still runs after %s took generation 2", side[loser].name, side[winner].name)
	}
	lost, found := side[loser].findEvent(failover.EventLostArbiter, 2)
	if !found || status == 0 {
		t.Errorf("%s: lost-arbiter event %v, exit status %d; want the event and a failure status", side[loser].name, found, status)
	}
	if live(loser) {
		t.Errorf("both sides took generation 2")
	}
	if done, _ := side[winner].exited(); done {
		t.Errorf("%s, the live side, exited", side[winner].name)
	}
	t.Logf("%s live; %s: %q, %v after the cut, exit status %d", side[winner].name, side[loser].name,
		lost.Text, lost.At.Sub(cutAt).Round(time.Millisecond), status)
}

// countEvents counts p's events of kind so far.
func countEvents(p *foProc, kind failover.EventKind) int {
	events, _ := failover.ReadEvents(p.events) // none if it wrote none
	n := 0
	for _, e := range events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
