package twohost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// stream is the client's request/response pairs on one TCP connection to
// the guest's echo service: request i is "req NNNNNN\n", its answer must
// be the same bytes.
type stream struct {
	conn net.Conn
	stop chan struct{} // closed by finish
	done chan struct{} // closed when run returned
	once sync.Once     // guards closing stop

	mu        sync.Mutex       // guards the fields below
	n         int              // pairs answered
	sent      int64            // bytes written
	echoed    int64            // bytes echoed back correctly
	kill      time.Time        // when the kill happened (zero before)
	resumedAt time.Time        // when the first request sent after the kill was answered
	phase     int              // 0 before the kill, 1 after it, 2 from the new backup's start
	aborted   bool             // abort closed the connection
	abandoned int64            // bytes of the request in flight at the abort (neither echoed nor lost)
	stall     [3]time.Duration // per phase, the longest request/response answered in it
	lat       []time.Duration  // each request/response answered before the kill (at most maxLat)
	err       error
}

func newStream(conn net.Conn) *stream {
	return &stream{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
}

// run makes requests until finish or an error; cancelling ctx closes the
// connection.
func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	go func() {
		select {
		case <-ctx.Done():
			s.conn.Close()
		case <-s.done:
		}
	}()
	reply := make([]byte, 64)
	for i := 0; ; i++ {
		select {
		case <-s.stop:
			return
		default:
		}
		req := []byte(fmt.Sprintf("req %06d\n", i))
		s.mu.Lock()
		afterKill := !s.kill.IsZero()
		s.mu.Unlock()
		sentAt := time.Now()
		s.conn.SetDeadline(sentAt.Add(replyLimit))
		n, err := s.conn.Write(req)
		s.mu.Lock()
		s.sent += int64(n)
		s.mu.Unlock()
		if err == nil {
			_, err = io.ReadFull(s.conn, reply[:len(req)])
			if err == nil && !bytes.Equal(reply[:len(req)], req) {
				err = fmt.Errorf("reply %d is %q, want %q", i, reply[:len(req)], req)
			}
		}
		now := time.Now()
		s.mu.Lock()
		if err != nil && s.aborted {
			s.abandoned = int64(n)
			s.mu.Unlock()
			return
		}
		if err != nil {
			s.err = fmt.Errorf("%w: request %d: %v", errStream, i, err)
			s.mu.Unlock()
			return
		}
		s.n++
		s.echoed += int64(len(req))
		s.stall[s.phase] = max(s.stall[s.phase], now.Sub(sentAt))
		if s.phase == 0 && len(s.lat) < maxLat {
			s.lat = append(s.lat, now.Sub(sentAt))
		}
		if afterKill && s.resumedAt.IsZero() {
			s.resumedAt = now
		}
		s.mu.Unlock()
	}
}

// markKill notes the moment of the kill and returns it.
func (s *stream) markKill() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill = time.Now()
	s.phase = 1
	return s.kill
}

// markJoin notes the start of the new backup.
func (s *stream) markJoin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = 2
}

// maxLat bounds the latencies a stream keeps.
const maxLat = 1 << 20

// counts returns the number of pairs answered and of latencies kept.
func (s *stream) counts() (answered, lat int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, len(s.lat)
}

// latencies returns the latencies kept.
func (s *stream) latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lat[:len(s.lat):len(s.lat)]
}

// answered returns the number of pairs answered.
func (s *stream) answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// failed reports whether the stream broke.
func (s *stream) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// resumed reports whether a request sent after the kill was answered.
func (s *stream) resumed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.resumedAt.IsZero()
}

// resumedAfter returns the kill to the answer of the first request sent
// after it.
func (s *stream) resumedAfter() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumedAt.Sub(s.kill)
}

// finish stops the stream after the request in flight and waits for it.
func (s *stream) finish() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// abort ends the stream at once, closing the connection: the request in
// flight is abandoned, not lost (the run ended for another reason).
func (s *stream) abort() {
	s.mu.Lock()
	s.aborted = true
	s.mu.Unlock()
	s.conn.Close()
	s.finish()
}

// result fills res's stream figures and returns the stream's error.
func (s *stream) result(res *Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	res.Pairs, res.BytesSent, res.BytesEcho, res.Stall, res.JoinStall = s.n, s.sent, s.echoed, s.stall[1], s.stall[2]
	res.Abandoned = s.abandoned
	res.LostBytes = s.sent - s.echoed - s.abandoned
	return s.err
}
