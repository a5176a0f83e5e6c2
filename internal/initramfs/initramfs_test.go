package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

func TestLoadOrder(t *testing.T) {
	dep := `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/crypto/crc32c-intel.ko:
kernel/a.ko: kernel/b.ko
kernel/b.ko: kernel/a.ko
kernel/c.ko: kernel/missing.ko
`
	deps, err := ParseModulesDep(strings.NewReader(dep))
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrder(deps, []string{"virtio_mmio", "virtio-net", "crc32c_intel"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_mmio.ko",
		"kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko",
		"kernel/crypto/crc32c-intel.ko",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadOrder = %q\nwant %q", got, want)
	}
	for _, c := range []struct{ name, err string }{
		{"a", "cycle"}, {"c", "not listed"}, {"nosuch", "not in modules.dep"},
	} {
		if _, err := LoadOrder(deps, []string{c.name}); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("LoadOrder(%s): %v, want %q", c.name, err, c.err)
		}
	}
	if _, err := ParseModulesDep(strings.NewReader("no colon here\n")); err == nil {
		t.Error("a line without a colon was accepted")
	}
}

// TestBuildAgainstCpio builds the archive from the installed kernel's
// modules and busybox and lists and extracts it with GNU cpio.
func TestBuildAgainstCpio(t *testing.T) {
	cpioTool := testenv.Program(t, "cpio")
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		testenv.Missing(t, "%v (make deps installs busybox-static)", err)
	}
	mods, _ := filepath.Glob("/lib/modules/*/modules.dep")
	if len(mods) == 0 {
		testenv.Missing(t, "no /lib/modules/*/modules.dep (make deps installs linux-image-amd64)")
	}
	dir := filepath.Dir(mods[len(mods)-1])
	var buf bytes.Buffer
	if err := Build(&buf, Config{Busybox: busybox, ModulesDir: dir, Modules: []string{"virtio_mmio", "virtio_net", "ext4"}}); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := Build(&again, Config{Busybox: busybox, ModulesDir: dir, Modules: []string{"virtio_mmio", "virtio_net", "ext4"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two builds differ")
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(cpioTool, "-idmv", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = out, zr
	listing, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, listing)
	}
	for _, name := range []string{"init", "bin/busybox", "bin/sh", "dev/console", "etc/modules", "lib/modules/virtio_mmio.ko", "lib/modules/jbd2.ko"} {
		if !strings.Contains(string(listing), name+"\n") {
			t.Errorf("cpio lists no %s:\n%s", name, listing)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "init")); err != nil || string(b) != Init {
		t.Errorf("init extracted wrong: %v", err)
	}
	want, _ := os.ReadFile(busybox)
	if b, err := os.ReadFile(filepath.Join(out, "bin/busybox")); err != nil || !bytes.Equal(b, want) {
		t.Errorf("busybox extracted wrong: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(out, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("init mode: %v %v", fi.Mode(), err)
	}
	if target, err := os.Readlink(filepath.Join(out, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q (%v)", target, err)
	}
	mods2, _ := os.ReadFile(filepath.Join(out, "etc/modules"))
	order := strings.Fields(string(mods2))
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, pair := range [][2]string{{"virtio_ring.ko", "virtio.ko"}, {"virtio.ko", "virtio_mmio.ko"}, {"failover.ko", "virtio_net.ko"}, {"jbd2.ko", "ext4.ko"}} {
		a, okA := pos[pair[0]]
		b, okB := pos[pair[1]]
		if !okA || !okB || a > b {
			t.Errorf("etc/modules %q: %s should come before %s", order, pair[0], pair[1])
		}
	}
}

// TestInitRunsCommand boots Debian's kernel under QEMU with this package's
// archive and a command after "--" on the kernel command line: /init runs
// it with sh -c instead of the shell (the guest's shell evaluates it),
// reports its exit status and powers off.
func TestInitRunsCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("boots Linux under QEMU (-short)")
	}
	qemu := testenv.Program(t, "qemu-system-x86_64")
	kernel := testenv.LinuxKernel(t)
	mods, _ := filepath.Glob("/lib/modules/*/modules.dep")
	if len(mods) == 0 {
		testenv.Missing(t, "no /lib/modules/*/modules.dep (make deps installs linux-image-amd64)")
	}
	var buf bytes.Buffer
	if err := Build(&buf, Config{Busybox: "/bin/busybox", ModulesDir: filepath.Dir(mods[len(mods)-1]), Modules: []string{"virtio_mmio"}}); err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio.gz")
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "tcg", "-m", "256M", "-display", "none", "-nodefaults",
		"-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
		"-append", `console=ttyS0 quiet panic=-1 -- "echo answer-$((6*7)); exit 3"`)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("QEMU did not power off within 3 minutes:\n%s", out)
	}
	if err != nil {
		t.Fatalf("QEMU: %v\n%s", err, out)
	}
	for _, want := range []string{"ftvm-init: running: echo answer-$((6*7)); exit 3\r\n", "\nanswer-42\r\n", "ftvm-init: exit status 3\r\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "/ #") {
		t.Errorf("a shell prompt besides the command:\n%s", out)
	}
}
