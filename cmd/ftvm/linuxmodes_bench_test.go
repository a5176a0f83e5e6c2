package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"ftvm/internal/twohost"
)

// BenchmarkLinuxModes measures the ways of keeping a backup (ftvm primary
// --mode) on the Linux TCP workload of the two-host failover
// (twohost.Run): Debian's kernel, 256 MiB, an echo server (busybox nc -e
// cat) and a client on the LAN streaming request/response pairs over one
// TCP connection. First the guest runs alone (ftvm run in host A: the
// baseline), then paired in each mode with an etcd arbiter: 10 s idle
// (replication bandwidth of an idle Linux), 8 s of stream (pairs/s, p50 and
// p99 latency, replication bandwidth, checkpoints/s, pause per checkpoint,
// the primary's CPU time), then kill -9 of the primary (the longest
// request/response across the failover, bytes lost). Slowdown and added
// latency are against the alone run of the same invocation: the host is
// shared, so compare only figures of one run.
//
//	go test -run '^$' -bench LinuxModes -benchtime 1x ./cmd/ftvm
func BenchmarkLinuxModes(b *testing.B) {
	var alone twohost.Load
	for _, mode := range []string{"alone", "lockstep", "checkpoint", "io-sync"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cfg := twoHostConfig(b, mode, "etcd", twohost.Primary, 8*time.Second)
				cfg.Alone, cfg.Idle = mode == "alone", 10*time.Second
				if cfg.Alone {
					cfg.Mode = ""
				}
				res, err := twohost.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range res.Problems() {
					b.Error(p)
				}
				l := res.Load
				b.ReportMetric(l.PairsPerS(), "pairs/s")
				b.ReportMetric(float64(l.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(l.P99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(l.CPU.Milliseconds())/float64(max(l.Pairs, 1)), "cpu-ms/pair")
				if cfg.Alone {
					alone = l
					continue
				}
				b.ReportMetric(res.Idle.LogBitsPerS()/1e3, "idle-repl-kbit/s")
				b.ReportMetric(l.LogBitsPerS()/1e6, "repl-Mbit/s")
				if alone.Pairs > 0 {
					b.ReportMetric((alone.PairsPerS()/l.PairsPerS()-1)*100, "slowdown-%")
					b.ReportMetric(float64((l.P50 - alone.P50).Microseconds()), "added-p50-µs")
				}
				if mode != "lockstep" {
					b.ReportMetric(l.Checkpoints/l.Span.Seconds(), "ckpt/s")
					b.ReportMetric(l.PauseMeanMs, "pause-mean-ms")
					b.ReportMetric(l.PauseMaxMs, "pause-max-ms")
				}
				b.ReportMetric(float64(res.Stall.Milliseconds()), "failover-stall-ms")
				b.ReportMetric(float64(res.LostBytes), "lost-bytes")
				b.Logf("%s idle: %s; under load: %s", mode, byKind(res.Idle), byKind(l))
			}
		})
	}
}

// byKind lists a load's log bytes per second by record kind, largest
// first.
func byKind(l twohost.Load) string {
	type kv struct {
		k string
		v float64
	}
	var s []kv
	for k, v := range l.LogBytesByKind {
		s = append(s, kv{k, v / l.Span.Seconds()})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].v > s[j].v })
	var out []string
	for _, e := range s {
		out = append(out, fmt.Sprintf("%s %.0f B/s", e.k, e.v))
	}
	return strings.Join(out, ", ")
}
