package board

import (
	"os"
	"path/filepath"
	"testing"

	"ftvm/internal/testenv"
	"ftvm/machine"
)

// A spec with a NIC and a disk builds a board with both in virtio slots,
// the image loaded; a spec naming a missing disk is an error that leaves
// nothing open.
func TestBuild(t *testing.T) {
	path := testenv.Guest(t, "hello")
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := machine.Spec{ImagePath: path, Image: image, RAM: 16 << 20, Clock: machine.ClockVirtual, NIC: true,
		Disks: []machine.DiskSpec{{Path: disk, ReadOnly: true}}}
	b, err := Build(&spec, machine.Config{}, Host{Live: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Virtio()) != 2 || len(b.Blks) != 1 {
		t.Errorf("%d virtio slots and %d disks, want 2 and 1", len(b.Virtio()), len(b.Blks))
	}
	if exit := b.Run(10_000_000); exit.Reason != machine.ExitDebug {
		t.Errorf("hello on the built board ended with %v", exit.Reason)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	spec.Disks[0].Path = filepath.Join(t.TempDir(), "missing.img")
	if b, err := Build(&spec, machine.Config{}, Host{Live: true}); err == nil {
		b.Close()
		t.Error("a missing disk: no error")
	}
	spec.Disks = nil
	spec.Snapshot = filepath.Join(t.TempDir(), "missing.snap")
	if b, err := Build(&spec, machine.Config{}, Host{}); err == nil {
		b.Close()
		t.Error("a missing snapshot: no error")
	}
}
