package machine

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"io"
	"time"

	"ftvm/mmu"
)

// A checkpoint is what changed in a machine since the previous one: the
// machine's state apart from RAM, and the RAM pages written since (found by
// the memory's dirty-page tracking), each encoded against the copy the
// receiver holds. The format:
//
//	magic "FTVMCKPT" (8), version (uint32 LE), sequence number (uint64 LE),
//	state length n (uint32 LE), n bytes of gob-encoded State (RAMSize, CPU,
//	clock, devices, console input) compressed with DEFLATE, page count k
//	(uint32 LE), then k pages,
//	each: page number (uint32 LE), encoding (uint8), and
//	  0 (zero page): nothing;
//	  1 (whole page): the 4096 bytes;
//	  2 (delta): run count r (uint16 LE), then r runs of offset (uint16 LE),
//	     length (uint16 LE) and the bytes at that offset; the rest of the
//	     page is as in the previous checkpoint;
//	then magic "END!".
//
// Pages written with no change are left out. A receiver applies a
// checkpoint only when it decoded the whole of it (ApplyCheckpoint).

const (
	ckptMagic   = "FTVMCKPT"
	ckptVersion = 2
)

// Page encodings in a checkpoint.
const (
	ckptZero  = 0
	ckptWhole = 1
	ckptDelta = 2
)

// CheckpointStats describes one checkpoint.
type CheckpointStats struct {
	Seq        uint64        // sequence number, from 1
	Position   uint64        // the guest's position
	Dirty      int           // pages the tracking reported written
	Unchanged  int           // dirty pages whose bytes did not change (left out)
	Zero       int           // pages sent as zero pages
	Delta      int           // pages sent as deltas
	Whole      int           // pages sent whole
	Bytes      int           // encoded size
	Pause      time.Duration // time the guest was stopped for the encoding
	StateBytes int           // bytes of CPU, clock and device state
}

// Sent returns the number of pages the checkpoint holds: those sent as zero
// pages, as deltas or whole.
func (s CheckpointStats) Sent() int { return s.Zero + s.Delta + s.Whole }

// Checkpointer takes the checkpoints of a machine. It keeps the RAM as of
// the last checkpoint (the receiver's copy), so a page is sent only when
// its bytes changed, and as a delta when that is shorter. It is used by the
// goroutine that runs the machine, between runs.
type Checkpointer struct {
	m      *Machine
	shadow []byte   // RAM as of the last checkpoint
	pages  []uint64 // scratch: the harvested page numbers
	zw     *flate.Writer
	meta   bytes.Buffer // scratch: the state, compressed
	seq    uint64
}

// NewCheckpointer starts tracking m's writes: the first checkpoint holds what
// changed from m's RAM now (the receiver starts from a snapshot taken at
// the same moment). The interpreter only: a KVM run writes RAM behind the
// tracking's back.
func NewCheckpointer(m *Machine) *Checkpointer {
	c := &Checkpointer{m: m, shadow: bytes.Clone(m.Mem.RAM)}
	m.Mem.StartDirtyTracking()
	return c
}

// Close stops the tracking.
func (c *Checkpointer) Close() { c.m.Mem.StopDirtyTracking() }

// Take appends the next checkpoint to dst. Call it between runs (the
// machine stopped at an instruction boundary).
func (c *Checkpointer) Take(dst []byte) ([]byte, CheckpointStats, error) {
	t0 := time.Now()
	st, err := c.m.state()
	if err != nil {
		return dst, CheckpointStats{}, err
	}
	meta := &c.meta
	meta.Reset()
	if c.zw == nil {
		c.zw, _ = flate.NewWriter(meta, flate.BestSpeed)
	}
	c.zw.Reset(meta)
	if err := gob.NewEncoder(c.zw).Encode(&st); err != nil {
		return dst, CheckpointStats{}, fmt.Errorf("checkpoint: %w", err)
	}
	if err := c.zw.Close(); err != nil {
		return dst, CheckpointStats{}, fmt.Errorf("checkpoint: %w", err)
	}
	c.seq++
	s := CheckpointStats{Seq: c.seq, Position: c.m.CPU.Position(), StateBytes: meta.Len()}
	start := len(dst)
	dst = append(dst, ckptMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, ckptVersion)
	dst = binary.LittleEndian.AppendUint64(dst, c.seq)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(meta.Len()))
	dst = append(dst, meta.Bytes()...)
	c.pages = c.m.Mem.HarvestDirty(c.pages[:0])
	s.Dirty = len(c.pages)
	countAt := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	for _, p := range c.pages {
		dst = appendPage(dst, c.m.Mem.RAM, c.shadow, p, &s)
	}
	binary.LittleEndian.PutUint32(dst[countAt:], uint32(s.Sent()))
	dst = append(dst, snapEnd...)
	s.Bytes = len(dst) - start
	s.Pause = time.Since(t0)
	return dst, s, nil
}

