package cpu

import (
	"encoding/binary"
	"errors"
)

// maxInstLen is the architectural limit on an instruction's length.
const maxInstLen = 15

// Decoding errors.
var (
	// errNeedMore means the bytes given end inside the instruction.
	errNeedMore = errors.New("truncated instruction")
	// errTooLong means the instruction is longer than 15 bytes (#GP).
	errTooLong = errors.New("instruction longer than 15 bytes")
)

// Decode decodes one 64-bit-mode instruction from code, located at linear
// address rip. An encoding the interpreter does not implement decodes
// successfully as an instruction whose Op is OpInvalid (it raises #UD when
// executed); an error means code ends inside the instruction or the
// instruction is too long.
func Decode(code []byte, rip uint64) (Inst, error) { return DecodeMode(code, rip, Code64) }

// DecodeMode is Decode for code of the given code size: 64-bit mode, or a
// 32- or 16-bit code segment (protected or compatibility mode), where rip
// is the offset in the code segment.
func DecodeMode(code []byte, rip uint64, m CodeSize) (Inst, error) {
	var in Inst
	err := decode(&in, code, rip, m)
	return in, err
}

// decode fills in from code of code size m. It does not bind a handler.
func decode(in *Inst, code []byte, rip uint64, m CodeSize) error {
	*in = Inst{rip: rip, base: regZero, index: regZero, osz: 4, asz: 8}
	table := &oneByte
	if m != Code64 {
		// Default operand and address size of the segment; 66 and 67
		// select the other one. The default data segment is DS.
		table = &legacyOneByte
		in.asz, in.seg = 4, DS
		if m == Code16 {
			in.osz, in.asz = 2, 2
		}
	}
	var rex byte
	i := 0
	get := func() (byte, error) {
		if i >= len(code) {
			if i >= maxInstLen {
				return 0, errTooLong
			}
			return 0, errNeedMore
		}
		if i >= maxInstLen {
			return 0, errTooLong
		}
		b := code[i]
		i++
		return b, nil
	}

	// Legacy prefixes, then REX (which counts only directly before the opcode).
	var b byte
	var err error
	for {
		if b, err = get(); err != nil {
			return err
		}
		switch b {
		case 0xF0:
			in.prefix |= pfxLock
			rex = 0
			continue
		case 0xF2:
			in.prefix = in.prefix&^pfxRep | pfxRepne
			rex = 0
			continue
		case 0xF3:
			in.prefix = in.prefix&^pfxRepne | pfxRep
			rex = 0
			continue
		case 0x66:
			in.prefix |= pfxOpsize
			rex = 0
			continue
		case 0x67:
			in.prefix |= pfxAddr
			rex = 0
			continue
		case 0x26, 0x2E, 0x36, 0x3E:
			if m != Code64 {
				in.seg, in.prefix = b>>3&3, in.prefix|pfxSegOverride
				continue
			}
			// Ignored in 64-bit mode, but they do cancel an earlier FS/GS.
			in.seg = 0
			rex = 0
			continue
		case 0x64:
			in.seg, in.prefix = FS, in.prefix|pfxSegOverride
			rex = 0
			continue
		case 0x65:
			in.seg, in.prefix = GS, in.prefix|pfxSegOverride
			rex = 0
			continue
		}
		if b&0xF0 == 0x40 && m == Code64 {
			rex = b
			continue
		}
		break
	}
	if rex != 0 {
		in.prefix |= pfxRex
		if rex&8 != 0 {
			in.prefix |= pfxRexW
		}
	}
	if in.prefix&pfxAddr != 0 {
		in.asz = 4
		if m == Code32 {
			in.asz = 2
		}
	}

	// Opcode.
	// Outside 64-bit mode C4 and C5 are LES and LDS unless the next byte's
	// top bits are 11 (ModRM.mod = 3, a register operand LES and LDS do not
	// have): then they are VEX prefixes (SDM Vol. 2, 2.3.5).
	if b == 0xC4 || b == 0xC5 {
		if m != Code64 && i >= len(code) {
			return errNeedMore
		}
		if m == Code64 || code[i]&0xC0 == 0xC0 {
			return decodeVEX(in, code, i, b, rip, m)
		}
	}
	ent := &table[b]
	in.opcode = uint16(b)
	if b == 0x0F {
		if b, err = get(); err != nil {
			return err
		}
		ent = &twoByte[b]
		in.opcode = 0x100 | uint16(b)
		if b == 0x38 || b == 0x3A {
			m := b
			if b, err = get(); err != nil {
				return err
			}
			if m == 0x38 {
				ent, in.opcode = &threeByte38[b], 0x200|uint16(b)
			} else {
				ent, in.opcode = &threeByte3A[b], 0x300|uint16(b)
			}
		}
	}
	if ent.repAlt != nil && in.prefix&pfxRep != 0 {
		ent = ent.repAlt
	}
	if ent.sse != nil {
		ent = &ent.sse[mandatoryPrefix(in.prefix)]
	}
	flags := ent.flags

	// ModRM, with groups resolved.
	needModRM := ent.group != nil
	switch ent.form {
	case formEG, formGE, formEI, formEIb, formE, formGEI, formGEIb, formEGIb, formEGCL, formCR, formEIbCount,
		formVW, formWV, formVWIb, formPQ, formQP, formPQIb:
		needModRM = true
	}
	if needModRM {
		in.modrm = true
		mb, err := get()
		if err != nil {
			return err
		}
		in.mod = mb >> 6
		in.reg = mb>>3&7 | rex<<1&8
		in.rm = mb & 7
		regField := mb >> 3 & 7
		if ent.group != nil {
			if in.mod == 3 && ent.regGroup != nil {
				ent = &ent.regGroup[regField][in.rm]
			} else {
				ent = &ent.group[regField]
			}
			flags |= ent.flags
		}
		if in.mod == 3 || ent.form == formCR {
			in.mod = 3
			in.rm |= rex << 3 & 8
		} else if err := decodeMem(in, code, &i, rex, m); err != nil {
			return err
		}
	}
	in.op = ent.op
	in.form = ent.form

	// Operand size.
	switch {
	case in.form.isSSEForm():
		if in.prefix&pfxRexW != 0 {
			in.osz = 8
		}
	case flags&efByte != 0:
		in.osz = 1
	case m != Code64:
		if in.prefix&pfxOpsize != 0 {
			in.osz = 6 - in.osz // 66 selects the size the segment does not
		}
	case flags&efForce64 != 0:
		in.osz = 8
	case in.prefix&pfxRexW != 0:
		in.osz = 8
	case in.prefix&pfxOpsize != 0:
		in.osz = 2
	case flags&efDef64 != 0:
		in.osz = 8
	}
	if in.opcode&0x1F8 == 0x1C8 && in.osz == 2 {
		in.osz = 4 // BSWAP with 66 is undefined; treat as 32-bit
	}
	if in.osz == 8 && (in.op == OpIN || in.op == OpOUT || in.op == OpINS || in.op == OpOUTS) {
		in.osz = 4 // port I/O is at most 32 bits wide; REX.W is ignored
	}
	if in.op == OpARPL {
		in.osz = 2 // ARPL is 16 bits whatever the operand size
	}
	if in.op == OpMOVNTI && in.osz == 2 {
		in.osz = 4 // no 16-bit MOVNTI: 66 is ignored
	}

	// Register in the opcode byte.
	switch in.form {
	case formReg, formRegI:
		in.reg = byte(in.opcode)&7 | rex<<3&8
	}
	if m != Code64 && in.opcode < 0x50 && in.form == formReg {
		// INC/DEC r (40-4F outside 64-bit mode) are FF /0 and /1 with a
		// register operand.
		in.form, in.modrm, in.mod, in.rm = formE, true, 3, in.reg
	}
	if in.opcode == 0x90 && in.reg == 0 && in.op == OpXCHG {
		in.op = OpNOP // 90 is NOP, not XCHG eAX, eAX (which would zero RAX's top half)
	}
	if rex == 0 {
		// Without REX, byte registers 4-7 are AH, CH, DH, BH. Set for every
		// operand size: byte sources of MOVZX/MOVSX need it too, and
		// getReg/setReg look at it only for byte accesses.
		in.prefix |= pfxLegacyByteRegs
	}
	switch in.op {
	case OpJCC, OpSETCC, OpCMOV:
		in.cc = uint8(in.opcode & 0xF)
	}

	// Immediates.
	imm := func(n int) (uint64, error) {
		if i+n > len(code) {
			if i+n > maxInstLen {
				return 0, errTooLong
			}
			return 0, errNeedMore
		}
		if i+n > maxInstLen {
			return 0, errTooLong
		}
		p := code[i:]
		i += n
		switch n {
		case 1:
			return uint64(int64(int8(p[0]))), nil
		case 2:
			return uint64(int64(int16(binary.LittleEndian.Uint16(p)))), nil
		case 4:
			return uint64(int64(int32(binary.LittleEndian.Uint32(p)))), nil
		}
		return binary.LittleEndian.Uint64(p), nil
	}
	immz := 4
	if in.osz < 4 {
		immz = int(in.osz)
	}
	switch in.form {
	case formEI, formAI, formGEI, formIz:
		in.imm, err = imm(immz)
	case formEIb, formGEIb, formIb, formJb, formEGIb:
		in.imm, err = imm(1)
	case formEIbCount, formVWIb, formPQIb:
		in.imm, err = imm(1)
		in.imm &= 0xFF
	case formIw:
		in.imm, err = imm(2)
		in.imm &= 0xFFFF
	case formIwIb:
		if in.imm, err = imm(2); err == nil {
			in.imm &= 0xFFFF
			var lvl uint64
			lvl, err = imm(1)
			in.imm2 = uint8(lvl)
		}
	case formJz:
		in.imm, err = imm(min(int(in.osz), 4)) // rel16 with a 16-bit operand size outside 64-bit mode
	case formRegI:
		n := int(in.osz)
		if n == 8 {
			in.imm, err = imm(8)
		} else {
			in.imm, err = imm(n)
		}
	case formMoffs:
		in.disp, err = imm(int(in.asz))
		in.disp &= sizeMask(in.asz)
		in.mod = 0
	case formPtr:
		// ptr16:16 or ptr16:32: the offset in imm, the selector in imm2w.
		if in.imm, err = imm(int(in.osz)); err == nil {
			in.imm &= sizeMask(in.osz)
			var sel uint64
			sel, err = imm(2)
			in.disp = sel & 0xFFFF
		}
	}
	if err != nil {
		return err
	}
	if in.form == formIb && (in.op == OpIN || in.op == OpOUT || in.op == OpINT) {
		in.imm &= 0xFF
	}
	in.len = uint8(i)
	in.next = rip + uint64(i)
	if in.form == formJb || in.form == formJz {
		in.imm += in.next
		if in.osz < 8 {
			in.imm &= sizeMask(in.osz)
		}
	}
	in.fixRIPRelative()
	if flags&efEnd != 0 {
		in.prefix |= pfxEndsBlock
	}

	// Encodings that are valid in the table but not in this form.
	switch {
	case flags&efMemOnly != 0 && in.mod == 3,
		flags&efRegOnly != 0 && in.mod != 3,
		in.prefix&pfxLock != 0 && (flags&efLockOK == 0 || in.mod == 3):
		in.op = OpInvalid
	case in.op == OpMOVFromSeg && in.reg&7 > GS, in.op == OpMOVSeg && (in.reg&7 > GS || in.reg&7 == CS):
		in.op = OpInvalid // no segment register 6 or 7; MOV CS is #UD
	case in.op == OpFENCE && in.opcode == 0x1AE && in.mod == 3 && in.prefix&(pfxOpsize|pfxRep|pfxRepne) != 0:
		in.op = OpInvalid // NP: with 66/F2/F3 these are TPAUSE, UMWAIT, UMONITOR, INCSSP...
	case (in.op == OpRDRAND || in.op == OpRDSEED) && in.prefix&(pfxRep|pfxRepne) != 0:
		in.op = OpInvalid // NFx: F3 0F C7 /7 is RDPID, the rest #UD
	case (in.op == OpLDMXCSR || in.op == OpSTMXCSR) && in.prefix&(pfxOpsize|pfxRep|pfxRepne) != 0:
		in.op = OpInvalid // NP
	case (in.op == OpSYSCALL || in.op == OpSYSRET || in.op == OpSWAPGS) && m != Code64:
		in.op = OpInvalid // only in 64-bit mode (SYSCALL and SYSRET: on Intel)
	case in.op == OpCMPXCHG16B && in.prefix&pfxRexW == 0:
		in.osz = 4 // CMPXCHG8B
	case in.opcode == 0x112 && in.op == OpMOVLPS && in.mod == 3:
		in.op = OpMOVHLPS // 0F 12 with a register source
	case in.opcode == 0x116 && in.op == OpMOVHPS && in.mod == 3:
		in.op = OpMOVLHPS
	}
	if in.op == OpInvalid {
		in.prefix |= pfxEndsBlock
	}
	return nil
}

