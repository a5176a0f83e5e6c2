package lockstep

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/machine"
)

// setupFunc adjusts a freshly built machine (map a test device, patch code).
type setupFunc func(m *machine.Machine)

// record runs image under a recorder and returns the log, console output and exit.
func record(t *testing.T, image []byte, clock machine.ClockMode, interval uint64, setup setupFunc) ([]byte, string, machine.Exit) {
	t.Helper()
	log, out, exit, _ := recordMachine(t, image, clock, interval, setup)
	return log, out, exit
}

// recordMachine is record that also returns the machine at its end.
func recordMachine(t *testing.T, image []byte, clock machine.ClockMode, interval uint64, setup setupFunc) ([]byte, string, machine.Exit, *machine.Machine) {
	t.Helper()
	var log, out bytes.Buffer
	live := machine.NewLiveInputs(clock == machine.ClockHost)
	rec, err := NewRecorder(&log, Header{Clock: "x", DigestInterval: interval}, live)
	if err != nil {
		t.Fatal(err)
	}
	m, exit := runMachine(t, machine.Config{Clock: clock, Console: HashWriter{W: &out, Hash: &rec.Output},
		Live: live, Inputs: rec, WrapEnv: rec.WrapEnv, Checker: rec}, image, setup)
	if err := rec.Finish(m, exit); err != nil {
		t.Fatal(err)
	}
	return log.Bytes(), out.String(), exit, m
}

// replay re-executes log and returns the console output and Finish's verdict.
func replay(t *testing.T, image, log []byte, clock machine.ClockMode, setup setupFunc) (string, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := NewReplayer(r)
	m, exit := runMachine(t, machine.Config{Clock: clock, Console: HashWriter{W: &out, Hash: &rep.Output},
		Inputs: rep, WrapEnv: rep.WrapEnv, Checker: rep}, image, rep.Attach, setup)
	return out.String(), rep.Finish(m, exit)
}

// runMachine builds a machine from cfg, loads image, applies each setup and
// runs the guest to its exit.
func runMachine(t *testing.T, cfg machine.Config, image []byte, setup ...setupFunc) (*machine.Machine, machine.Exit) {
	t.Helper()
	m, err := machine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		if f != nil {
			f(m)
		}
	}
	return m, m.Run(0)
}

func TestRecordReplayGuests(t *testing.T) {
	for _, name := range []string{"hello", "exercise", "paging"} {
		for _, clock := range []machine.ClockMode{machine.ClockVirtual, machine.ClockHost} {
			t.Run(name+clockSuffix(clock), func(t *testing.T) {
				image := testenv.GuestImage(t, name)
				log, out, _ := record(t, image, clock, 1<<16, nil)
				got, err := replay(t, image, log, clock, nil)
				if err != nil {
					t.Fatalf("replay: %v", err)
				}
				if got != out {
					t.Errorf("replayed console differs:\n got %q\nwant %q", got, out)
				}
			})
		}
	}
}

func clockSuffix(c machine.ClockMode) string {
	if c == machine.ClockVirtual {
		return "/virtual"
	}
	return "/host"
}

// hostClockPort is a deliberately broken test device: it reads the host
// clock on the guest's path, bypassing the lockstep layer.
type hostClockPort struct{}

func (hostClockPort) ReadPort(port uint16, size int) uint32     { return uint32(time.Now().UnixNano()) }
func (hostClockPort) WritePort(port uint16, size int, v uint32) {}

// nondetCode reads port 0x530 (free on the board) in a loop, summing into EBX, then exits
// through isa-debug-exit.
var nondetCode = []byte{
	0x66, 0xBA, 0x30, 0x05, // mov dx, 0x530
	0xB9, 0x40, 0x0D, 0x03, 0x00, // mov ecx, 200000
	0xED,       // 1: in eax, dx
	0x01, 0xC3, // add ebx, eax
	0xFF, 0xC9, // dec ecx
	0x75, 0xF9, // jnz 1b
	0xB0, 0x00, 0xE6, 0xF4, // mov al, 0; out 0xf4, al
	0xF4, // hlt
}

func TestInjectedNondeterminismCaught(t *testing.T) {
	image := testenv.GuestImage(t, "hello")
	const interval = 1000
	setup := func(m *machine.Machine) {
		if err := m.Mem.MapPorts(0x530, 0x530, hostClockPort{}); err != nil {
			t.Fatal(err)
		}
		copy(m.Mem.RAM[m.CPU.RIP:], nondetCode)
	}
	log, _, exit := record(t, image, machine.ClockVirtual, interval, setup)
	if exit.Reason != machine.ExitDebug {
		t.Fatalf("recorded run ended with %v", exit.Reason)
	}
	_, err := replay(t, image, log, machine.ClockVirtual, setup)
	var d *Divergence
	if !errors.As(err, &d) {
		t.Fatalf("replay error %v, want a divergence", err)
	}
	// The first port read is the 3rd instruction; the first digest after it
	// is at the first interval.
	if d.Pos != interval {
		t.Errorf("divergence at position %d, want %d", d.Pos, interval)
	}
	if !strings.Contains(d.Detail, "rbx") || !strings.Contains(d.Detail, "last blocks") {
		t.Errorf("divergence detail lacks the register or the recent code:\n%s", d.Detail)
	}
}