// appendPage appends page p of ram, encoded against the receiver's copy
// shadow (which it then updates), and counts it in s; it appends nothing
// when the page did not change.
func appendPage(dst, ram, shadow []byte, p uint64, s *CheckpointStats) []byte {
	off := p << mmu.PageShift
	cur, old := ram[off:off+mmu.PageSize], shadow[off:off+mmu.PageSize]
	if bytes.Equal(cur, old) {
		s.Unchanged++
		return dst
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p))
	switch {
	case IsZero(cur):
		dst = append(dst, ckptZero)
		s.Zero++
	default:
		var ok bool
		if dst, ok = appendDelta(dst, cur, old); ok {
			s.Delta++
		} else {
			dst = append(dst, ckptWhole)
			dst = append(dst, cur...)
			s.Whole++
		}
	}
	copy(old, cur)
	return dst
}

// deltaLimit is the size above which a page is sent whole rather than as a
// delta.
const deltaLimit = mmu.PageSize - 64

// appendDelta appends the encoding tag and the runs of 8-byte words in which
// cur differs from old, and reports false (dst unchanged) when that would
// not be shorter than deltaLimit.
func appendDelta(dst, cur, old []byte) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, ckptDelta, 0, 0)
	runs := 0
	for i := 0; i < mmu.PageSize; {
		if binary.LittleEndian.Uint64(cur[i:]) == binary.LittleEndian.Uint64(old[i:]) {
			i += 8
			continue
		}
		j := i + 8
		// A run goes on over equal words when the next run would start
		// within 8 bytes: a run header costs 4.
		for j < mmu.PageSize && (binary.LittleEndian.Uint64(cur[j:]) != binary.LittleEndian.Uint64(old[j:]) ||
			j+8 < mmu.PageSize && binary.LittleEndian.Uint64(cur[j+8:]) != binary.LittleEndian.Uint64(old[j+8:])) {
			j += 8
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(i))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(j-i))
		dst = append(dst, cur[i:j]...)
		runs++
		if len(dst)-start > deltaLimit {
			return dst[:start], false
		}
		i = j
	}
	binary.LittleEndian.PutUint16(dst[start+1:], uint16(runs))
	return dst, true
}

// ckptPage is one decoded page of a checkpoint.
type ckptPage struct {
	page uint64
	enc  byte
	data []byte // the whole page, or the delta's runs
}

