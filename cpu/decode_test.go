package cpu

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"ftvm/cpu/disasm"
)

// Decoder tests: a table of hand-picked encodings checked field by field, and
// a differential test against the disassembler package (x86asm by default,
// Capstone with -tags capstone) on random and biased byte strings, which
// compares instruction lengths, mnemonic classes, condition codes, operand
// sizes, register operands, memory operand sizes, RIP-relative addresses and
// branch targets. Every class of disagreement must either be fixed in the
// decoder or be listed, with its reason, in knownDisagreements; anything else
// fails the test.
//
//	go test -run Decode ./cpu                  # x86asm
//	go test -tags capstone -run Decode ./cpu   # Capstone
//	FTVM_DECODE_SAMPLES=5000000 go test -run DecodeDiff ./cpu   # a longer soak
//	go test -run '^$' -fuzz FuzzDecode ./cpu   # native fuzzing

// dtHex decodes a hex string with optional spaces.
func dtHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// dtRegName returns a register slot's name for the table test.
func dtRegName(r uint8) string {
	switch {
	case r < 16:
		return dtReg64[r]
	case r == regZero:
		return "none"
	case r == regRIP:
		return "rip"
	}
	return fmt.Sprint("slot", r)
}

// instFields renders the decoded fields the table test can check.
func instFields(in *Inst) map[string]string {
	b := func(p prefixes) string {
		if in.prefix&p != 0 {
			return "1"
		}
		return "0"
	}
	return map[string]string{
		"len": fmt.Sprint(in.len), "osz": fmt.Sprint(in.osz), "asz": fmt.Sprint(in.asz),
		"modrm": fmt.Sprint(in.modrm), "mod": fmt.Sprint(in.mod), "reg": fmt.Sprint(in.reg),
		"rm": fmt.Sprint(in.rm), "base": dtRegName(in.base), "index": dtRegName(in.index),
		"scale": fmt.Sprint(in.scale), "disp": fmt.Sprintf("%#x", in.disp), "imm": fmt.Sprintf("%#x", in.imm),
		"imm2": fmt.Sprint(in.imm2), "seg": fmt.Sprint(in.seg), "next": fmt.Sprintf("%#x", in.next),
		"cc": fmt.Sprint(in.cc), "opcode": fmt.Sprintf("%#x", in.opcode), "vreg": fmt.Sprint(in.vreg),
		"legacy": b(pfxLegacyByteRegs), "rex": b(pfxRex), "rexw": b(pfxRexW), "lock": b(pfxLock),
		"rep": b(pfxRep), "repne": b(pfxRepne), "o16": b(pfxOpsize), "a32": b(pfxAddr),
		"segovr": b(pfxSegOverride), "end": b(pfxEndsBlock),
	}
}

// decodeCase is one table entry: code at rip (0x1000 unless set) must decode
// to op with the listed "field=value" pairs, or fail with err.
type decodeCase struct {
	name string
	code string
	op   Op
	want string
	err  error
	rip  uint64
}

