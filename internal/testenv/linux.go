package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// LinuxKernel returns the path of the newest installed Debian kernel,
// /boot/vmlinuz-* (make deps installs linux-image-amd64).
func LinuxKernel(t testing.TB) string {
	t.Helper()
	k, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(k) == 0 {
		Missing(t, "no /boot/vmlinuz-* (make deps installs linux-image-amd64)")
	}
	return k[len(k)-1]
}

// LinuxGuest returns the vmlinux and the initramfs scripts/linux-guest.sh
// builds into testdata/guests/build/linux (make linux-guest; make test runs
// it).
func LinuxGuest(t testing.TB) (vmlinux, initrd string) {
	t.Helper()
	dir := filepath.Join(Root(), "testdata", "guests", "build", "linux")
	vmlinux, initrd = filepath.Join(dir, "vmlinux"), filepath.Join(dir, "initramfs.cpio.gz")
	for _, p := range []string{vmlinux, initrd} {
		if _, err := os.Stat(p); err != nil {
			Missing(t, "%v (make linux-guest builds it)", err)
		}
	}
	return vmlinux, initrd
}

// iaslBanner matches the header comment iasl -d writes: its version, the
// date and file names.
var iaslBanner = regexp.MustCompile(`(?s)\A/\*.*?\*/\n`)

// DisassembleACPI returns Debian's iasl -d listing of an ACPI table
// without its header comment, failing the test if iasl rejects it.
func DisassembleACPI(t testing.TB, table []byte) string {
	t.Helper()
	iasl := Program(t, "iasl")
	dir := t.TempDir()
	bin := filepath.Join(dir, "t.dat")
	if err := os.WriteFile(bin, table, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(iasl, "-d", bin).CombinedOutput(); err != nil {
		t.Fatalf("iasl -d: %v\n%s", err, out)
	}
	dsl, err := os.ReadFile(filepath.Join(dir, "t.dsl"))
	if err != nil {
		t.Fatal(err)
	}
	return iaslBanner.ReplaceAllString(string(dsl), "")
}

// Golden compares got with the golden file path, rewriting it first when
// update is set.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}
