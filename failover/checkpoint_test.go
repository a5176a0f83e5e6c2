package failover

import (
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		in       string
		mode     Mode
		interval time.Duration
		bad      bool
	}{
		{"lockstep", ModeLockstep, 0, false},
		{"checkpoint", ModeCheckpoint, 25 * time.Millisecond, false},
		{"checkpoint:100ms", ModeCheckpoint, 100 * time.Millisecond, false},
		{"io-sync", ModeIOSync, time.Second, false},
		{"checkpoint:0s", 0, 0, true},
		{"checkpoint:2h", 0, 0, true},
		{"checkpoint:soon", 0, 0, true},
		{"lockstep:5ms", 0, 0, true},
		{"io-sync:5ms", 0, 0, true},
		{"remus", 0, 0, true},
		{"", 0, 0, true},
	}
	for _, tc := range tests {
		m, iv, err := ParseMode(tc.in)
		if (err != nil) != tc.bad || !tc.bad && (m != tc.mode || iv != tc.interval) {
			t.Errorf("ParseMode(%q) = %v, %v, %v; want %v, %v, error %v", tc.in, m, iv, err, tc.mode, tc.interval, tc.bad)
		}
	}
}
