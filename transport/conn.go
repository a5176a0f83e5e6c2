package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Conn is one side of a pair's connection. All methods are safe for
// concurrent use. Which side uses what:
//
//	primary: SendRecord, Acked, WaitAcked, Options.OnAck, SendState
//	backup:  RecvRecord, Ack, AckOnArrival, RecvState
//	both:    SendControl, RecvControl, SetPosition, PeerPosition,
//	         LastHeard, PacketsReceived, Close, Done, Err
type Conn struct {
	qc      *quic.Conn
	ctrl    *quic.Stream
	opts    Options
	release func()         // drops this connection's hold on its UDP socket
	sock    net.PacketConn // the dialer's own socket (nil when accepted)
	start   time.Time      // monotonic origin of heard

	done  chan struct{}
	errMu sync.Mutex
	err   error

	// Primary side: records waiting to be written (pending) and those
	// written but not acknowledged (inflight, unacked bytes in all).
	logMu      sync.Mutex
	sendSeq    uint64
	pending    []byte
	unacked    int
	inflight   []inflightRec
	logStarted bool
	logWake    chan struct{}
	ackSeq     uint64
	ackPos     uint64
	ackWake    chan struct{} // closed and replaced on each ack

	// Backup side. ackMu guards myAckSeq, myAckPos, ackStarted and
	// arrived; onArrival is set once by AckOnArrival.
	recvCh     chan record
	delivered  atomic.Uint64
	onArrival  atomic.Bool
	ackMu      sync.Mutex
	myAckSeq   uint64
	myAckPos   uint64
	arrived    uint64 // the last record queued for RecvRecord
	ackStarted bool
	ackSig     chan struct{}

	ctrlMu sync.Mutex // serializes writes on ctrl
	ctrlCh chan ctrlMsg

	stateCh chan *quic.Stream

	// Streams the peer may open once.
	haveLog, haveAck, haveHB atomic.Bool

	pos     atomic.Uint64
	peerPos atomic.Uint64
	hbMu    sync.Mutex
	peerHB  uint64
	heard   atomic.Int64 // time.Duration since start
}

type inflightRec struct {
	seq  uint64
	size int
}

type record struct {
	seq  uint64
	data []byte
}

type ctrlMsg struct {
	kind    uint8
	payload []byte
}

// Queue lengths between the stream readers and the application.
const (
	recvQueue    = 256
	ctrlQueue    = 64
	stateQueue   = 4
	readerBuffer = 64 << 10
)

func newConn(qc *quic.Conn, ctrl *quic.Stream, opts Options, release func()) *Conn {
	c := &Conn{
		qc:      qc,
		ctrl:    ctrl,
		opts:    opts,
		release: release,
		start:   time.Now(),
		done:    make(chan struct{}),
		logWake: make(chan struct{}, 1),
		ackWake: make(chan struct{}),
		recvCh:  make(chan record, recvQueue),
		ackSig:  make(chan struct{}, 1),
		ctrlCh:  make(chan ctrlMsg, ctrlQueue),
		stateCh: make(chan *quic.Stream, stateQueue),
	}
	go c.monitor()
	go acceptStreams(c, c.qc.AcceptUniStream, c.handleUni)
	go acceptStreams(c, c.qc.AcceptStream, c.handleBidi)
	go c.controlReader()
	go c.heartbeats()
	if !opts.DisableDatagrams {
		go c.datagramReader()
	}
	return c
}

// monitor waits for the connection to end, records why and fires Done.
func (c *Conn) monitor() {
	ctx := c.qc.Context()
	<-ctx.Done()
	c.setErr(translate(context.Cause(ctx), c.opts.IdleTimeout))
	close(c.done)
	if c.release != nil {
		c.release()
	}
}

func (c *Conn) setErr(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
}

// Done is closed when the connection has ended, for whatever reason.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, nil while it is up. It matches
// ErrClosed, ErrPeerClosed or ErrPeerLost with errors.Is, or is a
// *ProtocolError, or another error (TLS, socket).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		c.errMu.Lock()
		defer c.errMu.Unlock()
		return c.err
	default:
		return nil
	}
}

