package gdbstub

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/lockstep"
	"ftvm/machine"
)

var (
	reverseDepth = flag.Uint64("reverse-depth", 200_000_000, "position of BenchmarkReverseStep's reverse steps (the recording's length)")
	reverseGuest = flag.String("reverse-guest", "spin", "BenchmarkReverseStep's guest (it must run past -reverse-depth)")
)

// BenchmarkReverseStep measures one reverse-stepi at the end of a long
// replay (-reverse-depth instructions of -reverse-guest, spin by default): each step goes
// back one instruction from just before a checkpoint, the worst case
// (restore the previous checkpoint, re-execute an Interval). It reports the
// memory the checkpoints' RAM pages take.
func BenchmarkReverseStep(b *testing.B) {
	image, err := os.ReadFile(testenv.Guest(b, *reverseGuest))
	if err != nil {
		b.Fatal(err)
	}
	depth := *reverseDepth
	var log bytes.Buffer
	live := machine.NewLiveInputs(false)
	rec, err := lockstep.NewRecorder(&log, lockstep.Header{Clock: "virtual", DigestInterval: lockstep.DefaultDigestInterval}, live)
	if err != nil {
		b.Fatal(err)
	}
	m, err := machine.New(machine.Config{Clock: machine.ClockVirtual, Live: live, Inputs: rec, WrapEnv: rec.WrapEnv, Checker: rec})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		b.Fatal(err)
	}
	rec.SetNextCheck(lockstep.DefaultDigestInterval)
	if err := rec.Finish(m, m.Run(depth)); err != nil {
		b.Fatal(err)
	}

	open := func() (lockstep.Source, error) { return lockstep.NewReader(bytes.NewReader(log.Bytes())) }
	src, err := open()
	if err != nil {
		b.Fatal(err)
	}
	rep := lockstep.NewReplayer(src.(*lockstep.Reader))
	if m, err = machine.New(machine.Config{Clock: machine.ClockVirtual, Inputs: rep, WrapEnv: rep.WrapEnv, Checker: rep}); err != nil {
		b.Fatal(err)
	}
	rep.Attach(m)
	if err := m.LoadELF64(image); err != nil {
		b.Fatal(err)
	}
	h, err := NewReplay(m, rep, open, 0)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if exit, err := h.Run(depth - 1); err != nil || m.CPU.Retired != depth-1 {
		b.Fatalf("replay to %d: %v %v at %d", depth-1, exit, err, m.CPU.Retired)
	}
	forward := time.Since(start)
	b.ResetTimer()
	for range b.N {
		pos := m.CPU.Retired
		if pos%h.Interval == 0 { // keep to the worst case: a whole Interval again
			if err := h.Seek(depth - 1); err != nil {
				b.Fatal(err)
			}
			pos = depth - 1
		}
		if err := h.Seek(pos - 1); err != nil {
			b.Fatal(err)
		}
		if m.CPU.Retired != pos-1 {
			b.Fatalf("at %d after stepping back from %d", m.CPU.Retired, pos)
		}
	}
	b.StopTimer()
	n, size := h.Checkpoints()
	b.ReportMetric(float64(n), "checkpoints")
	b.ReportMetric(float64(size), "checkpoint-page-bytes")
	b.ReportMetric(float64(depth)/forward.Seconds()/1e6, "replay-MIPS")
}
