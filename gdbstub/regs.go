package gdbstub

import (
	"encoding/binary"
	"fmt"
	"strings"

	"ftvm/cpu"
)

// reg is one register of the target description: its name, size, gdb type
// and feature, and how it is read from and written to the CPU (little
// endian, as gdb's g packet carries it). set is nil for read-only registers.
type reg struct {
	name    string
	bits    int
	typ     string
	feature string
	get     func(c *cpu.CPU) uint64
	set     func(c *cpu.CPU, v uint64)
	// wide registers (st, xmm) read and write bytes instead.
	getWide func(c *cpu.CPU) []byte
	setWide func(c *cpu.CPU, b []byte)
}

const (
	featCore = "org.gnu.gdb.i386.core"
	featSSE  = "org.gnu.gdb.i386.sse"
	featSeg  = "org.gnu.gdb.i386.segments"
	featSys  = "org.ftvm.x86-64.sys"
)

// gdbGPR maps gdb's amd64 register order (rax rbx rcx rdx rsi rdi rbp rsp)
// to the CPU's (rax rcx rdx rbx rsp rbp rsi rdi).
var gdbGPR = [16]int{0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15}

// segOrder is gdb's segment register order (cs ss ds es fs gs) as indexes of
// cpu.CPU.Seg (es cs ss ds fs gs).
var segOrder = [6]int{1, 2, 3, 0, 4, 5}

// regs is the target description in register-number order: gdb's amd64
// core and SSE features, the FS and GS bases, and ftvm's control registers.
var regs = buildRegs()

func buildRegs() []reg {
	var rs []reg
	for i, n := range []string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"} {
		ci := gdbGPR[i]
		typ := "int64"
		if n == "rbp" || n == "rsp" {
			typ = "data_ptr"
		}
		rs = append(rs, reg{name: n, bits: 64, typ: typ, feature: featCore,
			get: func(c *cpu.CPU) uint64 { return c.R[ci] },
			set: func(c *cpu.CPU, v uint64) { c.R[ci] = v }})
	}
	rs = append(rs,
		reg{name: "rip", bits: 64, typ: "code_ptr", feature: featCore,
			get: func(c *cpu.CPU) uint64 { return c.RIP },
			set: func(c *cpu.CPU, v uint64) { c.RIP = v }},
		reg{name: "eflags", bits: 32, typ: "i386_eflags", feature: featCore,
			get: func(c *cpu.CPU) uint64 { return c.RFLAGS() },
			set: func(c *cpu.CPU, v uint64) { c.SetRFLAGS(v) }})
	for i, n := range []string{"cs", "ss", "ds", "es", "fs", "gs"} {
		si := segOrder[i]
		rs = append(rs, reg{name: n, bits: 32, typ: "int32", feature: featCore,
			get: func(c *cpu.CPU) uint64 { return uint64(c.Seg[si].Selector) }})
	}
	for i := range 8 {
		rs = append(rs, reg{name: fmt.Sprintf("st%d", i), bits: 80, typ: "i387_ext", feature: featCore,
			getWide: func(c *cpu.CPU) []byte {
				top := int(c.FPU.FSW>>11) & 7
				f := c.FPU.ST[(top+i)&7]
				b := binary.LittleEndian.AppendUint64(nil, f.Mant)
				return binary.LittleEndian.AppendUint16(b, f.SignExp)
			}})
	}
	fpu := []struct {
		name string
		get  func(f *cpu.FPUState) uint64
	}{
		{"fctrl", func(f *cpu.FPUState) uint64 { return uint64(f.FCW) }},
		{"fstat", func(f *cpu.FPUState) uint64 { return uint64(f.FSW) }},
		{"ftag", func(f *cpu.FPUState) uint64 { return uint64(f.FTW) }},
		{"fiseg", func(f *cpu.FPUState) uint64 { return uint64(f.FCS) }},
		{"fioff", func(f *cpu.FPUState) uint64 { return f.FIP & 0xFFFFFFFF }},
		{"foseg", func(f *cpu.FPUState) uint64 { return uint64(f.FDS) }},
		{"fooff", func(f *cpu.FPUState) uint64 { return f.FDP & 0xFFFFFFFF }},
		{"fop", func(f *cpu.FPUState) uint64 { return uint64(f.FOP) }},
	}
	for _, r := range fpu {
		rs = append(rs, reg{name: r.name, bits: 32, typ: "int", feature: featCore,
			get: func(c *cpu.CPU) uint64 { return r.get(&c.FPU) }})
	}
	for i := range 16 {
		rs = append(rs, reg{name: fmt.Sprintf("xmm%d", i), bits: 128, typ: "vec128", feature: featSSE,
			getWide: func(c *cpu.CPU) []byte {
				b := binary.LittleEndian.AppendUint64(nil, c.FPU.XMM[i][0])
				return binary.LittleEndian.AppendUint64(b, c.FPU.XMM[i][1])
			},
			setWide: func(c *cpu.CPU, b []byte) {
				c.FPU.XMM[i] = cpu.XMM{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
			}})
	}
	rs = append(rs, reg{name: "mxcsr", bits: 32, typ: "i386_mxcsr", feature: featSSE,
		get: func(c *cpu.CPU) uint64 { return uint64(c.FPU.MXCSR) }},
		reg{name: "fs_base", bits: 64, typ: "int", feature: featSeg,
			get: func(c *cpu.CPU) uint64 { return c.Seg[4].Base }},
		reg{name: "gs_base", bits: 64, typ: "int", feature: featSeg,
			get: func(c *cpu.CPU) uint64 { return c.Seg[5].Base }})
	sys := []struct {
		name string
		get  func(c *cpu.CPU) uint64
	}{
		{"cr0", func(c *cpu.CPU) uint64 { return c.CR0 }},
		{"cr2", func(c *cpu.CPU) uint64 { return c.CR2 }},
		{"cr3", func(c *cpu.CPU) uint64 { return c.CR3 }},
		{"cr4", func(c *cpu.CPU) uint64 { return c.CR4 }},
		{"cr8", func(c *cpu.CPU) uint64 { return c.CR8 }},
		{"efer", func(c *cpu.CPU) uint64 { return c.EFER }},
	}
	for _, r := range sys {
		rs = append(rs, reg{name: r.name, bits: 64, typ: "int64", feature: featSys, get: r.get})
	}
	return rs
}

