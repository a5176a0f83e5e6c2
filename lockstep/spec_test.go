package lockstep

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ftvm/machine"
)

// A spec written down as a header and read back is the same spec, with the
// files' digests checked.
func TestHeaderSpecRoundTrip(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := machine.Spec{ImagePath: "guest.elf", Image: []byte("image"), RAM: 32 << 20, Clock: machine.ClockVirtual,
		Seed: 7, Cmdline: "console=ttyS0", RTCBase: 1234, NIC: true, MAC: [6]byte{2, 0, 0, 0, 0, 9},
		Disks: []machine.DiskSpec{{Path: disk, ReadOnly: true}}}
	h, err := NewHeader(&spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Spec()
	if err != nil {
		t.Fatal(err)
	}
	want := spec
	want.Image = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header %+v read back as\n%+v, want\n%+v", h, got, want)
	}
	got.Image = spec.Image
	if err := h.CheckFiles(&got); err != nil {
		t.Errorf("CheckFiles of the recorded files: %v", err)
	}
	got.Image = []byte("other")
	if err := h.CheckFiles(&got); err == nil || !strings.Contains(err.Error(), "not the image") {
		t.Errorf("CheckFiles of another image: %v", err)
	}
	got.Image = spec.Image
	os.WriteFile(disk, make([]byte, 8192), 0o644)
	if err := h.CheckFiles(&got); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("CheckFiles of a changed disk: %v", err)
	}
}

// An unknown clock or a malformed MAC in a header is an error, never a
// silent default.
func TestHeaderSpecRejects(t *testing.T) {
	for _, h := range []Header{
		{Clock: "wall"},
		{Clock: ""},
		{Clock: "host", Net: true, Nets: []string{"52:54:00"}},
	} {
		if _, err := h.Spec(); err == nil {
			t.Errorf("header %+v: no error", h)
		}
	}
	for _, name := range []string{"host", "virtual"} {
		c, err := machine.ParseClock(name)
		if err != nil || c.String() != name {
			t.Errorf("ParseClock(%q) = %v, %v", name, c, err)
		}
	}
}