// mandatoryPrefix returns the index into an SSE opcode's prefix variants
// (opEntry.sse): F2 or F3, whichever came last, before 66, before none (SDM
// Vol. 2 §2.1.2: 66 is ignored by instructions F2/F3 select).
func mandatoryPrefix(p prefixes) int {
	switch {
	case p&pfxRepne != 0:
		return mpF2
	case p&pfxRep != 0:
		return mpF3
	case p&pfxOpsize != 0:
		return mp66
	}
	return mpNone
}

// Decoder-internal prefix bits (beyond the encoded prefixes).
const (
	pfxLegacyByteRegs prefixes = 1 << 14 // byte registers 4-7 name AH-BH
	pfxEndsBlock      prefixes = 1 << 15 // the instruction ends a block
)

// regRIP marks a RIP-relative base while decoding.
const regRIP = numRegSlots

// decodeMem decodes the memory form of ModRM (with SIB and displacement),
// for 16-bit addresses by decodeMem16. Outside 64-bit mode there is no
// RIP-relative form, and a base of rBP or rSP makes SS the default segment.
func decodeMem(in *Inst, code []byte, i *int, rex byte, m CodeSize) error {
	if in.asz == 2 {
		return decodeMem16(in, code, i)
	}
	get := func(n int) (uint64, error) {
		if *i+n > len(code) {
			if *i+n > maxInstLen {
				return 0, errTooLong
			}
			return 0, errNeedMore
		}
		if *i+n > maxInstLen {
			return 0, errTooLong
		}
		p := code[*i:]
		*i += n
		switch n {
		case 1:
			return uint64(int64(int8(p[0]))), nil
		default:
			return uint64(int64(int32(binary.LittleEndian.Uint32(p)))), nil
		}
	}
	rm := in.rm
	var err error
	if rm == 4 {
		var sib uint64
		if sib, err = get(1); err != nil {
			return err
		}
		s := byte(sib)
		in.scale = s >> 6
		idx := s>>3&7 | rex<<2&8
		if idx != RSP {
			in.index = idx
		}
		base := s&7 | rex<<3&8
		if s&7 == 5 && in.mod == 0 {
			in.disp, err = get(4)
			return err
		}
		in.base = base
	} else if rm == 5 && in.mod == 0 {
		if m == Code64 {
			in.base = regRIP
		}
		in.disp, err = get(4)
		return err
	} else {
		in.base = rm | rex<<3&8
	}
	if m != Code64 && (in.base == RBP || in.base == RSP) && in.prefix&pfxSegOverride == 0 {
		in.seg = SS
	}
	switch in.mod {
	case 1:
		in.disp, err = get(1)
	case 2:
		in.disp, err = get(4)
	}
	return err
}

