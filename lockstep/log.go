// Package lockstep makes execution exact to repeat: positions, the event log
// and its format, the recorder that takes host inputs and logs them, the
// replayer that feeds them back at the same positions, and the divergence
// checks that prove both sides executed the same instructions.
package lockstep

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The log format (ARCHITECTURE.md §6), one for files and for the stream to a
// backup:
//
//	header:  magic "FTVMLOG\x00" (8 bytes), version (uint16 LE),
//	         header length n (uint32 LE), n bytes of JSON (Header),
//	         CRC-32C of the JSON (uint32 LE)
//	record:  position (uint64 LE), kind (uint8), payload length m
//	         (uint32 LE), m bytes of payload, CRC-32C of the 13 + m bytes
//	         before it (uint32 LE)
//
// Positions never decrease. A reader stops at the first bad checksum,
// truncated frame, unknown version or kind, or backwards position, with an
// error naming the byte offset of the frame.

// Magic opens every log.
const Magic = "FTVMLOG\x00"

// Version is the log format version this package writes (2: the end
// record's RAM digest skips zero pages). Logs of version 1, whose end record
// holds the SHA-256 of the whole RAM, are read too.
const Version = 2

// oldestVersion is the oldest log format version this package reads.
const oldestVersion = 1

// Limits that bound what a reader will allocate for a corrupt log.
const (
	maxHeader  = 1 << 20
	MaxPayload = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Kind is the type of a log record.
type Kind uint8

// Record kinds.
const (
	KindFrame    Kind = iota + 1 // a received network frame: dev, frame
	KindDiskDone                 // a disk completion: dev, request id, [data]
	KindConsole                  // console input bytes
	KindClock                    // clock re-anchor: skip flag, guest ns
	KindRandom                   // an RDRAND/RDSEED value: ok flag, value
	KindDigest                   // CPU state digest and output hash
	KindEnd                      // end of the run: exit status, final digest
	KindSync                     // no record precedes this position that was not sent (streams)
	kindLimit
)

var kindNames = [...]string{KindFrame: "frame", KindDiskDone: "disk-done", KindConsole: "console",
	KindClock: "clock", KindRandom: "random", KindDigest: "digest", KindEnd: "end", KindSync: "sync"}

func (k Kind) String() string {
	if k > 0 && k < kindLimit {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Header describes the run a log belongs to: everything needed to rebuild
// the same machine, so replay needs no flags repeated.
type Header struct {
	// Image is the guest image's path when recorded and ImageSHA256 its
	// digest; replay refuses a different image.
	Image       string `json:"image"`
	ImageSHA256 string `json:"image_sha256"`
	RAM         uint64 `json:"ram"`
	Clock       string `json:"clock"` // "host" or "virtual"
	Seed        uint64 `json:"seed"`
	Cmdline     string `json:"cmdline,omitempty"`
	// Initrd is a Linux guest's initial ramdisk path when recorded and
	// InitrdSHA256 its digest; replay refuses a different one.
	Initrd       string `json:"initrd,omitempty"`
	InitrdSHA256 string `json:"initrd_sha256,omitempty"`
	// RTCBase is the RTC's wall-clock time (Unix seconds) at guest time 0.
	RTCBase int64 `json:"rtc_base,omitempty"`
	// Disks lists the block devices; a replicated disk's reads are served
	// by the replaying side's own identical copy, so the log holds only
	// completion positions for it, never read data.
	Disks []DiskInfo `json:"disks,omitempty"`
	// Net says whether the guest has a NIC; Nets lists the NICs by MAC.
	Net  bool     `json:"net,omitempty"`
	Nets []string `json:"nets,omitempty"`
	// Snapshot, when set, names the snapshot the run starts from and its
	// digest; positions continue from the snapshot's.
	Snapshot       string `json:"snapshot,omitempty"`
	SnapshotSHA256 string `json:"snapshot_sha256,omitempty"`
	// DigestInterval is the number of instructions between CPU digests.
	DigestInterval uint64 `json:"digest_interval"`
}

// DiskInfo describes one block device of a recorded run.
type DiskInfo struct {
	Path       string `json:"path"`
	SHA256     string `json:"sha256,omitempty"` // at the start of the run
	ReadOnly   bool   `json:"read_only,omitempty"`
	Replicated bool   `json:"replicated"`
}

// FileSHA256 returns the hex SHA-256 of a file (a disk image's digest in
// DiskInfo).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Record is one log record.
type Record struct {
	Pos     uint64
	Kind    Kind
	Payload []byte
}

// recordOverhead is the framing size of a record: position, kind, length,
// checksum.
const recordOverhead = 8 + 1 + 4 + 4

// Writer writes a log.
type Writer struct {
	w       *bufio.Writer
	last    uint64
	started bool
	buf     []byte
	// Bytes counts what was written, by kind (index) and in all (0).
	Bytes [kindLimit]uint64
	Count [kindLimit]uint64
}

// NewWriter writes the header to w and returns a writer for the records.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	body, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var pre [14]byte
	copy(pre[:], Magic)
	binary.LittleEndian.PutUint16(pre[8:], Version)
	binary.LittleEndian.PutUint32(pre[10:], uint32(len(body)))
	bw.Write(pre[:])
	bw.Write(body)
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.Checksum(body, crcTable))
	if _, err := bw.Write(crc[:]); err != nil {
		return nil, err
	}
	lw := &Writer{w: bw}
	lw.Bytes[0] = uint64(len(pre) + len(body) + 4)
	return lw, nil
}

// Append writes one record. Positions must not decrease.
func (w *Writer) Append(r Record) error {
	if w.started && r.Pos < w.last {
		return fmt.Errorf("log: record at position %d after %d", r.Pos, w.last)
	}
	if r.Kind == 0 || r.Kind >= kindLimit {
		return fmt.Errorf("log: bad record kind %d", r.Kind)
	}
	if len(r.Payload) > MaxPayload {
		return fmt.Errorf("log: %s record of %d bytes exceeds %d", r.Kind, len(r.Payload), MaxPayload)
	}
	w.started, w.last = true, r.Pos
	b := AppendFrame(w.buf[:0], r)
	w.buf = b
	n := uint64(len(b))
	w.Bytes[0] += n
	w.Bytes[r.Kind] += n
	w.Count[r.Kind]++
	_, err := w.w.Write(b)
	return err
}

// AppendFrame appends the framed encoding of r (position, kind, length,
// payload, checksum) to dst.
func AppendFrame(dst []byte, r Record) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, r.Pos)
	dst = append(dst, byte(r.Kind))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Payload)))
	dst = append(dst, r.Payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// ParseFrame decodes one framed record that fills b exactly (as a stream
// message carries it).
func ParseFrame(b []byte) (Record, error) {
	if len(b) < recordOverhead {
		return Record{}, fmt.Errorf("log: frame of %d bytes is too short", len(b))
	}
	m := binary.LittleEndian.Uint32(b[9:])
	if uint64(m)+recordOverhead != uint64(len(b)) {
		return Record{}, fmt.Errorf("log: frame length %d does not match its %d bytes", m, len(b))
	}
	if crc32.Checksum(b[:len(b)-4], crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return Record{}, fmt.Errorf("log: frame checksum mismatch")
	}
	k := Kind(b[8])
	if k == 0 || k >= kindLimit {
		return Record{}, fmt.Errorf("log: unknown record kind %d", b[8])
	}
	return Record{Pos: binary.LittleEndian.Uint64(b), Kind: k, Payload: b[13 : len(b)-4]}, nil
}

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// FormatError is a malformed log: it names the byte offset of the frame
// (or header) where reading stopped.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("log: at byte offset %d: %s", e.Offset, e.Msg)
}