// Close closes the connection at once; data not yet delivered is dropped
// (a primary that wants its last records delivered waits for their ack
// first). The peer's connection ends with ErrPeerClosed.
func (c *Conn) Close() error {
	c.setErr(ErrClosed)
	c.qc.CloseWithError(codeNone, "")
	<-c.done
	return nil
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// LocalAddr is this side's address.
func (c *Conn) LocalAddr() net.Addr { return c.qc.LocalAddr() }

// protocolError closes the connection because of the peer's malformed
// input.
func (c *Conn) protocolError(format string, args ...any) {
	err := &ProtocolError{Msg: fmt.Sprintf(format, args...)}
	c.setErr(err)
	msg := err.Msg
	if len(msg) > 200 {
		msg = msg[:200]
	}
	c.qc.CloseWithError(codeProtocol, msg)
}

// alive reports whether the connection is still up.
func (c *Conn) alive() bool { return c.qc.Context().Err() == nil }

// streamFailed handles an error reading or writing a stream that must
// stay open for the life of the connection.
func (c *Conn) streamFailed(what string, err error) {
	if isConnErr(err) || !c.alive() {
		return // the connection is going; monitor records why
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.protocolError("%s ended", what)
		return
	}
	c.protocolError("%s: %v", what, err)
}

// opErr turns an error from a send operation into what to return: once
// the connection is going, the reason it ended.
func (c *Conn) opErr(err error) error {
	if isConnErr(err) || !c.alive() {
		select {
		case <-c.done:
			return c.Err()
		case <-time.After(time.Second):
			return translate(err, c.opts.IdleTimeout)
		}
	}
	return fmt.Errorf("transport: %w", err)
}

// connEnd holds the QUIC error that ended a connection, as find takes it
// out of an error: at most one field is set.
type connEnd struct {
	app   *quic.ApplicationError
	idle  *quic.IdleTimeoutError
	reset *quic.StatelessResetError
	hs    *quic.HandshakeTimeoutError
	tr    *quic.TransportError
}

// find reports whether err is the connection's end rather than a stream's,
// and sets the field of the first QUIC error (in the order of the fields)
// that err is.
func (e *connEnd) find(err error) bool {
	return errors.As(err, &e.app) || errors.As(err, &e.idle) || errors.As(err, &e.reset) ||
		errors.As(err, &e.hs) || errors.As(err, &e.tr) || errors.Is(err, quic.ErrTransportClosed)
}

// isConnErr reports whether err is the connection's end rather than a
// stream's.
func isConnErr(err error) bool {
	var e connEnd
	return e.find(err)
}

// translate maps the reason a QUIC connection ended to this package's
// errors.
func translate(err error, idle time.Duration) error {
	if err == nil {
		return ErrClosed
	}
	var end connEnd
	end.find(err)
	appErr, tErr := end.app, end.tr
	switch {
	case appErr != nil:
		switch {
		case appErr.ErrorCode == codeNone && appErr.Remote:
			return ErrPeerClosed
		case appErr.ErrorCode == codeNone:
			return ErrClosed
		case appErr.ErrorCode == codeProtocol:
			return &ProtocolError{Remote: appErr.Remote, Msg: appErr.ErrorMessage}
		case appErr.ErrorCode == codeRefused && appErr.Remote:
			return fmt.Errorf("transport: peer refused the connection: %s", appErr.ErrorMessage)
		case appErr.Remote:
			return fmt.Errorf("transport: peer closed the connection (code %#x): %s", uint64(appErr.ErrorCode), appErr.ErrorMessage)
		default:
			return fmt.Errorf("transport: connection closed (code %#x): %s", uint64(appErr.ErrorCode), appErr.ErrorMessage)
		}
	case end.idle != nil:
		return fmt.Errorf("%w: nothing heard from the peer for %v", ErrPeerLost, idle)
	case end.reset != nil:
		return fmt.Errorf("%w: the peer no longer knows this connection (stateless reset)", ErrPeerLost)
	case end.hs != nil:
		return fmt.Errorf("%w: TLS handshake timed out", ErrPeerLost)
	case tErr != nil:
		if tErr.ErrorCode.IsCryptoError() {
			msg := tErr.ErrorMessage
			for _, e := range tErr.Unwrap() {
				if msg == "" && e != nil && e != net.ErrClosed {
					msg = e.Error()
				}
			}
			if msg == "" {
				msg = tErr.ErrorCode.Message()
			}
			if tErr.Remote {
				return fmt.Errorf("transport: the peer refused the TLS handshake (%s): is this node's certificate from the pair's CA?", msg)
			}
			return fmt.Errorf("transport: TLS handshake failed: %s", msg)
		}
		return fmt.Errorf("transport: QUIC: %w", err)
	case errors.Is(err, quic.ErrTransportClosed):
		return fmt.Errorf("transport: local UDP socket closed: %w", err)
	}
	return fmt.Errorf("transport: %w", err)
}

// readFull fills b from r, a stream that must stay open for the life of the
// connection (what names it); false (the failure handled) if it could not.
func (c *Conn) readFull(r io.Reader, b []byte, what string) bool {
	if _, err := io.ReadFull(r, b); err != nil {
		c.streamFailed(what, err)
		return false
	}
	return true
}

// deliver notes that v arrived from the peer and queues it on ch, which
// receive reads; false if the connection ended first.
func deliver[T any](c *Conn, ch chan<- T, v T) bool {
	c.touch()
	select {
	case ch <- v:
		return true
	case <-c.done:
		return false
	}
}

// receive returns the next value deliver queued on ch. Values that arrived
// before the connection ended are still returned; then the connection's
// error.
func receive[T any](c *Conn, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-c.done:
		select {
		case v := <-ch:
			return v, nil
		default:
			var zero T
			return zero, c.Err()
		}
	}
}

