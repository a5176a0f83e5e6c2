package machine

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"ftvm/cpu/kvm"
	"ftvm/internal/testenv"
)

// The board on KVM: the same guests, devices and exit statuses as under the
// interpreter. Every test skips when /dev/kvm is missing or unusable.

// kvmGuest boots a built guest and opens a KVM vCPU for it, skipping the
// test when there is no KVM.
func kvmGuest(t *testing.T, name string) (*Machine, *KVM, *bytes.Buffer) {
	t.Helper()
	testenv.RequireKVM(t)
	m, out := loadGuest(t, name)
	k, err := m.OpenKVM(kvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return m, k, out
}

// pvmTooSlow names the guests whose CPL0 work takes minutes where the host's
// KVM is PVM (CPL0 code goes through the host's instruction emulator).
var pvmTooSlow = map[string]string{
	"bench":    "1.5e9 instructions at CPL0; bench_r3 is the same work at CPL3",
	"pit_hlt":  "11 s: 200 timer interrupts and 2 million CPL0 instructions in the host's emulator",
	"exercise": "5 s of emulated CPL0 code that ends in an emulation failure (POPCNT); exercise_r3 is the same work at CPL3",
	"dirty":    "1.7e8 CPL0 instructions: about 110 s in the host's emulator",
}

// pvmLacks names the guests that need what PVM does not give its guests.
var pvmLacks = map[string]string{
	"compat32": "its 32-bit user process (compatibility mode) faults with #UD before its first system call",
}

func TestKVMGuestsGolden(t *testing.T) {
	guests := append(readExpected(t), expectedGuest{name: "bench_r3", status: 1, golden: "bench.golden"})
	for _, e := range guests {
		t.Run(e.name, func(t *testing.T) {
			if e.maxInsns != 0 {
				t.Skip("needs an instruction limit, which KVM cannot count")
			}
			if why := pvmTooSlow[e.name]; why != "" && kvm.IsPVM() {
				t.Skip("too slow on PVM: " + why)
			}
			if why := pvmLacks[e.name]; why != "" && kvm.IsPVM() {
				t.Skip("not run by PVM: " + why)
			}
			if e.name == "bench_r3" && testing.Short() {
				t.Skip("bench_r3 is long; skipped in -short mode")
			}
			m, k, out := kvmGuest(t, e.name)
			exit, err := k.Run()
			var ee *kvm.EmulationError
			if errors.As(err, &ee) {
				if !strings.Contains(err.Error(), "not an ftvm mismatch") {
					t.Errorf("emulation failure message %q does not say it is the host's limitation", err)
				}
				t.Skipf("host limitation: %v", err)
			} else if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, e, out.String(), exit, m)
			t.Logf("%v in %v, exits %v", exit.Reason, k.Wall, k.Exits)
		})
	}
}

// TestKVMInterrupts: the tick guest sleeps in HLT until 20 PIT interrupts
// the board injects have woken it (guest clock following host time). A
// stalled host may deliver two ticks in one wait, so fewer than 20 HLT
// exits are possible, but not fewer than half.
func TestKVMInterrupts(t *testing.T) {
	_, k, out := kvmGuest(t, "tick")
	exit, err := k.Run()
	if err != nil {
		t.Fatal(err)
	}
	if exit.Reason != ExitDebug || !strings.Contains(out.String(), "each woken by the timer") {
		t.Fatalf("exit %v, output %q", exit.Reason, out.String())
	}
	if k.Exits[kvm.ExitHLT] < 10 {
		t.Errorf("%d HLT exits, want at least 10 (20 ticks, at most two per wait)", k.Exits[kvm.ExitHLT])
	}
	if k.Wall.Milliseconds() < 15 {
		t.Errorf("20 ticks of a 1 kHz timer took %v: the guest clock does not follow host time", k.Wall)
	}
}

// TestKVMStateBack: after a KVM run the final state is in m.CPU, as after Run.
func TestKVMStateBack(t *testing.T) {
	_, _, mi := runGuest(t, "hello", 0)
	m, k, _ := kvmGuest(t, "hello")
	exit, err := k.Run()
	if err != nil {
		t.Fatal(err)
	}
	if exit.Reason != ExitDebug {
		t.Fatalf("exit %v", exit.Reason)
	}
	si, sk := mi.CPU.State(), m.CPU.State()
	if si.R != sk.R || si.RIP != sk.RIP || si.RFLAGS != sk.RFLAGS || si.Sys.CR3 != sk.Sys.CR3 {
		t.Errorf("final state differs from the interpreter's:\ninterpreter\n%s\nkvm\n%s", mi.CPU.Dump(), m.CPU.Dump())
	}
}

// TestKVMStep: Step(n) single-steps CPL0 code; the position matches the
// interpreter's at every instruction of hello up to its first I/O.
func TestKVMStep(t *testing.T) {
	m, k, _ := kvmGuest(t, "hello")
	mi, _ := loadGuest(t, "hello")
	for i := 1; i <= 12; i++ {
		if exit, err := k.Step(1); err != nil || exit.Reason != ExitInsnLimit {
			t.Fatalf("step %d: %v %v", i, exit.Reason, err)
		}
		mi.Run(uint64(i))
		if m.CPU.RIP != mi.CPU.RIP || m.CPU.R != mi.CPU.R || m.CPU.Retired != uint64(i) {
			t.Fatalf("after %d steps: kvm rip %#x retired %d, interpreter rip %#x\n%s\n%s",
				i, m.CPU.RIP, m.CPU.Retired, mi.CPU.RIP, m.CPU.Dump(), mi.CPU.Dump())
		}
	}
}

func TestKVMUnavailable(t *testing.T) {
	m, err := New(Config{RAM: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.OpenKVM(kvm.Options{Device: "/nonexistent/kvm"})
	if err == nil || err.Error() != "KVM is not available: open /nonexistent/kvm: no such file or directory" {
		t.Errorf("OpenKVM with no device node: %v", err)
	}
	t.Setenv(kvm.DeviceEnv, "/nonexistent/kvm")
	if _, err := m.OpenKVM(kvm.Options{}); err == nil || !strings.HasPrefix(err.Error(), "KVM is not available: ") {
		t.Errorf("OpenKVM with %s=/nonexistent/kvm: %v", kvm.DeviceEnv, err)
	}
}

// TestKVMEmulationFailureIsHostLimitation: on PVM, CPL0 code goes through
// the host's instruction emulator, which lacks POPCNT; the error must say
// it is the host's limitation.
func TestKVMEmulationFailureIsHostLimitation(t *testing.T) {
	if !kvm.IsPVM() {
		t.Skip("not a PVM host")
	}
	if testing.Short() {
		t.Skip("runs about 5 s of emulated CPL0 code")
	}
	_, k, _ := kvmGuest(t, "exercise")
	_, err := k.Run()
	var ee *kvm.EmulationError
	if !errors.As(err, &ee) {
		t.Skipf("no emulation failure on this host (%v)", err)
	}
	for _, want := range []string{"PVM/KVM emulation failure at RIP", "popcnt", "a limitation of this host's KVM, not an ftvm mismatch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
}
