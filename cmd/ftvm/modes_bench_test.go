package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftvm/failover"
	"ftvm/internal/testenv"
)

// BenchmarkPairModes compares the ways of keeping a backup (ftvm primary
// --mode) on the same workloads: the kvstore appliance paired under a
// sequential PUT load (requests/s, p50 and p99 latency, replication
// bandwidth, checkpoints/s and the guest's pause per checkpoint) and the
// bench guest's 200 million instructions alone and paired (the slowdown).
//
//	go test -run '^$' -bench PairModes -benchtime 1x ./cmd/ftvm
func BenchmarkPairModes(b *testing.B) {
	for _, m := range failover.Modes {
		mode := m.String()
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchPairMode(b, mode)
			}
		})
	}
}

// benchPairMode is one round of BenchmarkPairModes in mode.
func benchPairMode(t *testing.B, mode string) {
	e := newFoEnv(t)
	pp := &foPair{e: e, sw: e.newSwitch("sw"), arb: e.path("arb"), mode: mode}
	a, addrA, c := pp.listeningPrimary(t, 16<<20)
	c.mustDo(t, "STAT") // booted
	pp.backup("B(backup)", addrA, e.zeroDisk("b.img", 16<<20), "")
	if _, ok := a.waitEvent(failover.EventBackupJoined, 0, 20*time.Second); !ok {
		t.Fatal("the backup did not join")
	}
	time.Sleep(300 * time.Millisecond)
	s0 := foStatus(t, e.tls, addrA)
	var lat []time.Duration
	end := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		t0 := time.Now()
		if r := c.mustDo(t, fmt.Sprintf("PUT load%d %s", i%50, strings.Repeat("x", 100))); !strings.HasPrefix(r, "OK ") {
			t.Fatalf("PUT: %q", r)
		}
		lat = append(lat, time.Since(t0))
	}
	s1 := foStatus(t, e.tls, addrA)
	dt := foNum(s1, "uptime_s") - foNum(s0, "uptime_s")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	t.ReportMetric(float64(len(lat))/dt, "PUTs/s")
	t.ReportMetric(pct(0.50), "p50-µs")
	t.ReportMetric(pct(0.99), "p99-µs")
	t.ReportMetric((foNum(s1, "log_bytes")-foNum(s0, "log_bytes"))*8/dt/1e6, "repl-Mbit/s")
	if mode != "lockstep" {
		t.ReportMetric((foNum(s1, "checkpoints")-foNum(s0, "checkpoints"))/dt, "ckpt/s")
		t.ReportMetric(foNum(s1, "checkpoint_pause_mean_ms"), "pause-mean-ms")
		t.ReportMetric(foNum(s1, "checkpoint_pause_max_ms"), "pause-max-ms")
	}
	e.killAll()

	// The bench guest alone and paired.
	bench := testenv.Guest(t, "bench")
	const insns = "200000000"
	wall := func(lines []foLine) float64 {
		var text []string
		for _, l := range lines {
			text = append(text, l.text)
		}
		m := foWallRE.FindStringSubmatch(strings.Join(text, "\n"))
		if m == nil {
			t.Fatalf("no stats line in %q", text)
		}
		f, _ := strconv.ParseFloat(m[2], 64)
		return f
	}
	_, stderr, st := ftvm(t, "run", "--stats", "--max-insns", insns, bench)
	if st != 124 {
		t.Fatalf("run: status %d: %s", st, stderr)
	}
	alone := wall([]foLine{{text: stderr}})
	addr := testenv.FreeAddr(t, "udp")
	p := e.start("bench primary", "primary", "--listen", addr, "--tls", e.tls, "--mode", mode, "--wait-backup", "--stats", "--max-insns", insns, bench)
	e.start("bench backup", "backup", "--stats", "--primary", addr, "--tls", e.tls)
	if st, ok := p.waitExit(120 * time.Second); !ok || st != 124 {
		t.Fatalf("paired bench: status %d (ended %v)", st, ok)
	}
	paired := wall(p.lines(false))
	t.ReportMetric(alone, "bench-alone-s")
	t.ReportMetric(paired, "bench-paired-s")
	t.ReportMetric((paired-alone)/alone*100, "slowdown-%")
	if ev, ok := p.findEvent(failover.EventCheckpoints, 0); ok {
		t.ReportMetric(ev.Millis, "bench-pause-mean-ms")
		t.ReportMetric(float64(ev.Bytes)*8/paired/1e6, "bench-repl-Mbit/s")
	}
	e.killAll()
}
