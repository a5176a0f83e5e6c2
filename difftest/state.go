package difftest

import (
	"bytes"
	"fmt"
	"strings"

	"ftvm/cpu"
)

// diffOutput compares the serial outputs.
func diffOutput(a, b []byte) (difference, bool) {
	if bytes.Equal(a, b) {
		return difference{}, false
	}
	at := commonPrefix(a, b)
	line := bytes.Count(a[:at], []byte("\n")) + 1
	lineOf := func(s []byte) string {
		start := bytes.LastIndexByte(s[:at], '\n') + 1
		end := len(s)
		if i := bytes.IndexByte(s[at:], '\n'); i >= 0 {
			end = at + i
		}
		return fmt.Sprintf("%q", s[start:end])
	}
	return difference{what: "serial output", interp: lineOf(a), kvm: lineOf(b),
		note: fmt.Sprintf("first differing byte %d (line %d); %d bytes vs %d bytes", at, line, len(a), len(b))}, true
}

// diffState compares registers: RIP, GPRs and RFLAGS (the don't-care bits
// of t and RF excepted), CR0, CR3, CR4, EFER.
func diffState(si, sk cpu.State, t *taint) []difference {
	undef := t.flags
	var diffs []difference
	hex := func(v uint64) string { return fmt.Sprintf("%#x", v) }
	if si.RIP != sk.RIP {
		diffs = append(diffs, difference{what: "rip", interp: hex(si.RIP), kvm: hex(sk.RIP)})
	}
	for i := range si.R {
		if (si.R[i]^sk.R[i])&^t.regs[i] != 0 {
			diffs = append(diffs, difference{what: cpu.RegNames[i], interp: hex(si.R[i]), kvm: hex(sk.R[i]),
				flagBits: (si.R[i]^sk.R[i])&^fAll == 0})
		}
	}
	mask := ^uint64(cpu.FlagRF) &^ undef
	if si.RFLAGS&mask != sk.RFLAGS&mask {
		d := difference{what: "rflags", interp: hex(si.RFLAGS), kvm: hex(sk.RFLAGS),
			note: "differing bits: " + flagNames((si.RFLAGS^sk.RFLAGS)&mask), flagBits: (si.RFLAGS^sk.RFLAGS)&mask&^fAll == 0}
		if undef != 0 {
			d.note += " (not compared: " + flagNames(undef) + ", left undefined by the SDM)"
		}
		diffs = append(diffs, d)
	}
	for _, c := range []struct {
		n    string
		a, b uint64
	}{{"cr0", si.Sys.CR0, sk.Sys.CR0}, {"cr3", si.Sys.CR3, sk.Sys.CR3}, {"cr4", si.Sys.CR4, sk.Sys.CR4}, {"efer", si.Sys.EFER, sk.Sys.EFER}} {
		if c.a != c.b {
			diffs = append(diffs, difference{what: c.n, interp: hex(c.a), kvm: hex(c.b)})
		}
	}
	return diffs
}

func flagNames(f uint64) string {
	var n []string
	for _, b := range []struct {
		bit  uint64
		name string
	}{{cpu.FlagCF, "CF"}, {cpu.FlagPF, "PF"}, {cpu.FlagAF, "AF"}, {cpu.FlagZF, "ZF"}, {cpu.FlagSF, "SF"}, {cpu.FlagTF, "TF"},
		{cpu.FlagIF, "IF"}, {cpu.FlagDF, "DF"}, {cpu.FlagOF, "OF"}, {cpu.FlagIOPL, "IOPL"}, {cpu.FlagNT, "NT"}, {cpu.FlagAC, "AC"}, {cpu.FlagID, "ID"}} {
		if f&b.bit != 0 {
			n = append(n, b.name)
			f &^= b.bit
		}
	}
	if f != 0 {
		n = append(n, fmt.Sprintf("%#x", f))
	}
	return strings.Join(n, " ")
}