// touch notes that something arrived from the peer.
func (c *Conn) touch() { c.heard.Store(int64(time.Since(c.start))) }

// RTT is the link's smoothed round-trip time (QUIC's estimate over the
// heartbeats, records and acknowledgements it carries).
func (c *Conn) RTT() time.Duration { return c.qc.ConnectionStats().SmoothedRTT }

// LastHeard is when anything (a heartbeat, record, ack, control message or
// state chunk) last arrived from the peer; the connection's start before
// that. It carries a monotonic clock reading, so time.Since is safe.
func (c *Conn) LastHeard() time.Time { return c.start.Add(time.Duration(c.heard.Load())) }

// PacketsReceived counts the QUIC packets of this connection received and
// decrypted (so sent by the peer, acknowledgements included). QUIC's own
// goroutine counts them as they arrive, before the readers behind
// LastHeard run: a watcher that sees it grow knows the peer sent something
// even when those readers were not yet scheduled.
func (c *Conn) PacketsReceived() uint64 { return c.qc.ConnectionStats().PacketsReceived }

// SetPosition sets the position this side's heartbeats carry.
func (c *Conn) SetPosition(pos uint64) { c.pos.Store(pos) }

// PeerPosition is the position carried by the peer's latest heartbeat.
func (c *Conn) PeerPosition() uint64 { return c.peerPos.Load() }

// ---- stream dispatch ----

// peerStream is a stream the peer opened (*quic.ReceiveStream or
// *quic.Stream), as readType reads it.
type peerStream interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// readType reads the type byte that opens a stream the peer opened; false
// (the failure handled) if it could not.
func (c *Conn) readType(s peerStream) (byte, bool) {
	var b [1]byte
	s.SetReadDeadline(time.Now().Add(handshakeTimeout))
	_, err := io.ReadFull(s, b[:])
	s.SetReadDeadline(time.Time{})
	if err != nil {
		c.streamFailed("new stream", err)
		return 0, false
	}
	return b[0], true
}

