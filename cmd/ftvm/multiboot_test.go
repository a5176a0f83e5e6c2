package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// TestMultibootModules runs the mb32 multiboot guest with its modules given
// as QEMU's -initrd takes them (comma-separated, arguments after the file
// name), records the run and replays it: the console must be the golden
// file both times. A missing module file is a clear error.
func TestMultibootModules(t *testing.T) {
	elf := testenv.Guest(t, "mb32")
	root := filepath.Join("..", "..")
	list, err := os.ReadFile(filepath.Join(root, "testdata", "guests", "mb32.modules"))
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, item := range strings.Split(string(list), ",") {
		items = append(items, filepath.Join(root, item))
	}
	mods := strings.Join(items, ",")
	want, err := os.ReadFile(filepath.Join(root, "testdata", "guests", "mb32.golden"))
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "mb32.log")
	for _, args := range [][]string{
		{"run", "--clock", "virtual", "--record", log, "--initrd", mods, elf},
		{"replay", "--log", log, elf},
	} {
		stdout, stderr, status := ftvm(t, args...)
		if status != 1 || stdout != string(want) {
			t.Errorf("%s: status %d, stderr %q, console differs from mb32.golden:\n%s", args[0], status, stderr, stdout)
		}
	}
	_, stderr, status := ftvm(t, "run", "--initrd", items[0]+",nope", elf)
	if status != 125 || !strings.Contains(stderr, "--initrd") {
		t.Errorf("missing module: status %d, stderr %q", status, stderr)
	}
}
