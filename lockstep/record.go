package lockstep

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/machine"
	"ftvm/mmu"
)

// DefaultDigestInterval is the number of instructions between CPU digests.
const DefaultDigestInterval = 1 << 24

// StateDigest returns the divergence check of the CPU's state (outputs not
// filled in).
func StateDigest(c *cpu.CPU) Digest {
	s := c.State()
	h := fnv.New64a()
	binary.Write(h, binary.LittleEndian, &s.Sys)
	binary.Write(h, binary.LittleEndian, &s.FPU)
	binary.Write(h, binary.LittleEndian, []uint64{s.TSCOffset, s.Retired})
	binary.Write(h, binary.LittleEndian, []bool{s.Halted, s.IntShadow})
	return Digest{R: s.R, RIP: s.RIP, RFLAGS: s.RFLAGS, Sys: h.Sum64()}
}

// RAMDigest returns the digest of guest RAM that end records carry.
func RAMDigest(m *machine.Machine) [32]byte { return ramDigest(m.Mem.RAM) }

// ramDigest is the SHA-256 of the RAM's size and of each page that is not
// all zero, preceded by its offset (all uint64 LE): equal RAM, equal digest,
// and the zero pages (most of a guest's RAM at the end of a short run) cost
// a comparison instead of a hash, on the primary's way to its end.
func ramDigest(ram []byte) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(ram)))
	h.Write(b[:])
	for off := 0; off < len(ram); off += mmu.PageSize {
		p := ram[off:min(off+mmu.PageSize, len(ram))]
		if machine.IsZero(p) {
			continue
		}
		binary.LittleEndian.PutUint64(b[:], uint64(off))
		h.Write(b[:])
		h.Write(p)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// OutputHash is a rolling hash of everything the guest output (console bytes,
// frames, disk writes) in order: the cheap half of a divergence check.
type OutputHash struct {
	mu    sync.Mutex
	h     uint64
	count uint64
}

// Add folds b into the hash.
func (o *OutputHash) Add(b []byte) {
	o.mu.Lock()
	h := o.h
	if h == 0 && o.count == 0 {
		h = 14695981039346656037
	}
	for _, x := range b {
		h = (h ^ uint64(x)) * 1099511628211
	}
	o.h = h
	o.count += uint64(len(b))
	o.mu.Unlock()
}

// Sum returns the hash and the number of bytes hashed.
func (o *OutputHash) Sum() (uint64, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.h, o.count
}

// HashWriter passes writes through to W (which may be nil) and hashes them.
type HashWriter struct {
	W    io.Writer
	Hash *OutputHash
}

// Write implements io.Writer.
func (w HashWriter) Write(p []byte) (int, error) {
	w.Hash.Add(p)
	if w.W == nil {
		return len(p), nil
	}
	return w.W.Write(p)
}

// digestAt returns the divergence check of the machine now.
func digestAt(m *machine.Machine, out *OutputHash) Digest {
	d := StateDigest(m.CPU)
	d.Output, d.Outputs = out.Sum()
	return d
}

// Recorder logs a live run: it wraps the machine's input source and CPU
// environment, and writes digests at fixed intervals. Install it with
// Config (Inputs, WrapEnv, Checker) before the machine is built.
type Recorder struct {
	sink     Sink
	inner    machine.InputSource
	Output   OutputHash
	interval uint64
	next     uint64
	dropDisk map[uint8]bool // replicated disks: completions carry no data
	flushed  time.Time
	// mu guards the sink and err (random numbers are logged from the CPU's
	// environment, a stream's sync marks from the pair's node); failed is
	// set with err, for a look without the lock.
	mu     sync.Mutex
	err    error
	failed atomic.Bool
	// bytes counts the bytes of the records logged, by kind (metrics read
	// it from other goroutines).
	bytes [kindLimit]atomic.Uint64
}

// BytesByKind returns the bytes of the records logged so far (framing
// included), by record kind; kinds with none are left out.
func (r *Recorder) BytesByKind() map[string]uint64 {
	out := map[string]uint64{}
	for k := Kind(1); k < kindLimit; k++ {
		if n := r.bytes[k].Load(); n > 0 {
			out[k.String()] = n
		}
	}
	return out
}

// flushInterval bounds how long records stay buffered, so a recorder that
// is killed leaves a log that replays up to shortly before.
const flushInterval = 50 * time.Millisecond

// NewRecorder writes h to out and returns a recorder taking inputs from
// inner. Disks marked Replicated in h have their read data left out of the
// log.
func NewRecorder(out io.Writer, h Header, inner machine.InputSource) (*Recorder, error) {
	if h.DigestInterval == 0 {
		h.DigestInterval = DefaultDigestInterval
	}
	w, err := NewWriter(out, h)
	if err != nil {
		return nil, err
	}
	return NewRecorderTo(w, h, inner), nil
}

// Sink receives a recorder's records: a log file's Writer, or a stream to a
// backup.
type Sink interface {
	Append(Record) error
	Flush() error
}

// NewRecorderTo returns a recorder appending to sink (the header h has
// been sent by other means).
func NewRecorderTo(sink Sink, h Header, inner machine.InputSource) *Recorder {
	if h.DigestInterval == 0 {
		h.DigestInterval = DefaultDigestInterval
	}
	r := &Recorder{sink: sink, inner: inner, interval: h.DigestInterval, dropDisk: map[uint8]bool{}}
	for i, d := range h.Disks {
		if d.Replicated {
			r.dropDisk[uint8(i)] = true
		}
	}
	r.next = r.interval
	return r
}

// SetNextCheck sets the position of the next digest (a stream that starts
// from a snapshot continues the snapshot's schedule).
func (r *Recorder) SetNextCheck(pos uint64) { r.next = pos }

// Append adds a record of the caller's (a stream's sync marks).
func (r *Recorder) Append(rec Record) error {
	r.append(rec)
	return r.Err()
}

// Writer returns the log writer (for its byte counts), nil for a stream.
func (r *Recorder) Writer() *Writer {
	w, _ := r.sink.(*Writer)
	return w
}

// Err returns the first error writing the log.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Recorder) append(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.failLocked(r.sink.Append(rec))
		if rec.Kind < kindLimit {
			r.bytes[rec.Kind].Add(uint64(recordOverhead + len(rec.Payload)))
		}
	}
}