// acceptStreams hands each stream the peer opens (accept is the
// connection's AcceptUniStream or AcceptStream) with its type to handle, in
// a goroutine of its own, until the connection ends.
func acceptStreams[S peerStream](c *Conn, accept func(context.Context) (S, error), handle func(S, byte)) {
	for {
		s, err := accept(c.qc.Context())
		if err != nil {
			return
		}
		go func() {
			if t, ok := c.readType(s); ok {
				handle(s, t)
			}
		}()
	}
}

// readOnce runs read on s, a stream the peer may open once (have notes
// that it did; what names it): a second one is a protocol error.
func (c *Conn) readOnce(have *atomic.Bool, what string, read func(*quic.ReceiveStream), s *quic.ReceiveStream) {
	if have.Swap(true) {
		c.protocolError("a second %s stream", what)
		return
	}
	read(s)
}

func (c *Conn) handleUni(s *quic.ReceiveStream, t byte) {
	switch t {
	case streamLog:
		c.readOnce(&c.haveLog, "log", c.logReader, s)
	case streamAck:
		c.readOnce(&c.haveAck, "ack", c.ackReader, s)
	case streamHeartbeat:
		c.readOnce(&c.haveHB, "heartbeat", c.heartbeatReader, s)
	default:
		c.protocolError("unknown unidirectional stream type %#x", t)
	}
}

func (c *Conn) handleBidi(s *quic.Stream, t byte) {
	switch t {
	case streamState:
		select {
		case c.stateCh <- s:
		default:
			c.protocolError("more than %d state transfers waiting", stateQueue)
		}
	case streamStatus:
		serveStatus(s, c.opts.Status)
	case streamControl:
		c.protocolError("a second control stream")
	default:
		c.protocolError("unknown bidirectional stream type %#x", t)
	}
}

// ---- log stream (primary → backup) ----

// SendRecord (primary) queues rec, a log record, for the backup and
// returns its sequence number (the first is 1). It copies rec. It blocks
// while the records not yet acknowledged would exceed Options.LogBuffer,
// until acks free space or the connection ends.
func (c *Conn) SendRecord(rec []byte) (uint64, error) {
	return c.SendRecordContext(context.Background(), rec)
}

// SendRecordContext is SendRecord that gives up (sending nothing) when ctx
// ends while it waits for space.
func (c *Conn) SendRecordContext(ctx context.Context, rec []byte) (uint64, error) {
	if len(rec) > MaxRecordSize {
		return 0, fmt.Errorf("transport: record of %d bytes exceeds %d", len(rec), MaxRecordSize)
	}
	size := frameOverhead + len(rec)
	if size > c.opts.LogBuffer {
		return 0, fmt.Errorf("transport: record of %d bytes does not fit the log buffer (%d bytes)", len(rec), c.opts.LogBuffer)
	}
	c.logMu.Lock()
	for c.unacked+size > c.opts.LogBuffer {
		if ok, err := c.waitAck(ctx, c.Err); !ok {
			return 0, err
		}
	}
	if err := c.Err(); err != nil {
		c.logMu.Unlock()
		return 0, err
	}
	c.sendSeq++
	seq := c.sendSeq
	c.pending = binary.LittleEndian.AppendUint32(c.pending, uint32(8+len(rec)))
	c.pending = binary.LittleEndian.AppendUint64(c.pending, seq)
	c.pending = append(c.pending, rec...)
	c.unacked += size
	c.inflight = append(c.inflight, inflightRec{seq, size})
	if !c.logStarted {
		c.logStarted = true
		go c.logWriter()
	}
	c.logMu.Unlock()
	poke(c.logWake)
	return seq, nil
}