// read returns register r's bytes, little endian.
func (r *reg) read(c *cpu.CPU) []byte {
	if r.getWide != nil {
		return r.getWide(c)
	}
	b := binary.LittleEndian.AppendUint64(nil, r.get(c))
	return b[:r.bits/8]
}

// write sets register r from its little-endian bytes; false if it is read
// only or b has the wrong size.
func (r *reg) write(c *cpu.CPU, b []byte) bool {
	if len(b) != r.bits/8 {
		return false
	}
	switch {
	case r.setWide != nil:
		r.setWide(c, b)
	case r.set != nil:
		var full [8]byte
		copy(full[:], b)
		r.set(c, binary.LittleEndian.Uint64(full[:]))
	default:
		return false
	}
	return true
}

// targetXML is the target description gdb reads with qXfer:features:read.
var targetXML = buildXML()

func buildXML() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\n" + `<!DOCTYPE target SYSTEM "gdb-target.dtd">` + "\n")
	b.WriteString("<target version=\"1.0\">\n<architecture>i386:x86-64</architecture>\n")
	feature := ""
	for i, r := range regs {
		if r.feature != feature {
			if feature != "" {
				b.WriteString("</feature>\n")
			}
			feature = r.feature
			fmt.Fprintf(&b, "<feature name=%q>\n", feature)
			if feature == featCore {
				b.WriteString(eflagsType)
			}
			if feature == featSSE {
				b.WriteString(vecType)
			}
		}
		group := ""
		switch r.feature {
		case featSSE:
			group = ` group="vector"`
		case featSys:
			group = ` group="system"`
		}
		if strings.HasPrefix(r.name, "f") && r.feature == featCore {
			group = ` group="float"`
		}
		fmt.Fprintf(&b, "<reg name=%q bitsize=\"%d\" type=%q regnum=\"%d\"%s/>\n", r.name, r.bits, r.typ, i, group)
	}
	b.WriteString("</feature>\n</target>\n")
	return b.String()
}

// eflagsType and vecType are the types gdb's own amd64 descriptions declare.
var eflagsType = flagsType("i386_eflags", "CF:0 :1 PF:2 AF:4 ZF:6 SF:7 TF:8 IF:9 DF:10 OF:11 NT:14 RF:16 VM:17 AC:18 VIF:19 VIP:20 ID:21")

var vecType = `<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>
` + flagsType("i386_mxcsr", "IE:0 DE:1 ZE:2 OE:3 UE:4 PE:5 DAZ:6 IM:7 DM:8 ZM:9 OM:10 UM:11 PM:12 FZ:15")

// flagsType returns a 4-byte <flags> type named id with one-bit fields, given
// as NAME:BIT separated by spaces.
func flagsType(id, fields string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<flags id=%q size=\"4\">\n", id)
	for _, f := range strings.Fields(fields) {
		name, bit, _ := strings.Cut(f, ":")
		fmt.Fprintf(&b, "<field name=%q start=%q end=%q/>\n", name, bit, bit)
	}
	b.WriteString("</flags>\n")
	return b.String()
}
