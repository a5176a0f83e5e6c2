package lockstep

import (
	"encoding/binary"
	"fmt"

	"ftvm/devices"
)

// Payload encodings of the record kinds. All integers little-endian.
//
//	frame:     dev (1), frame bytes
//	disk-done: dev (1), request id (8), [read data: only for a disk that is
//	           not replicated]
//	console:   bytes
//	clock:     flags (1: bit 0 = skip), guest ns (8)
//	random:    ok (1), value (8)
//	digest:    16 general registers, RIP, RFLAGS, system-state hash, output
//	           hash, output byte count (8 each)
//	end:       exit status (1), digest (168), RAM digest (32: ramDigest, the
//	           SHA-256 of the RAM's size and its non-zero pages)

// encodeInput turns a host input into a record. dropData removes the data of
// a disk completion (replicated disks).
func encodeInput(in devices.Input, dropData bool) (Record, error) {
	var p []byte
	var k Kind
	switch in.Kind {
	case devices.InputFrame:
		k = KindFrame
		p = append([]byte{in.Dev}, in.Data...)
	case devices.InputDiskDone:
		k = KindDiskDone
		p = binary.LittleEndian.AppendUint64([]byte{in.Dev}, in.Arg)
		if !dropData {
			p = append(p, in.Data...)
		}
	case devices.InputConsole:
		k = KindConsole
		p = append([]byte(nil), in.Data...)
	case devices.InputClock:
		k = KindClock
		p = binary.LittleEndian.AppendUint64([]byte{in.Dev}, in.Arg)
	default:
		return Record{}, fmt.Errorf("input kind %d has no record", in.Kind)
	}
	return Record{Pos: in.Pos, Kind: k, Payload: p}, nil
}

// decodeInput turns an input record back into the host input.
func decodeInput(r Record) (devices.Input, error) {
	p := r.Payload
	in := devices.Input{Pos: r.Pos}
	short := func(n int) error {
		if len(p) < n {
			return fmt.Errorf("%s record at position %d: payload of %d bytes, want at least %d", r.Kind, r.Pos, len(p), n)
		}
		return nil
	}
	switch r.Kind {
	case KindFrame:
		if err := short(1); err != nil {
			return in, err
		}
		in.Kind, in.Dev, in.Data = devices.InputFrame, p[0], p[1:]
	case KindDiskDone:
		if err := short(9); err != nil {
			return in, err
		}
		in.Kind, in.Dev, in.Arg = devices.InputDiskDone, p[0], binary.LittleEndian.Uint64(p[1:])
		if len(p) > 9 {
			in.Data = p[9:]
		}
	case KindConsole:
		in.Kind, in.Data = devices.InputConsole, p
	case KindClock:
		if err := short(9); err != nil {
			return in, err
		}
		in.Kind, in.Dev, in.Arg = devices.InputClock, p[0], binary.LittleEndian.Uint64(p[1:])
	default:
		return in, fmt.Errorf("%s record is not an input", r.Kind)
	}
	return in, nil
}

// Digest is a divergence check at a position: the general registers, RIP
// and RFLAGS in full (so a mismatch can name them), a hash of the rest of
// the CPU state, and the rolling hash of outputs.
type Digest struct {
	R       [16]uint64
	RIP     uint64
	RFLAGS  uint64
	Sys     uint64 // hash of the system registers and the position
	Output  uint64
	Outputs uint64 // number of output bytes hashed
}

const digestSize = 21 * 8

func (d Digest) encode() []byte {
	b := make([]byte, 0, digestSize)
	for _, v := range d.R {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	for _, v := range []uint64{d.RIP, d.RFLAGS, d.Sys, d.Output, d.Outputs} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func decodeDigestBytes(p []byte) Digest {
	var d Digest
	for i := range d.R {
		d.R[i] = binary.LittleEndian.Uint64(p[i*8:])
	}
	p = p[16*8:]
	d.RIP = binary.LittleEndian.Uint64(p)
	d.RFLAGS = binary.LittleEndian.Uint64(p[8:])
	d.Sys = binary.LittleEndian.Uint64(p[16:])
	d.Output = binary.LittleEndian.Uint64(p[24:])
	d.Outputs = binary.LittleEndian.Uint64(p[32:])
	return d
}

func decodeDigest(r Record) (Digest, error) {
	if len(r.Payload) != digestSize {
		return Digest{}, fmt.Errorf("digest record at position %d: %d bytes, want %d", r.Pos, len(r.Payload), digestSize)
	}
	return decodeDigestBytes(r.Payload), nil
}

// End is the last record of a complete run.
type End struct {
	Status int
	Digest Digest
	RAM    [32]byte
}

func (e End) encode() []byte {
	b := append([]byte{byte(e.Status)}, e.Digest.encode()...)
	return append(b, e.RAM[:]...)
}

func decodeEnd(r Record) (End, error) {
	if len(r.Payload) != 1+digestSize+32 {
		return End{}, fmt.Errorf("end record at position %d: %d bytes, want %d", r.Pos, len(r.Payload), 1+digestSize+32)
	}
	var e End
	e.Status, e.Digest = int(r.Payload[0]), decodeDigestBytes(r.Payload[1:])
	copy(e.RAM[:], r.Payload[1+digestSize:])
	return e, nil
}
