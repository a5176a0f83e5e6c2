package machine

import (
	"sync"
	"time"

	"ftvm/devices"
)

// InputSource supplies host inputs at exact positions: the board
// consumes it; package lockstep and failover provide it.
type InputSource interface {
	// Next returns the position of the earliest input the source holds, or
	// ^uint64(0) when it holds none (a live source learns of inputs only as
	// they arrive).
	Next() uint64
	// Take returns the inputs that take effect at position pos (which is
	// never beyond Next), appending them to buf. A live source stamps what
	// has arrived with pos.
	Take(pos uint64, buf []devices.Input) []devices.Input
	// Wait blocks, while the guest is idle, until an input may be available
	// or the host time of the guest deadline has come (deadline is guest
	// time in nanoseconds; ^uint64(0) for none), and reports whether it was
	// woken by an input rather than by the deadline. A source that replays
	// a log never waits.
	Wait(deadline uint64) (input bool)
	// CanWake reports whether an input may still come: false when a guest
	// idle with no timer armed would wait forever (a live source with
	// nothing that posts inputs, a log that has run out).
	CanWake() bool
}

// anchorInterval is how often a host clock is re-anchored (at most).
const anchorInterval = 100 * time.Millisecond

// LiveInputs is the input source of a machine taking its inputs from the
// host as they happen: backends Post what arrives, and the board takes it at
// the position where it next looks. On a host clock it also produces a clock
// re-anchor at most every 100 ms. The lockstep recorder wraps it to log what
// it hands out.
type LiveInputs struct {
	wake chan struct{} // a Wait's wake-up (capacity 1)

	// mu guards the fields up to idleSet; room waits on mu.
	mu        sync.Mutex
	room      *sync.Cond // console bytes taken by the guest (or handed to the board)
	pending   []devices.Input
	frames    int    // received frames in pending
	dropped   uint64 // received frames dropped: pending held MaxPendingFrames
	console   int    // bytes of the console inputs in pending
	backlog   int    // console bytes handed out that the board still holds (ConsoleBacklog)
	producers int
	// idlePos and idleNow are where the board last skipped idle guest time
	// without a record, and the guest time it skipped to: inputs handed out
	// at that position carry a skip to idleNow first (see MarkIdle).
	idlePos, idleNow uint64
	idleSet          bool

	// The rest belongs to the goroutine running the machine.
	hostClock  bool
	start      time.Time
	lastAnchor time.Time
	// waited is set after the guest idled and was woken by an input: the
	// next re-anchor is a skip.
	waited bool
}

// MaxPendingFrames bounds the received frames waiting for the guest to take
// them (a guest paused, or a primary throttled by its backup): beyond it
// frames are dropped, as a NIC without buffers drops them, and counted.
// Console bytes and disk completions are never dropped.
const MaxPendingFrames = 1024

// MaxPendingConsole bounds the console bytes waiting for the guest: those
// posted and not yet handed out plus those the board holds because the
// UART's receive FIFO is full. Posting console bytes blocks while they
// reach it, so the console's reader stops reading its input (a guest that
// never reads COM1 leaves the rest in the host's pipe or terminal).
const MaxPendingConsole = 4096

// ClockSkip in the Dev field of an InputClock marks a re-anchor after the
// guest was idle: time jumps without refitting the clock's rate.
const ClockSkip = 1

// NewLiveInputs returns a live source; hostClock selects clock re-anchors.
func NewLiveInputs(hostClock bool) *LiveInputs {
	now := time.Now()
	l := &LiveInputs{wake: make(chan struct{}, 1), hostClock: hostClock, start: now, lastAnchor: now}
	l.room = sync.NewCond(&l.mu)
	return l
}

// HostNanos returns host nanoseconds since the source was made: the guest
// time a host clock follows.
func (l *LiveInputs) HostNanos() uint64 { return uint64(time.Since(l.start).Nanoseconds()) }

// Align sets the host clock's origin so that HostNanos reads guest now: a
// backup going live continues the guest time it replayed.
func (l *LiveInputs) Align(now uint64) {
	l.start = time.Now().Add(-time.Duration(now))
	l.lastAnchor = time.Now()
}

// Wake makes a Wait in progress return, as an input would.
func (l *LiveInputs) Wake() { l.signal() }

// AddProducer records that something (a network backend, the console) may
// post inputs, so an idle guest is worth waiting for. Done must be called
// when it stops.
func (l *LiveInputs) AddProducer() (done func()) {
	l.mu.Lock()
	l.producers++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.producers--
			l.mu.Unlock()
			l.signal()
		})
	}
}

