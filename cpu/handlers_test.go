package cpu

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// coveragePrefixes are the prefix combinations tried before every opcode:
// the operand-size, REX.W, repeat and lock prefixes that select a different
// instruction, operand size or binder.
var coveragePrefixes = [][]byte{
	nil, {0x66}, {0x48}, {0x66, 0x48}, {0xF3}, {0xF3, 0x48}, {0xF2}, {0xF2, 0x48}, {0xF0}, {0xF0, 0x48}, {0x67},
}

// coverageMaps are the opcode escapes tried: one-byte, 0F, 0F 38, 0F 3A,
// and VEX (C5 with each pp and L, C4 with each map, W, pp and L).
func coverageMaps() [][]byte {
	maps := [][]byte{nil, {0x0F}, {0x0F, 0x38}, {0x0F, 0x3A}}
	for pp := range byte(4) {
		for _, l := range []byte{0, 4} {
			maps = append(maps, []byte{0xC5, 0xF8 | l | pp})
			for mmmmm := byte(1); mmmmm <= 3; mmmmm++ {
				for _, w := range []byte{0, 0x80} {
					maps = append(maps, []byte{0xC4, 0xE0 | mmmmm, 0x78 | w | l | pp})
				}
			}
		}
	}
	return maps
}

// deliberateUD lists the encodings the decoder accepts but no handler
// implements, each raising #UD on purpose, keyed as coverageKey writes
// them. Anything else the decoder accepts must have a handler.
var deliberateUD = map[string]string{}

// coverageKey names an encoding: prefixes, escape and opcode bytes, the
// ModRM.reg field for an instruction with ModRM, and whether ModRM names a
// register or memory.
func coverageKey(pfx, esc []byte, op byte, in *Inst) string {
	var b strings.Builder
	for _, p := range pfx {
		fmt.Fprintf(&b, "%02X ", p)
	}
	for _, p := range esc {
		fmt.Fprintf(&b, "%02X ", p)
	}
	fmt.Fprintf(&b, "%02X", op)
	if in.modrm {
		fmt.Fprintf(&b, " /%d", in.reg&7)
		if in.mod == 3 {
			fmt.Fprintf(&b, " reg")
		} else {
			fmt.Fprintf(&b, " mem")
		}
	}
	return b.String()
}

// TestEveryDecodedOpcodeHasHandler decodes every opcode of every map with
// each ModRM register/memory form and the usual prefixes, and checks that
// every encoding the decoder accepts (an Op other than OpInvalid) binds to
// a handler rather than the #UD fallback, unless deliberateUD lists it. A
// family that adds decoder entries without registering their binder (or
// whose binder refuses a form) fails here.
func TestEveryDecodedOpcodeHasHandler(t *testing.T) {
	missing := map[string]Op{}
	seenUD := map[string]bool{}
	decoded := 0
	var code [32]byte
	for _, pfx := range coveragePrefixes {
		for _, esc := range coverageMaps() {
			if len(pfx) > 0 && esc != nil && esc[0]&0xFE == 0xC4 {
				continue // legacy prefixes before VEX make it invalid
			}
			for op := 0; op < 256; op++ {
				for mod := 0; mod < 2; mod++ {
					for r := 0; r < 64; r++ {
						modrm := byte(r)
						if mod == 1 {
							modrm |= 0xC0
						}
						n := copy(code[:], pfx)
						n += copy(code[n:], esc)
						code[n] = byte(op)
						code[n+1] = modrm
						clear(code[n+2:])
						var in Inst
						if err := decode(&in, code[:], 0x1000, Code64); err != nil || in.op == OpInvalid {
							continue
						}
						decoded++
						key := coverageKey(pfx, esc, byte(op), &in)
						if !isUD(bind(&in)) {
							continue
						}
						if _, ok := deliberateUD[key]; ok {
							seenUD[key] = true
							continue
						}
						missing[key] = in.op
					}
				}
			}
		}
	}
	if decoded == 0 {
		t.Fatal("nothing decoded")
	}
	keys := make([]string, 0, len(missing))
	for k := range missing {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Errorf("%s (%v): decoded but bound to #UD; register its binder or list it in deliberateUD", k, missing[k])
	}
	for k := range deliberateUD {
		if !seenUD[k] {
			t.Errorf("deliberateUD lists %s, which no longer decodes to a #UD-bound instruction", k)
		}
	}
}

// isUD reports whether h is the fallback for an encoding without a handler.
func isUD(h handler) bool {
	return reflect.ValueOf(h).Pointer() == reflect.ValueOf(udHandler).Pointer()
}
