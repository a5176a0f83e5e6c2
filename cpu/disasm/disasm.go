// Package disasm disassembles x86-64 machine code for diagnostics: the
// "ftvm disasm" command, "ftvm run --trace", triple-fault register dumps
// and the decoder fuzz test.
//
// Two backends exist. By default the pure-Go golang.org/x/arch/x86/x86asm
// decoder is used. Building with the "capstone" tag (and cgo enabled)
// switches to a small cgo binding to the system libcapstone (4.x). Both
// decode 64-bit code (Decode) and 16- or 32-bit code (DecodeMode), and
// produce lowercase Intel syntax.
package disasm

import (
	"errors"
	"fmt"
	"strings"
)

// Inst is one decoded instruction.
type Inst struct {
	// Len is the encoded length in bytes (0 when decoding failed).
	Len int
	// Mnemonic is the bare lowercase mnemonic, e.g. "movsq", without
	// prefixes such as "rep" or "lock".
	Mnemonic string
	// Prefixes holds the printed prefixes that precede the mnemonic,
	// e.g. "rep" or "lock", space separated; empty if there are none.
	Prefixes string
	// Text is the full instruction in lowercase Intel syntax, prefixes,
	// mnemonic and operands, e.g. "rep movsq". Relative branch targets
	// are shown as absolute addresses.
	Text string
}

// MaxInstLen is the architectural maximum length of one x86 instruction.
const MaxInstLen = 15

// ErrInvalid is wrapped by the errors Decode returns for encodings that
// are invalid or truncated.
var ErrInvalid = errors.New("disasm: invalid or truncated instruction")

// decodeError builds the error returned for undecodable bytes.
func decodeError(code []byte, detail string) error {
	n := len(code)
	if n > MaxInstLen {
		n = MaxInstLen
	}
	if detail == "" {
		return fmt.Errorf("%w: % x", ErrInvalid, code[:n])
	}
	return fmt.Errorf("%w (%s): % x", ErrInvalid, detail, code[:n])
}

// prefixWords are the words a backend may print ahead of the mnemonic.
var prefixWords = map[string]bool{
	"rep": true, "repe": true, "repz": true, "repne": true, "repnz": true,
	"lock": true, "xacquire": true, "xrelease": true, "bnd": true,
	"notrack": true, "hint-taken": true, "hint-not-taken": true,
	"data16": true, "data32": true, "addr16": true, "addr32": true,
	"cs": true, "ds": true, "es": true, "fs": true, "gs": true, "ss": true,
}

func isPrefixWord(w string) bool {
	return prefixWords[w] || strings.HasPrefix(w, "rex")
}

// makeInst builds an Inst from the backend's full text (prefixes,
// mnemonic, operands), splitting off prefixes to find the mnemonic.
func makeInst(n int, text string) Inst {
	text = strings.ToLower(strings.Join(strings.Fields(text), " "))
	words := strings.Fields(text)
	i := 0
	for i < len(words)-1 && isPrefixWord(words[i]) {
		i++
	}
	inst := Inst{Len: n, Text: text}
	if len(words) > 0 {
		inst.Mnemonic = words[i]
		inst.Prefixes = strings.Join(words[:i], " ")
	}
	return inst
}

// Lines disassembles code, loaded at virtual address addr, into a listing
// with one line per instruction: the address, the instruction bytes in hex
// and the instruction text. Bytes that cannot be decoded are listed one at
// a time as "(bad)".
func Lines(code []byte, addr uint64) []string {
	var out []string
	for off := 0; off < len(code); {
		pc := addr + uint64(off)
		inst, err := Decode(code[off:], pc)
		if err != nil || inst.Len <= 0 || off+inst.Len > len(code) {
			out = append(out, fmt.Sprintf("%016x  %-30x  (bad)", pc, code[off:off+1]))
			off++
			continue
		}
		out = append(out, fmt.Sprintf("%016x  %-30x  %s", pc, code[off:off+inst.Len], inst.Text))
		off += inst.Len
	}
	return out
}

// Memory is guest memory read at linear addresses (cpu.CPU.ReadLinear).
type Memory interface {
	ReadLinear(addr uint64, buf []byte) error
}

// ErrNotMapped is returned by At when no byte at the address is mapped.
var ErrNotMapped = errors.New("disasm: instruction not mapped")

// CodeSizer is a Memory that also says the size (16, 32 or 64 bits) of the
// code it executes (cpu.CPU.CodeBits); At decodes in that mode.
type CodeSizer interface {
	CodeBits() int
}

// At decodes the instruction at linear address addr of m, reading into buf
// as many of its bytes as are mapped. It returns the instruction and its
// bytes; with an error (ErrNotMapped, or one wrapping ErrInvalid), the
// bytes it read.
func At(m Memory, addr uint64, buf *[MaxInstLen]byte) (Inst, []byte, error) {
	n := len(buf)
	for n > 0 && m.ReadLinear(addr, buf[:n]) != nil {
		n--
	}
	if n == 0 {
		return Inst{}, nil, ErrNotMapped
	}
	in, err := Decode(buf[:n], addr)
	if cs, ok := m.(CodeSizer); ok && cs.CodeBits() != 64 {
		in, err = DecodeMode(buf[:n], addr, cs.CodeBits())
	}
	if err != nil {
		return Inst{}, buf[:n], err
	}
	return in, buf[:in.Len], nil
}
