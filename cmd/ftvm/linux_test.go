package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// debianKernel returns the installed Debian kernel's path; under CI its
// absence fails the test (make deps installs linux-image-amd64).
func debianKernel(t *testing.T) string {
	t.Helper()
	k, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(k) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no /boot/vmlinuz-*: make deps installs linux-image-amd64")
		}
		t.Skip("no /boot/vmlinuz-* (make deps installs linux-image-amd64)")
	}
	return k[len(k)-1]
}

// TestLinuxBadInput runs Debian's kernel, damaged in the ways boot.rst
// tells a loader to check, and with an initrd or command line that cannot
// be handed to it: each is a clear ftvm: error and exit status 125.
func TestLinuxBadInput(t *testing.T) {
	kernel, err := os.ReadFile(debianKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	patched := func(name string, off int, v uint16) string {
		b := append([]byte(nil), kernel...)
		binary.LittleEndian.PutUint16(b[off:], v)
		return write(name, b)
	}
	good := write("vmlinuz", kernel)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"truncated", []string{"run", "-m", "256M", write("trunc", kernel[:len(kernel)/3])}, "truncated"},
		{"truncated header", []string{"run", "-m", "256M", write("trunchdr", kernel[:0x220])}, "truncated"},
		{"protocol 2.11", []string{"run", "-m", "256M", patched("old", 0x206, 0x020B)}, "older than 2.12"},
		{"32-bit only", []string{"run", "-m", "256M", patched("i386", 0x236, 0x0002)}, "32-bit-only"},
		{"too little RAM", []string{"run", "-m", "64M", good}, "-m"},
		{"initrd too large", []string{"run", "-m", "100M", "--initrd", write("big", make([]byte, 40<<20)), good}, "initrd"},
		{"missing initrd", []string{"run", "-m", "256M", "--initrd", filepath.Join(dir, "nope"), good}, "--initrd"},
		{"command line too long", []string{"run", "-m", "256M", "--append", strings.Repeat("x", 2048), good}, "2047"},
		{"initrd with an ELF64 guest", []string{"run", "--initrd", good, guest(t, "hello")}, "Linux kernel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := ftvm(t, tc.args...)
			if status != 125 {
				t.Errorf("status %d, want 125; stderr %q", status, stderr)
			}
			if !strings.HasPrefix(stderr, "ftvm:") || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q should start with ftvm: and mention %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}
