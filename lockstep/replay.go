package lockstep

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/devices"
	"ftvm/machine"
)

// Replayer re-executes a logged run: it is the machine's input source (each
// input at exactly its logged position), its source of random numbers, and a
// checker that compares the CPU with every logged digest. Anything the guest
// does that the log does not account for is a divergence: the run stops with
// the position and what differed.
type Replayer struct {
	r      Source
	m      *machine.Machine
	Output OutputHash

	// Records read ahead, by category, in log order.
	inputs  []devices.Input
	randoms []Record
	digests []Record
	end     *Record
	eof     bool
	readErr error
	lastPos uint64 // position of the last record read
	read    uint64 // records read from r

	interval uint64
	next     uint64
	// wholeRAM: the end record holds the SHA-256 of the whole RAM (a
	// version 1 log), not RAMDigest.
	wholeRAM bool
}

// MaxReadAhead bounds the records a replayer holds ahead of its position.
// A valid log needs few: each random number and digest comes right after
// the inputs before it.
const MaxReadAhead = 1 << 16

// Source is where a replayer reads records: a log file's Reader, or the
// stream from a primary. Next returns ErrEnd at the end.
type Source interface {
	Next() (Record, error)
	Offset() int64
}

// NewReplayer reads records from r (whose header was already read).
func NewReplayer(r *Reader) *Replayer {
	p := NewReplayerFrom(r, r.Header.DigestInterval, r.Header.DigestInterval)
	p.wholeRAM = r.Version == 1
	return p
}

// NewReplayerFrom reads records from src; digests are expected every
// interval instructions, the first at position first.
func NewReplayerFrom(src Source, interval, first uint64) *Replayer {
	if interval == 0 {
		interval = DefaultDigestInterval
	}
	if first == 0 {
		first = interval
	}
	return &Replayer{r: src, interval: interval, next: first}
}

// Attach gives the replayer the machine it drives (after machine.New).
func (p *Replayer) Attach(m *machine.Machine) { p.m = m }

// Err returns the error that stopped reading the log, if any.
func (p *Replayer) Err() error { return p.readErr }

// readOne reads the next record into its queue; false at the end of the log
// or on an error.
func (p *Replayer) readOne() bool {
	if p.eof || p.readErr != nil {
		return false
	}
	if n := len(p.inputs) + len(p.randoms) + len(p.digests); n >= MaxReadAhead {
		// Looking for a random number or a digest the log does not hold
		// where it should: stop rather than hold the whole log.
		p.readErr = &FormatError{Offset: p.r.Offset(), Msg: fmt.Sprintf("more than %d records read ahead of the replay", MaxReadAhead)}
		p.diverge(p.lastPos, p.readErr.Error())
		return false
	}
	rec, err := p.r.Next()
	if errors.Is(err, ErrEnd) {
		p.eof = true
		return false
	}
	if err != nil {
		// a malformed log: stop where replay stands (rec is empty); the
		// error names the byte offset
		p.readErr = err
		if p.m != nil {
			p.m.Diverge(&Divergence{Pos: p.m.CPU.Position(), Reason: err.Error()})
		}
		return false
	}
	p.lastPos = rec.Pos
	p.read++
	switch rec.Kind {
	case KindRandom:
		p.randoms = append(p.randoms, rec)
	case KindDigest:
		p.digests = append(p.digests, rec)
	case KindEnd:
		p.end = &rec
		p.eof = true
	case KindSync:
		// A stream's promise that nothing before it is missing: a stop
		// point with no input.
		p.inputs = append(p.inputs, devices.Input{Pos: rec.Pos})
	default:
		in, err := decodeInput(rec)
		if err != nil {
			p.readErr = &FormatError{Offset: p.r.Offset(), Msg: err.Error()}
			p.diverge(rec.Pos, p.readErr.Error())
			return false
		}
		p.inputs = append(p.inputs, in)
	}
	return true
}

func (p *Replayer) diverge(pos uint64, reason string) {
	if p.m != nil {
		p.m.Diverge(&Divergence{Pos: pos, Reason: reason, Detail: recentCode(p.m.CPU)})
	}
}