// poke wakes the writer that waits on ch (of capacity 1) without blocking:
// a wake-up already pending covers this one.
func poke(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// openUni opens a unidirectional stream and writes its type t; nil (the
// failure handled) if it could not. what names the stream in errors.
func (c *Conn) openUni(t byte, what string) *quic.SendStream {
	s, err := c.qc.OpenUniStreamSync(c.qc.Context())
	if err != nil {
		c.streamFailed("opening the "+what, err)
		return nil
	}
	if _, err := s.Write([]byte{t}); err != nil {
		c.streamFailed(what, err)
		return nil
	}
	return s
}

// streamWriter opens a unidirectional stream of type t and, each time wake
// fires, writes to it what next returns (if anything), until the
// connection ends or a write fails.
func (c *Conn) streamWriter(t byte, what string, wake <-chan struct{}, next func() []byte) {
	s := c.openUni(t, what)
	if s == nil {
		return
	}
	for {
		select {
		case <-wake:
		case <-c.done:
			return
		}
		b := next()
		if len(b) == 0 {
			continue
		}
		if _, err := s.Write(b); err != nil {
			c.streamFailed(what, err)
			return
		}
	}
}

// logWriter writes queued records to the log stream.
func (c *Conn) logWriter() {
	var buf []byte
	c.streamWriter(streamLog, "log stream", c.logWake, func() []byte {
		c.logMu.Lock()
		buf, c.pending = c.pending, buf[:0]
		c.logMu.Unlock()
		return buf
	})
}

// logReader reads the log stream into recvCh.
func (c *Conn) logReader(s *quic.ReceiveStream) {
	br := bufio.NewReaderSize(s, readerBuffer)
	var h [frameOverhead]byte
	var last uint64
	for {
		if !c.readFull(br, h[:], "log stream") {
			return
		}
		n := binary.LittleEndian.Uint32(h[0:])
		seq := binary.LittleEndian.Uint64(h[4:])
		if n < 8 || n > 8+MaxRecordSize {
			c.protocolError("log frame %d has bad length %d", last+1, n)
			return
		}
		if seq != last+1 {
			c.protocolError("log record sequence %d after %d", seq, last)
			return
		}
		rec := make([]byte, n-8)
		if !c.readFull(br, rec, "log stream") {
			return
		}
		last = seq
		if !deliver(c, c.recvCh, record{seq, rec}) {
			return
		}
		c.ackMu.Lock()
		c.arrived = seq
		c.ackMu.Unlock()
		if c.onArrival.Load() {
			c.ackArrived()
		}
	}
}

// AckOnArrival (backup) makes the connection acknowledge each record as it
// arrives and is queued for RecvRecord, with the replay position of the
// latest Ack, rather than only when Ack is called: the records are then
// held by this side (RecvRecord returns them even after the connection
// ends), which is what the primary's output rule waits for. Records that
// arrived before the call are acknowledged at once.
func (c *Conn) AckOnArrival() {
	c.onArrival.Store(true)
	c.ackArrived()
}

// ackArrived acknowledges the records queued so far.
func (c *Conn) ackArrived() {
	c.ackMu.Lock()
	if c.arrived <= c.myAckSeq {
		c.ackMu.Unlock()
		return
	}
	c.myAckSeq = c.arrived
	c.startAcks()
	c.ackMu.Unlock()
	poke(c.ackSig)
}

// startAcks starts the ack writer if it is not running; ackMu is held.
func (c *Conn) startAcks() {
	if !c.ackStarted {
		c.ackStarted = true
		go c.ackWriter()
	}
}

// RecvRecord (backup) returns the next log record and its sequence number,
// in order; the record's bytes are the caller's to keep. Records that
// arrived before the connection ended are still returned; then the
// connection's error.
func (c *Conn) RecvRecord() (seq uint64, rec []byte, err error) {
	r, err := receive(c, c.recvCh)
	if err != nil {
		return 0, nil, err
	}
	c.delivered.Store(r.seq)
	return r.seq, r.data, nil
}

// ---- acks (backup → primary) ----

// Ack (backup) reports that the records up to seq are received and the
// replay has reached replayPos. Acks are cumulative and may only move
// forward; seq may not exceed the last record RecvRecord returned. (After
// AckOnArrival the connection acknowledges records itself: seq then only
// counts where it is ahead of those.) It does not block: the latest ack is
// sent as soon as the stream allows.
func (c *Conn) Ack(seq, replayPos uint64) error {
	if d := c.delivered.Load(); seq > d {
		return fmt.Errorf("transport: ack of record %d, but only %d received", seq, d)
	}
	if err := c.Err(); err != nil {
		return err
	}
	c.ackMu.Lock()
	if seq < c.myAckSeq && !c.onArrival.Load() || replayPos < c.myAckPos {
		s, p := c.myAckSeq, c.myAckPos
		c.ackMu.Unlock()
		return fmt.Errorf("transport: ack (%d, %d) goes back from (%d, %d)", seq, replayPos, s, p)
	}
	c.myAckSeq, c.myAckPos = max(c.myAckSeq, seq), replayPos
	c.startAcks()
	c.ackMu.Unlock()
	poke(c.ackSig)
	return nil
}

// ackWriter writes the latest ack to the ack stream.
func (c *Conn) ackWriter() {
	var b [16]byte
	c.streamWriter(streamAck, "ack stream", c.ackSig, func() []byte {
		c.ackMu.Lock()
		binary.LittleEndian.PutUint64(b[0:], c.myAckSeq)
		binary.LittleEndian.PutUint64(b[8:], c.myAckPos)
		c.ackMu.Unlock()
		return b[:]
	})
}

func (c *Conn) ackReader(s *quic.ReceiveStream) {
	br := bufio.NewReader(s)
	var b [16]byte
	for {
		if !c.readFull(br, b[:], "ack stream") {
			return
		}
		seq := binary.LittleEndian.Uint64(b[0:])
		pos := binary.LittleEndian.Uint64(b[8:])
		c.logMu.Lock()
		if seq < c.ackSeq || pos < c.ackPos {
			s, p := c.ackSeq, c.ackPos
			c.logMu.Unlock()
			c.protocolError("ack (%d, %d) goes back from (%d, %d)", seq, pos, s, p)
			return
		}
		if seq > c.sendSeq {
			last := c.sendSeq
			c.logMu.Unlock()
			c.protocolError("ack of record %d, but only %d sent", seq, last)
			return
		}
		c.ackSeq, c.ackPos = seq, pos
		i := 0
		for i < len(c.inflight) && c.inflight[i].seq <= seq {
			c.unacked -= c.inflight[i].size
			i++
		}
		c.inflight = c.inflight[i:]
		close(c.ackWake)
		c.ackWake = make(chan struct{})
		c.logMu.Unlock()
		c.touch()
		if c.opts.OnAck != nil {
			c.opts.OnAck(seq, pos)
		}
	}
}

// Acked (primary) is the latest ack: records up to seq received by the
// backup, whose replay has reached replayPos.
func (c *Conn) Acked() (seq, replayPos uint64) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.ackSeq, c.ackPos
}

