package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/transport"
)

// The pair keeps moving with a timer-driven guest that idles between ticks
// (testdata/guests/pit_hlt.c: PIT at 100 Hz, HLT between ticks, a burst of
// work every 10 ticks): while both sides run, the backup's position never
// stands still for a second; the primary prints every line of the guest's
// golden output; both end with the guest; `ftvm status` says what the
// primary waits for when it waits.
func TestPairLiveness(t *testing.T) {
	e := newFoEnv(t)
	image := testenv.Guest(t, "pit_hlt")
	golden := testenv.GuestGolden(t, "pit_hlt")
	addr := testenv.FreeAddr(t, "udp")
	// A failover timeout a loaded host cannot trip: this is not a test of
	// failure detection.
	p := e.start("primary", "primary", "--listen", addr, "--tls", e.tls, "--wait-backup", "--clock", "host", "--failover-timeout", "5s", image)
	b := e.start("backup", "backup", "--primary", addr, "--tls", e.tls, "--failover-timeout", "5s")
	foWaitJoined(t, b)
	tlsCfg, err := transport.LoadTLS(e.tls)
	if err != nil {
		t.Fatal(err)
	}
	var lastPos uint64
	lastChange, polls := time.Now(), 0
	waits := map[string]int{}
	for {
		if done, _ := p.exited(); done {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		body, err := transport.QueryStatus(ctx, addr, tlsCfg)
		cancel()
		if err != nil {
			if done, _ := p.exited(); done {
				break
			}
			t.Fatalf("status: %v", err)
		}
		var st struct {
			Role        string `json:"role"`
			Position    uint64 `json:"position"`
			BackupPos   uint64 `json:"backup_position"`
			WaitingFor  string `json:"waiting_for"`
			OutputsHeld int    `json:"outputs_held"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("status %s: %v", body, err)
		}
		polls++
		waits[st.WaitingFor]++
		if st.Role == "primary (paired)" {
			if st.BackupPos > lastPos {
				lastPos, lastChange = st.BackupPos, time.Now()
			} else if time.Since(lastChange) > time.Second {
				t.Fatalf("the pair made no progress for %v: %s", time.Since(lastChange).Round(time.Millisecond), body)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, ok := p.waitExit(10 * time.Second); !ok || st != 1 {
		t.Fatalf("primary: exit status %d (ended %v), want 1", st, ok)
	}
	if st, ok := b.waitExit(10 * time.Second); !ok || st != 1 {
		t.Fatalf("backup: exit status %d (ended %v), want 1", st, ok)
	}
	var out strings.Builder
	for _, l := range p.lines(true) {
		out.WriteString(l.text + "\n")
	}
	if out.String() != string(golden) {
		t.Errorf("primary console:\n%s\nwant:\n%s", out.String(), golden)
	}
	if polls < 10 || lastPos == 0 {
		t.Errorf("%d status polls, backup at %d: the run was too short to judge", polls, lastPos)
	}
	if waits["input"] == 0 {
		t.Errorf("status never said the primary waits for input (its guest idles 90%% of the time): %v", waits)
	}
	t.Logf("status polls %d, waiting_for %v", polls, waits)
}
