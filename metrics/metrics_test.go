package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"ftvm/failover"
)

func TestCollect(t *testing.T) {
	backup := uint64(900)
	s := Sample{Role: "primary (paired)", Generation: 2, Position: 1000, BackupPosition: &backup, LagInstructions: 100,
		LogBytes: 4096, OutputsHeld: 3, OldestHeldPosition: 800}
	m := New()
	m.mu.Lock()
	m.sample = func() Sample { return s }
	// a rate measured from 1000 instructions ago, a second ago: 1000/s
	m.lastPos, m.lastAt = 0, time.Now().Add(-time.Second)
	m.mu.Unlock()
	m.Event(failover.Event{Kind: failover.EventBackupJoined, Millis: 20, Bytes: 1 << 20, Rounds: 3})
	m.Event(failover.Event{Kind: failover.EventWentLive})
	want := `
# HELP ftvm_lag_instructions How far the backup's replay is behind the primary, in instructions.
# TYPE ftvm_lag_instructions gauge
ftvm_lag_instructions 100
# HELP ftvm_outputs_held_age_instructions Instructions since the oldest held output was produced.
# TYPE ftvm_outputs_held_age_instructions gauge
ftvm_outputs_held_age_instructions 200
# HELP ftvm_failovers_total Times this side went live after losing its primary.
# TYPE ftvm_failovers_total counter
ftvm_failovers_total 1
# HELP ftvm_joins_total Backups that joined this primary.
# TYPE ftvm_joins_total counter
ftvm_joins_total 1
# HELP ftvm_join_rounds_total Pre-copy rounds of the backups that joined this primary.
# TYPE ftvm_join_rounds_total counter
ftvm_join_rounds_total 3
# HELP ftvm_generation The pair's generation (one more at each failover).
# TYPE ftvm_generation gauge
ftvm_generation 2
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "ftvm_lag_instructions", "ftvm_outputs_held_age_instructions",
		"ftvm_failovers_total", "ftvm_joins_total", "ftvm_join_rounds_total", "ftvm_generation"); err != nil {
		t.Error(err)
	}
	// The rate was measured at the scrape above: about 1000/s, so the lag is
	// about 0.1 s and the oldest held output about 0.2 s old.
	if ips := m.ips; ips < 900 || ips > 1100 {
		t.Errorf("instructions per second %v, want about 1000", ips)
	}
}