// MarkIdle tells the source that the board, idle in HLT at position pos,
// moved guest time to now by itself (skips to timer deadlines, which a
// replaying board makes only where its log has no input). Inputs handed out
// at pos after that come with a clock skip to now, so a replay, which takes
// the inputs at pos before it skips, reaches the same guest time. Timer
// expiries merge (ARCHITECTURE.md), so the skips' count need not be logged.
func (l *LiveInputs) MarkIdle(pos, now uint64) {
	l.mu.Lock()
	l.idlePos, l.idleNow, l.idleSet = pos, now, true
	l.mu.Unlock()
}

// Post queues an input from a host goroutine. Console bytes wait while
// MaxPendingConsole of them wait for the guest.
func (l *LiveInputs) Post(in devices.Input) {
	l.mu.Lock()
	if in.Kind == devices.InputConsole {
		for l.console+l.backlog >= MaxPendingConsole {
			l.room.Wait()
		}
		l.console += len(in.Data)
	}
	if in.Kind == devices.InputFrame {
		if l.frames >= MaxPendingFrames {
			l.dropped++
			l.mu.Unlock()
			return
		}
		l.frames++
	}
	l.pending = append(l.pending, in)
	l.mu.Unlock()
	l.signal()
}

// ConsoleBacklog tells the source how many console bytes the board holds
// that the guest's UART has not taken yet (machine goroutine).
func (l *LiveInputs) ConsoleBacklog(n int) {
	l.mu.Lock()
	l.backlog = n
	l.mu.Unlock()
	l.room.Broadcast()
}

// Dropped returns the number of received frames dropped because
// MaxPendingFrames were waiting.
func (l *LiveInputs) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

func (l *LiveInputs) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Next implements InputSource: a live source never knows of an
// input ahead of time.
func (l *LiveInputs) Next() uint64 { return ^uint64(0) }

// Take implements InputSource. At a position where the board skipped idle
// time (MarkIdle), every clock input is a skip to at least where it
// skipped: a replay applies it before its own skips there.
func (l *LiveInputs) Take(pos uint64, buf []devices.Input) []devices.Input {
	l.mu.Lock()
	marked := l.idleSet && l.idlePos == pos
	l.idleSet = marked
	emit := marked && len(l.pending) > 0
	for _, in := range l.pending {
		in.Pos = pos
		buf = append(buf, in)
	}
	clear(l.pending) // the frames' bytes go with the guest
	l.pending, l.frames = l.pending[:0], 0
	// The console bytes are the board's now, until it says what it holds.
	l.backlog += l.console
	l.console = 0
	idleNow := l.idleNow
	l.mu.Unlock()
	clock := devices.Input{Pos: pos, Kind: devices.InputClock}
	if l.hostClock {
		if now := time.Now(); emit || l.waited || now.Sub(l.lastAnchor) >= anchorInterval {
			clock.Arg, emit = l.HostNanos(), true
			if l.waited {
				clock.Dev = ClockSkip
			}
			l.lastAnchor, l.waited = now, false
		}
	}
	if emit && marked {
		clock.Dev, clock.Arg = ClockSkip, max(clock.Arg, idleNow)
	}
	if emit {
		// After the inputs: all inputs at a position take effect before
		// the board next looks at its timers, in any order.
		buf = append(buf, clock)
	}
	return buf
}

// Wait implements InputSource: it blocks until an input arrives or,
// on a host clock, until the host reaches the guest deadline. With no
// deadline and nothing that could post an input it returns at once (see
// CanWake).
func (l *LiveInputs) Wait(deadline uint64) bool {
	l.mu.Lock()
	ready, producers := len(l.pending) > 0, l.producers
	l.mu.Unlock()
	if ready {
		l.waited = l.hostClock
		return true
	}
	var timer <-chan time.Time
	if deadline != ^uint64(0) && l.hostClock {
		now := l.HostNanos()
		if deadline <= now {
			return false
		}
		t := time.NewTimer(time.Duration(deadline - now))
		defer t.Stop()
		timer = t.C
	} else if producers == 0 {
		return false
	}
	select {
	case <-l.wake:
		// Woken early: how long the guest idled is host timing, so the
		// next re-anchor (a skip) goes into the log.
		l.waited = l.hostClock
		return true
	case <-timer:
		// The deadline came: the board skips to it, a deterministic jump
		// that needs no record.
		return false
	}
}

// CanWake implements InputSource: whether anything may still post an
// input.
func (l *LiveInputs) CanWake() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.producers > 0 || len(l.pending) > 0
}