// ErrEnd is returned by Reader.Next after the last record of a complete log.
var ErrEnd = io.EOF

// Reader reads a log.
type Reader struct {
	r      *bufio.Reader
	off    int64
	last   uint64
	seen   bool
	Header Header
	// Version is the log's format version (oldestVersion..Version).
	Version uint16
}

// NewReader reads and checks the header.
func NewReader(r io.Reader) (*Reader, error) {
	lr := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	var pre [14]byte
	if err := lr.full(pre[:]); err != nil {
		return nil, lr.errf(0, "truncated header: %v", err)
	}
	if string(pre[:8]) != Magic {
		return nil, lr.errf(0, "not an ftvm log (bad magic %q)", pre[:8])
	}
	lr.Version = binary.LittleEndian.Uint16(pre[8:])
	if lr.Version < oldestVersion || lr.Version > Version {
		return nil, lr.errf(8, "unknown log version %d (this ftvm reads versions %d to %d)", lr.Version, oldestVersion, Version)
	}
	n := binary.LittleEndian.Uint32(pre[10:])
	if n > maxHeader {
		return nil, lr.errf(10, "header length %d is too large", n)
	}
	body := make([]byte, n+4)
	if err := lr.full(body); err != nil {
		return nil, lr.errf(14, "truncated header: %v", err)
	}
	if crc32.Checksum(body[:n], crcTable) != binary.LittleEndian.Uint32(body[n:]) {
		return nil, lr.errf(14, "header checksum mismatch")
	}
	if err := json.Unmarshal(body[:n], &lr.Header); err != nil {
		return nil, lr.errf(14, "bad header: %v", err)
	}
	return lr, nil
}

func (r *Reader) full(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	return err
}

func (r *Reader) errf(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Offset returns the byte offset of the next record.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next record, ErrEnd after the last one, or a
// *FormatError.
func (r *Reader) Next() (Record, error) {
	start := r.off
	var h [13]byte
	n, err := io.ReadFull(r.r, h[:])
	r.off += int64(n)
	if err == io.EOF {
		return Record{}, ErrEnd
	}
	if err != nil {
		return Record{}, r.errf(start, "truncated record frame")
	}
	pos := binary.LittleEndian.Uint64(h[0:])
	kind := Kind(h[8])
	m := binary.LittleEndian.Uint32(h[9:])
	if m > MaxPayload {
		return Record{}, r.errf(start, "record length %d exceeds %d", m, MaxPayload)
	}
	body := make([]byte, m+4)
	if err := r.full(body); err != nil {
		return Record{}, r.errf(start, "truncated record (%s, %d bytes)", kind, m)
	}
	crc := crc32.Update(crc32.Checksum(h[:], crcTable), crcTable, body[:m])
	if crc != binary.LittleEndian.Uint32(body[m:]) {
		return Record{}, r.errf(start, "record checksum mismatch")
	}
	if kind == 0 || kind >= kindLimit {
		return Record{}, r.errf(start+8, "unknown record kind %d", uint8(kind))
	}
	if r.seen && pos < r.last {
		return Record{}, r.errf(start, "position %d goes backwards (previous record at %d)", pos, r.last)
	}
	r.seen, r.last = true, pos
	return Record{Pos: pos, Kind: kind, Payload: body[:m]}, nil
}

// IsFormatError reports whether err is a malformed-log error.
func IsFormatError(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe)
}

// crc32c returns the CRC-32C (Castagnoli) of b, the checksum of log frames.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crcTable) }
