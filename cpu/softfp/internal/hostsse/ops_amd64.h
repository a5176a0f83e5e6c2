// Macros of hostsse_amd64.s (written by gen.go). OP(name, insn) defines
// name(x0, x1 *[2]uint64, csr uint32) (mxcsr uint32, rflags uint64): it
// loads XMM0 and RDX from x0, XMM1 and RCX from x1 and MXCSR from csr, runs
// insn (which must not touch AX, BX or R8), stores XMM0 back to x0 and
// returns the MXCSR and RFLAGS insn left, the caller's MXCSR restored. OPGX
// also stores RDX to x0[0], for the forms that write a general register.

#define PRE \
	MOVQ x0+0(FP), AX; \
	MOVQ x1+8(FP), BX; \
	STMXCSR save-8(SP); \
	MOVL csr+16(FP), CX; \
	MOVL CX, tmp-4(SP); \
	MOVOU (AX), X0; \
	MOVOU (BX), X1; \
	MOVQ (BX), CX; \
	MOVQ (AX), DX; \
	LDMXCSR tmp-4(SP)

#define POST \
	STMXCSR tmp-4(SP); \
	PUSHFQ; \
	POPQ R8; \
	LDMXCSR save-8(SP); \
	MOVOU X0, (AX)

#define RESULT \
	MOVL tmp-4(SP), CX; \
	MOVL CX, mxcsr+24(FP); \
	MOVQ R8, rflags+32(FP); \
	RET

#define OP(name, insn) TEXT name(SB), NOSPLIT, $8-40; PRE; insn; POST; RESULT
#define OPGX(name, insn) TEXT name(SB), NOSPLIT, $8-40; PRE; insn; POST; MOVQ DX, (AX); RESULT
