package machine

import (
	"strings"
	"testing"
	"time"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

// A guest idle in HLT with no timer pending at all (idle_wake with the PIT
// stopped) and a live producer that never posts: RequestStop and Pause end
// the wait at once, and a posted console byte wakes it.
func TestIdleWaitEnds(t *testing.T) {
	image := testenv.GuestImage(t, "idle_wake")
	for _, tc := range []struct {
		name string
		end  func(m *Machine)
		want ExitReason
	}{
		{"stop", (*Machine).RequestStop, ExitStopped},
		{"pause", (*Machine).Pause, ExitPaused},
		{"console byte", func(m *Machine) {
			m.Live.Post(devices.Input{Kind: devices.InputConsole, Data: []byte("q")})
		}, ExitDebug},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out testenv.Buffer
			m := newLoaded(t, Config{Console: &out, Clock: ClockHost, Cmdline: "pit=off"}, image)
			done := m.Live.AddProducer()
			defer done()
			exits := make(chan Exit, 1)
			go func() { exits <- m.Run(0) }()
			for !strings.Contains(out.String(), "waiting with no timer") {
				select {
				case e := <-exits:
					t.Fatalf("run ended early: %v; console %q", e.Reason, out.String())
				case <-time.After(5 * time.Millisecond):
				}
			}
			time.Sleep(50 * time.Millisecond) // into the idle wait
			tc.end(m)
			select {
			case e := <-exits:
				if e.Reason != tc.want {
					t.Errorf("run ended with %v, want %v", e.Reason, tc.want)
				}
			case <-time.After(time.Second):
				m.RequestStop()
				t.Fatalf("the idle guest was not woken within a second (%s)", tc.name)
			}
		})
	}
}

// Inputs taken where the board skipped idle time come with a clock skip to
// the time it skipped to, and a host clock's periodic re-anchor there is a
// skip too; elsewhere, or with nothing to hand out, no skip.
func TestLiveInputsMarkIdle(t *testing.T) {
	frame := devices.Input{Kind: devices.InputFrame, Data: []byte{1}}
	for _, tc := range []struct {
		name     string
		host     bool // host clock, due for a re-anchor
		markPos  uint64
		post     bool
		takePos  uint64
		wantSkip bool
	}{
		{"input after a skip", false, 10, true, 10, true},
		{"input at a later position", false, 10, true, 11, false},
		{"nothing to hand out", false, 10, false, 10, false},
		{"host clock input after a skip", true, 10, true, 10, true},
		{"host clock re-anchor after a skip", true, 10, false, 10, true},
		{"host clock re-anchor elsewhere", true, 10, false, 11, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLiveInputs(tc.host)
			l.lastAnchor = l.lastAnchor.Add(-time.Second)
			l.MarkIdle(tc.markPos, 1<<62)
			if tc.post {
				l.Post(frame)
			}
			got := l.Take(tc.takePos, nil)
			var clock []devices.Input
			for _, in := range got {
				if in.Kind == devices.InputClock {
					clock = append(clock, in)
				}
			}
			skip := len(clock) == 1 && clock[0].Dev == ClockSkip && clock[0].Arg == 1<<62
			if skip != tc.wantSkip || len(clock) > 1 {
				t.Fatalf("inputs %+v: a skip to the idle time %v, want %v", got, skip, tc.wantSkip)
			}
			if tc.host && len(clock) == 0 {
				t.Errorf("no re-anchor on a host clock that is due for one")
			}
			if tc.post && got[0].Kind != devices.InputFrame {
				t.Errorf("the frame is not first: %+v", got)
			}
		})
	}
}

// Received frames waiting for a guest that does not take them (paused,
// throttled) are bounded and the excess counted; console bytes and disk
// completions are never dropped.
func TestLiveInputsBoundedFrames(t *testing.T) {
	l := NewLiveInputs(false)
	const posted = MaxPendingFrames + 500
	for i := range posted {
		l.Post(devices.Input{Kind: devices.InputFrame, Data: make([]byte, 1514)})
		if i%100 == 0 {
			l.Post(devices.Input{Kind: devices.InputConsole, Data: []byte{'x'}})
			l.Post(devices.Input{Kind: devices.InputDiskDone, Arg: uint64(i)})
		}
	}
	got := map[devices.InputKind]int{}
	for _, in := range l.Take(1, nil) {
		got[in.Kind]++
	}
	want := map[devices.InputKind]int{devices.InputFrame: MaxPendingFrames, devices.InputConsole: 16, devices.InputDiskDone: 16}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("kind %d: %d taken, want %d", k, got[k], n)
		}
	}
	if d := l.Dropped(); d != posted-MaxPendingFrames {
		t.Errorf("dropped %d, want %d", d, posted-MaxPendingFrames)
	}
	// Taking them makes room again.
	l.Post(devices.Input{Kind: devices.InputFrame})
	if in := l.Take(2, nil); len(in) != 1 {
		t.Errorf("after a take: %d inputs, want the new frame", len(in))
	}
}
