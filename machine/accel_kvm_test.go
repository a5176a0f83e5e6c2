package machine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ftvm/cpu/kvm"
)

// kvmGuest boots a built guest and opens a KVM vCPU for it, skipping the
// test when KVM is not usable here.
func kvmGuest(t *testing.T, name string) (*Machine, *KVM, *bytes.Buffer) {
	t.Helper()
	image, err := os.ReadFile(filepath.Join(guestDir, "build", name+".elf"))
	if err != nil {
		t.Skipf("guest %s not built (run make guests): %v", name, err)
	}
	var out bytes.Buffer
	m, err := New(Config{Console: &out, Clock: ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		t.Fatal(err)
	}
	k, err := m.OpenKVM(kvm.Options{})
	var ue *kvm.UnavailableError
	if errors.As(err, &ue) {
		t.Skip("KVM not usable: " + ue.Reason)
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return m, k, &out
}

func TestKVMHello(t *testing.T) {
	m, k, out := kvmGuest(t, "hello")
	exit, err := k.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exit %v status %d, output %q, exits %v, wall %v", exit.Reason, exit.Status(), out.String(), k.Exits, k.Wall)
	t.Logf("%s", m.CPU.Dump())
}

func TestKVMProbeExercise(t *testing.T) {
	m, k, out := kvmGuest(t, os.Getenv("PROBE"))
	exit, err := k.Run()
	t.Logf("exit %v status %d err %v, output %q, exits %v, wall %v", exit.Reason, exit.Status(), err, out.String(), k.Exits, k.Wall)
	t.Logf("%s", m.CPU.Dump())
}

func TestKVMProbeStep(t *testing.T) {
	m, k, out := kvmGuest(t, os.Getenv("PROBE"))
	lastCS := uint16(0)
	for i := 0; i < 30000; i++ {
		exit, err := k.Step(1)
		c := m.CPU
		if c.Seg[1].Selector != lastCS || i > 25705 && i < 25730 || os.Getenv("ALL") != "" {
			lastCS = c.Seg[1].Selector
			t.Logf("%d rip=%#x cs=%#x/%#x ss=%#x rsp=%#x rflags=%#x rax=%#x rcx=%#x r11=%#x", i, c.RIP, c.Seg[1].Selector, c.Seg[1].Attr, c.Seg[2].Selector, c.R[4], c.RFLAGS(), c.R[0], c.R[1], c.R[11])
		}
		if err != nil || exit.Reason != ExitInsnLimit {
			t.Logf("exit %v err %v out %q", exit.Reason, err, out.String())
			break
		}
	}
}
