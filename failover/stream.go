package failover

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"ftvm/lockstep"
	"ftvm/transport"
)

// streamSink sends a primary's records to its backup, remembering the
// position of each sequence number so acknowledgements translate into
// positions the backup holds every record before.
type streamSink struct {
	conn *transport.Conn
	ctx  context.Context // ends a wait for room in the log buffer (Stop)
	buf  []byte

	mu      sync.Mutex
	pending []seqPos // sent, not yet acknowledged
	lastPos uint64   // position of the last record sent
	lastAt  time.Time
	bytes   uint64
}

type seqPos struct{ seq, pos uint64 }

// Append implements lockstep.Sink. It blocks while the transport's log
// buffer is full: the primary stalls, nothing is lost.
func (s *streamSink) Append(r lockstep.Record) error {
	s.buf = lockstep.AppendFrame(s.buf[:0], r)
	seq, err := s.conn.SendRecordContext(s.ctx, s.buf)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.pending = append(s.pending, seqPos{seq, r.Pos})
	s.lastPos, s.lastAt = r.Pos, time.Now()
	s.bytes += uint64(len(s.buf))
	s.mu.Unlock()
	return nil
}

// Flush implements lockstep.Sink: records are sent as they come.
func (s *streamSink) Flush() error { return nil }

// acked returns the position of the latest record covered by seq: the
// backup holds every record up to it, and so everything before it.
func (s *streamSink) acked(seq uint64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pos uint64
	ok := false
	n := 0
	for n < len(s.pending) && s.pending[n].seq <= seq {
		pos, ok = s.pending[n].pos, true
		n++
	}
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return pos, ok
}

// sent returns the position and time of the last record sent, and the
// bytes sent.
func (s *streamSink) sent() (pos uint64, at time.Time, bytes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPos, s.lastAt, s.bytes
}

// streamSource reads the records a primary streams (the connection
// acknowledges each as it arrives: AckOnArrival) and reports the replay
// position with its acks. When the stream ends (the primary died, the link
// broke, or the primary closed it after its end) it returns lockstep.ErrEnd
// after the last record received, so replay stops there.
type streamSource struct {
	conn    *transport.Conn
	pos     func() uint64 // the backup's replay position
	waiting *atomic.Int32 // the backup's wait state
	offset  int64
	err     error
	seq     uint64 // the last record received
	ackPos  uint64 // the replay position last acknowledged
}

// Next implements lockstep.Source. Before it waits for a record it tells
// the primary how far replay got: the primary may be throttled, waiting
// for exactly that.
func (s *streamSource) Next() (lockstep.Record, error) {
	if s.err != nil {
		return lockstep.Record{}, lockstep.ErrEnd
	}
	if p := s.pos(); p > s.ackPos {
		s.ack(p)
	}
	s.waiting.Store(waitPrimary)
	seq, b, err := s.conn.RecvRecord()
	s.waiting.Store(waitNone)
	if err != nil {
		s.err = err
		return lockstep.Record{}, lockstep.ErrEnd
	}
	rec, err := lockstep.ParseFrame(b)
	if err != nil {
		// A corrupt record from the primary: refuse the stream.
		s.err = err
		s.conn.Close()
		return lockstep.Record{}, &lockstep.FormatError{Offset: s.offset, Msg: err.Error()}
	}
	s.offset += int64(len(b))
	s.seq = seq // rec.Payload is part of b, which RecvRecord gave us to keep
	s.ack(s.pos())
	return rec, nil
}

// ack acknowledges the records received and the replay position p. An
// ack that cannot be sent means the link is down: RecvRecord still returns
// the records that arrived, then the end.
func (s *streamSource) ack(p uint64) {
	s.conn.Ack(s.seq, p)
	s.ackPos = p
}

// Offset implements lockstep.Source.
func (s *streamSource) Offset() int64 { return s.offset }