// Next implements machine.InputSource.
func (p *Replayer) Next() uint64 {
	for len(p.inputs) == 0 {
		if !p.readOne() {
			return ^uint64(0)
		}
	}
	return p.inputs[0].Pos
}

// Take implements machine.InputSource.
func (p *Replayer) Take(pos uint64, buf []devices.Input) []devices.Input {
	for p.Next() == pos {
		if p.inputs[0].Kind != 0 {
			buf = append(buf, p.inputs[0])
		}
		p.inputs = p.inputs[1:]
	}
	if n := p.Next(); n < pos {
		p.diverge(pos, fmt.Sprintf("the log has an input at position %d, which execution passed", n))
	}
	return buf
}

// Wait implements machine.InputSource: a log never makes the guest wait.
func (p *Replayer) Wait(uint64) bool { return false }

// CanWake implements machine.InputSource: whether the log holds anything
// more.
func (p *Replayer) CanWake() bool { return p.Next() != ^uint64(0) }

// WrapEnv returns the CPU environment that serves random numbers from the log.
func (p *Replayer) WrapEnv(env cpu.Env) cpu.Env { return randomEnv{env, p.random} }

// random returns the next random number of the log, which must be logged at
// pos.
func (p *Replayer) random(pos uint64, seed bool) (uint64, bool) {
	for len(p.randoms) == 0 && p.readOne() {
	}
	if len(p.randoms) == 0 || p.randoms[0].Pos != pos || len(p.randoms[0].Payload) != 9 {
		want := "none"
		if len(p.randoms) > 0 {
			want = fmt.Sprintf("one at position %d", p.randoms[0].Pos)
		}
		p.diverge(pos, "the guest asked for a random number the log does not hold (log has "+want+")")
		return 0, false
	}
	r := p.randoms[0]
	p.randoms = p.randoms[1:]
	return binary.LittleEndian.Uint64(r.Payload[1:]), r.Payload[0] == 1
}

// SetNextCheck sets the position of the next digest (a log that starts
// from a snapshot continues from the snapshot's position).
func (p *Replayer) SetNextCheck(pos uint64) { p.next = pos }

// NextCheck implements machine.Checker: the next digest, or the end of a
// recording that was stopped rather than ended by the guest.
func (p *Replayer) NextCheck() uint64 {
	if end, ok := p.endPos(); ok && end < p.next {
		return end
	}
	return p.next
}

// End returns the position where the log ends, once the replay has read
// that far.
func (p *Replayer) End() (uint64, bool) { return p.endPos() }

// endPos returns where replay must stop: the end record's position, or the
// last record's when the log was cut short (a killed recorder).
func (p *Replayer) endPos() (uint64, bool) {
	if p.end != nil {
		return p.end.Pos, true
	}
	if p.eof && p.readErr == nil {
		return p.lastPos, true
	}
	return 0, false
}

// CutShort reports whether the log ended without an end record.
func (p *Replayer) CutShort() bool { return p.eof && p.end == nil && p.readErr == nil }

// Check implements machine.Checker: the CPU must match the logged digest.
func (p *Replayer) Check(m *machine.Machine) error {
	pos := m.CPU.Position()
	end, ok := p.endPos()
	atEnd := ok && pos == end
	if pos != p.next {
		if atEnd {
			return machine.ErrEndOfRun
		}
		return nil
	}
	if err := p.checkDigest(m, pos); err != nil {
		return err
	}
	if atEnd {
		return machine.ErrEndOfRun
	}
	return nil
}

// checkDigest compares the CPU with the logged digest at pos.
func (p *Replayer) checkDigest(m *machine.Machine, pos uint64) error {
	p.next = pos + p.interval
	for len(p.digests) == 0 && p.readOne() {
	}
	if len(p.digests) == 0 {
		if p.readErr != nil {
			return p.readErr
		}
		// A log cut short (a killed recorder) has no more digests: keep
		// replaying what it has.
		return nil
	}
	rec := p.digests[0]
	p.digests = p.digests[1:]
	if rec.Pos != pos {
		return &Divergence{Pos: pos, Reason: fmt.Sprintf("the log's digest is at position %d", rec.Pos), Detail: recentCode(m.CPU)}
	}
	want, err := decodeDigest(rec)
	if err != nil {
		return err
	}
	return compareDigest(pos, want, digestAt(m, &p.Output), m.CPU)
}

