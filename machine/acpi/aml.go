// Package acpi encodes the ACPI tables a board hands its guest: the root
// pointer, the extended system description table, a hardware-reduced fixed
// ACPI description table, the interrupt controller table and a differentiated
// system description table whose AML is built with this package's small
// encoder (ACPI 6.5, chapters 5 and 20).
package acpi

import (
	"encoding/binary"
	"fmt"
)

// Term is an encoded AML term or data object.
type Term []byte

// AML opcodes and prefixes used by the encoder (ACPI 6.5 §20.2).
const (
	opZero        = 0x00
	opOne         = 0x01
	opName        = 0x08
	opBytePrefix  = 0x0A
	opWordPrefix  = 0x0B
	opDWordPrefix = 0x0C
	opString      = 0x0D
	opQWordPrefix = 0x0E
	opScope       = 0x10
	opBuffer      = 0x11
	opPackage     = 0x12
	opExtPrefix   = 0x5B
	opDevice      = 0x82 // after opExtPrefix
	opOnes        = 0xFF
	rootChar      = '\\'
	dualNamePfx   = 0x2E
	multiNamePfx  = 0x2F
)

// Integer returns the shortest encoding of the integer v.
func Integer(v uint64) Term {
	switch {
	case v == 0:
		return Term{opZero}
	case v == 1:
		return Term{opOne}
	case v == ^uint64(0):
		return Term{opOnes}
	case v <= 0xFF:
		return Term{opBytePrefix, byte(v)}
	case v <= 0xFFFF:
		return binary.LittleEndian.AppendUint16(Term{opWordPrefix}, uint16(v))
	case v <= 0xFFFFFFFF:
		return binary.LittleEndian.AppendUint32(Term{opDWordPrefix}, uint32(v))
	}
	return binary.LittleEndian.AppendUint64(Term{opQWordPrefix}, v)
}

// String returns an AML string constant. It panics if s holds a NUL or a
// byte above 0x7F, which AML strings cannot.
func String(s string) Term {
	t := Term{opString}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] > 0x7F {
			panic(fmt.Sprintf("acpi: string %q: byte %#x is not allowed", s, s[i]))
		}
	}
	return append(append(t, s...), 0)
}

// EISAID returns the compressed EISA identifier of id (three capital letters
// and four hexadecimal digits, "PNP0501") as a DWORD constant. It panics on
// a malformed id.
func EISAID(id string) Term {
	if len(id) != 7 {
		panic(fmt.Sprintf("acpi: EISA id %q is not 7 characters", id))
	}
	var v uint32
	for i := range 3 {
		c := id[i]
		if c < 'A' || c > 'Z' {
			panic(fmt.Sprintf("acpi: EISA id %q: %q is not a capital letter", id, c))
		}
		v = v<<5 | uint32(c-'@')
	}
	for i := 3; i < 7; i++ {
		var d byte
		switch c := id[i]; {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			panic(fmt.Sprintf("acpi: EISA id %q: %q is not a hexadecimal digit", id, c))
		}
		v = v<<4 | uint32(d)
	}
	// The 32 bits are stored most significant byte first.
	return binary.BigEndian.AppendUint32(Term{opDWordPrefix}, v)
}

// pkgLength returns the PkgLength encoding for a package whose contents
// (after the PkgLength) are n bytes long: the length counts itself.
func pkgLength(n int) []byte {
	switch {
	case n+1 < 1<<6:
		return []byte{byte(n + 1)}
	case n+2 < 1<<12:
		n += 2
		return []byte{1<<6 | byte(n&0xF), byte(n >> 4)}
	case n+3 < 1<<20:
		n += 3
		return []byte{2<<6 | byte(n&0xF), byte(n >> 4), byte(n >> 12)}
	}
	n += 4
	if n >= 1<<28 {
		panic("acpi: package longer than 256 MiB")
	}
	return []byte{3<<6 | byte(n&0xF), byte(n >> 4), byte(n >> 12), byte(n >> 20)}
}

// nameSeg checks a four-character name segment (padded with '_' when
// shorter) and returns it.
func nameSeg(s string) []byte {
	if len(s) == 0 || len(s) > 4 {
		panic(fmt.Sprintf("acpi: name segment %q is not 1-4 characters", s))
	}
	seg := []byte("____")
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			panic(fmt.Sprintf("acpi: name segment %q: %q is not allowed", s, c))
		}
		seg[i] = c
	}
	return seg
}

// nameString encodes an AML name path: an optional leading '\' (the root)
// and segments separated by '.', such as `\_SB.COM1` or `_HID`.
func nameString(path string) []byte {
	var b []byte
	if len(path) > 0 && path[0] == rootChar {
		b = append(b, rootChar)
		path = path[1:]
		if path == "" {
			return append(b, 0) // NullName after the root: the root itself
		}
	}
	var segs [][]byte
	for start := 0; start <= len(path); {
		end := start
		for end < len(path) && path[end] != '.' {
			end++
		}
		segs = append(segs, nameSeg(path[start:end]))
		start = end + 1
	}
	switch len(segs) {
	case 1:
	case 2:
		b = append(b, dualNamePfx)
	default:
		if len(segs) > 255 {
			panic("acpi: name path has more than 255 segments")
		}
		b = append(b, multiNamePfx, byte(len(segs)))
	}
	for _, s := range segs {
		b = append(b, s...)
	}
	return b
}

// withPkgLength returns op followed by the PkgLength of body and body.
func withPkgLength(op []byte, body []byte) Term {
	t := append(Term(nil), op...)
	t = append(t, pkgLength(len(body))...)
	return append(t, body...)
}

// join concatenates terms.
func join(terms []Term) []byte {
	var b []byte
	for _, t := range terms {
		b = append(b, t...)
	}
	return b
}

// Name declares the named object name with value (DefName).
func Name(name string, value Term) Term {
	return append(append(Term{opName}, nameString(name)...), value...)
}

// Scope opens the namespace scope path and declares terms in it.
func Scope(path string, terms ...Term) Term {
	return withPkgLength([]byte{opScope}, append(nameString(path), join(terms)...))
}

// Device declares the device object name with terms (its _HID, _CRS, ...)
// in it.
func Device(name string, terms ...Term) Term {
	return withPkgLength([]byte{opExtPrefix, opDevice}, append(nameString(name), join(terms)...))
}

// Package returns a package of the given elements.
func Package(elems ...Term) Term {
	if len(elems) > 255 {
		panic("acpi: package of more than 255 elements")
	}
	return withPkgLength([]byte{opPackage}, append([]byte{byte(len(elems))}, join(elems)...))
}

// Buffer returns a buffer object holding data.
func Buffer(data []byte) Term {
	return withPkgLength([]byte{opBuffer}, append(Integer(uint64(len(data))), data...))
}
