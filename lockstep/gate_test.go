package lockstep

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestGateModes(t *testing.T) {
	var got []uint64
	out := func(p uint64) func() { return func() { got = append(got, p) } }

	g := NewGate(GateHold)
	g.Output(10, out(10))
	g.Output(20, out(20))
	g.Output(20, out(21))
	if len(got) != 0 {
		t.Fatalf("held outputs emitted early: %v", got)
	}
	g.Acked(20) // the backup holds every record before 20: output 10 is safe
	if !reflect.DeepEqual(got, []uint64{10}) {
		t.Fatalf("after ack 20: %v, want [10]", got)
	}
	if n, oldest := g.Held(); n != 2 || oldest != 20 {
		t.Errorf("held %d oldest %d, want 2, 20", n, oldest)
	}
	g.Acked(15) // acks never go backwards
	g.Acked(21)
	if !reflect.DeepEqual(got, []uint64{10, 20, 21}) {
		t.Fatalf("after ack 21: %v", got)
	}
	// Alone again: outputs flow at once.
	g.Output(30, out(30))
	g.SetMode(GateDirect)
	g.Output(31, out(31))
	if !reflect.DeepEqual(got, []uint64{10, 20, 21, 30, 31}) {
		t.Fatalf("direct: %v", got)
	}

	// A backup keeps what the primary has not released and emits it when
	// it goes live; what was released is dropped, so nothing is lost and
	// at most the unreleased tail repeats.
	got = nil
	b := NewGate(GateBuffer)
	b.Output(5, out(5))
	b.Output(8, out(8))
	b.Released(6)
	b.Output(6, out(6))
	b.Output(4, out(4)) // before the released point: dropped
	b.SetMode(GateDirect)
	if !reflect.DeepEqual(got, []uint64{8, 6}) {
		t.Fatalf("backup going live emitted %v, want [8 6]", got)
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// A console that cannot be written is reported, whenever the gate emits.
func TestGateReportsWriteError(t *testing.T) {
	for _, mode := range []GateMode{GateDirect, GateHold} {
		g := NewGate(mode)
		w := g.Writer(errWriter{}, func() uint64 { return 10 })
		if _, err := w.Write([]byte("hi")); err != nil {
			t.Fatalf("mode %d: the guest's write failed: %v", mode, err)
		}
		g.Acked(11)
		if err := g.Err(); err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Errorf("mode %d: Err() = %v, want the console's error", mode, err)
		}
	}
}
