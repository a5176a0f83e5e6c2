package kvm_test

import (
	"errors"
	"strings"
	"testing"

	"ftvm/cpu"
	"ftvm/cpu/kvm"
	"ftvm/internal/testenv"
	"ftvm/machine"
	"ftvm/mmu"
)

// openVM opens a VM over ram (without KVM: testenv.RequireKVM).
func openVM(t *testing.T, ram []byte) *kvm.VM {
	t.Helper()
	testenv.RequireKVM(t)
	vm, err := kvm.Open(ram, kvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	return vm
}

// bootState returns RAM with the ELF boot ABI's tables and code at 1 MiB,
// and the CPU state at its entry (ARCHITECTURE.md §3).
func bootState(t *testing.T, code []byte) (*mmu.Memory, cpu.State) {
	t.Helper()
	mem, err := mmu.NewMemory(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := machine.SetupLongMode(mem)
	if err != nil {
		t.Fatal(err)
	}
	copy(mem.RAM[machine.ImageMinAddr:], code)
	var s cpu.State
	s.Sys.GDTR = cpu.DTR{Base: tables.GDTBase, Limit: uint16(tables.GDTLimit)}
	s.Sys.Seg[cpu.CS] = cpu.Segment{Selector: machine.BootCS, Limit: 0xFFFFFFFF, Attr: 0x9B | cpu.SegAttrL | 0x8000}
	for _, i := range []int{cpu.DS, cpu.ES, cpu.SS, cpu.FS, cpu.GS} {
		s.Sys.Seg[i] = cpu.Segment{Selector: machine.BootDS, Limit: 0xFFFFFFFF, Attr: 0x93 | cpu.SegAttrD | 0x8000}
	}
	s.Sys.TR = cpu.Segment{Limit: 0xFFFF, Attr: 0x8B}
	s.Sys.CR0, s.Sys.CR3, s.Sys.CR4, s.Sys.EFER = machine.BootCR0, tables.CR3, machine.BootCR4, machine.BootEFER
	s.Sys.APICBase = 0xFEE00000 | 1<<11 | 1<<8
	s.Sys.PAT = 0x0007040600070406
	s.R[cpu.RSP] = machine.BootRSP
	s.RIP = machine.ImageMinAddr
	s.RFLAGS = machine.BootRFLAGS
	return mem, s
}

func TestUnavailable(t *testing.T) {
	ram := make([]byte, 1<<20)
	_, err := kvm.Open(ram, kvm.Options{Device: "/nonexistent/kvm"})
	var ue *kvm.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("Open with a missing device node: %v, want an UnavailableError", err)
	}
	want := "KVM is not available: open /nonexistent/kvm: no such file or directory"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	t.Setenv(kvm.DeviceEnv, "/nonexistent/kvm2")
	if kvm.Device() != "/nonexistent/kvm2" {
		t.Errorf("Device() = %q with %s set", kvm.Device(), kvm.DeviceEnv)
	}
	if _, err := kvm.Open(ram, kvm.Options{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/kvm2") {
		t.Errorf("Open with %s: %v", kvm.DeviceEnv, err)
	}
}

// TestCPUIDAndPortIO runs CPUID leaf 0 and an OUT at CPL0: the vCPU
// presents ftvm's fixed CPUID model, and port I/O exits carry the data.
func TestCPUIDAndPortIO(t *testing.T) {
	code := []byte{
		0x31, 0xC0, // xor eax, eax
		0x31, 0xC9, // xor ecx, ecx
		0x0F, 0xA2, // cpuid
		0xB0, 0x5A, // mov al, 0x5a
		0xE6, 0x80, // out 0x80, al
		0xF4, // hlt
	}
	mem, s := bootState(t, code)
	vm := openVM(t, mem.RAM)
	if err := vm.SetState(s, 0); err != nil {
		t.Fatal(err)
	}
	ex, err := vm.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != kvm.ExitIO || ex.Port != 0x80 || ex.In || ex.Size != 1 || ex.Count != 1 || ex.Data[0] != 0x5A {
		t.Fatalf("exit %+v, want an OUT of 0x5a to port 0x80", ex)
	}
	got, err := vm.State(s)
	if err != nil {
		t.Fatal(err)
	}
	want := cpu.CPUIDModel(0, 0)
	if uint32(got.R[cpu.RBX]) != want.EBX || uint32(got.R[cpu.RDX]) != want.EDX || uint32(got.R[cpu.RCX]) != want.ECX {
		t.Errorf("CPUID 0: ebx %#x edx %#x ecx %#x, want ftvm's %#x %#x %#x",
			got.R[cpu.RBX], got.R[cpu.RDX], got.R[cpu.RCX], want.EBX, want.EDX, want.ECX)
	}
	if ex, err = vm.Run(); err != nil || ex.Kind != kvm.ExitHLT {
		t.Fatalf("after the OUT: exit %+v, %v; want HLT", ex, err)
	}
}

// TestStateRoundTrip loads a state and reads it back.
func TestStateRoundTrip(t *testing.T) {
	mem, s := bootState(t, []byte{0xF4})
	for i := range s.R {
		s.R[i] = 0x1111111111111111 * uint64(i)
	}
	s.R[cpu.RSP] = machine.BootRSP
	s.RFLAGS = 0x2 | cpu.FlagCF | cpu.FlagZF | cpu.FlagDF
	s.Sys.STAR, s.Sys.LSTAR, s.Sys.FMASK = 0x0023001000000000, 0xFFFFFFFF81000000, 0x47700
	s.Sys.KernelGS, s.Sys.Seg[cpu.FS].Base, s.Sys.Seg[cpu.GS].Base = 0x123000, 0x456000, 0x789000
	vm := openVM(t, mem.RAM)
	if err := vm.SetState(s, 0); err != nil {
		t.Fatal(err)
	}
	got, err := vm.State(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.R != s.R || got.RIP != s.RIP || got.RFLAGS != s.RFLAGS {
		t.Errorf("registers: got %x rip %#x rflags %#x, want %x rip %#x rflags %#x", got.R, got.RIP, got.RFLAGS, s.R, s.RIP, s.RFLAGS)
	}
	g, w := got.Sys, s.Sys
	if g.CR0 != w.CR0 || g.CR3 != w.CR3 || g.CR4 != w.CR4 || g.EFER != w.EFER {
		t.Errorf("control registers: cr0 %#x cr3 %#x cr4 %#x efer %#x, want %#x %#x %#x %#x", g.CR0, g.CR3, g.CR4, g.EFER, w.CR0, w.CR3, w.CR4, w.EFER)
	}
	if g.Seg[cpu.CS] != w.Seg[cpu.CS] || g.Seg[cpu.SS] != w.Seg[cpu.SS] || g.GDTR != w.GDTR {
		t.Errorf("segments: cs %+v ss %+v gdtr %+v, want %+v %+v %+v", g.Seg[cpu.CS], g.Seg[cpu.SS], g.GDTR, w.Seg[cpu.CS], w.Seg[cpu.SS], w.GDTR)
	}
	if g.Seg[cpu.FS].Base != w.Seg[cpu.FS].Base || g.Seg[cpu.GS].Base != w.Seg[cpu.GS].Base {
		t.Errorf("FS/GS base %#x %#x, want %#x %#x", g.Seg[cpu.FS].Base, g.Seg[cpu.GS].Base, w.Seg[cpu.FS].Base, w.Seg[cpu.GS].Base)
	}
	for _, m := range []struct {
		name      string
		got, want uint64
	}{{"STAR", g.STAR, w.STAR}, {"LSTAR", g.LSTAR, w.LSTAR}, {"FMASK", g.FMASK, w.FMASK}, {"KERNEL_GS_BASE", g.KernelGS, w.KernelGS}} {
		if m.got != m.want {
			t.Errorf("%s = %#x, want %#x", m.name, m.got, m.want)
		}
	}
	if len(vm.Rejected) > 0 {
		t.Logf("MSRs the host refused (they keep its values): %#x", vm.Rejected)
	}
}

// TestSingleStep steps a few CPL0 instructions one at a time.
func TestSingleStep(t *testing.T) {
	code := []byte{
		0x48, 0xC7, 0xC0, 0x01, 0x00, 0x00, 0x00, // mov rax, 1
		0x48, 0x83, 0xC0, 0x02, // add rax, 2
		0x48, 0x6B, 0xC0, 0x05, // imul rax, rax, 5
		0xF4, // hlt
	}
	mem, s := bootState(t, code)
	vm := openVM(t, mem.RAM)
	if err := vm.SetState(s, 0); err != nil {
		t.Fatal(err)
	}
	wantRIP := []uint64{0x100007, 0x10000B, 0x10000F}
	wantRAX := []uint64{1, 3, 15}
	for i := range wantRIP {
		if err := vm.SetSingleStep(true); err != nil {
			t.Fatal(err)
		}
		ex, err := vm.Run()
		if err != nil {
			t.Fatal(err)
		}
		r, rip, _, err := vm.Regs()
		if err != nil {
			t.Fatal(err)
		}
		if ex.Kind != kvm.ExitDebug || rip != wantRIP[i] || r[cpu.RAX] != wantRAX[i] {
			t.Fatalf("step %d: exit %v rip %#x rax %d, want debug at %#x with rax %d", i+1, ex.Kind, rip, r[cpu.RAX], wantRIP[i], wantRAX[i])
		}
	}
}

// TestStringIO: REP OUTSB and REP INSB exit with a count and a buffer.
func TestStringIO(t *testing.T) {
	code := []byte{
		0x48, 0x8D, 0x35, 0x17, 0x00, 0x00, 0x00, // lea rsi, [rip+0x17] (data)
		0xB9, 0x04, 0x00, 0x00, 0x00, // mov ecx, 4
		0x66, 0xBA, 0x80, 0x00, // mov dx, 0x80
		0xF3, 0x6E, // rep outsb
		0x48, 0x8D, 0x3D, 0x09, 0x00, 0x00, 0x00, // lea rdi, [rip+0x9] (data+4)
		0xB1, 0x03, // mov cl, 3
		0xF3, 0x6C, // rep insb
		0xF4, // hlt
		'a', 'b', 'c', 'd', 0, 0, 0,
	}
	mem, s := bootState(t, code)
	vm := openVM(t, mem.RAM)
	if err := vm.SetState(s, 0); err != nil {
		t.Fatal(err)
	}
	var out []byte
	in := byte('x')
	for {
		ex, err := vm.Run()
		if err != nil {
			t.Fatal(err)
		}
		if ex.Kind == kvm.ExitHLT {
			break
		}
		if ex.Kind != kvm.ExitIO || ex.Port != 0x80 || ex.Size != 1 || len(ex.Data) != ex.Count {
			t.Fatalf("exit %+v", ex)
		}
		if ex.In {
			for i := range ex.Data {
				ex.Data[i] = in
				in++
			}
		} else {
			out = append(out, ex.Data...)
		}
	}
	if string(out) != "abcd" {
		t.Errorf("REP OUTSB wrote %q, want \"abcd\"", out)
	}
	if got := string(mem.RAM[0x100000+30+4 : 0x100000+30+7]); got != "xyz" {
		t.Errorf("REP INSB stored %q, want \"xyz\"", got)
	}
}
