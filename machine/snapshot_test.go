package machine

import (
	"bytes"
	"errors"
	"testing"
)

// A machine restored from a snapshot taken mid-run continues exactly as the
// original: same console output, same final CPU state.
func TestSnapshotContinuesIdentically(t *testing.T) {
	m1, out1 := loadGuest(t, "exercise")
	if e := m1.Run(3_000_000); e.Reason != ExitInsnLimit {
		t.Fatalf("first part ended with %v", e.Reason)
	}
	var snap bytes.Buffer
	if err := m1.SaveSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of a 64 MiB guest: %d bytes", snap.Len())
	before := out1.Len()
	e1 := m1.Run(0)

	m2, out2 := loadGuest(t, "exercise")
	if err := m2.RestoreSnapshot(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	e2 := m2.Run(0)
	if e1 != e2 {
		t.Errorf("exit %+v after restore, want %+v", e2, e1)
	}
	if got, want := out2.String(), out1.String()[before:]; got != want {
		t.Errorf("output after restore differs:\n got %q\nwant %q", got, want)
	}
	if m1.CPU.State() != m2.CPU.State() {
		t.Errorf("final CPU state differs")
	}
	if !bytes.Equal(m1.Mem.RAM, m2.Mem.RAM) {
		t.Errorf("final RAM differs")
	}
}

func TestSnapshotRejectsGarbage(t *testing.T) {
	m, err := New(Config{Clock: ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := m.SaveSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	good := snap.Bytes()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXXXXXX"), good[8:]...),
		"truncated": good[:len(good)/2],
		"no end":    good[:len(good)-2],
	} {
		if err := m.RestoreSnapshot(bytes.NewReader(b)); !errors.Is(err, ErrSnapshotFormat) {
			t.Errorf("%s: error %v, want a format error", name, err)
		}
	}
	small, _ := New(Config{Clock: ClockVirtual, RAM: 32 << 20})
	if err := small.RestoreSnapshot(bytes.NewReader(good)); err == nil {
		t.Error("snapshot restored into a machine with another RAM size")
	}
}