var decodeCases = []decodeCase{
	// Operand size, REX and its position.
	{name: "add r64", code: "48 01 d8", op: OpADD, want: "len=3 osz=8 mod=3 reg=3 rm=0 rex=1 rexw=1"},
	{name: "add r32", code: "01 d8", op: OpADD, want: "len=2 osz=4 mod=3 reg=3 rm=0 rex=0"},
	{name: "add r16", code: "66 01 d8", op: OpADD, want: "len=3 osz=2 o16=1"},
	{name: "REX.W beats 66", code: "66 48 01 d8", op: OpADD, want: "len=4 osz=8"},
	{name: "REX before 66 ignored", code: "48 66 01 d8", op: OpADD, want: "len=4 osz=2 rex=0 rexw=0"},
	{name: "REX before FS ignored", code: "49 64 01 d8", op: OpADD, want: "len=4 osz=4 rm=0 rex=0 seg=4"},
	{name: "last REX counts", code: "48 41 01 d8", op: OpADD, want: "len=4 osz=4 rm=8 reg=3 rexw=0"},
	{name: "REX.R REX.B", code: "4d 01 d8", op: OpADD, want: "osz=8 reg=11 rm=8"},
	{name: "byte AH without REX", code: "00 e0", op: OpADD, want: "len=2 osz=1 reg=4 rm=0 legacy=1"},
	{name: "byte SPL with REX", code: "40 00 e0", op: OpADD, want: "len=3 osz=1 reg=4 rm=0 legacy=0"},
	{name: "byte R12B", code: "44 00 e0", op: OpADD, want: "osz=1 reg=12 legacy=0"},
	{name: "movzx eax, ah", code: "0f b6 c4", op: OpMOVZX, want: "osz=4 rm=4 legacy=1"},
	{name: "movzx eax, spl", code: "40 0f b6 c4", op: OpMOVZX, want: "osz=4 rm=4 legacy=0"},
	{name: "67 address size", code: "67 8b 00", op: OpMOV, want: "len=3 asz=4 base=rax index=none"},
	{name: "segments", code: "2e 64 8b 00", op: OpMOV, want: "seg=4 segovr=1"},
	{name: "null segment cancels FS", code: "64 2e 8b 00", op: OpMOV, want: "seg=0"},
	{name: "GS", code: "65 48 8b 04 25 28 00 00 00", op: OpMOV, want: "len=9 seg=5 base=none index=none disp=0x28"},

	// ModRM and SIB.
	{name: "[rax]", code: "48 8b 00", op: OpMOV, want: "mod=0 base=rax index=none disp=0x0"},
	{name: "[rsp] needs SIB", code: "4c 8b 04 24", op: OpMOV, want: "len=4 reg=8 base=rsp index=none"},
	{name: "[r12] needs SIB", code: "49 8b 04 24", op: OpMOV, want: "len=4 reg=0 base=r12 index=none"},
	{name: "REX.X index r12", code: "4a 8b 04 20", op: OpMOV, want: "len=4 base=rax index=r12 scale=0"},
	{name: "index 100 no base", code: "48 8b 04 65 78 56 34 12", op: OpMOV,
		want: "len=8 base=none index=none disp=0x12345678"},
	{name: "index no base", code: "48 8b 04 8d 00 10 00 00", op: OpMOV,
		want: "len=8 base=none index=rcx scale=2 disp=0x1000"},
	{name: "REX.B base 101 mod 00", code: "49 8b 04 8d f0 ff ff ff", op: OpMOV,
		want: "len=8 base=none index=rcx scale=2 disp=0xfffffffffffffff0"},
	{name: "[rbp+8]", code: "48 8b 45 08", op: OpMOV, want: "len=4 mod=1 base=rbp disp=0x8"},
	{name: "[r13+0]", code: "49 8b 45 00", op: OpMOV, want: "len=4 mod=1 base=r13 disp=0x0"},
	{name: "[rbp+disp32]", code: "48 8b 85 00 01 00 00", op: OpMOV, want: "len=7 mod=2 base=rbp disp=0x100"},
	{name: "[rsp-8]", code: "48 8b 44 24 f8", op: OpMOV, want: "len=5 base=rsp disp=0xfffffffffffffff8"},
	{name: "full SIB", code: "4d 8b 0c c8", op: OpMOV, want: "reg=9 base=r8 index=rcx scale=3"},
	{name: "SIB r13 r12 disp8", code: "4f 8b 4c e5 10", op: OpMOV,
		want: "len=5 reg=9 base=r13 index=r12 scale=3 disp=0x10"},
	{name: "RIP-relative", code: "48 8b 05 10 00 00 00", op: OpMOV,
		want: "len=7 base=none index=none next=0x1007 disp=0x1017"},
	{name: "RIP-relative back", code: "48 8b 05 f9 ff ff ff", op: OpMOV, want: "disp=0x1000"},
	{name: "RIP-relative REX.B", code: "49 8b 05 00 00 00 00", op: OpMOV, want: "base=none disp=0x1007"},
	{name: "RIP-relative with imm", code: "c7 05 f6 ff ff ff 01 00 00 00", op: OpMOV,
		want: "len=10 disp=0x1000 imm=0x1"},
	{name: "EIP-relative", code: "67 8b 05 10 00 00 00", op: OpMOV, rip: 0x100001000,
		want: "asz=4 base=none disp=0x1017"},

	// Immediates.
	{name: "Ib sign-extended", code: "80 c1 ff", op: OpADD, want: "len=3 osz=1 imm=0xffffffffffffffff"},
	{name: "Iw", code: "66 81 c1 34 12", op: OpADD, want: "len=5 osz=2 imm=0x1234"},
	{name: "Iz 32", code: "81 c1 78 56 34 12", op: OpADD, want: "len=6 imm=0x12345678"},
	{name: "Iz 64", code: "48 81 c1 00 00 00 80", op: OpADD, want: "len=7 osz=8 imm=0xffffffff80000000"},
	{name: "83 Ib", code: "48 83 e9 80", op: OpSUB, want: "len=4 imm=0xffffffffffffff80"},
	{name: "AL, Ib", code: "3c 7f", op: OpCMP, want: "len=2 osz=1 imm=0x7f"},
	{name: "rAX, Iz", code: "48 2d 01 00 00 00", op: OpSUB, want: "len=6 osz=8 imm=0x1"},
	{name: "C7 Iz", code: "48 c7 c0 ff ff ff ff", op: OpMOV, want: "len=7 imm=0xffffffffffffffff"},
	{name: "imm64", code: "48 b8 88 77 66 55 44 33 22 11", op: OpMOV, want: "len=10 osz=8 reg=0 imm=0x1122334455667788"},
	{name: "B8+r REX.B", code: "41 bf 78 56 34 12", op: OpMOV, want: "len=6 osz=4 reg=15 imm=0x12345678"},
	{name: "B8+r 16", code: "66 b8 34 12", op: OpMOV, want: "len=4 osz=2 imm=0x1234"},
	{name: "mov ah, Ib", code: "b4 12", op: OpMOV, want: "len=2 osz=1 reg=4 legacy=1"},
	{name: "mov spl, Ib", code: "40 b4 12", op: OpMOV, want: "len=3 osz=1 reg=4 legacy=0"},
	{name: "moffs64 load", code: "48 a1 88 77 66 55 44 33 22 11", op: OpMOV,
		want: "len=10 osz=8 disp=0x1122334455667788 base=none"},
	{name: "moffs64 store", code: "a2 08 07 06 05 04 03 02 01", op: OpMOV, want: "len=9 osz=1 disp=0x102030405060708"},
	{name: "moffs32", code: "67 a1 78 56 34 92", op: OpMOV, want: "len=6 asz=4 disp=0x92345678"},
	{name: "enter", code: "c8 10 00 01", op: OpENTER, want: "len=4 imm=0x10 imm2=1 osz=8"},
	{name: "ret Iw", code: "c2 08 80", op: OpRET, want: "len=3 imm=0x8008"},
	{name: "push Ib", code: "6a ff", op: OpPUSH, want: "len=2 osz=8 imm=0xffffffffffffffff"},
	{name: "push Iz 16", code: "66 68 34 12", op: OpPUSH, want: "len=4 osz=2 imm=0x1234"},
	{name: "push Iz", code: "68 00 00 00 80", op: OpPUSH, want: "len=5 osz=8 imm=0xffffffff80000000"},
	{name: "int Ib", code: "cd 80", op: OpINT, want: "len=2 imm=0x80"},
	{name: "in Ib", code: "e4 f0", op: OpIN, want: "len=2 osz=1 imm=0xf0"},
	{name: "imul Iz", code: "69 c1 00 01 00 00", op: OpIMUL, want: "len=6 reg=0 rm=1 imm=0x100"},
	{name: "imul Ib", code: "66 6b c1 fe", op: OpIMUL, want: "len=4 osz=2 imm=0xfffffffffffffffe"},
	{name: "shld Ib", code: "0f a4 c8 03", op: OpSHLD, want: "len=4 reg=1 rm=0 imm=0x3"},

	// Relative branches: absolute targets.
	{name: "jmp short", code: "eb fe", op: OpJMP, want: "len=2 imm=0x1000 end=1"},
	{name: "jz short", code: "74 10", op: OpJCC, want: "len=2 imm=0x1012 cc=4 osz=8"},
	{name: "jz short 66", code: "66 74 10", op: OpJCC, want: "len=3 imm=0x1013 osz=8"},
	{name: "jnz near", code: "0f 85 00 01 00 00", op: OpJCC, want: "len=6 imm=0x1106 cc=5"},
	{name: "jg near back", code: "0f 8f fa ff ff ff", op: OpJCC, want: "imm=0x1000 cc=15"},
	{name: "jg to 0", code: "0f 8f fa ef ff ff", op: OpJCC, want: "imm=0x0"},
	{name: "call", code: "e8 fb ff ff ff", op: OpCALL, want: "len=5 imm=0x1000"},
	{name: "jmp rel32 wraps", code: "e9 00 00 00 80", op: OpJMP, want: "imm=0xffffffff80001005"},
	{name: "jmp 66 Intel", code: "66 e9 00 01 00 00", op: OpJMP, want: "len=6 imm=0x1106"},
	{name: "call high", code: "e8 00 00 00 00", op: OpCALL, rip: 0xffffffff80000000, want: "imm=0xffffffff80000005"},
	{name: "loop", code: "e2 fe", op: OpLOOP, want: "imm=0x1000 asz=8"},
	{name: "jecxz", code: "67 e3 00", op: OpJRCXZ, want: "imm=0x1003 asz=4"},

	// Groups.
	{name: "shl Ib", code: "c0 e0 04", op: OpSHL, want: "len=3 osz=1 imm=0x4"},
	{name: "sar Ib", code: "48 c1 f8 3f", op: OpSAR, want: "len=4 osz=8 imm=0x3f"},
	{name: "sal /6", code: "c1 f0 04", op: OpSHL, want: "len=3"},
	{name: "shr 1", code: "d0 e8", op: OpSHR, want: "len=2 osz=1"},
	{name: "rcl CL", code: "d3 d0", op: OpRCL, want: "len=2 osz=4"},
	{name: "test Ib", code: "f6 c3 81", op: OpTEST, want: "len=3 osz=1 imm=0xffffffffffffff81"},
	{name: "test /1", code: "f6 cb 01", op: OpTEST, want: "len=3"},
	{name: "test Iz", code: "f7 c3 00 00 00 80", op: OpTEST, want: "len=6 imm=0xffffffff80000000"},
	{name: "test Iw", code: "66 f7 c3 34 12", op: OpTEST, want: "len=5 osz=2 imm=0x1234"},
	{name: "test Iz 64", code: "48 f7 04 24 ff ff ff ff", op: OpTEST, want: "len=8 base=rsp imm=0xffffffffffffffff"},
	{name: "neg no imm", code: "f7 d8", op: OpNEG, want: "len=2"},
	{name: "idiv", code: "48 f7 f9", op: OpIDIV, want: "len=3 osz=8 rm=1"},
	{name: "inc byte", code: "fe c4", op: OpINC, want: "osz=1 rm=4 legacy=1"},
	{name: "FE /2", code: "fe d0", op: OpInvalid, want: "len=2 end=1"},
	{name: "call indirect", code: "ff d0", op: OpCALLInd, want: "len=2 osz=8 end=1"},
	{name: "call indirect 66", code: "66 41 ff d0", op: OpCALLInd, want: "len=4 osz=8 rm=8"},
	{name: "jmp [rip]", code: "ff 25 00 00 00 00", op: OpJMPInd, want: "len=6 disp=0x1006"},
	{name: "push mem", code: "ff 30", op: OpPUSH, want: "osz=8"},
	{name: "call far mem", code: "ff 18", op: OpCALLFar, want: "len=2"},
	{name: "call far reg", code: "ff d8", op: OpInvalid},
	{name: "FF /7", code: "ff f8", op: OpInvalid},
	{name: "pop mem", code: "8f 00", op: OpPOP, want: "osz=8"},
	{name: "swapgs", code: "0f 01 f8", op: OpSWAPGS, want: "len=3"},
	{name: "rdtscp", code: "0f 01 f9", op: OpRDTSCP, want: "len=3"},
	{name: "lgdt", code: "0f 01 10", op: OpLGDT, want: "len=3 osz=8 mod=0"},
	{name: "invlpg", code: "0f 01 38", op: OpINVLPG, want: "len=3"},
	{name: "0F 01 /7 rm 2", code: "0f 01 fa", op: OpInvalid, want: "len=3"},
	{name: "smsw reg", code: "0f 01 e0", op: OpSMSW, want: "mod=3"},
	{name: "bt Ib", code: "0f ba e0 05", op: OpBT, want: "len=4 imm=0x5"},
	{name: "bts Ib zero-extended", code: "0f ba e8 ff", op: OpBTS, want: "imm=0xff"},
	{name: "btc Ib", code: "48 0f ba f8 3f", op: OpBTC, want: "len=5 osz=8 imm=0x3f"},
	{name: "0F BA /0", code: "0f ba c0 01", op: OpInvalid},
	{name: "cmpxchg16b", code: "48 0f c7 08", op: OpCMPXCHG16B, want: "len=4 osz=8"},
	{name: "cmpxchg8b", code: "0f c7 08", op: OpCMPXCHG16B, want: "len=3 osz=4"},
	{name: "cmpxchg8b reg", code: "0f c7 c8", op: OpInvalid},
	{name: "rdrand", code: "0f c7 f0", op: OpRDRAND, want: "len=3 osz=4 rm=0"},
	{name: "rdseed", code: "49 0f c7 f8", op: OpRDSEED, want: "len=4 osz=8 rm=8"},
	{name: "mov to cr3", code: "0f 22 d8", op: OpMOVToCR, want: "len=3 osz=8 reg=3 rm=0"},
	{name: "mov from cr8", code: "44 0f 20 c0", op: OpMOVFromCR, want: "len=4 reg=8"},
	{name: "mov cr mod 0", code: "0f 20 00", op: OpMOVFromCR, want: "len=3 mod=3"},

	// F3 0F B8/BC/BD, F3 90.
	{name: "popcnt", code: "f3 0f b8 c1", op: OpPOPCNT, want: "len=4 reg=0 rm=1"},
	{name: "0F B8", code: "0f b8 c1", op: OpInvalid},
	{name: "bsf", code: "0f bc c1", op: OpBSF, want: "len=3"},
	{name: "tzcnt", code: "f3 0f bc c1", op: OpTZCNT, want: "len=4"},
	{name: "bsr", code: "48 0f bd c1", op: OpBSR, want: "osz=8"},
	{name: "lzcnt", code: "f3 48 0f bd c1", op: OpLZCNT, want: "len=5 osz=8"},
	{name: "lzcnt 16", code: "66 f3 0f bd c1", op: OpLZCNT, want: "osz=2"},
	{name: "nop", code: "90", op: OpNOP},
	{name: "nop REX.W", code: "48 90", op: OpNOP},
	{name: "xchg r8", code: "41 90", op: OpXCHG, want: "reg=8 osz=4"},
	{name: "pause", code: "f3 90", op: OpPAUSE, want: "len=2"},
	{name: "nop Ev", code: "66 0f 1f 44 00 00", op: OpNOP, want: "len=6"},

	// Condition codes.
	{name: "cmovo", code: "0f 40 c1", op: OpCMOV, want: "cc=0"},
	{name: "cmovg", code: "48 0f 4f c1", op: OpCMOV, want: "cc=15 osz=8"},
	{name: "sete ah", code: "0f 94 c4", op: OpSETCC, want: "cc=4 osz=1 legacy=1"},
	{name: "sete spl", code: "40 0f 94 c4", op: OpSETCC, want: "cc=4 legacy=0"},

	// LOCK.
	{name: "lock add", code: "f0 01 00", op: OpADD, want: "lock=1"},
	{name: "lock add reg", code: "f0 01 c0", op: OpInvalid},
	{name: "lock mov", code: "f0 89 00", op: OpInvalid},
	{name: "lock cmp", code: "f0 39 00", op: OpInvalid},
	{name: "lock xchg", code: "f0 87 00", op: OpXCHG},
	{name: "lock not", code: "f0 f6 10", op: OpNOT, want: "osz=1"},
	{name: "lea reg", code: "8d c0", op: OpInvalid},

	// Miscellaneous.
	{name: "bswap r9d", code: "41 0f c9", op: OpBSWAP, want: "reg=9 osz=4"},
	{name: "bswap rax", code: "48 0f c8", op: OpBSWAP, want: "reg=0 osz=8"},
	{name: "movsxd", code: "48 63 c1", op: OpMOVSXD, want: "osz=8"},
	{name: "rep movsq", code: "f3 48 a5", op: OpMOVS, want: "osz=8 rep=1"},
	{name: "repne scasb", code: "f2 ae", op: OpSCAS, want: "osz=1 repne=1"},
	{name: "F2 then F3", code: "f2 f3 a4", op: OpMOVS, want: "rep=1 repne=0"},
	{name: "push fs", code: "0f a0", op: OpPUSHSeg, want: "len=2 osz=8"},
	{name: "iretq", code: "48 cf", op: OpIRET, want: "osz=8"},
	{name: "push r12w", code: "66 41 54", op: OpPUSH, want: "osz=2 reg=12"},
	{name: "mov from es", code: "8c c0", op: OpMOVFromSeg, want: "reg=0 osz=4"},
	{name: "mov to ss", code: "8e d0", op: OpMOVSeg, want: "reg=2 end=1"},
	{name: "mov from Sreg 6", code: "8c f0", op: OpInvalid},
	{name: "mov to Sreg 7", code: "8e f8", op: OpInvalid},
	{name: "mov to cs", code: "8e c8", op: OpInvalid},
	{name: "in REX.W", code: "48 e5 10", op: OpIN, want: "osz=4 imm=0x10"},
	{name: "insd REX.W 66", code: "66 48 6d", op: OpINS, want: "osz=4"},
	{name: "outsw", code: "66 6f", op: OpOUTS, want: "osz=2"},
	{name: "movnti 66", code: "66 0f c3 00", op: OpMOVNTI, want: "osz=4"},
	{name: "movnti REX.W", code: "48 0f c3 00", op: OpMOVNTI, want: "osz=8"},
	{name: "lfence", code: "0f ae e8", op: OpFENCE, want: "len=3"},
	{name: "mfence rm 3", code: "0f ae f3", op: OpFENCE},
	{name: "tpause (66 0F AE /6)", code: "66 0f ae f0", op: OpInvalid},
	{name: "umonitor (F3 0F AE /6)", code: "f3 0f ae f0", op: OpInvalid},
	{name: "clflushopt", code: "66 0f ae 38", op: OpFENCE},
	{name: "rdpid (F3 0F C7 /7)", code: "f3 0f c7 f8", op: OpInvalid},
	{name: "rdrand 66", code: "66 0f c7 f0", op: OpRDRAND, want: "osz=2"},
	{name: "cdqe", code: "48 98", op: OpCBW, want: "osz=8"},
	{name: "cwd", code: "66 99", op: OpCWD, want: "osz=2"},
	{name: "endbr64", code: "f3 0f 1e fa", op: OpNOP, want: "len=4"},
	{name: "prefetchw", code: "0f 0d 08", op: OpNOP, want: "len=3"},

	// VEX (BMI1).
	{name: "andn", code: "c4 e2 60 f2 c1", op: OpANDN, want: "len=5 osz=4 reg=0 rm=1 vreg=3"},
	{name: "andn REX.RB W", code: "c4 42 e0 f2 c1", op: OpANDN, want: "osz=8 reg=8 rm=9 vreg=3"},
	{name: "blsr", code: "c4 e2 78 f3 c9", op: OpBLSR, want: "len=5 vreg=0 rm=1"},
	{name: "blsmsk", code: "c4 e2 70 f3 d0", op: OpBLSMSK, want: "vreg=1 rm=0"},
	{name: "blsi", code: "c4 c2 40 f3 d9", op: OpBLSI, want: "vreg=7 rm=9"},
	{name: "bls /0", code: "c4 e2 78 f3 c1", op: OpInvalid},
	{name: "bextr RIP-relative", code: "c4 e2 f0 f7 05 10 00 00 00", op: OpBEXTR,
		want: "len=9 osz=8 vreg=1 base=none next=0x1009 disp=0x1019"},
	{name: "VEX after 66", code: "66 c4 e2 60 f2 c1", op: OpInvalid},
	{name: "VEX after REX", code: "48 c4 e2 60 f2 c1", op: OpInvalid},
	{name: "VEX after FS", code: "64 c4 e2 60 f2 00", op: OpANDN, want: "seg=4"},
	{name: "VEX.L=1", code: "c4 e2 64 f2 c1", op: OpInvalid},
	{name: "VEX pp=1", code: "c4 e2 61 f2 c1", op: OpInvalid},
	{name: "VEX map 0F", code: "c5 f8 77", op: OpInvalid},
	{name: "VEX truncated", code: "c4 e2 60 f2", err: errNeedMore},

	// Length limit and truncation.
	{name: "14 prefixes + nop", code: strings.Repeat("66 ", 14) + "90", op: OpNOP, want: "len=15"},
	{name: "15 prefixes + nop", code: strings.Repeat("66 ", 15) + "90", err: errTooLong},
	{name: "16 prefixes", code: strings.Repeat("66 ", 16), err: errTooLong},
	{name: "imm past 15", code: strings.Repeat("66 ", 13) + "05 00 00", err: errTooLong},
	{name: "imm past 15 given 15", code: strings.Repeat("66 ", 13) + "05 00", err: errTooLong},
	{name: "imm at 15", code: strings.Repeat("66 ", 12) + "05 00 00", op: OpADD, want: "len=15 osz=2"},
	{name: "imm64 past 15", code: strings.Repeat("2e ", 6) + "48 b8 00 00 00 00 00 00 00 00", err: errTooLong},
	{name: "imm64 at 15", code: strings.Repeat("2e ", 5) + "48 b8 00 00 00 00 00 00 00 00", op: OpMOV, want: "len=15"},
	// SSE: mandatory prefixes, the three-byte maps, operand size, imm8.
	{name: "paddb 66 0F FC", code: "66 0f fc c1", op: OpPADDB, want: "len=4 osz=4 mod=3 reg=0 rm=1 o16=1"},
	{name: "NP 0F FC is MMX paddb", code: "0f fc c1", op: OpPADDB, want: "reg=0 rm=1 o16=0"},
	{name: "MMX emms has no ModRM", code: "0f 77", op: OpEMMS, want: "len=2 modrm=false"},
	{name: "MMX pshufw imm", code: "0f 70 c1 1b", op: OpPSHUFW, want: "len=4 imm=0x1b"},
	{name: "movq2dq", code: "f3 0f d6 c1", op: OpMOVQ2DQ},
	{name: "MMX 66 0F 38 0C has no NP form", code: "0f 38 0c c1", op: OpInvalid},
	{name: "F3 beats 66", code: "66 f3 0f 6f 00", op: OpMOVDQU, want: "len=5"},
	{name: "last of F2/F3 counts", code: "f3 f2 0f 10 00", op: OpMOVSD_X},
	{name: "movdqa store REX.RB", code: "66 45 0f 7f c8", op: OpMOVDQA, want: "reg=9 rm=8 mod=3"},
	{name: "movq rax with REX.W", code: "66 48 0f 7e c0", op: OpMOVD, want: "osz=8 rexw=1"},
	{name: "movd eax", code: "66 0f 7e c0", op: OpMOVD, want: "osz=4"},
	{name: "pshufb 0F38", code: "66 0f 38 00 0c 24", op: OpPSHUFB, want: "len=6 opcode=0x200 base=rsp"},
	{name: "pcmpistri 0F3A imm", code: "66 0f 3a 63 c1 7f", op: OpPCMPISTRI, want: "len=6 opcode=0x363 imm=0x7f"},
	{name: "palignr imm zero-extended", code: "66 0f 3a 0f c1 ff", op: OpPALIGNR, want: "imm=0xff"},
	{name: "psrldq group", code: "66 0f 73 d9 04", op: OpPSRLDQ, want: "len=5 rm=1 imm=0x4"},
	{name: "psrldq memory form #UD", code: "66 0f 73 19 04", op: OpInvalid},
	{name: "crc32 r/m8", code: "f2 0f 38 f0 c1", op: OpCRC32, want: "osz=1"},
	{name: "crc32 r/m16", code: "66 f2 0f 38 f1 c1", op: OpCRC32, want: "osz=2"},
	{name: "crc32 r/m64", code: "f2 48 0f 38 f1 c1", op: OpCRC32, want: "osz=8"},
	{name: "movhlps", code: "0f 12 c1", op: OpMOVHLPS},
	{name: "movlps load", code: "0f 12 01", op: OpMOVLPS},
	{name: "movlpd register #UD", code: "66 0f 12 c1", op: OpInvalid},
	{name: "ldmxcsr", code: "0f ae 10", op: OpLDMXCSR},
	{name: "ldmxcsr with 66 #UD", code: "66 0f ae 10", op: OpInvalid},
	{name: "lock SSE #UD", code: "f0 66 0f fc 00", op: OpInvalid},
	{name: "endbr64 is a NOP without CET", code: "f3 0f 1e fa", op: OpNOP, want: "len=4"},
	{name: "rdsspq is a NOP without CET", code: "f3 48 0f 1e c8", op: OpNOP, want: "len=5"},
	{name: "tzcnt (BMI1 advertised)", code: "f3 0f bc c1", op: OpTZCNT},
	{name: "0F38 truncated", code: "66 0f 38", err: errNeedMore},
	{name: "0F3A no imm", code: "66 0f 3a 0f c1", err: errNeedMore},
	{name: "empty", code: "", err: errNeedMore},
	{name: "REX only", code: "48", err: errNeedMore},
	{name: "0F only", code: "0f", err: errNeedMore},
	{name: "no ModRM", code: "48 8b", err: errNeedMore},
	{name: "no SIB", code: "8b 04", err: errNeedMore},
	{name: "short disp32", code: "8b 05 00 00", err: errNeedMore},
	{name: "short imm64", code: "48 b8 01 02", err: errNeedMore},
	{name: "short rel32", code: "e8 00 00 00", err: errNeedMore},
	{name: "short moffs", code: "a1 00 00 00 00", err: errNeedMore},
	{name: "enter no level", code: "c8 00 01", err: errNeedMore},
}

