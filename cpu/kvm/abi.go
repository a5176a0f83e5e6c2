package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The subset of the KVM ABI (linux/kvm.h, asm/kvm.h for x86-64) ftvm uses.
// Layouts are checked by TestABILayout.

const kvmIO = 0xAE

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | kvmIO<<8 | nr }

const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)

// ioctl numbers.
var (
	kvmGetAPIVersion       = ioc(iocNone, 0x00, 0)
	kvmCreateVM            = ioc(iocNone, 0x01, 0)
	kvmCheckExtension      = ioc(iocNone, 0x03, 0)
	kvmGetVCPUMmapSize     = ioc(iocNone, 0x04, 0)
	kvmCreateVCPU          = ioc(iocNone, 0x41, 0)
	kvmSetUserMemoryRegion = ioc(iocWrite, 0x46, unsafe.Sizeof(userspaceMemoryRegion{}))
	kvmRun                 = ioc(iocNone, 0x80, 0)
	kvmGetRegs             = ioc(iocRead, 0x81, unsafe.Sizeof(regs{}))
	kvmSetRegs             = ioc(iocWrite, 0x82, unsafe.Sizeof(regs{}))
	kvmGetSregs            = ioc(iocRead, 0x83, unsafe.Sizeof(sregs{}))
	kvmSetSregs            = ioc(iocWrite, 0x84, unsafe.Sizeof(sregs{}))
	kvmTranslate           = ioc(iocRead|iocWrite, 0x85, unsafe.Sizeof(translation{}))
	kvmInterrupt           = ioc(iocWrite, 0x86, 4)
	kvmGetMSRs             = ioc(iocRead|iocWrite, 0x88, 8)
	kvmSetMSRs             = ioc(iocWrite, 0x89, 8)
	kvmSetCPUID2           = ioc(iocWrite, 0x90, 8)
	kvmSetGuestDebug       = ioc(iocWrite, 0x9b, unsafe.Sizeof(guestDebug{}))
	kvmGetVCPUEvents       = ioc(iocRead, 0x9f, unsafe.Sizeof(vcpuEvents{}))
	kvmSetTSCKHz           = ioc(iocNone, 0xa2, 0)
)

// KVM_EXIT_* reasons.
const (
	exitUnknown        = 0
	exitException      = 1
	exitIO             = 2
	exitHypercall      = 3
	exitDebug          = 4
	exitHLT            = 5
	exitMMIO           = 6
	exitIRQWindowOpen  = 7
	exitShutdown       = 8
	exitFailEntry      = 9
	exitIntr           = 10
	exitInternalError  = 17
	exitSystemEvent    = 24
	internalEmulation  = 1 // KVM_INTERNAL_ERROR_EMULATION
	internalSimulEx    = 2 // KVM_INTERNAL_ERROR_SIMUL_EX
	internalDelivery   = 3 // KVM_INTERNAL_ERROR_DELIVERY_EV
	internalUnexpected = 4 // KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON
)

// KVM_GUESTDBG_* flags.
const (
	guestDbgEnable     = 1
	guestDbgSingleStep = 2
	guestDbgUseHWBP    = 0x20000
)

// KVM_CAP_* numbers.
const (
	capUserMemory = 3
	capSetTSSAddr = 4
	capGetTSCKHz  = 61
	capImmediate  = 136 // KVM_CAP_IMMEDIATE_EXIT
)

const cpuidFlagSignificantIndex = 1

// segment is struct kvm_segment.
type segment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

// dtable is struct kvm_dtable.
type dtable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// sregs is struct kvm_sregs.
type sregs struct {
	CS, DS, ES, FS, GS, SS segment
	TR, LDT                segment
	GDT, IDT               dtable
	CR0, CR2, CR3, CR4     uint64
	CR8, EFER, APICBase    uint64
	InterruptBitmap        [4]uint64
}

// regs is struct kvm_regs.
type regs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// userspaceMemoryRegion is struct kvm_userspace_memory_region.
type userspaceMemoryRegion struct {
	Slot, Flags   uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// msrEntry is struct kvm_msr_entry.
type msrEntry struct {
	Index, _ uint32
	Data     uint64
}

// msrs is struct kvm_msrs with room for the entries ftvm uses.
type msrs struct {
	N, _    uint32
	Entries [32]msrEntry
}

// cpuidEntry is struct kvm_cpuid_entry2.
type cpuidEntry struct {
	Function, Index, Flags uint32
	EAX, EBX, ECX, EDX     uint32
	_                      [3]uint32
}

// cpuid2 is struct kvm_cpuid2 with room for the entries ftvm uses.
type cpuid2 struct {
	N, _    uint32
	Entries [64]cpuidEntry
}

// guestDebug is struct kvm_guest_debug (x86).
type guestDebug struct {
	Control, _ uint32
	DebugReg   [8]uint64
}

// translation is struct kvm_translation.
type translation struct {
	LinearAddress   uint64
	PhysicalAddress uint64
	Valid           uint8
	Writeable       uint8
	Usermode        uint8
	_               [5]uint8
}

// vcpuEvents is struct kvm_vcpu_events.
type vcpuEvents struct {
	ExcInjected, ExcNr, ExcHasErrorCode, ExcPending uint8
	ExcErrorCode                                    uint32
	IntInjected, IntNr, IntSoft, IntShadow          uint8
	NMIInjected, NMIPending, NMIMasked, _           uint8
	SIPIVector, Flags                               uint32
	SMM, SMIPending, SMMInsideNMI, LatchedInit      uint8
	TripleFaultPending                              uint8
	_                                               [26]uint8
	ExcHasPayload                                   uint8
	ExcPayload                                      uint64
}

// runHeader is the fixed start of struct kvm_run.
type runHeader struct {
	RequestInterruptWindow uint8
	ImmediateExit          uint8
	_                      [6]uint8
	ExitReason             uint32
	ReadyForInjection      uint8
	IFFlag                 uint8
	Flags                  uint16
	CR8, APICBase          uint64
}

// runUnionOffset is the offset of the exit union in struct kvm_run.
const runUnionOffset = 32

// runIO is the io member of the exit union.
type runIO struct {
	Direction  uint8 // 0 in, 1 out
	Size       uint8
	Port       uint16
	Count      uint32
	DataOffset uint64
}

// runMMIO is the mmio member of the exit union.
type runMMIO struct {
	PhysAddr uint64
	Data     [8]uint8
	Len      uint32
	IsWrite  uint8
}

// runInternal is the internal member of the exit union.
type runInternal struct {
	Suberror, NData uint32
	Data            [16]uint64
}

// runDebug is the debug member of the exit union (x86).
type runDebug struct {
	Exception, _ uint32
	PC, DR6, DR7 uint64
}

// runFailEntry is the fail_entry member of the exit union.
type runFailEntry struct {
	Reason uint64
	CPU    uint32
}

// runSystemEvent is the system_event member of the exit union.
type runSystemEvent struct {
	Type, NData uint32
	Data        [16]uint64
}

// runException is the ex member of the exit union.
type runException struct {
	Exception, ErrorCode uint32
}

func ioctl(fd int, req uintptr, arg uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}