func TestReplayRefusesDamagedLog(t *testing.T) {
	image := testenv.GuestImage(t, "exercise")
	log, _, _ := record(t, image, machine.ClockVirtual, 1<<16, nil)
	// Cut the log in the middle of a record: replay must report it, not
	// silently finish.
	cut := log[:len(log)-30]
	if _, err := replay(t, image, cut, machine.ClockVirtual, nil); err == nil {
		t.Fatal("replay of a truncated log reported success")
	}
	// Flip a bit in a digest record.
	bad := append([]byte(nil), log...)
	bad[len(bad)/2] ^= 0x10
	if _, err := replay(t, image, bad, machine.ClockVirtual, nil); err == nil {
		t.Fatal("replay of a corrupted log reported success")
	}
}

// A version 1 log (its end record holds the SHA-256 of the whole RAM)
// still replays, and its RAM check still catches a different end.
func TestReplayVersion1Log(t *testing.T) {
	image := testenv.GuestImage(t, "exercise")
	log, want, _, m := recordMachine(t, image, machine.ClockVirtual, 1<<16, nil)
	v1 := func(ram [32]byte) []byte {
		r, err := NewReader(bytes.NewReader(log))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, r.Header)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := r.Next()
			if err == ErrEnd {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if rec.Kind == KindEnd {
				rec.Payload = append(rec.Payload[:len(rec.Payload)-32:len(rec.Payload)-32], ram[:]...)
			}
			if err := w.Append(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		binary.LittleEndian.PutUint16(b[len(Magic):], 1)
		return b
	}
	got, err := replay(t, image, v1(sha256.Sum256(m.Mem.RAM)), machine.ClockVirtual, nil)
	if err != nil || got != want {
		t.Fatalf("version 1 log: %v, output %q want %q", err, got, want)
	}
	// The version 2 digest in a version 1 log is a RAM difference.
	var div *Divergence
	if _, err := replay(t, image, v1(RAMDigest(m)), machine.ClockVirtual, nil); !errors.As(err, &div) || !strings.Contains(div.Reason, "RAM") {
		t.Fatalf("version 1 log with a version 2 digest: %v, want a RAM divergence", err)
	}
	bad := append([]byte(nil), log...)
	binary.LittleEndian.PutUint16(bad[len(Magic):], Version+1)
	if _, err := NewReader(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "unknown log version 3") {
		t.Fatalf("version %d log: %v", Version+1, err)
	}
}

// failingSink fails every append after the first n.
type failingSink struct{ n int }

func (f *failingSink) Append(Record) error {
	if f.n == 0 {
		return errors.New("no space left on device")
	}
	f.n--
	return nil
}

func (f *failingSink) Flush() error { return nil }

// A recording that can no longer be written ends the run at once with the
// error (here its first record, a clock re-anchor), rather than at the next
// digest or running the guest to its end unrecorded.
func TestRecorderErrorEndsRun(t *testing.T) {
	image := testenv.GuestImage(t, "pit_hlt")
	rec := NewRecorderTo(&failingSink{}, Header{DigestInterval: 1 << 40}, machine.NewLiveInputs(true))
	m, err := machine.New(machine.Config{Clock: machine.ClockHost, Inputs: rec, WrapEnv: rec.WrapEnv, Checker: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	exit := m.Run(0)
	if exit.Reason != machine.ExitDiverged || m.Err == nil || !strings.Contains(m.Err.Error(), "no space left") {
		t.Fatalf("run ended with %v (%v) after %v, want the recording's error", exit.Reason, m.Err, time.Since(start))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the run went on for %v after its log failed", d)
	}
}

// endlessFrames is a log source of frame records, all far ahead.
type endlessFrames struct{ n, limit int }

func (e *endlessFrames) Next() (Record, error) {
	if e.n >= e.limit {
		return Record{}, ErrEnd
	}
	e.n++
	return Record{Pos: 1 << 40, Kind: KindFrame, Payload: make([]byte, 61)}, nil
}

func (e *endlessFrames) Offset() int64 { return int64(e.n) * 80 }

// A guest asking for a random number a log does not hold (a damaged or
// foreign log) does not make the replayer read the whole log into memory:
// it stops after MaxReadAhead records with an error.
func TestReplayReadAheadBounded(t *testing.T) {
	src := &endlessFrames{limit: 4 * MaxReadAhead}
	rep := NewReplayerFrom(src, 0, 0)
	env := rep.WrapEnv(nil)
	if _, ok := env.Random(5, false); ok {
		t.Fatal("a random number the log does not hold was served")
	}
	if src.n > MaxReadAhead+1 {
		t.Errorf("%d records read ahead, more than %d", src.n, MaxReadAhead)
	}
	if rep.Err() == nil {
		t.Error("no error for a log read ahead without end")
	}
}