func TestDecodeTable(t *testing.T) {
	for _, tc := range decodeCases {
		code := dtHex(t, tc.code)
		rip := tc.rip
		if rip == 0 {
			rip = 0x1000
		}
		in, err := safeDecode(code, rip, Code64)
		if tc.err != nil || err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s (% x): error %v, want %v", tc.name, code, err, tc.err)
			}
			continue
		}
		if in.op != tc.op {
			t.Errorf("%s (% x): op %v (%d), want %v (%d)", tc.name, code, in.op, in.op, tc.op, tc.op)
		}
		if tc.op != OpInvalid && int(in.len) != len(code) {
			t.Errorf("%s (% x): len %d, want the whole %d bytes", tc.name, code, in.len, len(code))
		}
		got := instFields(&in)
		for _, kv := range strings.Fields(tc.want) {
			k, v, _ := strings.Cut(kv, "=")
			g, ok := got[k]
			if !ok {
				t.Fatalf("%s: unknown field %q", tc.name, k)
			}
			if g != v {
				t.Errorf("%s (% x): %s = %s, want %s", tc.name, code, k, g, v)
			}
		}
		// Every prefix of the instruction is truncated.
		if tc.op != OpInvalid {
			for n := 0; n < int(in.len); n++ {
				if _, err := safeDecode(code[:n], rip, Code64); !errors.Is(err, errNeedMore) {
					t.Errorf("%s: first %d bytes: error %v, want errNeedMore", tc.name, n, err)
				}
			}
		}
	}
}

// errDecodePanic reports a panic in the decoder.
type errDecodePanic struct{ v any }

func (e errDecodePanic) Error() string { return fmt.Sprint("decoder panic: ", e.v) }

// safeDecode is DecodeMode with panics turned into errors.
func safeDecode(code []byte, rip uint64, mode CodeSize) (in Inst, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errDecodePanic{r}
		}
	}()
	return DecodeMode(code, rip, mode)
}

// ---------------------------------------------------------------------------
// Differential test against the disassembler.

// diffKind classifies a disagreement with the disassembler.
type diffKind uint8

const (
	diffLen      diffKind = iota // both decode, lengths differ
	diffMnemonic                 // both decode, mnemonic outside our Op's class
	diffCC                       // condition code differs
	diffSize                     // operand size (mnemonic suffix or register width) differs
	diffRegs                     // register operands differ
	diffTarget                   // branch target differs
	diffOnlyUs                   // we decode a valid instruction, the disassembler rejects the bytes
	diffOnlyThem                 // the disassembler decodes an instruction of a class we implement; we raise #UD
	diffError                    // we report truncation or excess length; the disassembler decodes
	diffPanic                    // our decoder panicked
)

var diffKindNames = [...]string{"length", "mnemonic", "cc", "size", "regs", "target", "only-ours", "only-theirs",
	"error", "panic"}

func (k diffKind) String() string { return diffKindNames[k] }

// disagreement is one input on which we and the disassembler differ.
type disagreement struct {
	kind   diffKind
	code   []byte
	rip    uint64
	mode   CodeSize // the code size both decoded for
	in     Inst
	err    error
	d      disasm.Inst
	detail string
}

func (d *disagreement) String() string {
	n := len(d.code)
	if d.d.Len > 0 && d.d.Len < n {
		n = d.d.Len
	}
	if d.in.len > 0 && int(d.in.len) > n && int(d.in.len) <= len(d.code) {
		n = int(d.in.len)
	}
	return fmt.Sprintf("%s: % x: ours %v len %d err %v; %s len %d %q %s", d.kind, d.code[:n], d.in.op, d.in.len,
		d.err, disasm.Backend, d.d.Len, d.d.Text, d.detail)
}

// key groups disagreements for reporting.
func (d *disagreement) key() string {
	return fmt.Sprintf("%s op=%v opcode=%03x mnemonic=%s", d.kind, d.in.op, d.in.opcode, d.d.Mnemonic)
}

// rawPrefixes returns the legacy and (in 64-bit code) REX prefix bytes that
// start code.
func rawPrefixes(code []byte, mode CodeSize) []byte {
	for i, b := range code {
		switch {
		case b == 0xF0, b == 0xF2, b == 0xF3, b == 0x66, b == 0x67, b == 0x26, b == 0x2E, b == 0x36, b == 0x3E,
			b == 0x64, b == 0x65, b&0xF0 == 0x40 && mode == Code64:
			continue
		}
		return code[:i]
	}
	return code
}

// modrmByte returns the ModRM byte following the opcode, if present.
func (d *disagreement) modrmByte() (byte, bool) {
	p := len(rawPrefixes(d.code, d.mode))
	i := p + 1
	switch {
	case d.isVEX() && d.code[p] == 0xC5:
		i = p + 3 // C5 xx opcode
	case d.isVEX():
		i = p + 4 // C4 xx xx opcode
	case d.in.opcode >= 0x100:
		i++
	}
	if i < len(d.code) {
		return d.code[i], true
	}
	return 0, false
}

