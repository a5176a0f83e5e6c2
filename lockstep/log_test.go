package lockstep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func sampleLog(t testing.TB) ([]byte, []Record) {
	t.Helper()
	recs := []Record{
		{Pos: 10, Kind: KindConsole, Payload: []byte("hi")},
		{Pos: 10, Kind: KindClock, Payload: make([]byte, 9)},
		{Pos: 500, Kind: KindFrame, Payload: append([]byte{0}, bytes.Repeat([]byte{0xAB}, 60)...)},
		{Pos: 1 << 40, Kind: KindRandom, Payload: make([]byte, 9)},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Image: "x.elf", RAM: 64 << 20, Clock: "virtual"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), recs
}

func readAll(b []byte) ([]Record, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, ErrEnd) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

func TestLogRoundTrip(t *testing.T) {
	b, recs := sampleLog(t)
	got, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("read %d records, wrote %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].Pos != recs[i].Pos || got[i].Kind != recs[i].Kind || !bytes.Equal(got[i].Payload, recs[i].Payload) {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], recs[i])
		}
	}
}

func TestWriterRefusesBackwardsPosition(t *testing.T) {
	w, _ := NewWriter(&bytes.Buffer{}, Header{})
	w.Append(Record{Pos: 5, Kind: KindConsole})
	if err := w.Append(Record{Pos: 4, Kind: KindConsole}); err == nil {
		t.Error("position going backwards was accepted")
	}
	if err := w.Append(Record{Pos: 6, Kind: 0}); err == nil {
		t.Error("kind 0 was accepted")
	}
}

// Every corruption is reported as a FormatError naming the offset of the
// frame where reading stopped; nothing is guessed.
func TestLogCorruption(t *testing.T) {
	good, _ := sampleLog(t)
	hdrLen := 14 + int(binary.LittleEndian.Uint32(good[10:])) + 4
	rec2 := hdrLen + (13 + 2 + 4) // start of the second record
	tests := []struct {
		name    string
		mutate  func(b []byte) []byte
		offset  int64
		phrase  string
		headerr bool
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, 0, "magic", true},
		{"unknown version", func(b []byte) []byte { b[8] = 9; return b }, 8, "version", true},
		{"header checksum", func(b []byte) []byte { b[20] ^= 1; return b }, 14, "checksum", true},
		{"truncated header", func(b []byte) []byte { return b[:20] }, 14, "truncated", true},
		{"payload bit flip", func(b []byte) []byte { b[rec2+14] ^= 0x40; return b }, int64(rec2), "checksum", false},
		{"truncated record", func(b []byte) []byte { return b[:rec2+5] }, int64(rec2), "truncated", false},
		{"truncated payload", func(b []byte) []byte { return b[:len(b)-3] }, -1, "truncated", false},
		{"huge length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[rec2+9:], 1<<30); return b }, int64(rec2), "exceeds", false},
		{"position backwards", func(b []byte) []byte {
			// Rewrite record 2's position below record 1's and fix its CRC.
			binary.LittleEndian.PutUint64(b[rec2:], 3)
			n := 13 + 9
			binary.LittleEndian.PutUint32(b[rec2+n:], crc(b[rec2:rec2+n]))
			return b
		}, int64(rec2), "backwards", false},
		{"unknown kind", func(b []byte) []byte {
			b[rec2+8] = 99
			n := 13 + 9
			binary.LittleEndian.PutUint32(b[rec2+n:], crc(b[rec2:rec2+n]))
			return b
		}, int64(rec2 + 8), "unknown record kind", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte(nil), good...))
			_, err := readAll(b)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a FormatError", err)
			}
			if tc.offset >= 0 && fe.Offset != tc.offset {
				t.Errorf("offset %d, want %d (%v)", fe.Offset, tc.offset, err)
			}
			if !strings.Contains(err.Error(), tc.phrase) || !strings.Contains(err.Error(), "offset") {
				t.Errorf("error %q lacks %q or the offset", err, tc.phrase)
			}
		})
	}
}

func crc(b []byte) uint32 { return crc32c(b) }

// FuzzReader: arbitrary bytes never panic the reader, and every error is a
// FormatError.
func FuzzReader(f *testing.F) {
	good, _ := sampleLog(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := readAll(b)
		if err != nil && !IsFormatError(err) {
			t.Fatalf("non-format error %v", err)
		}
	})
}
