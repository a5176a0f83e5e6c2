//go:build !capstone || !cgo

package disasm

// Backend names the disassembler compiled in: "x86asm" or "capstone".
const Backend = "x86asm"

// Decode disassembles the single instruction at the start of code, which
// is located at virtual address addr (used to print relative branch
// targets as absolute addresses). Invalid or truncated encodings return an
// error wrapping ErrInvalid and a zero Inst.
func Decode(code []byte, addr uint64) (Inst, error) {
	return decodeX86asm(code, addr)
}

// DecodeMode disassembles the single instruction at the start of code in
// the given mode (16, 32 or 64 bits): code segments of protected and
// compatibility mode.
func DecodeMode(code []byte, addr uint64, bits int) (Inst, error) {
	return decodeX86asmMode(code, addr, bits)
}