// isVEX reports whether the instruction starts (after prefixes) with C4 or
// C5 that are VEX prefixes: always in 64-bit code, else when the next byte's
// top bits are 11 (LES and LDS otherwise).
func (d *disagreement) isVEX() bool {
	p := len(rawPrefixes(d.code, d.mode))
	if p >= len(d.code) || d.code[p] != 0xC4 && d.code[p] != 0xC5 {
		return false
	}
	return d.mode == Code64 || p+1 < len(d.code) && d.code[p+1]&0xC0 == 0xC0
}

// hasRawPrefix reports whether byte p appears among the instruction's prefixes.
func (d *disagreement) hasRawPrefix(p byte) bool {
	for _, b := range rawPrefixes(d.code, d.mode) {
		if b == p {
			return true
		}
	}
	return false
}

// lastRex returns the REX byte that counts (directly before the opcode), or 0.
func (d *disagreement) lastRex() byte {
	p := rawPrefixes(d.code, d.mode)
	if len(p) > 0 && p[len(p)-1]&0xF0 == 0x40 {
		return p[len(p)-1]
	}
	return 0
}

// strayRex reports whether a REX prefix precedes a legacy prefix, or two REX
// prefixes are present.
func (d *disagreement) strayRex() bool {
	p := rawPrefixes(d.code, d.mode)
	for i, b := range p {
		if b&0xF0 == 0x40 && i != len(p)-1 {
			return true
		}
	}
	return false
}

// lockMisplaced reports whether the instruction carries a LOCK prefix that
// the SDM's list of lockable instructions does not allow: decoded without its
// F0 bytes, it must be ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG, CMPXCHG8B/16B,
// DEC, INC, NEG, NOT, OR, SBB, SUB, XOR, XADD or XCHG with a memory
// destination (SDM LOCK). This checks the decoder's rule independently.
func (d *disagreement) lockMisplaced() bool {
	if d.in.prefix&pfxLock == 0 {
		return false
	}
	p := rawPrefixes(d.code, d.mode)
	var code []byte
	for _, b := range p {
		if b != 0xF0 {
			code = append(code, b)
		}
	}
	code = append(code, d.code[len(p):]...)
	in, err := safeDecode(code, d.rip, d.mode)
	if err != nil || in.op == OpInvalid {
		return false // not the LOCK's fault
	}
	switch in.op {
	case OpADD, OpADC, OpAND, OpBTC, OpBTR, OpBTS, OpCMPXCHG, OpCMPXCHG16B, OpDEC, OpINC, OpNEG, OpNOT, OpOR,
		OpSBB, OpSUB, OpXOR, OpXADD, OpXCHG:
		switch in.form {
		case formEG, formEI, formEIb, formE, formEIbCount:
			return in.mod == 3 // a register destination
		}
	}
	return true
}

// knownDisagreement is an accepted difference with a reason.
type knownDisagreement struct {
	name    string
	backend string // "x86asm", "capstone" or "" for both
	modes   knownModes
	kinds   []diffKind
	reason  string
	match   func(d *disagreement) bool
}

// knownModes says in which code a known disagreement applies.
type knownModes uint8

const (
	inBoth   knownModes = iota // 64-bit and 32-bit code
	in64                       // 64-bit code only
	inLegacy                   // 32-bit code only
)

// applies reports whether a disagreement in code of size mode may be k.
func (k *knownDisagreement) applies(mode CodeSize) bool {
	return k.modes == inBoth || (k.modes == inLegacy) == (mode != Code64)
}

// modeBits is the disassembler's mode (16, 32 or 64 bits) of each code size.
var modeBits = [...]int{Code64: 64, Code32: 32, Code16: 16}

