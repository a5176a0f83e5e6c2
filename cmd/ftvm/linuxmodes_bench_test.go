package main

import (
	"context"
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
// shared, so compare only figures of one run. "lockstep-tick" is lockstep
// with the kernel's periodic tick (no tsc=reliable): what an idle Linux
// costs when it cannot go tickless.
//
//	go test -run '^$' -bench LinuxModes -benchtime 1x ./cmd/ftvm
func BenchmarkLinuxModes(b *testing.B) {
	var alone twohost.Load
	for _, mode := range []string{"alone", "lockstep", "checkpoint", "io-sync", "lockstep-tick"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cfg := twoHostConfig(b, mode, "etcd", twohost.Primary, 8*time.Second)
				cfg.Alone, cfg.Idle = mode == "alone", 10*time.Second
				switch mode {
				case "alone":
					cfg.Mode = ""
				case "lockstep-tick":
					cfg.Mode, cfg.PeriodicTick = "lockstep", true
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
				if cfg.Mode != "lockstep" {
					b.ReportMetric(l.Checkpoints/l.Span.Seconds(), "ckpt/s")
					b.ReportMetric(l.PauseMeanMs, "pause-mean-ms")
					b.ReportMetric(l.PauseMaxMs, "pause-max-ms")
				}
				b.ReportMetric(float64(res.Stall.Milliseconds()), "failover-stall-ms")
				b.ReportMetric(float64(res.LostBytes), "lost-bytes")
				if cfg.Mode == "lockstep" {
					for k, v := range res.Idle.LogBytesByKind {
						b.ReportMetric(v*8/res.Idle.Span.Seconds(), "idle-"+k+"-bit/s")
					}
				}
			}
		})
	}
}