// ApplyCheckpoint loads a checkpoint taken by a Checkpointer of a machine
// built like m, whose RAM m holds as of the previous checkpoint (or of the
// snapshot taken when the Checkpointer started). The whole checkpoint is
// decoded and checked before anything changes; it returns the checkpoint's
// sequence number.
func (m *Machine) ApplyCheckpoint(b []byte) (uint64, error) {
	bad := func(format string, args ...any) (uint64, error) {
		return 0, fmt.Errorf("%w: checkpoint: %s", ErrSnapshotFormat, fmt.Sprintf(format, args...))
	}
	if len(b) < 24 || string(b[:8]) != ckptMagic {
		return bad("not a checkpoint")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != ckptVersion {
		return bad("version %d, this ftvm reads %d", v, ckptVersion)
	}
	seq := binary.LittleEndian.Uint64(b[12:])
	n := uint64(binary.LittleEndian.Uint32(b[20:]))
	b = b[24:]
	if n > maxSnapMeta || n > uint64(len(b)) {
		return bad("state of %d bytes", n)
	}
	var st State
	zr := flate.NewReader(bytes.NewReader(b[:n]))
	if err := gob.NewDecoder(io.LimitReader(zr, maxSnapMeta)).Decode(&st); err != nil {
		return bad("state: %v", err)
	}
	if st.RAMSize != uint64(len(m.Mem.RAM)) {
		return 0, fmt.Errorf("checkpoint has %d bytes of RAM, this machine %d", st.RAMSize, len(m.Mem.RAM))
	}
	pages, rest, err := decodePages(b[n:], uint64(len(m.Mem.RAM))>>mmu.PageShift)
	if err != nil {
		return bad("%v", err)
	}
	if string(rest) != snapEnd {
		return bad("missing end marker")
	}
	applyPages(m.Mem.RAM, pages, func(p uint64) { m.Mem.NoteWrite(p<<mmu.PageShift, mmu.PageSize) })
	return seq, m.restoreState(&st)
}

// decodePages decodes and checks a page list (count uint32 LE, then the
// pages) of a RAM of npages pages at the start of b, and returns the pages
// and the rest of b.
func decodePages(b []byte, npages uint64) ([]ckptPage, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("truncated page count")
	}
	count := uint64(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if count > npages {
		return nil, nil, fmt.Errorf("%d pages, RAM has %d", count, npages)
	}
	pages := make([]ckptPage, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(b) < 5 {
			return nil, nil, fmt.Errorf("page %d truncated", i)
		}
		pg := ckptPage{page: uint64(binary.LittleEndian.Uint32(b)), enc: b[4]}
		b = b[5:]
		if pg.page >= npages {
			return nil, nil, fmt.Errorf("page %#x beyond RAM", pg.page)
		}
		switch pg.enc {
		case ckptZero:
		case ckptWhole:
			if len(b) < mmu.PageSize {
				return nil, nil, fmt.Errorf("page %#x truncated", pg.page)
			}
			pg.data, b = b[:mmu.PageSize], b[mmu.PageSize:]
		case ckptDelta:
			size, err := deltaSize(b)
			if err != nil {
				return nil, nil, fmt.Errorf("page %#x: %v", pg.page, err)
			}
			pg.data, b = b[:size], b[size:]
		default:
			return nil, nil, fmt.Errorf("page %#x: encoding %d", pg.page, pg.enc)
		}
		pages = append(pages, pg)
	}
	return pages, b, nil
}

// applyPages writes decoded pages into ram, calling wrote with each page's
// number before it writes the page.
func applyPages(ram []byte, pages []ckptPage, wrote func(page uint64)) {
	for _, pg := range pages {
		off := pg.page << mmu.PageShift
		dst := ram[off : off+mmu.PageSize]
		wrote(pg.page)
		switch pg.enc {
		case ckptZero:
			clear(dst)
		case ckptWhole:
			copy(dst, pg.data)
		case ckptDelta:
			runs := binary.LittleEndian.Uint16(pg.data)
			d := pg.data[2:]
			for range runs {
				at, l := binary.LittleEndian.Uint16(d), binary.LittleEndian.Uint16(d[2:])
				copy(dst[at:], d[4:4+l])
				d = d[4+l:]
			}
		}
	}
}

// deltaSize checks the delta encoding at the start of b and returns its
// length.
func deltaSize(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("delta truncated")
	}
	runs := int(binary.LittleEndian.Uint16(b))
	size := 2
	for range runs {
		if len(b) < size+4 {
			return 0, fmt.Errorf("delta truncated")
		}
		at, l := int(binary.LittleEndian.Uint16(b[size:])), int(binary.LittleEndian.Uint16(b[size+2:]))
		if at+l > mmu.PageSize || len(b) < size+4+l {
			return 0, fmt.Errorf("delta run %d+%d outside the page or truncated", at, l)
		}
		size += 4 + l
	}
	return size, nil
}