// knownDisagreements lists every class of difference the differential test
// accepts. Anything else fails it.
var knownDisagreements = []knownDisagreement{
	{
		name: "stray REX", backend: "x86asm", modes: in64, kinds: []diffKind{diffOnlyUs},
		reason: "a REX prefix followed by a legacy prefix or another REX is ignored (SDM Vol. 2 §2.2.1: " +
			"only a REX directly before the opcode counts); x86asm rejects the bytes",
		match: func(d *disagreement) bool { return d.strayRex() },
	},
	{
		name: "misplaced LOCK", kinds: []diffKind{diffOnlyThem},
		reason: "LOCK on an instruction that is not lockable or whose destination is a register is #UD " +
			"(SDM LOCK); the disassembler just prints the prefix",
		match: func(d *disagreement) bool { return d.lockMisplaced() },
	},
	{
		name: "group 2 /6 (SAL alias)", backend: "x86asm", kinds: []diffKind{diffOnlyUs},
		reason: "C0/C1/D0-D3 /6 shift left like /4 on Intel and AMD hardware (SDM Table A-6 leaves it blank); " +
			"x86asm rejects it",
		match: func(d *disagreement) bool { return d.in.op == OpSHL && d.in.reg&7 == 6 },
	},
	{
		name: "group 3 /1 (TEST alias)", backend: "x86asm", kinds: []diffKind{diffOnlyUs},
		reason: "F6/F7 /1 is TEST like /0 on Intel and AMD hardware (SDM Table A-6 leaves it blank); " +
			"x86asm rejects it",
		match: func(d *disagreement) bool { return d.in.op == OpTEST && d.in.reg&7 == 1 },
	},
	{
		name: "hint NOPs", kinds: []diffKind{diffOnlyUs},
		reason: "0F 0D and 0F 18-1F with any ModRM are NOPs (prefetch hints or the reserved-NOP space, " +
			"SDM Table A-6 and NOP); the disassemblers decode only some of them (x86asm 0F 1F /0 and " +
			"the prefetches, Capstone no register forms)",
		match: func(d *disagreement) bool {
			return d.in.op == OpNOP && (d.in.opcode == 0x10D || d.in.opcode >= 0x118 && d.in.opcode <= 0x11F)
		},
	},
	{
		name: "fence r/m bits", kinds: []diffKind{diffOnlyUs},
		reason: "LFENCE/MFENCE/SFENCE ignore ModRM.rm (SDM Table A-6 lists 0F AE /5-/7 for any 11B r/m); " +
			"the disassemblers accept only r/m = 0",
		match: func(d *disagreement) bool {
			m, _ := d.modrmByte()
			return d.in.op == OpFENCE && d.in.mod == 3 && m&7 != 0
		},
	},
	{
		name: "MOV CS", kinds: []diffKind{diffOnlyThem},
		reason: "MOV to CS (8E /1) is #UD (SDM MOV: \"If an attempt is made to load the CS register\"); " +
			"the disassembler decodes it",
		match: func(d *disagreement) bool { return d.in.opcode == 0x8E && d.in.reg&7 == CS },
	},
	{
		name: "MOV TRn", backend: "x86asm", kinds: []diffKind{diffOnlyThem},
		reason: "0F 24/0F 26 (MOV to/from test registers) existed only on the 386/486 and are #UD in " +
			"64-bit mode; x86asm decodes them",
		match: func(d *disagreement) bool { return d.in.opcode == 0x124 || d.in.opcode == 0x126 },
	},
	{
		name: "x86asm RDRAND/RDSEED", backend: "x86asm", kinds: []diffKind{diffOnlyUs, diffOnlyThem, diffRegs},
		reason: "x86asm does not know RDSEED (0F C7 /7), prints RDRAND with REX.W without its operand, and " +
			"decodes the memory form 0F C7 /6 (VMPTRLD, VMCLEAR, VMXON) as RDRAND; we raise #UD for the VMX forms",
		match: func(d *disagreement) bool { return d.in.opcode == 0x1C7 && d.in.reg&7 >= 6 },
	},
	{
		name: "BSWAP r16", kinds: []diffKind{diffRegs},
		reason: "BSWAP with a 16-bit operand is undefined (SDM BSWAP); the decoder hands the handler " +
			"operand size 4, the disassembler prints the 16-bit register",
		match: func(d *disagreement) bool { return d.in.op == OpBSWAP && d.in.prefix&pfxOpsize != 0 },
	},
	{
		name: "66 on near branches", backend: "capstone", kinds: []diffKind{diffLen, diffTarget, diffError},
		reason: "Intel CPUs ignore 66 on near JMP/Jcc/CALL in 64-bit mode (rel32, 64-bit RIP; SDM JMP/Jcc/CALL, " +
			"\"operand size fixed at 64 bits\"); Capstone follows AMD (rel16, IP truncated to 16 bits). We follow Intel",
		match: func(d *disagreement) bool {
			return (d.in.form == formJz || d.in.form == formJb) && d.in.prefix&pfxOpsize != 0
		},
	},
	{
		name: "Capstone: 66 with F2/F3", backend: "capstone",
		kinds: []diffKind{diffLen, diffRegs, diffSize, diffOnlyUs},
		reason: "with F2 or F3 also present Capstone 4 forgets the 66 prefix on legacy instructions " +
			"(prints eax for ax, takes an imm32 for PUSH Iz) or rejects them (MOV moffs, some PUSH Iz), " +
			"although F2/F3 mean nothing to these instructions",
		match: func(d *disagreement) bool {
			return d.in.prefix&pfxOpsize != 0 && (d.hasRawPrefix(0xF2) || d.hasRawPrefix(0xF3))
		},
	},
	{
		name: "Capstone: 67 REX.W as 66", backend: "capstone", modes: in64,
		kinds: []diffKind{diffLen, diffRegs, diffSize, diffTarget, diffMnemonic, diffError, diffOnlyUs, diffOnlyThem},
		reason: "Capstone 4 treats 67 with REX.W like 66 on some instructions (16-bit IN/OUT, INS/OUTS, " +
			"CALL/JMP rel16, a 4-byte immediate for RET Iw; 0F AE F8 as 66 0F AE F8 PCOMMIT, 0F 73 /7 as " +
			"66 0F 73 /7 PSLLDQ); 67 changes only the address size",
		match: func(d *disagreement) bool {
			return d.in.prefix&pfxAddr != 0 && d.in.prefix&pfxRexW != 0 && d.in.prefix&pfxOpsize == 0
		},
	},
	{
		name: "Capstone: CBW/CWD with 66 among other prefixes", backend: "capstone", kinds: []diffKind{diffSize},
		reason: "Capstone 4 prints CWDE/CDQ for 66 98/99 when any other prefix (segment, 67, a REX without W) " +
			"is present; the operand size is 16 (CBW/CWD)",
		match: func(d *disagreement) bool {
			return (d.in.op == OpCBW || d.in.op == OpCWD) && d.in.prefix&pfxOpsize != 0 && len(rawPrefixes(d.code, d.mode)) > 1
		},
	},
	{
		name: "Capstone: RET Iw with 66 and REX", backend: "capstone", modes: in64, kinds: []diffKind{diffLen, diffOnlyUs},
		reason: "Capstone 4 takes four immediate bytes for 66 REX C2; RET always has an imm16 (SDM RET)",
		match: func(d *disagreement) bool {
			return d.in.opcode == 0xC2 && d.in.prefix&pfxOpsize != 0 && d.in.prefix&pfxRex != 0
		},
	},
	{
		name: "Capstone: F3 mandatory prefix among others", backend: "capstone",
		kinds: []diffKind{diffMnemonic, diffOnlyUs},
		reason: "Capstone 4 loses the F3 that selects POPCNT/TZCNT/LZCNT/PAUSE when other prefixes follow it " +
			"(printing BSF/BSR/NOP or rejecting the bytes); prefix order does not matter to the CPU",
		match: func(d *disagreement) bool {
			switch d.in.op {
			case OpPOPCNT, OpTZCNT, OpLZCNT, OpPAUSE:
				return len(rawPrefixes(d.code, d.mode)) > 1
			}
			return false
		},
	},
	{
		name: "Capstone: 66 REX.B 90", backend: "capstone", modes: in64, kinds: []diffKind{diffMnemonic},
		reason: "66 41 90 is XCHG r8w, ax (SDM XCHG, NOP); Capstone 4 prints NOP when other prefixes precede it",
		match: func(d *disagreement) bool {
			return d.in.op == OpXCHG && d.in.opcode == 0x90 && d.lastRex()&1 != 0
		},
	},
	{
		name: "Capstone: REX.R on MOV Sreg", backend: "capstone", modes: in64, kinds: []diffKind{diffOnlyUs},
		reason: "REX.R does not extend the segment register number of 8C/8E (x86asm agrees); Capstone 4 rejects it",
		match: func(d *disagreement) bool {
			return (d.in.opcode == 0x8C || d.in.opcode == 0x8E) && d.lastRex()&4 != 0
		},
	},
	{
		name: "Capstone: REX.W and 66 on port I/O", backend: "capstone", modes: in64, kinds: []diffKind{diffRegs, diffSize},
		reason: "REX.W takes precedence over 66 (SDM Vol. 1 §3.6.1) and port I/O caps the 64-bit size at 32, " +
			"so 66 REX.W IN is IN eax; Capstone 4 honours the 66",
		match: func(d *disagreement) bool {
			switch d.in.op {
			case OpIN, OpOUT, OpINS, OpOUTS:
				return d.in.prefix&pfxOpsize != 0 && d.in.prefix&pfxRexW != 0
			}
			return false
		},
	},
	{
		name: "Capstone: F2/F3 RDRAND/RDSEED", backend: "capstone", kinds: []diffKind{diffOnlyThem},
		reason: "RDRAND/RDSEED are NFx (SDM): F3 0F C7 /7 is RDPID, the other F2/F3 forms are #UD; Capstone 4 " +
			"ignores the prefix",
		match: func(d *disagreement) bool {
			return d.in.opcode == 0x1C7 && d.in.prefix&(pfxRep|pfxRepne) != 0
		},
	},
	{
		name: "x86asm: F3 FXSAVE/FXRSTOR", backend: "x86asm", kinds: []diffKind{diffOnlyUs},
		reason: "F3 means nothing to the memory forms of 0F AE /0 and /1 (Capstone agrees; the F3 forms " +
			"of 0F AE are RDFSBASE and its kin, register forms only); x86asm rejects them",
		match: func(d *disagreement) bool {
			return (d.in.op == OpFXSAVE || d.in.op == OpFXRSTOR) && d.in.prefix&pfxRep != 0
		},
	},
	{
		name: "Capstone: FNSTSW m16 as dword", backend: "capstone", kinds: []diffKind{diffSize},
		reason: "DD /7 stores the 16-bit status word (SDM FSTSW/FNSTSW: m2byte); Capstone 4 prints a dword operand",
		match:  func(d *disagreement) bool { return d.in.op == OpFNSTSW && d.in.mod != 3 },
	},
	{
		name: "x87 reserved aliases", kinds: []diffKind{diffOnlyUs},
		reason: "the reserved x87 register encodings execute on Intel and AMD processors as aliases: " +
			"D9 D8+i FSTP1, DC D0+i FCOM2, DC D8+i FCOMP3, DD C8+i FXCH4, DE D0+i FCOMP5, DF C8+i FXCH7, " +
			"DF D0+i FSTP8, DF D8+i FSTP9, and DB E0/E1/E4 (FNENI, FNDISI, FNSETPM) as NOPs; the disassemblers " +
			"reject some of them",
		match: func(d *disagreement) bool {
			if d.in.mod != 3 || d.in.opcode < 0xD8 || d.in.opcode > 0xDF {
				return false
			}
			switch esc, reg := d.in.opcode&7, d.in.reg&7; esc {
			case 1:
				return reg == 3
			case 3:
				return reg == 4
			case 4:
				return reg == 2 || reg == 3
			case 5:
				return reg == 1
			case 6:
				return reg == 2
			case 7:
				return reg >= 1 && reg <= 3
			}
			return false
		},
	},
	{
		name: "NP fences with 66/F2/F3", kinds: []diffKind{diffOnlyThem},
		reason: "LFENCE/MFENCE/SFENCE are NP (SDM): with 66/F2/F3 the encodings are TPAUSE, UMWAIT, UMONITOR, " +
			"INCSSP, PCOMMIT..., none of which we implement (#UD); the disassemblers print a fence",
		match: func(d *disagreement) bool {
			return d.in.opcode == 0x1AE && d.in.mod == 3 && d.in.prefix&(pfxOpsize|pfxRep|pfxRepne) != 0
		},
	},
	{
		name: "Capstone: legacy prefix before VEX", backend: "capstone", kinds: []diffKind{diffOnlyThem},
		reason: "a 66, F2, F3, LOCK or REX prefix before a VEX prefix is #UD (SDM Vol. 2 §2.3.2); " +
			"Capstone 4 ignores it",
		match: func(d *disagreement) bool {
			if !d.isVEX() {
				return false
			}
			for _, b := range rawPrefixes(d.code, d.mode) {
				if b == 0x66 || b == 0xF2 || b == 0xF3 || b == 0xF0 || b&0xF0 == 0x40 {
					return true
				}
			}
			return false
		},
	},
	{
		name: "x86asm: segment or 67 prefix before VEX", backend: "x86asm", kinds: []diffKind{diffOnlyUs},
		reason: "segment and address-size prefixes are allowed before VEX (SDM Vol. 2 §2.3.2 forbids only " +
			"66, F2, F3, LOCK and REX); x86asm rejects them",
		match: func(d *disagreement) bool { return d.isVEX() && len(rawPrefixes(d.code, d.mode)) > 0 },
	},
	{
		name: "x86asm: VEX RIP-relative printing", backend: "x86asm", kinds: []diffKind{diffTarget},
		reason: "x86asm prints the RIP-relative memory operand of VEX instructions without its rip base " +
			"(\"[-0x457e94d7]\"); the length agrees",
		match: func(d *disagreement) bool {
			m, _ := d.modrmByte()
			return d.isVEX() && m>>6 == 0 && m&7 == 5
		},
	},
	{
		name: "x86asm: truncated VEX", backend: "x86asm", kinds: []diffKind{diffError},
		reason: "x86asm accepts a VEX instruction cut off before its ModRM byte (\"vmovups xmm8, xmmword ptr []\"); " +
			"the bytes are truncated",
		match: func(d *disagreement) bool { return d.isVEX() && errors.Is(d.err, errNeedMore) },
	},
	{
		name: "SSE memory-only forms with a register", backend: "x86asm", kinds: []diffKind{diffOnlyThem},
		reason: "MOVLPD, MOVHPD, MOVLPS m64, xmm and MOVHPS m64, xmm take only a memory operand (SDM: 66 0F 12-17 " +
			"/r with m64; mod = 11B is #UD); x86asm decodes a register form",
		match: func(d *disagreement) bool {
			return d.in.op == OpInvalid && d.in.mod == 3 && d.in.opcode >= 0x112 && d.in.opcode <= 0x117
		},
	},
	{
		name: "NP LDMXCSR/STMXCSR with 66/F2/F3", kinds: []diffKind{diffOnlyThem},
		reason: "LDMXCSR and STMXCSR are NP (SDM): with 66, F2 or F3 they are #UD; the disassemblers ignore the prefix",
		match: func(d *disagreement) bool {
			return d.in.opcode == 0x1AE && (d.in.reg&7 == 2 || d.in.reg&7 == 3) &&
				d.in.prefix&(pfxOpsize|pfxRep|pfxRepne) != 0
		},
	},
	{
		name: "Capstone: SSE mandatory prefix among other prefixes", backend: "capstone",
		kinds: []diffKind{diffMnemonic, diffOnlyUs, diffOnlyThem, diffLen, diffRegs, diffSize},
		reason: "Capstone 4 loses or misreads the mandatory 66/F2/F3 prefix of SSE encodings when other legacy " +
			"prefixes (segment, 67, a second 66/F2/F3) accompany it (MOVDQU read as MOVDQA, CRC32 as MOVBE, " +
			"PMOVSXBD rejected); the CPU takes the last F2/F3, else 66, wherever they stand (SDM Vol. 2 §2.1.2)",
		match: func(d *disagreement) bool { return sseOpcode(d.in.opcode) && d.extraLegacyPrefix() },
	},
	{
		name: "SSE opcode with a prefix it does not define", kinds: []diffKind{diffOnlyThem},
		reason: "an SSE opcode whose map defines no variant for the mandatory prefix present (F3 0F 28, 66 0F 16 " +
			"with a register, an MMX form with REX.R, 66 or F2 0F 52/53) is #UD (SDM Vol. 2 §2.1.2: reserved); " +
			"Capstone 4 and x86asm decode it as one of the opcode's other variants",
		match: func(d *disagreement) bool {
			return d.in.op == OpInvalid && otherVariant(d.in.opcode, d.d.Mnemonic)
		},
	},
	{
		name: "Capstone: F3 REX.W 0F 7E", backend: "capstone", modes: in64, kinds: []diffKind{diffMnemonic},
		reason: "F3 0F 7E is MOVQ xmm, xmm/m64 whatever REX.W says (SDM MOVQ); Capstone 4 drops the F3 when " +
			"REX.W is present and prints the MMX MOVD/MOVQ of 0F 7E",
		match: func(d *disagreement) bool { return d.in.op == OpMOVQ && d.in.opcode == 0x17E && d.lastRex()&8 != 0 },
	},
	{
		name: "MMX opcodes with F2/F3", backend: "capstone", kinds: []diffKind{diffOnlyThem},
		reason: "an MMX opcode that defines no F2 or F3 variant (the 0F 71-73 shift groups) is reserved with " +
			"that prefix and raises #UD here (SDM Vol. 2 §2.1.2); Capstone 4 ignores the prefix",
		match: func(d *disagreement) bool {
			return d.in.op == OpInvalid && usesMMX(&d.d) && (d.hasRawPrefix(0xF2) || d.hasRawPrefix(0xF3))
		},
	},
	{
		name: "MOV CR/DR mod field", kinds: []diffKind{diffLen, diffOnlyUs},
		reason: "MOV to/from CRn/DRn ignore ModRM.mod and always name registers, so no SIB or " +
			"displacement follows (SDM MOV—Move to/from Control Registers); the disassembler decodes a memory form",
		match: func(d *disagreement) bool { return d.in.form == formCR },
	},
	{
		name: "x86asm: VEX in 32-bit code", backend: "x86asm", modes: inLegacy, kinds: []diffKind{diffRegs, diffSize},
		reason: "outside 64-bit mode VEX.R, VEX.X, VEX.B and VEX.W (for BMI1) and the top bit of VEX.vvvv are ignored " +
			"(SDM Vol. 2, 2.3.5); x86asm applies them (r14d, rbx, a qword operand)",
		match: func(d *disagreement) bool { return d.isVEX() },
	},
	{
		name: "x86asm: 16-bit near branch targets", backend: "x86asm", modes: inLegacy, kinds: []diffKind{diffTarget},
		reason: "with a 16-bit operand size a near branch target is truncated to 16 bits (SDM JMP, Jcc, CALL, LOOP: " +
			"EIP := tempEIP AND 0000FFFFH); x86asm prints the untruncated sum",
		match: func(d *disagreement) bool { return d.in.osz == 2 },
	},
	{
		name: "x86asm: 82 (alias of 80)", backend: "x86asm", modes: inLegacy, kinds: []diffKind{diffOnlyUs},
		reason: "82 is the group-1 byte ALU opcode like 80 outside 64-bit mode (SDM Table A-2, 64-bit invalid); " +
			"x86asm rejects it",
		match: func(d *disagreement) bool { return d.in.opcode == 0x82 },
	},
	{
		name: "Capstone: 67 on near branches", backend: "capstone", modes: inLegacy, kinds: []diffKind{diffTarget},
		reason: "the address size does not change a relative branch's target (the operand size does: SDM JMP, " +
			"Jcc); Capstone 4 truncates the target to 16 bits after a 67 prefix in 32-bit code",
		match: func(d *disagreement) bool {
			return d.hasRawPrefix(0x67) && (d.in.form == formJb || d.in.form == formJz)
		},
	},
	{
		name: "SYSCALL/SYSRET outside 64-bit mode", backend: "capstone", modes: inLegacy, kinds: []diffKind{diffOnlyThem},
		reason: "Intel CPUs raise #UD for SYSCALL and SYSRET unless in 64-bit mode (SDM SYSCALL, SYSRET: CS.L must " +
			"be 1; the CPUID model is Intel's); Capstone decodes them as AMD CPUs run them",
		match: func(d *disagreement) bool { return d.in.opcode == 0x105 || d.in.opcode == 0x107 },
	},
	{
		name: "x86asm: SALC", backend: "x86asm", modes: inLegacy, kinds: []diffKind{diffOnlyUs},
		reason: "D6 is SALC outside 64-bit mode on Intel and AMD CPUs (undocumented by Intel); x86asm does not know it",
		match:  func(d *disagreement) bool { return d.in.op == OpSALC },
	},
}

