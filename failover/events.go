package failover

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// EventKind names what happened to a member of a pair.
type EventKind string

// The events of a pair member (Event.Kind). The fields an event fills are
// listed with it.
const (
	// EventListening: a primary (or a backup gone live) accepts backups
	// at Peer.
	EventListening EventKind = "listening"
	// EventWaitingBackup: a primary holds its guest until a backup joins.
	EventWaitingBackup EventKind = "waiting-backup"
	// EventWaitingPrimary: a backup cannot reach its primary at Peer yet
	// (Text says why); it keeps trying.
	EventWaitingPrimary EventKind = "waiting-primary"
	// EventJoinStarted: a backup at Peer began to join this primary in
	// Mode, the guest at Position: its RAM goes in rounds while the guest
	// runs.
	EventJoinStarted EventKind = "join-started"
	// EventBackupJoined: a backup at Peer joined this primary at Position
	// of Generation in Mode after Rounds rounds of pre-copy; Bytes of
	// state went in all, and the guest paused Millis for the last of it.
	EventBackupJoined EventKind = "backup-joined"
	// EventJoinedPrimary: this backup joined its primary at Peer at
	// Position of Generation in Mode; the state arrived in Millis.
	EventJoinedPrimary EventKind = "joined-primary"
	// EventJoinFailed: a backup's join failed (Text says why); in a
	// pre-copy abandoned after Rounds rounds, Bytes had been sent. The
	// primary carries on alone.
	EventJoinFailed EventKind = "join-failed"
	// EventBackupRefused: a second backup from Peer was refused.
	EventBackupRefused EventKind = "backup-refused"
	// EventBackupLost: the primary lost its backup and carries on alone as
	// Generation.
	EventBackupLost EventKind = "backup-lost"
	// EventPrimaryLost: the backup lost its primary, last heard Millis ago.
	EventPrimaryLost EventKind = "primary-lost"
	// EventWentLive: the backup went live as Generation at Position,
	// Millis after its primary was last heard.
	EventWentLive EventKind = "went-live"
	// EventGARPSent: a gratuitous ARP for the guest went out (Text: the
	// address and MAC).
	EventGARPSent EventKind = "garp-sent"
	// EventArbiterUnreachable: the arbiter gave no answer for Generation
	// (Text says why); this side is not live and asks again after Millis.
	EventArbiterUnreachable EventKind = "arbiter-unreachable"
	// EventLostArbiter: the other side holds Generation; this side stops.
	EventLostArbiter EventKind = "lost-arbiter"
	// EventGuestEnded: the primary's guest ended at Position with Status;
	// the backup ends with it.
	EventGuestEnded EventKind = "guest-ended"
	// EventReleasedLast: the primary's guest had ended but the primary was
	// lost before it released every output; this backup, as Generation,
	// released the Bytes outputs it held (those no release notice covered).
	EventReleasedLast EventKind = "released-last"
	// EventEnded: this process's run ended at Position with exit Status
	// (ftvm run, primary and backup write it last).
	EventEnded EventKind = "ended"
	// EventCheckpoints: a checkpointing primary's figures so far, every
	// few seconds and when its backup or run ends: Status checkpoints of
	// Bytes in all, Millis the mean pause of the guest per checkpoint.
	EventCheckpoints EventKind = "checkpoints"
	// EventError: something went wrong that does not end the run (Text).
	EventError EventKind = "error"
)

// Event is one thing that happened to a member of a pair, for programs:
// the demo, tests, a live view. Text is the sentence people read on stderr.
type Event struct {
	At         time.Time `json:"at"`
	Kind       EventKind `json:"event"`
	Generation uint64    `json:"generation,omitempty"`
	Position   uint64    `json:"position,omitempty"`
	Peer       string    `json:"peer,omitempty"`
	Millis     float64   `json:"ms,omitempty"`
	Bytes      int64     `json:"bytes,omitempty"`
	Status     int       `json:"status,omitempty"`
	Mode       string    `json:"mode,omitempty"`
	Rounds     int       `json:"rounds,omitempty"`
	Text       string    `json:"text"`
}

// Timeline keeps a member's events in order.
type Timeline struct {
	mu     sync.Mutex // guards events
	events []Event
}

func (t *Timeline) add(e Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
}

// List returns the events so far.
func (t *Timeline) List() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

// emit records an event: its text on the log (stderr) for people, the
// timeline, and Options.OnEvent.
func (n *member) emit(e Event, format string, args ...any) {
	e.At, e.Text = time.Now(), fmt.Sprintf(format, args...)
	fmt.Fprintf(n.opts.Log, "ftvm: %s\n", e.Text)
	n.Events.add(e)
	if n.opts.OnEvent != nil {
		n.opts.OnEvent(e)
	}
}

// EventWriter writes events as JSON lines (ftvm --events FILE), one write
// per event, safe for concurrent use.
type EventWriter struct {
	mu  sync.Mutex // guards w and err
	w   io.Writer
	err error
}

// NewEventWriter returns a writer of events to w.
func NewEventWriter(w io.Writer) *EventWriter { return &EventWriter{w: w} }

// Write writes e as one line; the first error is kept (Err).
func (w *EventWriter) Write(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		_, w.err = w.w.Write(append(b, '\n'))
	}
}

// Err returns the first error writing events.
func (w *EventWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// WaitEvent follows the JSON-lines event file path (another process's
// --events) until an event for which match returns true appears, ctx ends
// or, when done is not nil, done is closed (that process ended) and the file
// holds no such event.
func WaitEvent(ctx context.Context, path string, done <-chan struct{}, match func(Event) bool) (Event, error) {
	var off int64
	for {
		ended := false
		if done != nil {
			select {
			case <-done:
				ended = true
			default:
			}
		}
		var found Event
		var ok bool
		off, ok, _ = scanEvents(path, off, func(e Event) bool {
			found = e
			return match(e)
		})
		if ok {
			return found, nil
		}
		if ended {
			return Event{}, fmt.Errorf("%s: the process ended without the event", path)
		}
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ReadEvents returns the events in the JSON-lines event file path now.
func ReadEvents(path string) ([]Event, error) {
	var out []Event
	_, _, err := scanEvents(path, 0, func(e Event) bool {
		out = append(out, e)
		return false
	})
	return out, err
}

// scanEvents hands the events of the whole lines of the event file path
// from offset off to fn until fn returns true (found). next is the offset
// after the lines read: a line still being written is left for later.
func scanEvents(path string, off int64, fn func(Event) bool) (next int64, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return off, false, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, false, err
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return off, false, nil
		} else if err != nil {
			return off, false, err
		}
		off += int64(len(line))
		var e Event
		if json.Unmarshal(line, &e) == nil && fn(e) {
			return off, true, nil
		}
	}
}
