package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/quic-go/quic-go"
)

// ErrStateAborted is returned by a state reader when the sender abandoned
// the transfer (its source failed or its context ended); the connection
// stays up.
var ErrStateAborted = errors.New("transport: state transfer abandoned by the sender")

// SendState (primary) sends a snapshot read from r to the backup on a
// stream of its own, so records, acks and heartbeats keep flowing beside
// it. It returns once the backup has read all of it (its RecvState reader
// returned io.EOF), or with an error: r's, or the connection's. When r
// fails the backup's reader fails too.
func (c *Conn) SendState(r io.Reader) error {
	return c.SendStateContext(context.Background(), r)
}

// SendStateContext is SendState that abandons the transfer when ctx ends.
func (c *Conn) SendStateContext(ctx context.Context, r io.Reader) (err error) {
	if err := c.Err(); err != nil {
		return err
	}
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.opErr(err)
	}
	abort := func() {
		s.CancelWrite(codeStateAborted)
		s.CancelRead(codeStateAborted)
	}
	stop := context.AfterFunc(ctx, abort)
	defer stop()
	fail := func(err error) error {
		abort()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *quic.StreamError
		if errors.As(err, &se) && se.Remote {
			return errors.New("transport: the peer abandoned the state transfer")
		}
		return c.opErr(err)
	}

	buf := make([]byte, 1+4+MaxStateChunk)
	buf[0] = streamState
	hdr := 1 // the type byte goes out with the first chunk
	var total uint64
	for {
		n, rerr := io.ReadFull(r, buf[hdr+4:hdr+4+MaxStateChunk])
		if n > 0 {
			binary.LittleEndian.PutUint32(buf[hdr:], uint32(n))
			if _, err := s.Write(buf[:hdr+4+n]); err != nil {
				return fail(err)
			}
			hdr = 0
			total += uint64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			abort()
			return fmt.Errorf("transport: reading the state to send: %w", rerr)
		}
	}
	end := buf[:hdr+4+8]
	binary.LittleEndian.PutUint32(end[hdr:], 0)
	binary.LittleEndian.PutUint64(end[hdr+4:], total)
	if _, err := s.Write(end); err != nil {
		return fail(err)
	}
	if err := s.Close(); err != nil {
		return fail(err)
	}
	var ok [1]byte
	if _, err := io.ReadFull(s, ok[:]); err != nil {
		return fail(err)
	}
	if ok[0] != 1 {
		c.protocolError("bad state transfer receipt %#x", ok[0])
		return c.opErr(errors.New("bad receipt"))
	}
	return nil
}

// RecvState (backup) waits for the next state transfer and returns a
// reader of its bytes. The reader returns io.EOF only after the whole
// snapshot arrived intact; a malformed transfer closes the connection, one
// the sender abandoned gives ErrStateAborted. Read it to the end: the
// sender's SendState returns only then.
func (c *Conn) RecvState() (io.Reader, error) {
	select {
	case s := <-c.stateCh:
		return &stateReader{c: c, s: s, br: bufio.NewReaderSize(s, readerBuffer)}, nil
	case <-c.done:
		return nil, c.Err()
	}
}

type stateReader struct {
	c     *Conn
	s     *quic.Stream
	br    *bufio.Reader
	left  int    // bytes left in the current chunk
	total uint64 // bytes delivered
	err   error  // sticky
}

func (r *stateReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for r.left == 0 {
		var h [4]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			return 0, r.fail(err)
		}
		n := binary.LittleEndian.Uint32(h[:])
		if n == 0 {
			return 0, r.finish()
		}
		if n > MaxStateChunk {
			return 0, r.malformed("state chunk of %d bytes exceeds %d", n, MaxStateChunk)
		}
		r.left = int(n)
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.br.Read(p)
	r.left -= n
	r.total += uint64(n)
	if n > 0 {
		r.c.touch()
	}
	if err != nil {
		return n, r.fail(err)
	}
	return n, nil
}

// finish checks the trailer and the end of the stream and sends the
// receipt.
func (r *stateReader) finish() error {
	var t [8]byte
	if _, err := io.ReadFull(r.br, t[:]); err != nil {
		return r.fail(err)
	}
	if n := binary.LittleEndian.Uint64(t[:]); n != r.total {
		return r.malformed("state transfer of %d bytes claims %d", r.total, n)
	}
	var extra [1]byte
	if n, err := r.br.Read(extra[:]); n != 0 || err != io.EOF {
		if err != nil && err != io.EOF {
			return r.fail(err)
		}
		return r.malformed("data after the end of a state transfer")
	}
	if _, err := r.s.Write([]byte{1}); err != nil {
		return r.fail(err)
	}
	r.s.Close()
	r.err = io.EOF
	return io.EOF
}

func (r *stateReader) malformed(format string, args ...any) error {
	r.c.protocolError(format, args...)
	r.s.CancelRead(codeStateAborted)
	r.s.CancelWrite(codeStateAborted)
	<-r.c.done
	r.err = r.c.Err()
	return r.err
}

func (r *stateReader) fail(err error) error {
	var se *quic.StreamError
	switch {
	case errors.As(err, &se) && se.Remote:
		r.err = ErrStateAborted
		r.s.CancelWrite(codeStateAborted)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return r.malformed("state transfer truncated after %d bytes", r.total)
	default:
		r.err = r.c.opErr(err)
	}
	return r.err
}
