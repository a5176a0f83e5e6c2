//go:build capstone && cgo

package disasm

/*
#cgo pkg-config: capstone
#include <stdint.h>
#include <string.h>
#include <capstone/capstone.h>

// ftvm_cs_open opens a handle for bits-bit code (16, 32 or 64).
static cs_err ftvm_cs_open(csh *h, int bits) {
	cs_mode mode = bits == 16 ? CS_MODE_16 : bits == 32 ? CS_MODE_32 : CS_MODE_64;
	cs_err err = cs_open(CS_ARCH_X86, mode, h);
	if (err != CS_ERR_OK)
		return err;
	err = cs_option(*h, CS_OPT_DETAIL, CS_OPT_OFF);
	if (err == CS_ERR_OK)
		err = cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
	if (err != CS_ERR_OK)
		cs_close(h);
	return err;
}

// ftvm_cs_one decodes one instruction; returns its size or 0 on failure.
// mn must hold CS_MNEMONIC_SIZE bytes, ops 160.
static int ftvm_cs_one(csh h, const uint8_t *code, size_t size, uint64_t addr,
		char *mn, char *ops) {
	cs_insn *insn = NULL;
	size_t n = cs_disasm(h, code, size, addr, 1, &insn);
	if (n == 0)
		return 0;
	int len = insn[0].size;
	memcpy(mn, insn[0].mnemonic, sizeof insn[0].mnemonic);
	mn[sizeof insn[0].mnemonic - 1] = 0;
	memcpy(ops, insn[0].op_str, sizeof insn[0].op_str);
	ops[sizeof insn[0].op_str - 1] = 0;
	cs_free(insn, n);
	return len;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Backend names the disassembler compiled in: "x86asm" or "capstone".
const Backend = "capstone"

// csModes are the code sizes a handle is opened for, in the order of
// csHandles.
var csModes = [3]int{64, 32, 16}

var (
	csOnce    sync.Once
	csMu      sync.Mutex
	csHandles [len(csModes)]C.csh // guarded by csMu once csOnce ran
	csErr     error
)

func csInit() {
	for i, bits := range csModes {
		if err := C.ftvm_cs_open(&csHandles[i], C.int(bits)); err != C.CS_ERR_OK {
			csErr = fmt.Errorf("disasm: capstone cs_open (%d-bit): %s", bits, C.GoString(C.cs_strerror(err)))
			return
		}
	}
}

// Decode disassembles the single instruction at the start of code, which
// is located at virtual address addr (used to print relative branch
// targets as absolute addresses). Invalid or truncated encodings return an
// error wrapping ErrInvalid and a zero Inst.
func Decode(code []byte, addr uint64) (Inst, error) {
	return decodeCapstone(code, addr, 64)
}

// DecodeMode disassembles the single instruction at the start of code in
// the given mode (16, 32 or 64 bits): code segments of protected and
// compatibility mode.
func DecodeMode(code []byte, addr uint64, bits int) (Inst, error) {
	return decodeCapstone(code, addr, bits)
}

// decodeCapstone decodes one instruction of bits-bit code with libcapstone.
func decodeCapstone(code []byte, addr uint64, bits int) (Inst, error) {
	if len(code) == 0 {
		return Inst{}, decodeError(code, "empty")
	}
	csOnce.Do(csInit)
	if csErr != nil {
		return Inst{}, csErr
	}
	h := -1
	for i, b := range csModes {
		if b == bits {
			h = i
		}
	}
	if h < 0 {
		return Inst{}, fmt.Errorf("disasm: no %d-bit mode", bits)
	}
	if len(code) > MaxInstLen {
		code = code[:MaxInstLen]
	}
	var mn [C.CS_MNEMONIC_SIZE]C.char
	var ops [160]C.char
	csMu.Lock()
	n := C.ftvm_cs_one(csHandles[h], (*C.uint8_t)(unsafe.Pointer(&code[0])), C.size_t(len(code)),
		C.uint64_t(addr), &mn[0], &ops[0])
	csMu.Unlock()
	if n <= 0 || int(n) > len(code) {
		return Inst{}, decodeError(code, "")
	}
	text := C.GoString(&mn[0])
	if o := C.GoString(&ops[0]); o != "" {
		text += " " + o
	}
	return makeInst(int(n), text), nil
}
