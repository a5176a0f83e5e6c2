package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

func TestCmdSwitchUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a", "b"}, {"-bogus", "x"}} {
		_, err := cmdSwitch(args)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("args %q: error %v, want a usage error", args, err)
		}
	}
}

func TestCmdSwitchRunsUntilSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw.sock")
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		s, err := cmdSwitch([]string{"-idle", "10s", path})
		done <- result{s, err}
	}()
	testenv.Poll(t, 5*time.Second, "the switch socket", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	// The command catches SIGINT (signal.Notify is set up before the socket
	// exists), closes the switch and returns.
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case r := <-done:
		if r.status != 0 || r.err != nil {
			t.Errorf("status %d, error %v", r.status, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("switch did not stop on SIGINT")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
