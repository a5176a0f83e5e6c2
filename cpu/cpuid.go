package cpu

import "ftvm/mmu"

// The fixed CPUID model. What the guest sees does not depend on the host, so
// a recording made on one host replays on another (ARCHITECTURE.md §7). Only
// features the interpreter implements are advertised: when a family lands
// (x87, SSE, ...), add its bits here and to the table below.
//
//	Leaf        Reg  Value
//	0           EAX  0x16 (highest basic leaf)
//	            EBX, EDX, ECX  "Genu" "ineI" "ntel": vendor GenuineIntel
//	1           EAX  0x000006F1: family 6, model 0x0F, stepping 1
//	            EBX  CLFLUSH line size 8 (64 bytes), APIC ID 0, 1 logical CPU
//	            ECX  SSE3(0) SSSE3(9) CX16(13) SSE4.1(19) SSE4.2(20)
//	                 POPCNT(23) TSC-deadline(24) RDRAND(30)
//	            EDX  FPU(0) PSE(3) TSC(4) MSR(5) PAE(6) CX8(8) APIC(9) SEP(11) PGE(13)
//	                 CMOV(15) PAT(16) CLFSH(19) MMX(23) FXSR(24) SSE(25)
//	                 SSE2(26)
//	2           EAX  0x76036301, EBX 0x00F0B5FF, ECX 0, EDX 0x00C30000: one
//	                 iteration; descriptors 63 03 76 (DTLB 2M/4M and 1G, DTLB
//	                 4K, ITLB 2M/4M), FF (caches: see leaf 4), B5 (ITLB 4K),
//	                 F0 (64-byte prefetching), C3 (STLB 4K/2M), as a Skylake
//	                 client part reports them
//	3           all  0 (no serial number)
//	4.n         the deterministic cache parameters, one cache per subleaf,
//	            each with 64-byte lines, one partition, self-initializing,
//	            shared by one logical processor in a one-core package:
//	            4.0 L1 data 32 KiB 8-way (EAX 0x121, EBX 0x01C0003F, ECX 63)
//	            4.1 L1 instruction 32 KiB 8-way (EAX 0x122, EBX 0x01C0003F, ECX 63)
//	            4.2 L2 unified 256 KiB 4-way (EAX 0x143, EBX 0x00C0003F, ECX 1023)
//	            4.3 L3 unified 8 MiB 16-way, inclusive, complex indexing
//	                (EAX 0x163, EBX 0x03C0003F, ECX 8191, EDX 6)
//	            4.n, n>3: 0 (no more caches)
//	5           all  0 (no MONITOR/MWAIT)
//	6           EAX  ARAT(2): the local APIC timer always runs (the board
//	                 has no C-states that could stop it); all else 0
//	7.0         EAX  0 (highest subleaf)
//	            EBX  BMI1(3) FPU CS/DS deprecated(13) RDSEED(18)
//	7.n, n>0    all  0
//	8-0x14      all  0 (no topology, performance monitoring or XSAVE leaves)
//	0x15        EAX 1, EBX 1, ECX TSCHz: the TSC runs at 1/1 times the
//	            core crystal clock, TSCHz, which also drives the local APIC
//	            timer (Linux takes both frequencies from here, no
//	            calibration)
//	0x16        EAX, EBX, ECX  TSCHz in MHz: base, maximum and bus frequency
//	0x80000000  EAX  0x80000008 (highest extended leaf)
//	0x80000001  ECX  LAHF_LM(0) ABM/LZCNT(5)
//	            EDX  SYSCALL(11) NX(20) PDPE1GB(26) RDTSCP(27) LM(29)
//	0x80000002-4     brand string "ftvm x86-64 interpreter", NUL-padded
//	0x80000005  EAX  0x0420FF08: 2M/4M pages: DTLB 4-way 32 entries, ITLB
//	                 fully associative 8 entries
//	            EBX  0x04400840: 4K pages: DTLB 4-way 64, ITLB 8-way 64
//	            ECX, EDX  0x20080140: L1 data and L1 instruction: 32 KiB,
//	                 8-way, 1 line per tag, 64-byte lines (the leaf is
//	                 reserved on Intel; filled for software that reads it
//	                 whatever the vendor, consistent with leaf 4)
//	0x80000006  ECX  0x01004040: L2 256 KiB, 4-way (code 4), 64-byte lines
//	0x80000007       0
//	0x80000008  EAX  mmu.PhysAddrBits | 48<<8 (physical, linear address bits)
//	other       all  0 (an Intel CPU returns the highest basic leaf's data
//	                 for a leaf above the maximum; zeros are simpler and no
//	                 guest depends on that behaviour)
//
// MMX is advertised with the SSE levels: glibc counts a CPU without it below
// the x86-64 baseline (get_isa_level), so a glibc built for x86-64-v2 would
// refuse to start.
//
// Leaves 2, 4 and 0x80000005-6 are never zero: glibc 2.34-2.36 sizes its
// memcpy/memmove strategy from them and crashes when they are.
//
// Deliberately not advertised: XSAVE, MONITOR/MWAIT (not implemented; SSE3
// itself is, FISTTP included), MTRR (only MTRRcap and
// MTRRdefType exist), MCE/MCA, DE, VME, HTT, x2APIC,
// FSGSBASE, BMI2, SMEP/SMAP, the hypervisor bit, invariant TSC, and
// PREFETCHW (decoded as a NOP, but not needed).
//
// TSC-deadline is the board's: the local APIC (devices.LAPIC) implements the
// timer mode and IA32_TSC_DEADLINE. ARAT tells Linux the same timer keeps
// running in idle, so it needs no broadcast timer (the board has no HPET)
// and can stop its tick when idle (NO_HZ) instead of waking HZ times a
// second.
//
// PSE and PGE are honest: CR4.PSE is accepted (large pages are always
// available in long mode) and CR4.PGE is accepted; decoded code keeps global
// translations across a CR3 write, the data TLB never does, which the
// architecture allows. PAT: the
// MSR exists and memory types have no effect in an interpreter.