// sseOpcode reports whether opcode (map<<8 | byte) selects its entry by
// mandatory prefix.
func sseOpcode(opcode uint16) bool {
	b := opcode & 0xFF
	switch opcode >> 8 {
	case 1:
		return twoByte[b].sse != nil
	case 2:
		return threeByte38[b].sse != nil
	case 3:
		return threeByte3A[b].sse != nil
	}
	return false
}

// extraLegacyPrefix reports whether the instruction has prefixes besides one
// 66, F2 or F3 and the REX directly before the opcode.
func (d *disagreement) extraLegacyPrefix() bool {
	p := rawPrefixes(d.code, d.mode)
	if d.lastRex() != 0 {
		p = p[:len(p)-1]
	}
	return len(p) > 1
}

// otherVariant reports whether m names the operation of some mandatory-prefix
// variant of the SSE opcode (map<<8 | byte).
func otherVariant(opcode uint16, m string) bool {
	if !sseOpcode(opcode) {
		return false
	}
	t := map[uint16]*[256]opEntry{1: &twoByte, 2: &threeByte38, 3: &threeByte3A}[opcode>>8]
	for _, v := range t[opcode&0xFF].sse {
		if v.op != OpInvalid && mnemonicMatches(v.op, m) || v.op == OpMOVLPS && m == "movhlps" ||
			v.op == OpMOVHPS && m == "movlhps" {
			return true
		}
	}
	return false
}

// usesMMX reports whether the disassembled instruction names an MMX register.
func usesMMX(d *disasm.Inst) bool {
	toks := operandTokens(d)
	for i := range 8 {
		if toks[fmt.Sprint("mm", i)] || toks[fmt.Sprint("mmx", i)] {
			return true
		}
	}
	return false
}

// matchKnown returns the index of the known disagreement d falls under, or -1.
func matchKnown(d *disagreement) int {
	if d.kind == diffPanic {
		return -1
	}
	for i := range knownDisagreements {
		k := &knownDisagreements[i]
		if k.backend != "" && k.backend != disasm.Backend || !k.applies(d.mode) {
			continue
		}
		kindOK := false
		for _, kk := range k.kinds {
			kindOK = kindOK || kk == d.kind
		}
		if kindOK && k.match(d) {
			return i
		}
	}
	return -1
}

// dtCCNames lists the condition suffixes each backend may print, by cc.
var dtCCNames = [16][]string{
	{"o"}, {"no"}, {"b", "c", "nae"}, {"ae", "nb", "nc"}, {"e", "z"}, {"ne", "nz"}, {"be", "na"}, {"a", "nbe"},
	{"s"}, {"ns"}, {"p", "pe"}, {"np", "po"}, {"l", "nge"}, {"ge", "nl"}, {"le", "ng"}, {"g", "nle"},
}

// dtCCOf returns the condition code a Jcc/SETcc/CMOVcc mnemonic names.
func dtCCOf(m, prefix string) (uint8, bool) {
	s, ok := strings.CutPrefix(m, prefix)
	if !ok {
		return 0, false
	}
	for cc, names := range dtCCNames {
		for _, n := range names {
			if n == s {
				return uint8(cc), true
			}
		}
	}
	return 0, false
}

// opMnemonics lists the mnemonics the disassemblers may print for each Op
// (besides the Jcc/SETcc/CMOVcc families, checked by condition code). A
// trailing "*" matches any suffix.
var opMnemonics = map[Op][]string{
	OpADD: {"add"}, OpOR: {"or"}, OpADC: {"adc"}, OpSBB: {"sbb"}, OpAND: {"and"}, OpSUB: {"sub"},
	OpXOR: {"xor"}, OpCMP: {"cmp"}, OpTEST: {"test"}, OpINC: {"inc"}, OpDEC: {"dec"}, OpNOT: {"not"},
	OpNEG: {"neg"}, OpMUL: {"mul"}, OpIMUL1: {"imul"}, OpIMUL: {"imul"}, OpDIV: {"div"}, OpIDIV: {"idiv"},
	OpROL: {"rol"}, OpROR: {"ror"}, OpRCL: {"rcl"}, OpRCR: {"rcr"}, OpSHL: {"shl", "sal"}, OpSHR: {"shr"},
	OpSAR: {"sar"}, OpSHLD: {"shld"}, OpSHRD: {"shrd"},
	OpMOV: {"mov", "movabs"}, OpMOVZX: {"movzx"}, OpMOVSX: {"movsx"}, OpMOVSXD: {"movsxd"}, OpLEA: {"lea"},
	OpXCHG: {"xchg"}, OpXADD: {"xadd"}, OpCMPXCHG: {"cmpxchg"}, OpCMPXCHG16B: {"cmpxchg16b", "cmpxchg8b"},
	OpBSWAP: {"bswap"}, OpCBW: {"cbw", "cwde", "cdqe"}, OpCWD: {"cwd", "cdq", "cqo"},
	OpXLAT: {"xlat", "xlatb"}, OpMOVSeg: {"mov"}, OpMOVFromSeg: {"mov"}, OpMOVNTI: {"movnti"},
	OpBT: {"bt"}, OpBTS: {"bts"}, OpBTR: {"btr"}, OpBTC: {"btc"}, OpBSF: {"bsf"}, OpBSR: {"bsr"},
	OpTZCNT: {"tzcnt"}, OpLZCNT: {"lzcnt"}, OpPOPCNT: {"popcnt"},
	OpJMP: {"jmp"}, OpJMPInd: {"jmp"}, OpCALL: {"call"}, OpCALLInd: {"call"}, OpRET: {"ret"},
	OpRETF: {"retf", "lret", "retfq"}, OpJMPFar: {"ljmp"}, OpCALLFar: {"lcall"},
	OpLOOP: {"loop"}, OpLOOPE: {"loope", "loopz"}, OpLOOPNE: {"loopne", "loopnz"}, OpJRCXZ: {"jrcxz", "jecxz", "jcxz"},
	OpPUSH: {"push"}, OpPOP: {"pop"}, OpPUSHF: {"pushf", "pushfq", "pushfw", "pushfd"}, OpPOPF: {"popf", "popfq", "popfw", "popfd"},
	OpPUSHA: {"pusha", "pushal", "pushad", "pushaw"}, OpPOPA: {"popa", "popal", "popad", "popaw"},
	OpENTER: {"enter"}, OpLEAVE: {"leave"}, OpPUSHSeg: {"push"}, OpPOPSeg: {"pop"},
	OpMOVS: {"movs*"}, OpCMPS: {"cmps*"}, OpSTOS: {"stos*"}, OpLODS: {"lods*"}, OpSCAS: {"scas*"},
	OpINS: {"ins*"}, OpOUTS: {"outs*"},
	OpCLC: {"clc"}, OpSTC: {"stc"}, OpCMC: {"cmc"}, OpCLD: {"cld"}, OpSTD: {"std"}, OpCLI: {"cli"},
	OpSTI: {"sti"}, OpLAHF: {"lahf"}, OpSAHF: {"sahf"},
	OpNOP: {"nop", "prefetch*", "endbr64", "endbr32"}, OpPAUSE: {"pause"}, OpHLT: {"hlt"},
	OpCPUID: {"cpuid"}, OpRDTSC: {"rdtsc"}, OpRDTSCP: {"rdtscp"}, OpRDRAND: {"rdrand"}, OpRDSEED: {"rdseed"},
	OpIN: {"in"}, OpOUT: {"out"}, OpUD2: {"ud2"}, OpFENCE: {"lfence", "mfence", "sfence", "clflush", "clflushopt"},
	OpLGDT: {"lgdt"}, OpLIDT: {"lidt"}, OpSGDT: {"sgdt"}, OpSIDT: {"sidt"}, OpLTR: {"ltr"}, OpSTR: {"str"},
	OpLLDT: {"lldt"}, OpSLDT: {"sldt"}, OpLMSW: {"lmsw"}, OpSMSW: {"smsw"}, OpINVLPG: {"invlpg"},
	OpCLTS: {"clts"}, OpWBINVD: {"wbinvd", "invd"}, OpMOVToCR: {"mov"}, OpMOVFromCR: {"mov"},
	OpMOVToDR: {"mov"}, OpMOVFromDR: {"mov"}, OpRDMSR: {"rdmsr"}, OpWRMSR: {"wrmsr"}, OpSWAPGS: {"swapgs"},
	OpSYSCALL: {"syscall"}, OpSYSRET: {"sysret", "sysretq"}, OpINT: {"int"}, OpINT3: {"int3"},
	OpINT1: {"int1", "icebp"}, OpIRET: {"iret", "iretd", "iretq", "iretw"},
	OpANDN: {"andn"}, OpBEXTR: {"bextr"}, OpBLSR: {"blsr"}, OpBLSMSK: {"blsmsk"}, OpBLSI: {"blsi"},
	// SSE operations not listed here print their own name (mnemonicsOf).
	OpMOVD: {"movd", "movq"}, OpPEXTRD: {"pextrd", "pextrq"}, OpPINSRD: {"pinsrd", "pinsrq"},
	// The compares: x86asm says cmpsd_xmm, Capstone names the predicate (cmpltps).
	OpCMPPS: {"cmp*"}, OpCMPSS: {"cmp*"}, OpCMPPD: {"cmp*"}, OpCMPSD_X: {"cmp*"},
	OpFADD: {"fadd", "faddp", "fiadd"}, OpFMUL: {"fmul", "fmulp", "fimul"}, OpFCOM: {"fcom", "ficom"},
	OpFCOMP: {"fcomp", "ficomp"}, OpFSUB: {"fsub", "fsubp", "fisub"}, OpFSUBR: {"fsubr", "fsubrp", "fisubr"},
	OpFDIV: {"fdiv", "fdivp", "fidiv"}, OpFDIVR: {"fdivr", "fdivrp", "fidivr"},
	OpFLD: {"fld"}, OpFST: {"fst"}, OpFSTP: {"fstp", "fstpnce"}, OpFILD: {"fild"}, OpFIST: {"fist"}, OpFISTP: {"fistp"},
	OpFISTTP: {"fisttp"}, OpFBLD: {"fbld"}, OpFBSTP: {"fbstp"}, OpFLDENV: {"fldenv"}, OpFLDCW: {"fldcw"},
	OpFNSTENV: {"fnstenv"}, OpFNSTCW: {"fnstcw"}, OpFRSTOR: {"frstor"}, OpFNSAVE: {"fnsave"},
	OpFNSTSW: {"fnstsw"}, OpFXCH: {"fxch"}, OpFNOP: {"fnop", "feni8087_nop", "fdisi8087_nop", "fsetpm"}, OpFCHS: {"fchs"}, OpFABS: {"fabs"},
	OpFTST: {"ftst"}, OpFXAM: {"fxam"}, OpFLDConst: {"fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"},
	OpF2XM1: {"f2xm1"}, OpFYL2X: {"fyl2x"}, OpFPTAN: {"fptan"}, OpFPATAN: {"fpatan"}, OpFXTRACT: {"fxtract"},
	OpFPREM1: {"fprem1"}, OpFDECSTP: {"fdecstp"}, OpFINCSTP: {"fincstp"}, OpFPREM: {"fprem"},
	OpFYL2XP1: {"fyl2xp1"}, OpFSQRT: {"fsqrt"}, OpFSINCOS: {"fsincos"}, OpFRNDINT: {"frndint"},
	OpFSCALE: {"fscale"}, OpFSIN: {"fsin"}, OpFCOS: {"fcos"}, OpFCMOV: {"fcmov*"}, OpFUCOM: {"fucom"},
	OpFUCOMP: {"fucomp"}, OpFUCOMPP: {"fucompp"}, OpFCOMPP: {"fcompp"}, OpFNCLEX: {"fnclex"},
	OpFNINIT: {"fninit"}, OpFUCOMI: {"fucomi", "fucomip", "fucompi"}, OpFCOMI: {"fcomi", "fcomip", "fcompi"},
	OpFFREE: {"ffree", "ffreep"}, OpFWAIT: {"fwait", "wait"}, OpFXSAVE: {"fxsave", "fxsave64"},
	OpFXRSTOR: {"fxrstor", "fxrstor64"},
}

