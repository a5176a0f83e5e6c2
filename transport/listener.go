package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

func quicConfig(o Options) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           5 * time.Second,
		MaxIdleTimeout:                 o.IdleTimeout,
		EnableDatagrams:                !o.DisableDatagrams,
		MaxIncomingStreams:             32,
		MaxIncomingUniStreams:          16,
		InitialStreamReceiveWindow:     1 << 20,
		MaxStreamReceiveWindow:         16 << 20,
		InitialConnectionReceiveWindow: 2 << 20,
		// Well above one stream's window, so a backlog on the log stream
		// cannot starve a state transfer or the control stream.
		MaxConnectionReceiveWindow: 64 << 20,
	}
}

// socket is a UDP socket and its QUIC transport, shared by a listener and
// the connections it accepted; the last one to let go closes it.
type socket struct {
	mu   sync.Mutex
	refs int
	tr   *quic.Transport
	udp  net.PacketConn
}

func (s *socket) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 {
		return false
	}
	s.refs++
	return true
}

func (s *socket) release() {
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if last {
		s.tr.Close()
		s.udp.Close()
	}
}

// Listener accepts pair connections and answers status queries on one UDP
// address.
type Listener struct {
	ql     *quic.Listener
	sock   *socket
	opts   Options
	conns  chan *Conn
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// Listen listens on the UDP address addr ("host:port"; ":0" picks a port,
// see Addr). Connections it accepts use opts.
func Listen(addr string, tlsCfg *TLSConfig, opts Options) (*Listener, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil || tlsCfg.Server == nil {
		return nil, errors.New("transport: Listen needs a TLS configuration")
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	tr := &quic.Transport{Conn: udp}
	ql, err := tr.Listen(tlsCfg.Server, quicConfig(opts))
	if err != nil {
		tr.Close()
		udp.Close()
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		ql:     ql,
		sock:   &socket{refs: 1, tr: tr, udp: udp},
		opts:   opts,
		conns:  make(chan *Conn, 4),
		ctx:    ctx,
		cancel: cancel,
	}
	go l.acceptLoop()
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.sock.udp.LocalAddr() }

// Accept returns the next pair connection (one whose peer presented a
// certificate from the pair's CA and completed the ftvm hello). Status
// queries are answered without reaching Accept.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.ctx.Done():
		return nil, ErrClosed
	}
}

// Close stops accepting. Connections already accepted stay up; the socket
// closes with the last of them.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.ql.Close()
		l.drain()
		l.sock.release()
	})
	return nil
}

// drain closes the connections nobody will accept any more.
func (l *Listener) drain() {
	for {
		select {
		case c := <-l.conns:
			c.Close()
		default:
			return
		}
	}
}

func (l *Listener) acceptLoop() {
	for {
		qc, err := l.ql.Accept(l.ctx)
		if err != nil {
			return
		}
		if !l.sock.acquire() {
			qc.CloseWithError(codeRefused, "listener closed")
			return
		}
		go l.handshake(qc)
	}
}

// handshake reads what a new connection wants: a pair connection or a
// status query.
func (l *Listener) handshake(qc *quic.Conn) {
	ctx, cancel := context.WithTimeout(l.ctx, handshakeTimeout)
	defer cancel()
	refuse := func(code quic.ApplicationErrorCode, msg string) {
		qc.CloseWithError(code, msg)
		l.sock.release()
	}
	s, err := qc.AcceptStream(ctx)
	if err != nil {
		refuse(codeRefused, "no request")
		return
	}
	var b [1]byte
	if err := readFullCtx(ctx, s, b[:]); err != nil {
		refuse(codeRefused, "no request")
		return
	}
	switch b[0] {
	case streamControl:
		if err := readFullCtx(ctx, s, b[:]); err != nil {
			refuse(codeRefused, "no hello")
			return
		}
		if b[0] != protoVersion {
			refuse(codeProtocol, fmt.Sprintf("unsupported ftvm protocol version %d (this side speaks %d)", b[0], protoVersion))
			return
		}
		if _, err := s.Write([]byte{protoVersion}); err != nil {
			refuse(codeRefused, "hello failed")
			return
		}
		c := newConn(qc, s, l.opts, l.sock.release)
		select {
		case l.conns <- c:
			if l.ctx.Err() != nil { // closed meanwhile: Close may have drained already
				l.drain()
			}
		case <-l.ctx.Done():
			c.Close()
		}
	case streamStatus:
		serveStatus(s, l.opts.Status)
		// Let the client read the reply and close; then make sure.
		select {
		case <-qc.Context().Done():
		case <-time.After(handshakeTimeout):
		}
		refuse(codeNone, "")
	default:
		refuse(codeProtocol, fmt.Sprintf("unknown request type %#x", b[0]))
	}
}

