package disasm

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// decodeX86asm decodes one instruction with the pure-Go x86asm decoder in
// 64-bit mode. It is compiled in every build so tests can compare it with
// capstone.
func decodeX86asm(code []byte, addr uint64) (inst Inst, err error) {
	return decodeX86asmMode(code, addr, 64)
}

// decodeX86asmMode decodes one instruction of bits-bit code with x86asm.
func decodeX86asmMode(code []byte, addr uint64, bits int) (inst Inst, err error) {
	if len(code) == 0 {
		return Inst{}, decodeError(code, "empty")
	}
	defer func() {
		if r := recover(); r != nil {
			inst, err = Inst{}, decodeError(code, fmt.Sprint("x86asm panic: ", r))
		}
	}()
	in, err := x86asm.Decode(code, bits)
	if err != nil {
		return Inst{}, decodeError(code, err.Error())
	}
	if in.Op == 0 || in.Len <= 0 || in.Len > len(code) {
		return Inst{}, decodeError(code, "")
	}
	text := x86asm.IntelSyntax(in, addr, nil)
	if addr == 0 {
		// IntelSyntax prints relative targets as ".+0x12" when pc is 0;
		// rewrite them as absolute addresses like every other address.
		for _, a := range in.Args {
			if rel, ok := a.(x86asm.Rel); ok {
				target := uint64(in.Len) + uint64(int64(rel))
				text = strings.Replace(text, fmt.Sprintf(".%+#x", int64(rel)), fmt.Sprintf("%#x", target), 1)
			}
		}
	}
	return makeInst(in.Len, text), nil
}