// x87MemSize returns the size word of an x87 memory operand ("" for the 80-bit
// types), and whether the instruction has one.
func x87MemSize(in *Inst) (string, bool) {
	if in.mod == 3 {
		return "", false
	}
	var t x87MemType
	switch in.op {
	case OpFADD, OpFMUL, OpFCOM, OpFCOMP, OpFSUB, OpFSUBR, OpFDIV, OpFDIVR:
		t = arithMemType[in.opcode&7]
	case OpFLD, OpFST, OpFSTP, OpFILD, OpFIST, OpFISTP, OpFISTTP, OpFBLD, OpFBSTP:
		t = loadStoreType(in)
	case OpFLDCW, OpFNSTCW, OpFNSTSW:
		return "word", true
	default:
		return "", false
	}
	return [memBCD + 1]string{memF32: "dword", memF64: "qword", memI16: "word", memI32: "dword", memI64: "qword"}[t], true
}

// mnemonicsOf returns the mnemonics the disassemblers may print for op: its
// opMnemonics entry, or else its own name (the SSE operations).
func mnemonicsOf(op Op) []string {
	if ms, ok := opMnemonics[op]; ok {
		return ms
	}
	if op == OpInvalid || op >= numOps {
		return nil
	}
	return []string{op.String()}
}

// mnemonicClass is the set of mnemonics of every Op (trailing "*" kept).
var mnemonicClass = func() map[string]bool {
	m := map[string]bool{}
	for op := range numOps {
		for _, s := range mnemonicsOf(op) {
			m[s] = true
		}
	}
	return m
}()

