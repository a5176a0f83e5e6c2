package cpu

import "ftvm/mmu"

// RDMSR and WRMSR. The model-specific registers implemented:
//
//	0x10        IA32_TIME_STAMP_COUNTER  a write sets the offset so RDTSC continues from it
//	0x17        IA32_PLATFORM_ID         reads 0 (platform 0, for microcode matching); read-only
//	0x1B        IA32_APIC_BASE           BSP (read-only), EN, base; x2APIC enable is #GP
//	0x3A        IA32_FEATURE_CONTROL     reads 1 (locked, VMX off); writes #GP
//	0x8B        IA32_BIOS_SIGN_ID        reads 0 (microcode revision); writes ignored
//	0xFE        IA32_MTRRCAP             reads 0 (no variable or fixed ranges, no WC); read-only
//	0x174-0x176 IA32_SYSENTER_CS/ESP/EIP (used by SYSENTER and SYSEXIT)
//	0x1A0       IA32_MISC_ENABLE         stored as written
//	0x277       IA32_PAT                 stored; each entry must be a valid memory type
//	0x2FF       IA32_MTRR_DEF_TYPE       stored; type and reserved bits checked
//	0xC0000080  IA32_EFER                SCE, LME, NXE writable; LMA read-only
//	0xC0000081  IA32_STAR
//	0xC0000082  IA32_LSTAR               canonical
//	0xC0000083  IA32_CSTAR               canonical
//	0xC0000084  IA32_FMASK               low 32 bits
//	0xC0000100  IA32_FS_BASE             canonical, the FS base
//	0xC0000101  IA32_GS_BASE             canonical, the GS base
//	0xC0000102  IA32_KERNEL_GS_BASE      canonical, swapped by SWAPGS
//	0xC0000103  IA32_TSC_AUX             low 32 bits (upper #GP), read by RDTSCP
//
// Any other MSR raises #GP(0), as do writes of reserved bits.

// MSR numbers.
const (
	msrTSC            = 0x10
	msrPlatformID     = 0x17
	msrAPICBase       = 0x1B
	msrFeatureControl = 0x3A
	msrBIOSSignID     = 0x8B
	msrMTRRCap        = 0xFE
	msrSysenterCS     = 0x174
	msrSysenterESP    = 0x175
	msrSysenterEIP    = 0x176
	msrMiscEnable     = 0x1A0
	msrPAT            = 0x277
	msrMTRRDefType    = 0x2FF
	msrEFER           = 0xC0000080
	msrSTAR           = 0xC0000081
	msrLSTAR          = 0xC0000082
	msrCSTAR          = 0xC0000083
	msrFMASK          = 0xC0000084
	msrFSBase         = 0xC0000100
	msrGSBase         = 0xC0000101
	msrKernelGSBase   = 0xC0000102
	msrTSCAux         = 0xC0000103
)

// systemMSRs are the MSRs SystemRegs holds in fields of their own.
var systemMSRs = [...]uint32{
	msrSTAR, msrLSTAR, msrCSTAR, msrFMASK, msrKernelGSBase, msrTSCAux, msrSysenterCS, msrSysenterESP,
	msrSysenterEIP, msrPAT, msrMiscEnable, msrMTRRDefType,
}

// SystemMSRs returns the numbers of the MSRs that SystemRegs holds in fields
// of their own (EFER, the APIC base and the FS and GS bases are held
// elsewhere; the TSC is an offset).
func SystemMSRs() []uint32 { return append([]uint32(nil), systemMSRs[:]...) }

// MSR returns the field of s that holds MSR n, or nil if n is not one of
// SystemMSRs.
func (s *SystemRegs) MSR(n uint32) *uint64 {
	switch n {
	case msrSTAR:
		return &s.STAR
	case msrLSTAR:
		return &s.LSTAR
	case msrCSTAR:
		return &s.CSTAR
	case msrFMASK:
		return &s.FMASK
	case msrKernelGSBase:
		return &s.KernelGS
	case msrTSCAux:
		return &s.TSCAux
	case msrSysenterCS:
		return &s.SysenterCS
	case msrSysenterESP:
		return &s.SysenterESP
	case msrSysenterEIP:
		return &s.SysenterEIP
	case msrPAT:
		return &s.PAT
	case msrMiscEnable:
		return &s.MiscEnable
	case msrMTRRDefType:
		return &s.MTRRDefType
	}
	return nil
}

// apicBaseWritable are the IA32_APIC_BASE bits a write may change: EN and
// the base address below the physical address width.
const apicBaseWritable = 1<<11 | (1<<mmu.PhysAddrBits-1)&^0xFFF

