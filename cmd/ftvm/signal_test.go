package main

import (
	"context"
	"encoding/json"
	"regexp"
	"syscall"
	"testing"
	"time"

	"ftvm/failover"
	"ftvm/internal/testenv"
	"ftvm/transport"
)

// SIGTERM ends a run within a second whatever it is doing, and a second
// signal ends it at once (status 128+15) where the first waits for
// something.
func TestSignalEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup starts the processes, brings them into the state and
		// returns the one to signal.
		setup  func(t *testing.T, e *foEnv) *foProc
		twice  bool // a second signal right after the first
		status int  // its exit status
	}{
		{"run idle in HLT with no timer", func(t *testing.T, e *foEnv) *foProc {
			p := e.start("run", "run", "--net", "socket:"+e.newSwitch("sw"), "--append", "pit=off", testenv.Guest(t, "idle_wake"))
			mustConsole(t, p, "waiting with no timer")
			return p
		}, false, 0},
		{"primary waiting for a backup", func(t *testing.T, e *foEnv) *foProc {
			p := e.start("primary", "primary", "--listen", testenv.FreeAddr(t, "udp"), "--tls", e.tls, "--wait-backup", testenv.Guest(t, "pit_hlt"))
			if _, ok := p.waitEvent(failover.EventWaitingBackup, 0, 30*time.Second); !ok {
				t.Fatal("the primary never held its guest for a backup")
			}
			return p
		}, false, 0},
		{"backup waiting for its primary", func(t *testing.T, e *foEnv) *foProc {
			b := e.start("backup", "backup", "--primary", testenv.FreeAddr(t, "udp"), "--tls", e.tls)
			if _, ok := b.waitEvent(failover.EventWaitingPrimary, 0, 30*time.Second); !ok {
				t.Fatal("the backup never said it waits for its primary")
			}
			return b
		}, false, 0},
		{"backup replaying", func(t *testing.T, e *foEnv) *foProc {
			ps := startPair(t, e, "lines=100000", "--failover-timeout", "5s")
			mustConsole(t, ps.primary, "line 3:")
			return ps.backup
		}, false, 0},
		{"primary throttled by a stopped backup", func(t *testing.T, e *foEnv) *foProc {
			return throttledPrimary(t, e)
		}, false, 0},
		{"second signal while the primary waits for its backup's acks", func(t *testing.T, e *foEnv) *foProc {
			return throttledPrimary(t, e)
		}, true, 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFoEnv(t)
			p := tc.setup(t, e)
			at := time.Now()
			p.cmd.Process.Signal(syscall.SIGTERM)
			if tc.twice {
				time.Sleep(20 * time.Millisecond)
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
			st, ok := p.waitExit(time.Second)
			if !ok {
				t.Fatalf("%s still runs a second after SIGTERM", p.name)
			}
			if st != tc.status {
				t.Errorf("%s ended with status %d after %v, want %d", p.name, st, time.Since(at).Round(time.Millisecond), tc.status)
			}
			t.Logf("%s ended %v after the signal", p.name, time.Since(at).Round(time.Millisecond))
		})
	}
}

// fopair is a primary and its backup.
type fopair struct {
	primary, backup *foProc
	addr            string // the primary's
}

// startPair starts a primary (pit_hlt with cmdline, host clock) and a
// backup, both with flags, and waits until the backup joined.
func startPair(t *testing.T, e *foEnv, cmdline string, flags ...string) fopair {
	t.Helper()
	addr := testenv.FreeAddr(t, "udp")
	args := append([]string{"primary", "--listen", addr, "--tls", e.tls, "--wait-backup", "--append", cmdline}, flags...)
	p := e.start("primary", append(args, testenv.Guest(t, "pit_hlt"))...)
	b := e.start("backup", append([]string{"backup", "--primary", addr, "--tls", e.tls}, flags...)...)
	foWaitJoined(t, b)
	return fopair{p, b, addr}
}

// throttledPrimary starts a pair, freezes the backup (SIGSTOP, with a long
// failover timeout) and returns the primary once its status says it waits
// for its backup.
func throttledPrimary(t *testing.T, e *foEnv) *foProc {
	t.Helper()
	ps := startPair(t, e, "lines=100000", "--failover-timeout", "30s")
	mustConsole(t, ps.primary, "line 2:")
	ps.backup.cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { ps.backup.cmd.Process.Signal(syscall.SIGCONT) })
	waitStatus(t, ps.addr, e.tls, "backup")
	return ps.primary
}

// mustConsole waits for a console (stdout) line with phrase.
func mustConsole(t *testing.T, p *foProc, phrase string) {
	t.Helper()
	if _, ok := p.waitMatch(true, regexp.MustCompile(regexp.QuoteMeta(phrase)), 30*time.Second); !ok {
		t.Fatalf("%s never printed %q", p.name, phrase)
	}
}

// waitStatus waits until the node at addr says it waits for what.
func waitStatus(t *testing.T, addr, tlsDir, what string) {
	t.Helper()
	tlsCfg, err := transport.LoadTLS(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var body []byte
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		body, err = transport.QueryStatus(ctx, addr, tlsCfg)
		cancel()
		var st struct {
			WaitingFor string `json:"waiting_for"`
		}
		if err == nil && json.Unmarshal(body, &st) == nil && st.WaitingFor == what {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("status never said waiting_for %q: %s (%v)", what, body, err)
}
