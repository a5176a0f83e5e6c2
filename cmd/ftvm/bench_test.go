package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

// BenchmarkApplianceRequests: one kvstore appliance (ftvm run, the built
// binary) on the socket network, one client in this process doing
// sequential PUTs through the switch. Each PUT is appended to the guest's
// disk log and flushed before it is answered. Reported: requests/s and the
// latency percentiles of one request (send to reply).
//
//	go test -run '^$' -bench ApplianceRequests ./cmd/ftvm
//	scripts/bench-appliance.sh
func BenchmarkApplianceRequests(b *testing.B) {
	p := filepath.Join("..", "..", "testdata", "guests", "build", "kvstore.elf")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("kvstore guest not built (run make guests): %v", err)
	}
	dir := testenv.ShortTempDir(b)
	sw := testenv.Switch(b, filepath.Join(dir, "sw.sock")).Path()
	// sparse, large enough for every write of a long run (about 2000
	// small writes per MiB)
	disk := apZeroDisk(b, filepath.Join(dir, "disk.img"), 256<<20)
	g := ftvmProc(b, "appliance", "run", "--net", "socket:"+sw, "--disk", disk, "--serial", "none", p)
	c := newAPClient(b, sw, "10.0.2.15:7000", 100)
	// --serial none: wait for the guest to answer instead of its console
	deadline := time.Now().Add(90 * time.Second)
	for {
		if r, err := c.c.Do(b.Context(), "STAT"); err == nil && r == "KEYS 0 WRITES 0" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the appliance does not answer; stderr:\n%s", g.stderr.String())
		}
	}
	c.put(b, "warmup", "x", 0)

	lat := make([]time.Duration, 0, b.N)
	last := 1
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		last = c.put(b, fmt.Sprintf("key%d", i%1000), fmt.Sprintf("value %d", i), last)
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.90), "p90-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	if st := g.term(b); st != 0 {
		b.Errorf("appliance: exit status %d after SIGTERM; stderr:\n%s", st, g.stderr.String())
	}
}