// implementsMnemonic reports whether m belongs to the class of some Op.
func implementsMnemonic(m string) bool {
	if mnemonicClass[m] {
		return true
	}
	for _, p := range []string{"j", "set", "cmov"} {
		if _, ok := dtCCOf(m, p); ok {
			return true
		}
	}
	for _, p := range []string{"movs", "cmps", "stos", "lods", "scas", "ins", "outs", "prefetch"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// mnemonicMatches reports whether m is a mnemonic for op.
func mnemonicMatches(op Op, m string) bool {
	for _, s := range mnemonicsOf(op) {
		if p, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(m, p) || s == m {
			return true
		}
	}
	return false
}

// sizeSuffix returns the operand size a string-instruction, CBW-family or
// PUSHF-family mnemonic implies, or 0 if it implies none.
func sizeSuffix(op Op, m string) uint8 {
	switch op {
	case OpMOVS, OpCMPS, OpSTOS, OpLODS, OpSCAS, OpINS, OpOUTS:
		return dtSizeLetters[m[len(m)-1]]
	case OpCBW, OpCWD:
		return map[string]uint8{"cbw": 2, "cwde": 4, "cdqe": 8, "cwd": 2, "cdq": 4, "cqo": 8}[m]
	case OpPUSHF, OpPOPF, OpIRET:
		if last := m[len(m)-1]; last != 'b' { // no byte forms
			return dtSizeLetters[last]
		}
	}
	return 0
}

// dtSizeLetters maps the size letter that ends a mnemonic to its operand size.
var dtSizeLetters = map[byte]uint8{'b': 1, 'w': 2, 'd': 4, 'q': 8}

var (
	dtReg64 = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
	dtReg32 = [16]string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
		"r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"}
	dtReg16 = [16]string{"ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
		"r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"}
	dtReg8 = [16]string{"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
		"r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"}
	dtReg8Legacy = [8]string{"al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"}
)

// dtGPRName returns the name of general register r at size, as disassemblers print it.
func dtGPRName(r, size uint8, legacy bool) string {
	switch size {
	case 1:
		if legacy && r < 8 {
			return dtReg8Legacy[r]
		}
		return dtReg8[r]
	case 2:
		return dtReg16[r]
	case 4:
		return dtReg32[r]
	}
	return dtReg64[r]
}

// operandTokens splits the operand text of a disassembled instruction into words.
func operandTokens(d *disasm.Inst) map[string]bool {
	_, ops, _ := strings.Cut(d.Text, d.Mnemonic)
	toks := map[string]bool{}
	for _, w := range strings.FieldsFunc(ops, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		toks[w] = true
	}
	return toks
}

// expectedRegs returns the general registers (named at their size) the
// instruction's text must show, for forms whose operands are registers of the
// operand size.
func expectedRegs(in *Inst) []string {
	l := in.legacy()
	switch in.op {
	case OpADD, OpOR, OpADC, OpSBB, OpAND, OpSUB, OpXOR, OpCMP, OpTEST, OpMOV, OpXCHG, OpXADD, OpCMPXCHG,
		OpIMUL, OpCMOV, OpBSF, OpBSR, OpTZCNT, OpLZCNT, OpPOPCNT, OpBT, OpBTS, OpBTR, OpBTC, OpSHLD, OpSHRD,
		OpINC, OpDEC, OpNOT, OpNEG, OpMUL, OpIMUL1, OpDIV, OpIDIV, OpROL, OpROR, OpRCL, OpRCR, OpSHL, OpSHR,
		OpSAR, OpPUSH, OpPOP, OpRDRAND, OpRDSEED, OpSETCC, OpBSWAP, OpJMPInd, OpCALLInd, OpIN, OpOUT,
		OpANDN, OpBEXTR, OpBLSR, OpBLSMSK, OpBLSI:
	default:
		return nil
	}
	var regs []string
	switch in.form {
	case formEG, formGE, formGEI, formGEIb, formEGIb, formEGCL:
		regs = append(regs, dtGPRName(in.reg, in.osz, l))
		if in.mod == 3 {
			regs = append(regs, dtGPRName(in.rm, in.osz, l))
		}
	case formEI, formEIb, formE, formEIbCount:
		if in.mod == 3 {
			regs = append(regs, dtGPRName(in.rm, in.osz, l))
		}
	case formReg, formRegI:
		regs = append(regs, dtGPRName(in.reg, in.osz, l))
	case formAI:
		regs = append(regs, dtGPRName(RAX, in.osz, l))
	}
	switch in.op {
	case OpANDN, OpBEXTR, OpBLSR, OpBLSMSK, OpBLSI:
		regs = append(regs, dtGPRName(in.vreg, in.osz, false))
	}
	if in.op == OpIN || in.op == OpOUT {
		regs = append(regs, dtGPRName(RAX, in.osz, l))
	}
	return regs
}

// expectedXMM returns the XMM registers the text of an SSE instruction must
// show: V (ModRM.reg) and, for a register operand, W (ModRM.rm), except where
// the instruction names a general register there or ModRM.reg selects the
// operation (the 66 0F 71-73 shift groups).
func expectedXMM(in *Inst) []string {
	if !in.form.isSSEForm() || in.form.isMMXForm() {
		return nil
	}
	v, w := true, in.mod == 3
	switch in.op {
	case OpMOVMSKPS, OpMOVMSKPD, OpPMOVMSKB, OpCVTSS2SI, OpCVTSD2SI, OpCVTTSS2SI, OpCVTTSD2SI:
		v = false
	case OpPEXTRW:
		v = v && in.opcode != 0x1C5
		w = w && in.opcode == 0x1C5
	case OpMOVD, OpPEXTRB, OpPEXTRD, OpEXTRACTPS, OpPINSRB, OpPINSRW, OpPINSRD, OpCVTSI2SS, OpCVTSI2SD,
		OpMOVQ2DQ, OpCVTPI2PS, OpCVTPI2PD:
		w = false
	}
	if in.opcode >= 0x171 && in.opcode <= 0x173 {
		v = false
	}
	var regs []string
	if v {
		regs = append(regs, fmt.Sprint("xmm", in.reg))
	}
	if w {
		regs = append(regs, fmt.Sprint("xmm", in.rm))
	}
	return regs
}

// diffStats counts the outcomes of the differential test.
type diffStats struct {
	samples, bothOK, ourErrBothReject, invalidBothReject, unimplemented int
	regsChecked, memChecked, ripChecked, targetsChecked, ccChecked      int
	xmmChecked                                                          int
	known                                                               []int
	unlisted                                                            map[string][]*disagreement
	unimplementedMn                                                     map[string]int
}

func newDiffStats() *diffStats {
	return &diffStats{known: make([]int, len(knownDisagreements)), unlisted: map[string][]*disagreement{},
		unimplementedMn: map[string]int{}}
}

// compareDecode decodes code with both decoders and returns the disagreement,
// if any. Outcomes without disagreement are counted in st (may be nil).
func compareDecode(code []byte, rip uint64, mode CodeSize, st *diffStats) *disagreement {
	in, err := safeDecode(code, rip, mode)
	dd, derr := disasm.DecodeMode(code, rip, modeBits[mode])
	d := &disagreement{code: code, rip: rip, mode: mode, in: in, err: err, d: dd}
	if st == nil {
		st = newDiffStats()
	}
	count := func(p *int) *disagreement {
		*p++
		return nil
	}
	if _, ok := err.(errDecodePanic); ok {
		d.kind = diffPanic
		return d
	}
	if err != nil {
		if derr != nil {
			return count(&st.ourErrBothReject)
		}
		d.kind = diffError
		return d
	}
	if in.op == OpInvalid {
		if derr != nil {
			return count(&st.invalidBothReject)
		}
		if implementsMnemonic(dd.Mnemonic) && implementedOpcode(in.opcode) {
			d.kind = diffOnlyThem
			return d
		}
		st.unimplemented++
		st.unimplementedMn[dd.Mnemonic]++
		return nil
	}
	if derr != nil {
		d.kind = diffOnlyUs
		return d
	}
	if int(in.len) != dd.Len {
		d.kind = diffLen
		return d
	}
	m := dd.Mnemonic
	if (m == "ret" || m == "jmp" || m == "call") && strings.Contains(dd.Text, " far") {
		m = map[string]string{"ret": "retf", "jmp": "ljmp", "call": "lcall"}[m] // x86asm: "ret far"
	}
	switch in.op {
	case OpJCC, OpSETCC, OpCMOV:
		prefix := map[Op]string{OpJCC: "j", OpSETCC: "set", OpCMOV: "cmov"}[in.op]
		cc, ok := dtCCOf(m, prefix)
		if !ok || in.op == OpJCC && (m == "jmp" || m == "jrcxz" || m == "jecxz") {
			d.kind = diffMnemonic
			return d
		}
		st.ccChecked++
		if cc != in.cc {
			d.kind, d.detail = diffCC, fmt.Sprintf("cc %d, theirs %d", in.cc, cc)
			return d
		}
	default:
		if !mnemonicMatches(in.op, m) {
			d.kind = diffMnemonic
			return d
		}
	}
	if s := sizeSuffix(in.op, m); s != 0 && s != in.osz {
		d.kind, d.detail = diffSize, fmt.Sprintf("osz %d, mnemonic says %d", in.osz, s)
		return d
	}
	if regs := expectedRegs(&in); regs != nil {
		st.regsChecked++
		toks := operandTokens(&dd)
		for _, r := range regs {
			if !toks[r] {
				d.kind, d.detail = diffRegs, fmt.Sprintf("expected register %s", r)
				return d
			}
		}
	}
	if regs := expectedXMM(&in); regs != nil {
		st.xmmChecked++
		toks := operandTokens(&dd)
		for _, r := range regs {
			if !toks[r] {
				d.kind, d.detail = diffRegs, fmt.Sprintf("expected register %s", r)
				return d
			}
		}
	}
	if want, ok := x87MemSize(&in); ok {
		// An x87 memory operand: its size word, or none wider (x86asm prints
		// a bare "ptr" for m80fp and m80bcd, Capstone xword or tbyte).
		st.memChecked++
		toks := operandTokens(&dd)
		if want != "" && !toks[want] || want == "" && (toks["word"] || toks["dword"] || toks["qword"]) {
			d.kind, d.detail = diffSize, fmt.Sprintf("expected an x87 %q memory operand", want)
			return d
		}
	}
	if in.mod != 3 && in.modrm && expectedRegs(&in) != nil {
		// A memory operand of the operand size: "<size> ptr [...]".
		want := [9]string{1: "byte", 2: "word", 4: "dword", 8: "qword"}[in.osz]
		if in.op == OpSETCC {
			want = "byte"
		}
		st.memChecked++
		if !operandTokens(&dd)[want] {
			d.kind, d.detail = diffSize, fmt.Sprintf("expected a %s memory operand", want)
			return d
		}
		if m, _ := d.modrmByte(); m>>6 == 0 && m&7 == 5 && mode == Code64 {
			// RIP-relative: in.disp is absolute; the text shows rip ± disp32
			// (x86asm: "rip+0xfffffff9", Capstone: "rip - 7").
			st.ripChecked++
			toks := operandTokens(&dd)
			off := int32(uint32(in.disp) - uint32(in.next))
			mag := int64(off)
			if mag < 0 {
				mag = -mag
			}
			offOK := off == 0 || toks[fmt.Sprintf("0x%x", mag)] || toks[fmt.Sprintf("0x%x", uint32(off))] ||
				toks[fmt.Sprint(mag)]
			if !toks["rip"] && !toks["eip"] || !offOK {
				d.kind, d.detail = diffTarget, fmt.Sprintf("RIP-relative %#x, offset %d", in.disp, off)
				return d
			}
		}
	}
	if in.form == formJb || in.form == formJz {
		st.targetsChecked++
		toks := operandTokens(&dd)
		// Outside 64-bit mode the target wraps at 4 GiB; disassemblers may
		// print the unwrapped 64-bit sum.
		wrapped := mode != Code64 && (toks[fmt.Sprintf("0x%x", in.imm|0xFFFFFFFF00000000)] || toks[fmt.Sprintf("0x%x", in.imm+1<<32)])
		if !toks[fmt.Sprintf("0x%x", in.imm)] && !toks[fmt.Sprint(in.imm)] && !wrapped { // Capstone: "jg 0"
			d.kind, d.detail = diffTarget, fmt.Sprintf("target %#x", in.imm)
			return d
		}
	}
	return count(&st.bothOK)
}

// implementedOpcode reports whether our tables define anything for opcode
// (map<<8 | byte); the disassembler's decoding of an opcode we leave empty
// (SSE MOVSD vs. string MOVSD, say) is just unimplemented.
func implementedOpcode(opcode uint16) bool {
	switch opcode >> 8 {
	case 1:
		e := &twoByte[opcode&0xFF]
		return e.op != OpInvalid || e.group != nil || e.repAlt != nil || e.sse != nil
	case 2:
		_, ok := vex0F38[byte(opcode)]
		return ok || threeByte38[opcode&0xFF].sse != nil
	case 3:
		return threeByte3A[opcode&0xFF].sse != nil
	}
	e := &oneByte[opcode&0xFF]
	return e.op != OpInvalid || e.group != nil || e.repAlt != nil
}

// implementedOpcodes lists opcodes (with 0F escape) our tables define.
var implementedOpcodes = func() (ops [][]byte) {
	for b := range 256 {
		if implementedOpcode(uint16(b)) {
			ops = append(ops, []byte{byte(b)})
		}
		if implementedOpcode(0x100 | uint16(b)) {
			ops = append(ops, []byte{0x0F, byte(b)})
		}
		if threeByte38[b].sse != nil {
			ops = append(ops, []byte{0x0F, 0x38, byte(b)})
		}
		if threeByte3A[b].sse != nil {
			ops = append(ops, []byte{0x0F, 0x3A, byte(b)})
		}
	}
	return
}()

var legacyPrefixBytes = []byte{0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65}

// genBiased fills buf (15 bytes) with prefixes, an implemented opcode and
// random ModRM, SIB, displacement and immediate bytes.
func genBiased(r *rand.Rand, buf []byte) {
	r.Read(buf)
	i := 0
	if r.Intn(16) == 0 {
		// VEX: mostly the BMI1 encodings (map 0F38, L = 0, pp = 0).
		if r.Intn(4) == 0 {
			buf[i] = legacyPrefixBytes[r.Intn(len(legacyPrefixBytes))]
			i++
		}
		buf[i] = 0xC4
		if r.Intn(4) != 0 {
			buf[i+1] = buf[i+1]&0xE0 | 2
			buf[i+2] &^= 7
			buf[i+3] = [3]byte{0xF2, 0xF3, 0xF7}[r.Intn(3)]
		}
		return
	}
	if r.Intn(10) == 0 {
		buf[i] = 0x40 | byte(r.Intn(16)) // REX that a legacy prefix cancels
		i++
	}
	for n := r.Intn(6) - 2; n > 0; n-- {
		buf[i] = legacyPrefixBytes[r.Intn(len(legacyPrefixBytes))]
		i++
	}
	if r.Intn(2) == 0 {
		buf[i] = 0x40 | byte(r.Intn(16))
		i++
	}
	op := implementedOpcodes[r.Intn(len(implementedOpcodes))]
	if len(op) > 1 && r.Intn(2) == 0 {
		// A mandatory prefix (66, F3 or F2) for the SSE maps, then REX.
		buf[i] = [3]byte{0x66, 0xF3, 0xF2}[r.Intn(3)]
		i++
		if r.Intn(2) == 0 {
			buf[i] = 0x40 | byte(r.Intn(16))
			i++
		}
	}
	i += copy(buf[i:], op)
	if r.Intn(3) == 0 {
		buf[i] |= 0xC0 // register form
	}
}

// runDifferential runs n random and n biased samples of code of size mode.
func runDifferential(t *testing.T, n int, mode CodeSize) *diffStats {
	st := newDiffStats()
	r := rand.New(rand.NewSource(20240601))
	buf := make([]byte, maxInstLen)
	for i := 0; i < 2*n; i++ {
		code := buf
		if i < n {
			r.Read(buf)
			if i%4 == 0 {
				code = buf[:1+r.Intn(len(buf))] // often truncated
			}
		} else {
			genBiased(r, buf)
		}
		rip := uint64(0x400000 + r.Intn(1<<20))
		if r.Intn(4) == 0 && mode == Code64 {
			rip = 0xffffffff80000000 + uint64(r.Intn(1<<20))
		}
		st.samples++
		d := compareDecode(code, rip, mode, st)
		if d == nil {
			// Self-consistency: every proper prefix of an instruction we
			// decode is truncated.
			if i >= n {
				if in, err := DecodeMode(buf, rip, mode); err == nil && in.op != OpInvalid {
					for k := 0; k < int(in.len); k++ {
						if _, err := safeDecode(buf[:k], rip, mode); !errors.Is(err, errNeedMore) {
							t.Errorf("% x: first %d bytes: error %v, want errNeedMore", buf[:in.len], k, err)
							break
						}
					}
				}
			}
			continue
		}
		d.code = append([]byte(nil), code...)
		if k := matchKnown(d); k >= 0 {
			st.known[k]++
			continue
		}
		key := d.key()
		if len(st.unlisted[key]) < 2 {
			st.unlisted[key] = append(st.unlisted[key], d)
		} else {
			st.unlisted[key] = append(st.unlisted[key], nil)
		}
	}
	return st
}

func TestDecodeDifferential(t *testing.T) { testDifferential(t, Code64, 200000) }

// TestDecodeDifferential32 is the differential in 32-bit code (protected and
// compatibility mode): no REX, C4/C5 LES and LDS unless VEX, the
// instructions 64-bit mode lacks.
func TestDecodeDifferential32(t *testing.T) { testDifferential(t, Code32, 100000) }

// testDifferential runs the differential in code of size mode with n random
// and n biased samples (a tenth with -short, FTVM_DECODE_SAMPLES to soak)
// and reports every unlisted disagreement.
func testDifferential(t *testing.T, mode CodeSize, n int) {
	if testing.Short() {
		n /= 10
	}
	if v, err := strconv.Atoi(os.Getenv("FTVM_DECODE_SAMPLES")); err == nil && v > 0 {
		n = v // a longer soak: FTVM_DECODE_SAMPLES=5000000 go test -run DecodeDiff ./cpu
	}
	st := runDifferential(t, n, mode)
	t.Logf("backend %s, %d-bit code: %d samples (%d random, %d biased)", disasm.Backend, modeBits[mode], st.samples, n, n)
	t.Logf("  agree, both decode:                     %d", st.bothOK)
	t.Logf("    checked: registers %d, XMM registers %d, memory operand sizes %d, RIP-relative %d, branch targets %d, "+
		"conditions %d", st.regsChecked, st.xmmChecked, st.memChecked, st.ripChecked, st.targetsChecked, st.ccChecked)
	t.Logf("  agree, we say #UD and they reject:       %d", st.invalidBothReject)
	t.Logf("  agree, both reject (truncated/too long): %d", st.ourErrBothReject)
	t.Logf("  unimplemented by us (#UD), they decode:  %d", st.unimplemented)
	var mns []string
	for m := range st.unimplementedMn {
		mns = append(mns, m)
	}
	sort.Slice(mns, func(i, j int) bool { return st.unimplementedMn[mns[i]] > st.unimplementedMn[mns[j]] })
	if len(mns) > 25 {
		mns = mns[:25]
	}
	var sb strings.Builder
	for _, m := range mns {
		fmt.Fprintf(&sb, " %s:%d", m, st.unimplementedMn[m])
	}
	t.Logf("  most frequent unimplemented:%s", sb.String())
	total := 0
	for i, c := range st.known {
		total += c
		if c > 0 {
			t.Logf("  known disagreement %-40q %6d", knownDisagreements[i].name, c)
		}
	}
	t.Logf("  known disagreements total:               %d", total)
	var unseen []string
	for i, k := range knownDisagreements {
		if st.known[i] == 0 && (k.backend == "" || k.backend == disasm.Backend) && k.applies(mode) {
			unseen = append(unseen, k.name)
		}
	}
	if len(unseen) > 0 {
		t.Logf("  known disagreements not seen this run:   %q", unseen)
	}
	var keys []string
	unlisted := 0
	for k, ds := range st.unlisted {
		keys = append(keys, k)
		unlisted += len(ds)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ds := st.unlisted[k]
		t.Errorf("unlisted disagreement (%d): %s", len(ds), k)
		for _, d := range ds {
			if d != nil {
				t.Logf("    %v", d)
			}
		}
	}
	t.Logf("  unlisted disagreements:                  %d", unlisted)
}

// FuzzDecode checks a single input against the disassembler; the seed corpus
// is the table test's encodings.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(dtHex(f, tc.code), uint64(0x1000))
	}
	f.Fuzz(func(t *testing.T, code []byte, rip uint64) {
		if len(code) > maxInstLen+1 {
			code = code[:maxInstLen+1]
		}
		d := compareDecode(code, rip, Code64, nil)
		if d == nil {
			return
		}
		if matchKnown(d) < 0 {
			t.Errorf("unlisted disagreement: %v", d)
		}
	})
}
