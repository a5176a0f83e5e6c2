package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/metrics"
)

// waitScrape scrapes addr until ok accepts the metrics.
func waitScrape(t *testing.T, addr, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	var last map[string]float64
	if !testenv.WaitFor(30*time.Second, func() bool {
		if m, err := metrics.Scrape(context.Background(), addr); err == nil {
			last = m
		}
		return last != nil && ok(last)
	}) {
		t.Fatalf("waiting for %s: last scrape %v", what, last)
	}
	return last
}

func TestMetricsRun(t *testing.T) {
	e := newFoEnv(t)
	addr := testenv.FreeAddr(t, "tcp")
	p := e.start("run", "run", "--clock", "virtual", "--serial", "none", "--metrics", addr, "--max-insns", "100000000000",
		"--record", e.path("run.log"), testenv.Guest(t, "spin"))
	m := waitScrape(t, addr, "a run's position, speed and digest records", func(m map[string]float64) bool {
		return m["ftvm_retired_instructions_total"] > 0 && m["ftvm_instructions_per_second"] > 0 &&
			m[`ftvm_log_record_bytes_total{kind="digest"}`] > 0
	})
	if m[`ftvm_role{role="run"}`] != 1 || m["ftvm_failovers_total"] != 0 {
		t.Errorf("run metrics %v", m)
	}
	p.kill()
}

func TestMetricsPair(t *testing.T) {
	e := newFoEnv(t)
	image := testenv.Guest(t, "pit_hlt")
	addr := testenv.FreeAddr(t, "udp")
	pm, bm := testenv.FreeAddr(t, "tcp"), testenv.FreeAddr(t, "tcp")
	p := e.start("primary", "primary", "--listen", addr, "--tls", e.tls, "--wait-backup", "--clock", "host", "--failover-timeout", "5s", "--metrics", pm, image)
	b := e.start("backup", "backup", "--primary", addr, "--tls", e.tls, "--failover-timeout", "5s", "--metrics", bm)
	foWaitJoined(t, b)
	m := waitScrape(t, pm, "the paired primary's figures", func(m map[string]float64) bool {
		return m[`ftvm_role{role="primary (paired)"}`] == 1 && m["ftvm_retired_instructions_total"] > 0 &&
			m["ftvm_log_bytes_total"] > 0 && m["ftvm_instructions_per_second"] > 0 &&
			m[`ftvm_log_record_bytes_total{kind="clock"}`] > 0
	})
	for _, name := range []string{"ftvm_heartbeat_rtt_seconds", "ftvm_lag_instructions", "ftvm_lag_seconds", "ftvm_outputs_held", "ftvm_outputs_held_age_seconds", "ftvm_join_pause_seconds_count", "ftvm_generation"} {
		if _, ok := m[name]; !ok {
			t.Errorf("primary metrics lack %s: %v", name, m)
		}
	}
	if m["ftvm_joins_total"] != 1 || m["ftvm_join_pause_seconds_count"] != 1 || m["ftvm_generation"] != 1 {
		t.Errorf("primary: joins %v, join pauses %v, generation %v; want 1, 1, 1",
			m["ftvm_joins_total"], m["ftvm_join_pause_seconds_count"], m["ftvm_generation"])
	}
	waitScrape(t, bm, "the backup's replay position", func(m map[string]float64) bool {
		return m[`ftvm_role{role="backup"}`] == 1 && m["ftvm_retired_instructions_total"] > 0
	})
	if st, ok := p.waitExit(30 * time.Second); !ok || st != 1 {
		t.Errorf("primary: exit status %d (ended %v), want 1", st, ok)
	}
	if st, ok := b.waitExit(10 * time.Second); !ok || st != 1 {
		t.Errorf("backup: exit status %d (ended %v), want 1", st, ok)
	}
}

func TestMetricsCheckpointMode(t *testing.T) {
	e := newFoEnv(t)
	addr, pm := testenv.FreeAddr(t, "udp"), testenv.FreeAddr(t, "tcp")
	p := e.start("primary", "primary", "--mode", "checkpoint", "--listen", addr, "--tls", e.tls, "--wait-backup", "--clock", "virtual",
		"--serial", "none", "--failover-timeout", "5s", "--metrics", pm, "--max-insns", "3000000000", testenv.Guest(t, "spin"))
	b := e.start("backup", "backup", "--primary", addr, "--tls", e.tls, "--failover-timeout", "5s", "--serial", "none")
	foWaitJoined(t, b)
	m := waitScrape(t, pm, "checkpoint figures", func(m map[string]float64) bool {
		return m[`ftvm_mode{mode="checkpoint"}`] == 1 && m["ftvm_checkpoints_total"] > 2 && m["ftvm_checkpoint_bytes_total"] > 0
	})
	if m["ftvm_checkpoint_pause_max_seconds"] <= 0 {
		t.Errorf("checkpoint metrics %v: no pause measured", m)
	}
	p.kill()
	b.kill()
}

// TestTopFailover draws a pair with ftvm top in a tmux pane, kills the
// primary and watches the backup go live on the screen.
func TestTopFailover(t *testing.T) {
	tmux := testenv.Program(t, "tmux")
	e := newFoEnv(t)
	image := testenv.Guest(t, "spin")
	addr := testenv.FreeAddr(t, "udp")
	pm, bm := testenv.FreeAddr(t, "tcp"), testenv.FreeAddr(t, "tcp")
	p := e.start("primary", "primary", "--listen", addr, "--tls", e.tls, "--wait-backup", "--clock", "virtual", "--serial", "none",
		"--failover-timeout", "1s", "--metrics", pm, image)
	b := e.start("backup", "backup", "--primary", addr, "--tls", e.tls, "--failover-timeout", "1s", "--serial", "none", "--metrics", bm)
	foWaitJoined(t, b)
	session := "ftvm-top-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(tmux, "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
		ftvmBin, "top", "--interval", "200ms", pm, bm).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(tmux, "kill-session", "-t", session).Run() })
	pane := ""
	capture := func() string {
		out, _ := exec.Command(tmux, "capture-pane", "-p", "-t", session).Output()
		pane = string(out)
		return pane
	}
	line := func(side string) string {
		for _, l := range strings.Split(pane, "\n") {
			if strings.HasPrefix(l, side) {
				return l
			}
		}
		return ""
	}
	if !testenv.WaitFor(20*time.Second, func() bool {
		capture()
		return strings.Contains(line(pm), "primary (paired)") && strings.Contains(line(bm), "backup")
	}) {
		t.Fatalf("top never showed the pair:\n%s", pane)
	}
	p.kill()
	if !testenv.WaitFor(20*time.Second, func() bool {
		capture()
		return strings.Contains(line(pm), "unreachable") && strings.Contains(line(bm), "primary (alone)") &&
			strings.Contains(pane, "went-live")
	}) {
		t.Fatalf("top never showed the failover:\n%s", pane)
	}
	if f := strings.Fields(line(bm)); len(f) < 4 || f[3] != "2" {
		t.Errorf("the live backup's line %q: want generation 2", line(bm))
	}
	t.Logf("after the failover:\n%s", pane)
	b.kill()
}