// failLocked records the first error writing the log.
func (r *Recorder) failLocked(err error) {
	if err != nil && r.err == nil {
		r.err = err
		r.failed.Store(true)
	}
}

// Next implements machine.InputSource.
func (r *Recorder) Next() uint64 { return r.inner.Next() }

// Take implements machine.InputSource: the inputs the live source hands out
// are logged at the position they take effect.
func (r *Recorder) Take(pos uint64, buf []devices.Input) []devices.Input {
	start := len(buf)
	buf = r.inner.Take(pos, buf)
	for _, in := range buf[start:] {
		rec, err := encodeInput(in, in.Kind == devices.InputDiskDone && r.dropDisk[in.Dev])
		if err != nil {
			r.mu.Lock()
			r.failLocked(err)
			r.mu.Unlock()
			continue
		}
		r.append(rec)
	}
	if now := time.Now(); now.Sub(r.flushed) >= flushInterval {
		r.flushed = now
		r.mu.Lock()
		if r.err == nil {
			r.failLocked(r.sink.Flush())
		}
		r.mu.Unlock()
	}
	return buf
}

// Wait implements machine.InputSource.
func (r *Recorder) Wait(deadline uint64) bool { return r.inner.Wait(deadline) }

// CanWake implements machine.InputSource: the live source's answer.
func (r *Recorder) CanWake() bool { return r.inner.CanWake() }

// WrapEnv returns the CPU environment that logs every random number env
// gives.
func (r *Recorder) WrapEnv(env cpu.Env) cpu.Env {
	return randomEnv{env, func(pos uint64, seed bool) (uint64, bool) {
		v, ok := env.Random(pos, seed)
		p := []byte{0}
		if ok {
			p[0] = 1
		}
		r.append(Record{Pos: pos, Kind: KindRandom, Payload: binary.LittleEndian.AppendUint64(p, v)})
		return v, ok
	}}
}

// randomEnv is a CPU environment with inner's TSC and random numbers from
// random.
type randomEnv struct {
	inner  cpu.Env
	random func(pos uint64, seed bool) (uint64, bool)
}

func (e randomEnv) TSC(pos uint64) uint64 { return e.inner.TSC(pos) }

func (e randomEnv) Random(pos uint64, seed bool) (uint64, bool) { return e.random(pos, seed) }

// NextCheck implements machine.Checker. Once writing the log failed it
// asks for a check at once, so the run ends with the error (see Check).
func (r *Recorder) NextCheck() uint64 {
	if r.failed.Load() {
		return 0
	}
	return r.next
}

// Check implements machine.Checker: it logs a digest. An error writing the
// log ends the run (ExitDiverged, with the error), at the first look after
// it happened: a recording that cannot be written is no recording.
func (r *Recorder) Check(m *machine.Machine) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	pos := m.CPU.Position()
	r.append(Record{Pos: pos, Kind: KindDigest, Payload: digestAt(m, &r.Output).encode()})
	r.next = pos + r.interval
	if err := r.Err(); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}

// Finish logs the end of the run and flushes the log.
func (r *Recorder) Finish(m *machine.Machine, exit machine.Exit) error {
	e := End{Status: exit.Status(), Digest: digestAt(m, &r.Output), RAM: RAMDigest(m)}
	r.append(Record{Pos: m.CPU.Position(), Kind: KindEnd, Payload: e.encode()})
	if err := r.Err(); err != nil {
		return err
	}
	return r.sink.Flush()
}

// Divergence is a replay that did not follow its log.
type Divergence struct {
	Pos    uint64
	Reason string
	Detail string // differing registers, recent instructions
}

func (d *Divergence) Error() string {
	s := fmt.Sprintf("replay diverged at position %d: %s", d.Pos, d.Reason)
	if d.Detail != "" {
		s += "\n" + d.Detail
	}
	return s
}
