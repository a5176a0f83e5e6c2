package machine

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

// consoleChunk is what a console reader posts at most at once (its read
// buffer).
const consoleChunk = 512

// queuedConsole returns the console bytes waiting for the guest: posted
// and not handed out, plus the board's backlog.
func (l *LiveInputs) queuedConsole() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.console + l.backlog
}

// postConsole posts n chunks of console input, counting the bytes posted.
func postConsole(l *LiveInputs, n int, posted *atomic.Int64) {
	for range n {
		l.Post(devices.Input{Kind: devices.InputConsole, Data: make([]byte, consoleChunk)})
		posted.Add(consoleChunk)
	}
}

// Console input is held back once MaxPendingConsole bytes wait for the
// guest: the poster blocks until the board says the guest took some.
func TestLiveInputsConsoleBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLiveInputs(false)
		var posted atomic.Int64
		done := make(chan struct{})
		go func() {
			postConsole(l, 64, &posted)
			close(done)
		}()
		synctest.Wait()
		if got := posted.Load(); got != MaxPendingConsole {
			t.Fatalf("%d bytes posted before the reader blocked, want %d", got, MaxPendingConsole)
		}
		// Handed to the board, which holds them all: still no room.
		if in := l.Take(1, nil); len(in) != MaxPendingConsole/consoleChunk {
			t.Fatalf("took %d inputs", len(in))
		}
		synctest.Wait()
		if got := posted.Load(); got != MaxPendingConsole {
			t.Fatalf("%d bytes posted after the board took the input, want %d", got, MaxPendingConsole)
		}
		// The guest read 1000 bytes: two more chunks fit.
		l.ConsoleBacklog(MaxPendingConsole - 1000)
		synctest.Wait()
		if got := posted.Load(); got != MaxPendingConsole+2*consoleChunk {
			t.Fatalf("%d bytes posted after the guest read 1000, want %d", got, MaxPendingConsole+2*consoleChunk)
		}
		// A guest that reads everything takes all of it.
		for {
			l.Take(2, nil)
			l.ConsoleBacklog(0)
			select {
			case <-done:
				return
			default:
				synctest.Wait()
			}
		}
	})
}

// A guest that never reads COM1 (the PIT build of the wait guest) while the
// console's reader keeps posting: the bytes waiting for it, in the board
// and in the live source, stay within MaxPendingConsole and a chunk.
func TestConsoleInputBoundedWhenUnread(t *testing.T) {
	image := testenv.GuestImage(t, "wait-pit-periodic-pic-hlt")
	m := newLoaded(t, Config{Console: &testenv.Buffer{}, Clock: ClockHost, Cmdline: "count=1000000"}, image)
	exits := make(chan Exit, 1)
	go func() { exits <- m.Run(0) }()
	var posted atomic.Int64
	const chunks = 64 // 32 KiB
	done := make(chan struct{})
	go func() {
		postConsole(m.Live, chunks, &posted)
		close(done)
	}()
	ok := testenv.WaitFor(30*time.Second, func() bool {
		select {
		case <-done:
			return true // every chunk went in: nothing held the reader back
		default:
		}
		return m.Live.queuedConsole() >= MaxPendingConsole
	})
	m.RequestStop()
	if e := <-exits; e.Reason != ExitStopped {
		t.Fatalf("run ended with %v", e.Reason)
	}
	if !ok {
		t.Fatal("the console input never filled up")
	}
	held := len(m.consoleIn)
	if p := posted.Load(); p > MaxPendingConsole+consoleChunk || held > MaxPendingConsole+consoleChunk {
		t.Errorf("%d bytes posted, %d held by the board, want at most %d", p, held, MaxPendingConsole+consoleChunk)
	}
	t.Logf("%d bytes posted, %d held by the board beyond the UART's FIFO", posted.Load(), held)
	// Let the reader finish, as a guest reading everything would.
	for {
		select {
		case <-done:
			return
		default:
			m.Live.Take(0, nil)
			m.Live.ConsoleBacklog(0)
			runtime.Gosched()
		}
	}
}
