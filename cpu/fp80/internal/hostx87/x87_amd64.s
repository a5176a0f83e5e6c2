#include "textflag.h"

// PRE: DI = frame; FNINIT; FLDCW cw; FLD b; FLD a (ST0 = a, ST1 = b).
#define PRE MOVQ f+0(FP), DI; BYTE $0xDB; BYTE $0xE3; BYTE $0xD9; BYTE $0x6F; BYTE $0x00; BYTE $0xDB; BYTE $0x6F; BYTE $0x18; BYTE $0xDB; BYTE $0x6F; BYTE $0x08
// POST: FNSTSW sw; FSTP out0; FSTP out1; FSTP out2; FNINIT.
#define POST BYTE $0xDD; BYTE $0x7F; BYTE $0x60; BYTE $0xDB; BYTE $0x7F; BYTE $0x28; BYTE $0xDB; BYTE $0x7F; BYTE $0x38; BYTE $0xDB; BYTE $0x7F; BYTE $0x68; BYTE $0xDB; BYTE $0xE3; RET
// OP(name, insn) defines name(f *Frame): PRE, insn, POST.
#define OP(name, insn) TEXT name(SB), NOSPLIT, $0-8; PRE; insn; POST

OP(·Add, BYTE $0xD8; BYTE $0xC1)                                       // FADD ST0, ST1
OP(·Sub, BYTE $0xD8; BYTE $0xE1)                                       // FSUB ST0, ST1
OP(·Mul, BYTE $0xD8; BYTE $0xC9)                                       // FMUL ST0, ST1
OP(·Div, BYTE $0xD8; BYTE $0xF1)                                       // FDIV ST0, ST1
OP(·Sqrt, BYTE $0xD9; BYTE $0xFA)                                      // FSQRT
OP(·RndInt, BYTE $0xD9; BYTE $0xFC)                                    // FRNDINT
OP(·Scale, BYTE $0xD9; BYTE $0xFD)                                     // FSCALE
OP(·Prem, BYTE $0xD9; BYTE $0xF8)                                      // FPREM
OP(·Prem1, BYTE $0xD9; BYTE $0xF5)                                     // FPREM1
OP(·Xtract, BYTE $0xD9; BYTE $0xF4)                                    // FXTRACT
OP(·Com, BYTE $0xD8; BYTE $0xD1)                                       // FCOM ST1
OP(·Ucom, BYTE $0xDD; BYTE $0xE1)                                      // FUCOM ST1
OP(·StF32, BYTE $0xD9; BYTE $0x5F; BYTE $0x48)                         // FSTP m32fp
OP(·StF64, BYTE $0xDD; BYTE $0x5F; BYTE $0x48)                         // FSTP m64fp
OP(·StI16, BYTE $0xDF; BYTE $0x5F; BYTE $0x48)                         // FISTP m16int
OP(·StI32, BYTE $0xDB; BYTE $0x5F; BYTE $0x48)                         // FISTP m32int
OP(·StI64, BYTE $0xDF; BYTE $0x7F; BYTE $0x48)                         // FISTP m64int
OP(·SttI64, BYTE $0xDD; BYTE $0x4F; BYTE $0x48)                        // FISTTP m64int
OP(·StBCD, BYTE $0xDF; BYTE $0x77; BYTE $0x48)                         // FBSTP m80bcd
OP(·LdF32, BYTE $0xDD; BYTE $0xD8; BYTE $0xD9; BYTE $0x47; BYTE $0x48) // FSTP ST0; FLD m32fp
OP(·LdF64, BYTE $0xDD; BYTE $0xD8; BYTE $0xDD; BYTE $0x47; BYTE $0x48) // FSTP ST0; FLD m64fp
OP(·LdBCD, BYTE $0xDD; BYTE $0xD8; BYTE $0xDF; BYTE $0x67; BYTE $0x48) // FSTP ST0; FBLD m80bcd
OP(·F2xm1, BYTE $0xD9; BYTE $0xF0)                                     // F2XM1
OP(·Fyl2x, BYTE $0xD9; BYTE $0xF1)                                     // FYL2X
OP(·Fyl2xp1, BYTE $0xD9; BYTE $0xF9)                                   // FYL2XP1
OP(·Fptan, BYTE $0xD9; BYTE $0xF2)                                     // FPTAN
OP(·Fpatan, BYTE $0xD9; BYTE $0xF3)                                    // FPATAN
OP(·Fsin, BYTE $0xD9; BYTE $0xFE)                                      // FSIN
OP(·Fcos, BYTE $0xD9; BYTE $0xFF)                                      // FCOS
OP(·Fsincos, BYTE $0xD9; BYTE $0xFB)                                   // FSINCOS