// TSCHz is the frequency leaves 0x15 and 0x16 advertise: the board's
// time-stamp counter and its local APIC timer's input clock must count at
// this rate (one tick per nanosecond of guest time).
const TSCHz = 1_000_000_000

// cpuidResult holds the four registers CPUID returns.
type cpuidResult struct{ eax, ebx, ecx, edx uint32 }

// CPUID feature bits advertised.
const (
	cpuidMaxBasic    = 0x16
	cpuidMaxExtended = 0x80000008
	cpuidSignature   = 0x000006F1 // family 6, model 0x0F, stepping 1

	cpuid1ECX = 1<<0 | 1<<9 | 1<<13 | 1<<19 | 1<<20 | 1<<23 | 1<<24 | 1<<30
	cpuid1EDX = 1<<0 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<8 | 1<<9 | 1<<11 | 1<<13 | 1<<15 | 1<<16 | 1<<19 | 1<<23 | 1<<24 | 1<<25 | 1<<26
	cpuid6EAX = 1 << 2 // ARAT
	cpuid7EBX = 1<<3 | 1<<13 | 1<<18

	cpuidExt1ECX = 1<<0 | 1<<5
	cpuidExt1EDX = 1<<11 | 1<<20 | 1<<26 | 1<<27 | 1<<29
)

// cpuidCache returns a leaf 4 subleaf: cache type (1 data, 2 instruction, 3
// unified) and level, self-initializing, one logical processor and one core
// sharing it, 64-byte lines, one partition; ways and size in bytes.
func cpuidCache(typ, level, ways, size, edx uint32) cpuidResult {
	const line = 64
	return cpuidResult{
		eax: typ | level<<5 | 1<<8,
		ebx: (ways-1)<<22 | (line - 1),
		ecx: size/(ways*line) - 1,
		edx: edx,
	}
}

// cpuidCaches are the subleaves of leaf 4 (see the table above).
var cpuidCaches = [...]cpuidResult{
	cpuidCache(1, 1, 8, 32<<10, 0),
	cpuidCache(2, 1, 8, 32<<10, 0),
	cpuidCache(3, 2, 4, 256<<10, 0),
	cpuidCache(3, 3, 16, 8<<20, 6),
}

// CPUIDCacheLeaves is the number of leaf 4 subleaves describing a cache; the
// next one reports no cache.
const CPUIDCacheLeaves = uint32(len(cpuidCaches))

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
	case 2:
		return cpuidResult{eax: 0x76036301, ebx: 0x00F0B5FF, edx: 0x00C30000}
	case 4:
		if subleaf < uint32(len(cpuidCaches)) {
			return cpuidCaches[subleaf]
		}
	case 6:
		return cpuidResult{eax: cpuid6EAX}
	case 0x15:
		return cpuidResult{eax: 1, ebx: 1, ecx: TSCHz}
	case 0x16:
		return cpuidResult{eax: TSCHz / 1e6, ebx: TSCHz / 1e6, ecx: TSCHz / 1e6}
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
	case 0x80000005:
		return cpuidResult{eax: 0x0420FF08, ebx: 0x04400840, ecx: 0x20080140, edx: 0x20080140}
	case 0x80000006:
		return cpuidResult{ecx: 0x01004040}
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
