package kvm

import (
	"testing"
	"unsafe"
)

// The structures must match the kernel's layouts (linux/kvm.h, x86-64).
func TestABILayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_segment", unsafe.Sizeof(segment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(dtable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(sregs{}), 312},
		{"kvm_regs", unsafe.Sizeof(regs{}), 144},
		{"kvm_userspace_memory_region", unsafe.Sizeof(userspaceMemoryRegion{}), 32},
		{"kvm_msr_entry", unsafe.Sizeof(msrEntry{}), 16},
		{"kvm_cpuid_entry2", unsafe.Sizeof(cpuidEntry{}), 40},
		{"kvm_guest_debug", unsafe.Sizeof(guestDebug{}), 72},
		{"kvm_vcpu_events", unsafe.Sizeof(vcpuEvents{}), 64},
		{"kvm_translation", unsafe.Sizeof(translation{}), 24},
		{"kvm_run header", unsafe.Sizeof(runHeader{}), runUnionOffset},
		{"kvm_run.io", unsafe.Sizeof(runIO{}), 16},
		{"kvm_run.debug", unsafe.Sizeof(runDebug{}), 32},
		{"offsetof(kvm_sregs, cr0)", unsafe.Offsetof(sregs{}.CR0), 224},
		{"offsetof(kvm_vcpu_events, exception_payload)", unsafe.Offsetof(vcpuEvents{}.ExcPayload), 56},
		{"offsetof(kvm_run, exit_reason)", unsafe.Offsetof(runHeader{}.ExitReason), 8},
		{"offsetof(kvm_run.mmio, len)", unsafe.Offsetof(runMMIO{}.Len), 16},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"KVM_GET_API_VERSION", kvmGetAPIVersion, 0xAE00},
		{"KVM_CREATE_VM", kvmCreateVM, 0xAE01},
		{"KVM_SET_USER_MEMORY_REGION", kvmSetUserMemoryRegion, 0x4020AE46},
		{"KVM_RUN", kvmRun, 0xAE80},
		{"KVM_GET_REGS", kvmGetRegs, 0x8090AE81},
		{"KVM_SET_REGS", kvmSetRegs, 0x4090AE82},
		{"KVM_GET_SREGS", kvmGetSregs, 0x8138AE83},
		{"KVM_SET_SREGS", kvmSetSregs, 0x4138AE84},
		{"KVM_TRANSLATE", kvmTranslate, 0xC018AE85},
		{"KVM_INTERRUPT", kvmInterrupt, 0x4004AE86},
		{"KVM_GET_MSRS", kvmGetMSRs, 0xC008AE88},
		{"KVM_SET_MSRS", kvmSetMSRs, 0x4008AE89},
		{"KVM_SET_CPUID2", kvmSetCPUID2, 0x4008AE90},
		{"KVM_SET_GUEST_DEBUG", kvmSetGuestDebug, 0x4048AE9B},
		{"KVM_GET_VCPU_EVENTS", kvmGetVCPUEvents, 0x8040AE9F},
		{"KVM_SET_TSC_KHZ", kvmSetTSCKHz, 0xAEA2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