func init() {
	bindFixed(map[Op]handler{
		OpRDMSR: execRDMSR, OpWRMSR: execWRMSR,
	})
}

func execRDMSR(c *CPU, in *Inst) {
	if c.CPL != 0 {
		c.raise(VecGP, 0)
	}
	v, ok := c.readMSR(uint32(c.R[RCX]))
	if !ok {
		c.raise(VecGP, 0)
	}
	c.R[RAX] = v & 0xFFFFFFFF
	c.R[RDX] = v >> 32
}

func execWRMSR(c *CPU, in *Inst) {
	if c.CPL != 0 {
		c.raise(VecGP, 0)
	}
	v := c.R[RDX]<<32 | c.R[RAX]&0xFFFFFFFF
	if !c.writeMSR(uint32(c.R[RCX]), v) {
		c.raise(VecGP, 0)
	}
	c.endBlock(in)
}

// readMSR returns the value of MSR n, or false if there is no such MSR.
func (c *CPU) readMSR(n uint32) (uint64, bool) {
	switch n {
	case msrTSC:
		return c.env.TSC(c.position()) + c.tscOffset, true
	case msrAPICBase:
		return c.APICBase, true
	case msrFeatureControl:
		return 1, true
	case msrBIOSSignID, msrMTRRCap, msrPlatformID:
		return 0, true
	case msrEFER:
		return c.EFER, true
	case msrFSBase:
		return c.Seg[FS].Base, true
	case msrGSBase:
		return c.Seg[GS].Base, true
	}
	if p := c.SystemRegs.MSR(n); p != nil {
		return *p, true
	}
	if c.msrDev != nil {
		return c.msrDev.ReadMSR(n)
	}
	return 0, false
}

// validMemType reports whether t is a memory type PAT and MTRRs accept
// (UC, WC, WT, WP, WB; PAT also UC-).
func validMemType(t uint64, pat bool) bool {
	switch t {
	case 0, 1, 4, 5, 6:
		return true
	case 7:
		return pat
	}
	return false
}

// writeMSR writes v to MSR n, or returns false (#GP) if there is no such
// MSR or v sets reserved bits.
func (c *CPU) writeMSR(n uint32, v uint64) bool {
	switch n {
	case msrTSC:
		c.tscOffset = v - c.env.TSC(c.position())
	case msrAPICBase:
		if v&^(apicBaseWritable|1<<8) != 0 {
			return false
		}
		c.APICBase = c.APICBase&(1<<8) | v&apicBaseWritable
	case msrBIOSSignID:
		// Writing 0 before CPUID is how the microcode revision is read.
	case msrSysenterCS:
		c.SysenterCS = v & 0xFFFF
	case msrSysenterESP, msrSysenterEIP, msrLSTAR, msrCSTAR, msrKernelGSBase:
		if !canonical(v) {
			return false
		}
		*c.SystemRegs.MSR(n) = v
	case msrMiscEnable, msrSTAR:
		*c.SystemRegs.MSR(n) = v
	case msrPAT:
		for i := 0; i < 64; i += 8 {
			if !validMemType(v>>i&0xFF, true) {
				return false
			}
		}
		c.PAT = v
	case msrMTRRDefType:
		if v&^0xCFF != 0 || !validMemType(v&0xFF, false) {
			return false
		}
		c.MTRRDefType = v
	case msrEFER:
		return c.writeEFER(v)
	case msrFMASK:
		c.FMASK = v & 0xFFFFFFFF
	case msrFSBase, msrGSBase:
		if !canonical(v) {
			return false
		}
		if n == msrFSBase {
			c.Seg[FS].Base = v
		} else {
			c.Seg[GS].Base = v
		}
		c.updateMode()
	case msrTSCAux:
		if v>>32 != 0 {
			return false
		}
		c.TSCAux = v
	default:
		return c.msrDev != nil && c.msrDev.WriteMSR(n, v)
	}
	return true
}

// writeEFER checks and writes IA32_EFER. LMA is read-only (CR0.PG sets it
// from LME); LME may not change while paging is enabled.
func (c *CPU) writeEFER(v uint64) bool {
	if v&^uint64(EFERSCE|EFERLME|EFERLMA|EFERNXE) != 0 {
		return false
	}
	if c.CR0&CR0PG != 0 && (v^c.EFER)&EFERLME != 0 {
		return false
	}
	c.EFER = v&^EFERLMA | c.EFER&EFERLMA
	c.updateMode()
	c.mmu.flush()
	c.code.newGeneration()
	return true
}