// Finish checks the end of the replayed run against the log's end record.
func (p *Replayer) Finish(m *machine.Machine, exit machine.Exit) error {
	if exit.Reason == machine.ExitDiverged {
		return m.Err
	}
	for !p.eof && p.readOne() {
	}
	if p.readErr != nil {
		return p.readErr
	}
	pos := m.CPU.Position()
	if p.end == nil {
		if pos == p.lastPos {
			return ErrCutShort
		}
		return fmt.Errorf("the log has no end record (the recording was cut short) and replay stopped at position %d, not at its last record (%d)", pos, p.lastPos)
	}
	if p.end.Pos != pos {
		return &Divergence{Pos: pos, Reason: fmt.Sprintf("the guest ended at position %d, the recording at %d", pos, p.end.Pos), Detail: recentCode(m.CPU)}
	}
	end, err := decodeEnd(*p.end)
	if err != nil {
		return err
	}
	if end.Status != exit.Status() {
		return &Divergence{Pos: pos, Reason: fmt.Sprintf("exit status %d, recorded %d", exit.Status(), end.Status)}
	}
	if err := compareDigest(pos, end.Digest, digestAt(m, &p.Output), m.CPU); err != nil {
		return err
	}
	ram := RAMDigest(m)
	if p.wholeRAM {
		ram = sha256.Sum256(m.Mem.RAM)
	}
	if ram != end.RAM {
		return &Divergence{Pos: pos, Reason: "guest RAM differs from the recording at the end"}
	}
	return nil
}

// EndExit returns the outcome the log's end record holds, once replay has
// read it: a replay that stopped there (ExitStopped) ended as that.
func (p *Replayer) EndExit() (machine.Exit, bool) {
	if p.end == nil {
		return machine.Exit{}, false
	}
	end, err := decodeEnd(*p.end)
	return machine.ExitForStatus(end.Status), err == nil
}

// ErrCutShort is returned by Replayer.Finish when the log had no end record
// (its recorder was killed) and replay matched it up to its last record.
var ErrCutShort = errors.New("the recording was cut short; replay matched it up to its last record")

// compareDigest names what differs between a logged and a replayed digest.
func compareDigest(pos uint64, want, got Digest, c *cpu.CPU) error {
	if want == got {
		return nil
	}
	var b strings.Builder
	for i := range want.R {
		if want.R[i] != got.R[i] {
			fmt.Fprintf(&b, "  %s: recorded %#x, replayed %#x\n", cpu.RegNames[i], want.R[i], got.R[i])
		}
	}
	for _, f := range []struct {
		name   string
		rec, r uint64
	}{{"rip", want.RIP, got.RIP}, {"rflags", want.RFLAGS, got.RFLAGS}, {"system state hash", want.Sys, got.Sys},
		{"output hash", want.Output, got.Output}, {"output bytes", want.Outputs, got.Outputs}} {
		if f.rec != f.r {
			fmt.Fprintf(&b, "  %s: recorded %#x, replayed %#x\n", f.name, f.rec, f.r)
		}
	}
	b.WriteString(recentCode(c))
	return &Divergence{Pos: pos, Reason: "CPU state differs from the recording", Detail: b.String()}
}

// recentCode disassembles the first instructions of the last blocks the CPU
// entered.
func recentCode(c *cpu.CPU) string {
	var b strings.Builder
	b.WriteString("  last blocks entered:\n")
	var buf [disasm.MaxInstLen]byte
	for _, rip := range c.RecentBlocks() {
		fmt.Fprintf(&b, "    %016x:", rip)
		addr := rip
		for k := 0; k < 3; k++ {
			in, _, err := disasm.At(c, addr, &buf)
			if err != nil {
				break
			}
			fmt.Fprintf(&b, "  %s;", in.Text)
			addr += uint64(in.Len)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
