package lockstep

import (
	"io"
	"sync"
	"sync/atomic"

	"ftvm/hostio"
)

// GateMode says what a Gate does with outputs.
type GateMode int

// Gate modes.
const (
	// GateDirect emits every output at once: a machine alone.
	GateDirect GateMode = iota
	// GateHold holds each output until the backup has acknowledged a
	// record past its position (the output rule of a paired primary).
	GateHold
	// GateBuffer keeps the outputs of a replaying backup: those the
	// primary has already released are dropped, the rest are emitted if
	// the backup goes live.
	GateBuffer
)

// Gate applies the output rule to the guest's external outputs (console
// bytes, network frames). Execution never waits for it; only the outputs
// do.
type Gate struct {
	mu       sync.Mutex
	mode     GateMode
	held     []heldOutput
	acked    uint64 // the backup holds every record before this position
	released uint64 // outputs at positions below this were emitted by the primary
	emitted  uint64 // number of outputs emitted
	onHold   func() // called when an output is held (see OnHold)

	// err is the first error writing an emitted output (emits run with
	// mu held, so it is apart from what mu guards).
	err atomic.Pointer[error]
}

// Err returns the first error an emitted output met on its way out (a
// console that cannot be written).
func (g *Gate) Err() error {
	if p := g.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (g *Gate) fail(err error) { g.err.CompareAndSwap(nil, &err) }

type heldOutput struct {
	pos  uint64
	emit func()
}

// NewGate returns a gate in mode.
func NewGate(mode GateMode) *Gate { return &Gate{mode: mode} }

// Output hands the gate an output produced at position pos; emit performs
// it. The gate calls emit now, later, or never (a backup's output the
// primary already released).
func (g *Gate) Output(pos uint64, emit func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.mode == GateDirect && len(g.held) == 0:
		g.emitted++
		emit()
	case g.mode == GateBuffer && pos < g.released:
	default:
		g.held = append(g.held, heldOutput{pos, emit})
		if g.onHold != nil && g.mode == GateHold {
			g.onHold()
		}
	}
}

// OnHold sets a function called (with the gate locked: it must not call the
// gate) each time the gate holds an output for an acknowledgement, so a
// primary can hurry the acknowledgement; nil removes it.
func (g *Gate) OnHold(f func()) {
	g.mu.Lock()
	g.onHold = f
	g.mu.Unlock()
}

// Acked records that the backup holds every record before position pos,
// and emits the held outputs that this makes safe (those before pos). It
// returns the position up to which outputs are now released.
func (g *Gate) Acked(pos uint64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if pos > g.acked {
		g.acked = pos
	}
	if g.mode == GateHold {
		g.flushBefore(g.acked)
	}
	return g.acked
}

// flushBefore emits held outputs at positions below pos, in order.
func (g *Gate) flushBefore(pos uint64) {
	n := 0
	for n < len(g.held) && g.held[n].pos < pos {
		g.held[n].emit()
		g.emitted++
		n++
	}
	g.held = append(g.held[:0], g.held[n:]...)
	if pos > g.released {
		g.released = pos
	}
}

// Released tells a replaying backup that the primary emitted every output
// before position pos; the backup's copies of them are dropped.
func (g *Gate) Released(pos uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if pos <= g.released {
		return
	}
	g.released = pos
	n := 0
	for n < len(g.held) && g.held[n].pos < pos {
		n++
	}
	g.held = append(g.held[:0], g.held[n:]...)
}

// SetMode switches the gate. Switching to GateDirect emits everything held
// (a backup going live, or a primary that lost its backup).
func (g *Gate) SetMode(m GateMode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = m
	switch m {
	case GateDirect:
		g.flushBefore(^uint64(0))
	case GateHold:
		// A new backup: what came before went out directly, and flushing
		// may have left released at ^0. Count releases again from the
		// acknowledgements, so the primary's release notices (which it
		// sends when released grows) reach the new backup.
		g.released = g.acked
	}
}

// Held returns the number of outputs held and the position of the oldest.
func (g *Gate) Held() (int, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.held) == 0 {
		return 0, 0
	}
	return len(g.held), g.held[0].pos
}

// ReleasedPos returns the position below which outputs were released.
func (g *Gate) ReleasedPos() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.released
}

// Writer returns an io.Writer whose bytes (console output) pass the gate,
// stamped with pos() at the time of the write, on their way to w.
func (g *Gate) Writer(w io.Writer, pos func() uint64) io.Writer {
	return gateWriter{g, w, pos}
}

type gateWriter struct {
	g   *Gate
	w   io.Writer
	pos func() uint64
}

func (gw gateWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	gw.g.Output(gw.pos(), func() {
		if gw.w != nil {
			if _, err := gw.w.Write(b); err != nil {
				gw.g.fail(err)
			}
		}
	})
	return len(p), nil
}

// NetBackend returns a network backend whose frames pass the gate on their
// way to b. Send errors after the gate are the backend's to report.
func (g *Gate) NetBackend(b hostio.Net, pos func() uint64) hostio.Net {
	return gateNet{b, g, pos}
}

type gateNet struct {
	hostio.Net
	g   *Gate
	pos func() uint64
}

func (gn gateNet) Send(frame []byte) error {
	f := append([]byte(nil), frame...)
	gn.g.Output(gn.pos(), func() { gn.Net.Send(f) })
	return nil
}
