package failover

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestReadWaitEvents: ReadEvents and WaitEvent see the whole lines of an
// events file, not one still being written.
func TestReadWaitEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events")
	if _, err := ReadEvents(path); !os.IsNotExist(err) {
		t.Errorf("ReadEvents of no file: %v, want it does not exist", err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewEventWriter(f)
	w.Write(Event{Kind: EventListening})
	w.Write(Event{Kind: EventWentLive, Generation: 2})
	f.WriteString(`{"event":"ended"`) // not yet the whole line
	events, err := ReadEvents(path)
	if err != nil || len(events) != 2 || events[1].Generation != 2 {
		t.Fatalf("ReadEvents: %v, %v; want listening and went-live of generation 2", events, err)
	}
	done := make(chan struct{})
	close(done)
	if e, err := WaitEvent(context.Background(), path, done, func(e Event) bool { return e.Kind == EventWentLive }); err != nil || e.Generation != 2 {
		t.Errorf("WaitEvent went-live: %v, %v", e, err)
	}
	if _, err := WaitEvent(context.Background(), path, done, func(e Event) bool { return e.Kind == EventEnded }); err == nil {
		t.Error("WaitEvent found the event still being written")
	}
}
