package cpu

import "ftvm/mmu"

// The fixed CPUID model. What the guest sees does not depend on the host, so
// a recording made on one host replays on another (ARCHITECTURE.md §7). Only
// features the interpreter implements are advertised: when a family lands
// (x87, SSE, ...), add its bits here and to the table below.
//
//	Leaf        Reg  Value
//	0           EAX  7 (highest basic leaf)
//	            EBX, EDX, ECX  "Genu" "ineI" "ntel": vendor GenuineIntel
//	1           EAX  0x000006F1: family 6, model 0x0F, stepping 1
//	            EBX  CLFLUSH line size 8 (64 bytes), APIC ID 0, 1 logical CPU
//	            ECX  CX16(13) POPCNT(23) RDRAND(30)
//	            EDX  PSE(3) TSC(4) MSR(5) PAE(6) CX8(8) APIC(9) PGE(13)
//	                 CMOV(15) PAT(16) CLFSH(19)
//	2-6         all  0 (no cache or power descriptors)
//	7.0         EAX  0 (highest subleaf)
//	            EBX  BMI1(3) RDSEED(18)
//	7.n, n>0    all  0
//	0x80000000  EAX  0x80000008 (highest extended leaf)
//	0x80000001  ECX  LAHF_LM(0) ABM/LZCNT(5)
//	            EDX  SYSCALL(11) NX(20) PDPE1GB(26) RDTSCP(27) LM(29)
//	0x80000002-4     brand string "ftvm x86-64 interpreter", NUL-padded
//	0x80000005-7     0
//	0x80000008  EAX  mmu.PhysAddrBits | 48<<8 (physical, linear address bits)
//	other       all  0 (an Intel CPU returns the highest basic leaf's data
//	                 for a leaf above the maximum; zeros are simpler and no
//	                 guest depends on that behaviour)
//
// Deliberately not advertised: FPU, MMX, FXSR, SSE* and XSAVE (x87 and SSE
// are not implemented yet), SEP (no SYSENTER), MTRR (only MTRRcap and
// MTRRdefType exist), MCE/MCA, DE, VME, HTT, x2APIC, TSC-deadline,
// FSGSBASE, BMI2, SMEP/SMAP, the hypervisor bit, invariant TSC, and
// PREFETCHW (decoded as a NOP, but not needed).
//
// PSE and PGE are honest: CR4.PSE is accepted (large pages are always
// available in long mode) and CR4.PGE is accepted; the TLB never keeps global
// translations across a CR3 write, which the architecture allows. PAT: the
// MSR exists and memory types have no effect in an interpreter.

// cpuidResult holds the four registers CPUID returns.
type cpuidResult struct{ eax, ebx, ecx, edx uint32 }

// CPUID feature bits advertised.
const (
	cpuidMaxBasic    = 7
	cpuidMaxExtended = 0x80000008
	cpuidSignature   = 0x000006F1 // family 6, model 0x0F, stepping 1

	cpuid1ECX = 1<<13 | 1<<23 | 1<<30
	cpuid1EDX = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<8 | 1<<9 | 1<<13 | 1<<15 | 1<<16 | 1<<19
	cpuid7EBX = 1<<3 | 1<<18

	cpuidExt1ECX = 1<<0 | 1<<5
	cpuidExt1EDX = 1<<11 | 1<<20 | 1<<26 | 1<<27 | 1<<29
)

// cpuidBrand is the processor brand string of leaves 0x80000002-4.
var cpuidBrand = func() (b [48]byte) {
	copy(b[:], "ftvm x86-64 interpreter")
	return
}()

// cpuidVendor is the vendor string of leaf 0.
var cpuidVendor = [12]byte{'G', 'e', 'n', 'u', 'i', 'n', 'e', 'I', 'n', 't', 'e', 'l'}

// le32 reads 4 bytes of s as a little-endian word.
func le32(s []byte) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// cpuid returns the fixed model's answer for leaf and subleaf.
func cpuid(leaf, subleaf uint32) cpuidResult {
	switch leaf {
	case 0:
		v := cpuidVendor[:]
		return cpuidResult{eax: cpuidMaxBasic, ebx: le32(v[0:]), edx: le32(v[4:]), ecx: le32(v[8:])}
	case 1:
		return cpuidResult{eax: cpuidSignature, ebx: 8<<8 | 1<<16, ecx: cpuid1ECX, edx: cpuid1EDX}
	case 7:
		if subleaf == 0 {
			return cpuidResult{ebx: cpuid7EBX}
		}
	case 0x80000000:
		return cpuidResult{eax: cpuidMaxExtended}
	case 0x80000001:
		return cpuidResult{ecx: cpuidExt1ECX, edx: cpuidExt1EDX}
	case 0x80000002, 0x80000003, 0x80000004:
		s := cpuidBrand[(leaf-0x80000002)*16:]
		return cpuidResult{eax: le32(s[0:]), ebx: le32(s[4:]), ecx: le32(s[8:]), edx: le32(s[12:])}
	case 0x80000008:
		return cpuidResult{eax: mmu.PhysAddrBits | 48<<8}
	}
	return cpuidResult{}
}

// CPUIDResult is the fixed model's answer to one CPUID leaf.
type CPUIDResult struct{ EAX, EBX, ECX, EDX uint32 }

// CPUIDModel returns the fixed model's answer for leaf and subleaf: what the
// interpreter's CPUID instruction returns, and what package cpu/kvm loads
// into a KVM vCPU so both present the same processor.
func CPUIDModel(leaf, subleaf uint32) CPUIDResult {
	r := cpuid(leaf, subleaf)
	return CPUIDResult{EAX: r.eax, EBX: r.ebx, ECX: r.ecx, EDX: r.edx}
}
