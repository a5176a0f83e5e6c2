package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"ftvm/failover"
	"ftvm/machine"
)

// eventLog is the --events file: JSON lines for other programs.
type eventLog struct {
	f *os.File
	w *failover.EventWriter
}

// openEvents creates the --events file; an empty path gives a log that
// writes nothing.
func openEvents(path string) (*eventLog, error) {
	if path == "" {
		return &eventLog{}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--events: %v", err)
	}
	return &eventLog{f: f, w: failover.NewEventWriter(f)}, nil
}

// write writes one event.
func (l *eventLog) write(e failover.Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if l.w != nil {
		l.w.Write(e)
	}
}

// ended writes the run's last event, and closes the file (synced),
// reporting errors on stderr.
func (l *eventLog) ended(m *machine.Machine, status int) {
	if l.f == nil {
		return
	}
	l.write(failover.Event{Kind: failover.EventEnded, Position: m.CPU.Position(), Status: status,
		Text: fmt.Sprintf("ended at position %d with exit status %d", m.CPU.Position(), status)})
	if err := errors.Join(l.w.Err(), l.f.Sync(), l.f.Close()); err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: --events: %v\n", err)
	}
}