// modrm16 are the base and index registers of the 16-bit ModRM memory forms
// by r/m: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX.
var modrm16 = [8][2]uint8{
	{RBX, RSI}, {RBX, RDI}, {RBP, RSI}, {RBP, RDI},
	{RSI, regZero}, {RDI, regZero}, {RBP, regZero}, {RBX, regZero},
}

// decodeMem16 decodes the memory form of ModRM for 16-bit addresses (no
// SIB; mod 0 with r/m 6 is a 16-bit absolute displacement). A base of BP
// makes SS the default segment.
func decodeMem16(in *Inst, code []byte, i *int) error {
	n := 0
	switch {
	case in.mod == 0 && in.rm == 6:
		n = 2
	case in.mod == 1:
		n = 1
	case in.mod == 2:
		n = 2
	}
	if *i+n > len(code) {
		if *i+n > maxInstLen {
			return errTooLong
		}
		return errNeedMore
	}
	if *i+n > maxInstLen {
		return errTooLong
	}
	switch n {
	case 1:
		in.disp = uint64(int64(int8(code[*i])))
	case 2:
		in.disp = uint64(int64(int16(binary.LittleEndian.Uint16(code[*i:]))))
	}
	*i += n
	if in.mod == 0 && in.rm == 6 {
		return nil
	}
	in.base, in.index = modrm16[in.rm][0], modrm16[in.rm][1]
	if in.base == RBP && in.prefix&pfxSegOverride == 0 {
		in.seg = SS
	}
	return nil
}