// Sent (primary) is the sequence number of the last record SendRecord
// queued, and the bytes (with framing) of records not yet acknowledged.
func (c *Conn) Sent() (seq uint64, unackedBytes int) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.sendSeq, c.unacked
}

// WaitAcked (primary) waits until the backup has acknowledged the records
// up to seq, ctx ends or the connection ends.
func (c *Conn) WaitAcked(ctx context.Context, seq uint64) error {
	c.logMu.Lock()
	if seq > c.sendSeq {
		last := c.sendSeq
		c.logMu.Unlock()
		return fmt.Errorf("transport: waiting for the ack of record %d, but only %d sent", seq, last)
	}
	ended := func() error {
		if s, _ := c.Acked(); s >= seq {
			return nil // the ack came before the end
		}
		return c.Err()
	}
	for c.ackSeq < seq {
		if ok, err := c.waitAck(ctx, ended); !ok {
			return err
		}
	}
	c.logMu.Unlock()
	return nil
}

// waitAck is for a caller that holds logMu and needs an ack not yet
// received: it releases logMu and waits. After the next ack it takes logMu
// again and reports true. Otherwise, with logMu released, it returns ctx's
// error when ctx ends first, or what ended returns when the connection ends
// first.
func (c *Conn) waitAck(ctx context.Context, ended func() error) (bool, error) {
	wake := c.ackWake
	c.logMu.Unlock()
	select {
	case <-wake:
		c.logMu.Lock()
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-c.done:
		return false, ended()
	}
}