// readFullCtx fills b from s, giving up when ctx ends.
func readFullCtx(ctx context.Context, s interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, b []byte) error {
	stop := context.AfterFunc(ctx, func() { s.SetReadDeadline(time.Now()) })
	defer stop()
	_, err := io.ReadFull(s, b)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// dialQUIC opens a QUIC connection from a socket of its own; release
// closes the socket.
func dialQUIC(ctx context.Context, addr string, tlsCfg *TLSConfig, cfg *quic.Config) (*quic.Conn, net.PacketConn, func(), error) {
	if tlsCfg == nil || tlsCfg.Client == nil {
		return nil, nil, nil, errors.New("transport: dialing needs a TLS configuration")
	}
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, nil, nil, err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, nil, nil, err
	}
	tr := &quic.Transport{Conn: udp}
	release := func() {
		tr.Close()
		udp.Close()
	}
	qc, err := tr.Dial(ctx, ra, tlsCfg.Client, cfg)
	if err != nil {
		release()
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		return nil, nil, nil, translate(err, cfg.MaxIdleTimeout)
	}
	return qc, udp, release, nil
}

// Dial connects to a listener at addr ("host:port") as the other side of a
// pair. It fails if either side's certificate is not from the pair's CA.
func Dial(ctx context.Context, addr string, tlsCfg *TLSConfig, opts Options) (*Conn, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	qc, udp, release, err := dialQUIC(ctx, addr, tlsCfg, quicConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	fail := func(err error) (*Conn, error) {
		qc.CloseWithError(codeRefused, "hello failed")
		release()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
		}
		if isConnErr(err) {
			err = translate(err, opts.IdleTimeout)
		}
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	s, err := qc.OpenStreamSync(hctx)
	if err != nil {
		return fail(err)
	}
	if _, err := s.Write([]byte{streamControl, protoVersion}); err != nil {
		return fail(err)
	}
	// In TLS 1.3 the server checks our certificate after our side of the
	// handshake is done: a refusal shows up here.
	var b [1]byte
	if err := readFullCtx(hctx, s, b[:]); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = errors.New("no ftvm hello from the listener")
		}
		return fail(err)
	}
	if b[0] != protoVersion {
		return fail(fmt.Errorf("listener speaks ftvm protocol version %d, this side %d", b[0], protoVersion))
	}
	c := newConn(qc, s, opts, release)
	c.sock = udp
	return c, nil
}

// serveStatus answers a status query on s.
func serveStatus(s *quic.Stream, status func() []byte) {
	ok, body := byte(1), []byte(nil)
	if status == nil {
		ok, body = 0, []byte("this node does not serve status")
	} else {
		body = status()
	}
	if len(body) > MaxStatusSize {
		ok, body = 0, []byte(fmt.Sprintf("status of %d bytes exceeds %d", len(body), MaxStatusSize))
	}
	b := make([]byte, 5+len(body))
	b[0] = ok
	binary.LittleEndian.PutUint32(b[1:], uint32(len(body)))
	copy(b[5:], body)
	s.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	s.Write(b)
	s.Close()
	s.CancelRead(codeNone)
}

// QueryStatus asks the node listening at addr for its status and returns
// the JSON it answers (Options.Status on that listener). The caller needs a
// certificate from the pair's CA, like any peer.
func QueryStatus(ctx context.Context, addr string, tlsCfg *TLSConfig) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
	}
	qc, _, release, err := dialQUIC(ctx, addr, tlsCfg, &quic.Config{HandshakeIdleTimeout: 5 * time.Second, MaxIdleTimeout: handshakeTimeout})
	if err != nil {
		return nil, fmt.Errorf("transport: status %s: %w", addr, err)
	}
	defer release()
	defer qc.CloseWithError(codeNone, "")
	fail := func(err error) ([]byte, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if isConnErr(err) {
			err = translate(err, handshakeTimeout)
		}
		return nil, fmt.Errorf("transport: status %s: %w", addr, err)
	}
	s, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return fail(err)
	}
	if _, err := s.Write([]byte{streamStatus}); err != nil {
		return fail(err)
	}
	s.Close()
	var h [5]byte
	if err := readFullCtx(ctx, s, h[:]); err != nil {
		return fail(err)
	}
	n := binary.LittleEndian.Uint32(h[1:])
	if n > MaxStatusSize {
		return fail(fmt.Errorf("status reply of %d bytes exceeds %d", n, MaxStatusSize))
	}
	body := make([]byte, n)
	if err := readFullCtx(ctx, s, body); err != nil {
		return fail(err)
	}
	if h[0] != 1 {
		return fail(fmt.Errorf("node answered: %s", body))
	}
	return body, nil
}