// ---- control (both ways) ----

// SendControl sends a control message: kind is the application's, payload
// at most MaxControlSize bytes. Messages arrive in order.
func (c *Conn) SendControl(kind uint8, payload []byte) error {
	if len(payload) > MaxControlSize {
		return fmt.Errorf("transport: control message of %d bytes exceeds %d", len(payload), MaxControlSize)
	}
	if err := c.Err(); err != nil {
		return err
	}
	b := make([]byte, 5+len(payload))
	b[0] = kind
	binary.LittleEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[5:], payload)
	c.ctrlMu.Lock()
	_, err := c.ctrl.Write(b)
	c.ctrlMu.Unlock()
	if err != nil {
		return c.opErr(err)
	}
	return nil
}

func (c *Conn) controlReader() {
	br := bufio.NewReaderSize(c.ctrl, readerBuffer)
	var h [5]byte
	for {
		if !c.readFull(br, h[:], "control stream") {
			return
		}
		n := binary.LittleEndian.Uint32(h[1:])
		if n > MaxControlSize {
			c.protocolError("control message of %d bytes exceeds %d", n, MaxControlSize)
			return
		}
		p := make([]byte, n)
		if !c.readFull(br, p, "control stream") {
			return
		}
		if !deliver(c, c.ctrlCh, ctrlMsg{h[0], p}) {
			return
		}
	}
}

// RecvControl returns the next control message from the peer. Messages
// that arrived before the connection ended are still returned; then the
// connection's error.
func (c *Conn) RecvControl() (kind uint8, payload []byte, err error) {
	m, err := receive(c, c.ctrlCh)
	return m.kind, m.payload, err
}

// ---- heartbeats ----

func (c *Conn) heartbeats() {
	st := c.qc.ConnectionState()
	datagrams := st.SupportsDatagrams.Local && st.SupportsDatagrams.Remote
	var hs *quic.SendStream
	if !datagrams {
		if hs = c.openUni(streamHeartbeat, "heartbeat stream"); hs == nil {
			return
		}
	}
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	var msg [heartbeatLen]byte
	msg[0] = heartbeatTag
	for n := uint64(1); ; n++ {
		binary.LittleEndian.PutUint64(msg[1:], n)
		binary.LittleEndian.PutUint64(msg[9:], c.pos.Load())
		if datagrams {
			if err := c.qc.SendDatagram(msg[:]); err != nil && !c.alive() {
				return
			}
		} else if _, err := hs.Write(msg[:]); err != nil {
			c.streamFailed("heartbeat stream", err)
			return
		}
		select {
		case <-t.C:
		case <-c.done:
			return
		}
	}
}

func (c *Conn) datagramReader() {
	for {
		b, err := c.qc.ReceiveDatagram(c.qc.Context())
		if err != nil {
			return
		}
		if !c.heartbeat(b) {
			return
		}
	}
}

func (c *Conn) heartbeatReader(s *quic.ReceiveStream) {
	br := bufio.NewReader(s)
	var b [heartbeatLen]byte
	for {
		if !c.readFull(br, b[:], "heartbeat stream") {
			return
		}
		if !c.heartbeat(b[:]) {
			return
		}
	}
}

// heartbeat takes one heartbeat message; false if it was malformed.
func (c *Conn) heartbeat(b []byte) bool {
	if len(b) != heartbeatLen || b[0] != heartbeatTag {
		c.protocolError("malformed heartbeat (%d bytes)", len(b))
		return false
	}
	n := binary.LittleEndian.Uint64(b[1:])
	pos := binary.LittleEndian.Uint64(b[9:])
	c.hbMu.Lock()
	if n > c.peerHB { // datagrams may arrive out of order: keep the newest
		c.peerHB = n
		c.peerPos.Store(pos)
	}
	c.hbMu.Unlock()
	c.touch()
	return true
}
