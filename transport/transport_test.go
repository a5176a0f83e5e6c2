package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two certificate directories with different CAs, made once.
var (
	certsOnce    sync.Once
	certsA       string
	certsB       string
	certsErr     error
	certsCleanup []string
)

func TestMain(m *testing.M) {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	code := m.Run()
	for _, d := range certsCleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func certDirs(t *testing.T) (a, b string) {
	t.Helper()
	certsOnce.Do(func() {
		for _, p := range []*string{&certsA, &certsB} {
			d, err := os.MkdirTemp("", "ftvm-certs-")
			if err != nil {
				certsErr = err
				return
			}
			certsCleanup = append(certsCleanup, d)
			if err := GenerateCerts(d); err != nil {
				certsErr = err
				return
			}
			*p = d
		}
	})
	if certsErr != nil {
		t.Fatal(certsErr)
	}
	return certsA, certsB
}

func loadTLS(t *testing.T, dir string) *TLSConfig {
	t.Helper()
	cfg, err := LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pair connects a listener side (the primary, as in ftvm) and a dialing
// side (the backup).
func pair(t *testing.T, lopts, dopts Options) (primary, backup *Conn, l *Listener) {
	t.Helper()
	a, _ := certDirs(t)
	cfg := loadTLS(t, a)
	l, err := Listen("127.0.0.1:0", cfg, lopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept(ctxT(t, 5*time.Second))
		ch <- res{c, err}
	}()
	backup, err = Dial(ctxT(t, 5*time.Second), l.Addr().String(), cfg, dopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backup.Close() })
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c, backup, l
}

func TestGenerateCerts(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{CACertFile: 0o644, CAKeyFile: 0o600, NodeCertFile: 0o644, NodeKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	err := GenerateCerts(dir)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second GenerateCerts: %v, want a refusal", err)
	}
	// One existing file is enough to refuse, and nothing else is written.
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, NodeKeyFile), []byte("mine"), 0o600)
	if err := GenerateCerts(dir2); err == nil {
		t.Fatal("GenerateCerts overwrote node.key")
	}
	if _, err := os.Stat(filepath.Join(dir2, CACertFile)); err == nil {
		t.Fatal("a refused GenerateCerts left ca.crt behind")
	}

	b, _ := os.ReadFile(filepath.Join(dir, NodeCertFile))
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	names := strings.Join(cert.DNSNames, ",")
	if !strings.Contains(names, "localhost") || (host != "" && !strings.Contains(names, host)) {
		t.Errorf("DNS names %v", cert.DNSNames)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if strings.Join(ips, ",") != "127.0.0.1,::1" {
		t.Errorf("IP addresses %v", ips)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v", cert.PublicKeyAlgorithm)
	}
	cfg := loadTLS(t, dir)
	if cfg.Server.ClientAuth != tls.RequireAndVerifyClientCert || cfg.Server.MinVersion != tls.VersionTLS13 || cfg.Client.RootCAs == nil {
		t.Errorf("TLS config %+v", cfg)
	}

	// A node certificate from another CA is refused at load.
	_, other := certDirs(t)
	mixed := t.TempDir()
	for _, f := range []struct{ from, name string }{{dir, CACertFile}, {other, NodeCertFile}, {other, NodeKeyFile}} {
		b, _ := os.ReadFile(filepath.Join(f.from, f.name))
		os.WriteFile(filepath.Join(mixed, f.name), b, 0o600)
	}
	if _, err := LoadTLS(mixed); err == nil {
		t.Fatal("LoadTLS took a node certificate from another CA")
	}
}

func TestMutualTLS(t *testing.T) {
	p, b, _ := pair(t, Options{}, Options{})
	for _, c := range []*Conn{p, b} {
		st := c.qc.ConnectionState().TLS
		if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPN || len(st.PeerCertificates) == 0 {
			t.Fatalf("TLS state: version %#x, ALPN %q, %d peer certificates", st.Version, st.NegotiatedProtocol, len(st.PeerCertificates))
		}
	}
	// Control messages both ways, in order.
	for i := range 10 {
		if err := p.SendControl(uint8(i), []byte(fmt.Sprintf("p%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := b.SendControl(uint8(100+i), []byte(fmt.Sprintf("b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		k, m, err := b.RecvControl()
		if err != nil || k != uint8(i) || string(m) != fmt.Sprintf("p%d", i) {
			t.Fatalf("backup got %d %q %v", k, m, err)
		}
		k, m, err = p.RecvControl()
		if err != nil || k != uint8(100+i) || string(m) != fmt.Sprintf("b%d", i) {
			t.Fatalf("primary got %d %q %v", k, m, err)
		}
	}
	// Positions travel with the heartbeats.
	p.SetPosition(12345)
	b.SetPosition(678)
	deadline := time.Now().Add(2 * time.Second)
	for b.PeerPosition() != 12345 || p.PeerPosition() != 678 {
		if time.Now().After(deadline) {
			t.Fatalf("peer positions %d, %d", b.PeerPosition(), p.PeerPosition())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A graceful close reaches the other side.
	b.Close()
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done did not fire after the peer closed")
	}
	if !errors.Is(p.Err(), ErrPeerClosed) || !errors.Is(b.Err(), ErrClosed) {
		t.Fatalf("errors after close: %v / %v", p.Err(), b.Err())
	}
}

func TestConnOutlivesDialContextAndListener(t *testing.T) {
	a, _ := certDirs(t)
	cfg := loadTLS(t, a)
	l, err := Listen("127.0.0.1:0", cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b, err := Dial(ctx, l.Addr().String(), cfg, Options{})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := l.Accept(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l.Close()
	if _, err := l.Accept(ctxT(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	time.Sleep(700 * time.Millisecond) // longer than the idle timeout
	if _, err := p.SendRecord([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if seq, rec, err := b.RecvRecord(); err != nil || seq != 1 || string(rec) != "still here" {
		t.Fatalf("after the dial context and the listener closed: %d %q %v", seq, rec, err)
	}
	p.Close()
	<-b.Done()
	if !errors.Is(b.Err(), ErrPeerClosed) {
		t.Fatal(b.Err())
	}
}

func TestForeignCARefused(t *testing.T) {
	a, other := certDirs(t)
	cfgA, cfgB := loadTLS(t, a), loadTLS(t, other)
	l, err := Listen("127.0.0.1:0", cfgA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	accepted := make(chan *Conn, 10)
	go func() {
		for {
			c, err := l.Accept(context.Background())
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	// The dialer refuses a listener whose certificate is from another CA.
	_, err = Dial(ctxT(t, 5*time.Second), addr, cfgB, Options{})
	if err == nil || !strings.Contains(err.Error(), "not from this pair's CA") {
		t.Fatalf("dialing a listener of another CA: %v", err)
	}
	t.Logf("dialer refuses the listener: %v", err)

	// The listener refuses a dialer whose certificate is from another CA,
	// even one that trusts the listener's CA.
	cross := NewTLSConfig(cfgB.Cert, cfgA.CA)
	_, err = Dial(ctxT(t, 5*time.Second), addr, cross, Options{})
	if err == nil || !strings.Contains(err.Error(), "refused the TLS handshake") {
		t.Fatalf("dialing with a certificate of another CA: %v", err)
	}
	t.Logf("listener refuses the dialer: %v", err)

	// And one with no certificate at all.
	none := NewTLSConfig(tls.Certificate{}, cfgA.CA)
	_, err = Dial(ctxT(t, 5*time.Second), addr, none, Options{})
	if err == nil || !strings.Contains(err.Error(), "refused the TLS handshake") {
		t.Fatalf("dialing without a certificate: %v", err)
	}
	t.Logf("listener refuses no certificate: %v", err)

	// A listener with a foreign certificate, dialed by a node of the CA.
	lb, err := Listen("127.0.0.1:0", NewTLSConfig(cfgB.Cert, cfgA.CA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	if _, err := Dial(ctxT(t, 5*time.Second), lb.Addr().String(), cfgA, Options{}); err == nil {
		t.Fatal("dialed a listener with a foreign certificate")
	}
	if _, err := QueryStatus(ctxT(t, 5*time.Second), addr, cross); err == nil {
		t.Fatal("status query with a foreign certificate succeeded")
	}

	select {
	case c := <-accepted:
		t.Fatalf("a refused peer reached Accept: %v", c.RemoteAddr())
	case <-time.After(200 * time.Millisecond):
	}
	// The listener still serves its own.
	c, err := Dial(ctxT(t, 5*time.Second), addr, cfgA, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case pc := <-accepted:
		pc.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("good peer not accepted")
	}
}

func TestListenerSurvivesGarbage(t *testing.T) {
	a, _ := certDirs(t)
	cfg := loadTLS(t, a)
	l, err := Listen("127.0.0.1:0", cfg, Options{Status: func() []byte { return []byte(`{"ok":true}`) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()

	// A plain TCP connection (nothing listens on TCP; it must not matter).
	if tc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		tc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		tc.Close()
	}
	// UDP garbage: random bytes, and packets that look like QUIC.
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		n := []int{1, 7, 64, 1200, 1500}[i%5]
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		switch i % 4 {
		case 1: // long header, QUIC v1, Initial
			b[0] = 0xc0 | b[0]&0x0f
			if n > 5 {
				binary.BigEndian.PutUint32(b[1:], 1)
			}
		case 2: // short header
			b[0] = 0x40 | b[0]&0x3f
		}
		uc.Write(b)
	}
	uc.Close()

	// A status query and a pair connection still work.
	st, err := QueryStatus(ctxT(t, 5*time.Second), addr, cfg)
	if err != nil || string(st) != `{"ok":true}` {
		t.Fatalf("status after garbage: %q %v", st, err)
	}
	go func() {
		if c, err := Dial(ctxT(t, 5*time.Second), addr, cfg, Options{}); err == nil {
			c.SendControl(1, []byte("hi"))
			<-c.Done()
		}
	}()
	c, err := l.Accept(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if k, m, err := c.RecvControl(); err != nil || k != 1 || string(m) != "hi" {
		t.Fatalf("after garbage: %d %q %v", k, m, err)
	}
	c.Close()
}

func recordBody(seq uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*131 + uint64(i))
	}
	return b
}

func TestRecordsInOrderWithAcks(t *testing.T) {
	var acks atomic.Int64
	var lastAck atomic.Uint64
	var backwards atomic.Bool
	p, b, _ := pair(t, Options{OnAck: func(seq, pos uint64) {
		acks.Add(1)
		if seq < lastAck.Swap(seq) {
			backwards.Store(true)
		}
	}}, Options{})
	const n = 20000
	go func() {
		for i := uint64(1); i <= n; i++ {
			seq, err := p.SendRecord(recordBody(i, int(i%300)))
			if err != nil || seq != i {
				t.Errorf("SendRecord %d: seq %d, %v", i, seq, err)
				return
			}
		}
	}()
	for i := uint64(1); i <= n; i++ {
		seq, rec, err := b.RecvRecord()
		if err != nil {
			t.Fatal(err)
		}
		if seq != i || !bytes.Equal(rec, recordBody(i, int(i%300))) {
			t.Fatalf("record %d: got seq %d, %d bytes", i, seq, len(rec))
		}
		if i%64 == 0 || i == n {
			if err := b.Ack(i, i*10); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Ack(n+1, 0); err == nil {
		t.Error("Ack beyond the records received was taken")
	}
	if err := b.Ack(5, n*10); err == nil {
		t.Error("Ack going back was taken")
	}
	if err := p.WaitAcked(ctxT(t, 5*time.Second), n); err != nil {
		t.Fatal(err)
	}
	if s, pos := p.Acked(); s != n || pos != n*10 {
		t.Fatalf("Acked = %d, %d", s, pos)
	}
	if _, unacked := p.Sent(); unacked != 0 {
		t.Fatalf("%d bytes still unacknowledged", unacked)
	}
	if acks.Load() == 0 || backwards.Load() {
		t.Fatalf("OnAck: %d calls, backwards %v", acks.Load(), backwards.Load())
	}
	t.Logf("%d records, %d acks seen", n, acks.Load())
	if err := p.WaitAcked(ctxT(t, time.Second), n+1); err == nil {
		t.Fatal("WaitAcked for an unsent record")
	}
}

// TestAckOnArrival: a backup that acknowledges on arrival lets the primary
// see its records held before the application reads any; the application's
// acks then carry the replay position, and the records stay readable after
// the primary closes the connection.
func TestAckOnArrival(t *testing.T) {
	p, b, _ := pair(t, Options{}, Options{})
	const n = 50 // fewer than recvQueue: all of them queue on the backup
	if _, err := p.SendRecord(recordBody(1, 10)); err != nil {
		t.Fatal(err)
	}
	// arrived before the call: acknowledged by it
	for deadline := time.Now().Add(5 * time.Second); len(b.recvCh) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first record did not arrive")
		}
	}
	b.AckOnArrival()
	if err := p.WaitAcked(ctxT(t, 5*time.Second), 1); err != nil {
		t.Fatalf("the record queued before AckOnArrival: %v", err)
	}
	for i := uint64(2); i <= n; i++ {
		if _, err := p.SendRecord(recordBody(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitAcked(ctxT(t, 5*time.Second), n); err != nil {
		t.Fatalf("records not read by the backup's application: %v", err)
	}
	if _, unacked := p.Sent(); unacked != 0 {
		t.Fatalf("%d bytes unacknowledged", unacked)
	}
	// The application's ack of an earlier record carries its replay
	// position; a position going back is refused.
	if _, _, err := b.RecvRecord(); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(1, 777); err != nil {
		t.Fatalf("Ack behind the arrivals: %v", err)
	}
	if err := b.Ack(1, 700); err == nil {
		t.Error("Ack with a replay position going back was taken")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if seq, pos := p.Acked(); seq == n && pos == 777 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Acked = %d, %d; want %d, 777", seq, pos, n)
		}
	}
	p.Close()
	<-b.Done()
	for i := uint64(2); i <= n; i++ {
		if seq, rec, err := b.RecvRecord(); err != nil || seq != i || !bytes.Equal(rec, recordBody(i, 100)) {
			t.Fatalf("record %d after the primary closed: seq %d, %v", i, seq, err)
		}
	}
	if _, _, err := b.RecvRecord(); err == nil {
		t.Fatal("a record beyond those sent")
	}
}

func TestLogBufferBlocksUntilAcked(t *testing.T) {
	const recLen = 1000
	p, b, _ := pair(t, Options{LogBuffer: 64 << 10}, Options{})
	fits := (64 << 10) / (recLen + frameOverhead)
	for i := 1; i <= fits; i++ {
		if _, err := p.SendRecord(recordBody(uint64(i), recLen)); err != nil {
			t.Fatal(err)
		}
	}
	// Full: SendRecordContext gives up, SendRecord blocks.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := p.SendRecordContext(ctx, recordBody(0, recLen))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendRecordContext on a full buffer: %v", err)
	}
	const total = 500
	sent := make(chan error, 1)
	go func() {
		for i := fits + 1; i <= total; i++ {
			if _, err := p.SendRecord(recordBody(uint64(i), recLen)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	time.Sleep(300 * time.Millisecond)
	if s, unacked := p.Sent(); s != uint64(fits) || unacked > 64<<10 {
		t.Fatalf("with nothing acked: %d records, %d bytes queued (buffer fits %d)", s, unacked, fits)
	}
	select {
	case err := <-sent:
		t.Fatalf("SendRecord did not block: %v", err)
	default:
	}
	// The backup reads and acks; every record arrives, in order.
	for i := uint64(1); i <= total; i++ {
		seq, rec, err := b.RecvRecord()
		if err != nil {
			t.Fatal(err)
		}
		if seq != i || !bytes.Equal(rec, recordBody(i, recLen)) {
			t.Fatalf("record %d: seq %d", i, seq)
		}
		if i%8 == 0 || i == total {
			b.Ack(i, i)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := p.WaitAcked(ctxT(t, 5*time.Second), total); err != nil {
		t.Fatal(err)
	}
}

// saturate fills the log with a large backlog that the backup reads very
// slowly, and checks that both sides keep hearing each other.
func saturate(t *testing.T, opts Options, dur time.Duration) {
	opts.LogBuffer = 48 << 20
	opts.IdleTimeout = idleForTests
	p, b, _ := pair(t, opts, opts)
	hb := p.opts.HeartbeatInterval
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the primary: as fast as the buffer allows
		defer wg.Done()
		rec := make([]byte, 64<<10)
		for pos := uint64(1); ; pos++ {
			p.SetPosition(pos)
			if _, err := p.SendRecord(rec); err != nil {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	go func() { // the backup: one record every 250 ms
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			seq, _, err := b.RecvRecord()
			if err != nil {
				return
			}
			b.SetPosition(seq)
			b.Ack(seq, seq)
		}
	}()
	// Let the backlog build: measuring starts once the log is saturated,
	// however slowly a loaded host fills it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, unacked := p.Sent(); unacked >= 16<<20 {
			break
		}
		if time.Now().After(deadline) {
			_, unacked := p.Sent()
			t.Fatalf("the log stream was not saturated after 20 s: %d bytes unacknowledged", unacked)
		}
	}
	// A heartbeat stuck behind the log would be silent for as long as the
	// backlog takes to drain (seconds); a working one is heard every
	// interval, give or take the scheduling of a loaded host (the race
	// detector slows every goroutine). The limit is the failover timeout's
	// ratio: six intervals.
	limit := 6 * hb
	// Both sides share this process: a stall of the whole process (an
	// overloaded host) silences both, and QUIC's loss recovery takes a
	// while to resume after it; no heartbeat can beat that. A measurement
	// over the limit during which the process stalled for more than a
	// heartbeat interval says nothing about the transport and is taken
	// again; one within the limit holds whatever the stalls.
	var worstP, worstB, stalled time.Duration
	judged := false
	for attempt := 1; attempt <= 4 && !judged; attempt++ {
		if attempt > 1 {
			t.Logf("attempt %d: silence %v / %v while the process stalled for %v; measuring again", attempt-1, worstP, worstB, stalled)
			time.Sleep(300 * time.Millisecond)
		}
		stall := newStallMeter()
		worstP, worstB = 0, 0
		end := time.Now().Add(dur)
		for time.Now().Before(end) {
			worstP = max(worstP, time.Since(p.LastHeard()))
			worstB = max(worstB, time.Since(b.LastHeard()))
			time.Sleep(5 * time.Millisecond)
		}
		stalled = stall.stop()
		judged = stalled < hb || (worstP <= limit && worstB <= limit)
	}
	_, unacked := p.Sent()
	peerPos := b.PeerPosition()
	close(stop)
	p.Close()
	b.Close()
	wg.Wait()
	t.Logf("backlog %.1f MiB; longest silence: primary %v, backup %v (heartbeat %v, process stalled up to %v); backup sees position %d",
		float64(unacked)/(1<<20), worstP, worstB, hb, stalled, peerPos)
	if unacked < 16<<20 {
		t.Fatalf("the log stream was not saturated: %d bytes unacknowledged", unacked)
	}
	if peerPos == 0 {
		t.Fatal("no position in the heartbeats")
	}
	if !judged {
		t.Skipf("the host is too loaded to judge heartbeats: the process stalled for %v", stalled)
	}
	if worstP > limit || worstB > limit {
		t.Fatalf("silence of %v / %v under a saturated log stream (heartbeat %v, limit %v)", worstP, worstB, hb, limit)
	}
}

// stallMeter measures how late a sleeping goroutine wakes up: pauses of
// the whole process, which no heartbeat can beat.
type stallMeter struct {
	worst atomic.Int64
	quit  chan struct{}
	done  chan struct{}
}

func newStallMeter() *stallMeter {
	m := &stallMeter{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			t0 := time.Now()
			select {
			case <-m.quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if late := int64(time.Since(t0) - 2*time.Millisecond); late > m.worst.Load() {
				m.worst.Store(late)
			}
		}
	}()
	return m
}

func (m *stallMeter) stop() time.Duration {
	close(m.quit)
	<-m.done
	return time.Duration(m.worst.Load())
}

func TestHeartbeatsUnderSaturatedLog(t *testing.T) {
	saturate(t, Options{}, 1500*time.Millisecond)
}

func TestHeartbeatsWithoutDatagrams(t *testing.T) {
	saturate(t, Options{DisableDatagrams: true}, 800*time.Millisecond)
}

// patternReader yields n deterministic pseudo-random bytes.
type patternReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// idleForTests is the idle timeout of tests whose subject is not a silent
// peer: a loaded host (CI runs packages in parallel, the race detector
// slows everything) can stall the process for longer than the default
// 500 ms, and QUIC would then close the connection under the test.
const idleForTests = 5 * time.Second

func TestStateTransfer(t *testing.T) {
	p, b, _ := pair(t, Options{IdleTimeout: idleForTests}, Options{IdleTimeout: idleForTests})
	const size = 64 << 20
	want := sha256.New()
	io.Copy(want, &patternReader{rand.NewChaCha8([32]byte{7}), size})

	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- p.SendState(&patternReader{rand.NewChaCha8([32]byte{7}), size}) }()
	r, err := b.RecvState()
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("received %d bytes, digest mismatch %v", n, !bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	t.Logf("state transfer: %d MiB in %v = %.0f MB/s", size>>20, el.Round(time.Millisecond), float64(size)/el.Seconds()/1e6)

	// A transfer the sender abandons fails on the receiver; the connection
	// stays up.
	go func() {
		errc <- p.SendState(io.MultiReader(&patternReader{rand.NewChaCha8([32]byte{1}), 3 << 20}, errReader{}))
	}()
	r, err = b.RecvState()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrStateAborted) {
		t.Fatalf("abandoned transfer: %v", err)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("SendState of a failing reader: %v", err)
	}
	if err := p.SendControl(1, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.RecvControl(); err != nil {
		t.Fatal(err)
	}
	// An empty state is a valid one.
	go func() { errc <- p.SendState(bytes.NewReader(nil)) }()
	r, _ = b.RecvState()
	if n, err := io.Copy(io.Discard, r); n != 0 || err != nil {
		t.Fatalf("empty state: %d, %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDoneWhenPeerVanishes(t *testing.T) {
	// The backup's socket disappears without a word.
	p, b, _ := pair(t, Options{}, Options{})
	start := time.Now()
	b.sock.Close()
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("primary's Done did not fire")
	}
	el := time.Since(start)
	t.Logf("primary noticed in %v: %v", el.Round(time.Millisecond), p.Err())
	if el > time.Second || !errors.Is(p.Err(), ErrPeerLost) {
		t.Fatalf("after %v: %v", el, p.Err())
	}
	if _, err := p.SendRecord([]byte("x")); err == nil {
		t.Fatal("SendRecord on a dead connection")
	}

	// The primary's socket disappears.
	p, b, l := pair(t, Options{}, Options{})
	start = time.Now()
	l.sock.udp.Close()
	select {
	case <-b.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("backup's Done did not fire")
	}
	el = time.Since(start)
	t.Logf("backup noticed in %v: %v", el.Round(time.Millisecond), b.Err())
	if el > time.Second || !errors.Is(b.Err(), ErrPeerLost) {
		t.Fatalf("after %v: %v", el, b.Err())
	}
	if _, _, err := b.RecvRecord(); err == nil {
		t.Fatal("RecvRecord on a dead connection")
	}
	<-p.Done()
}

func TestStatusQuery(t *testing.T) {
	a, _ := certDirs(t)
	cfg := loadTLS(t, a)
	var calls atomic.Int64
	l, err := Listen("127.0.0.1:0", cfg, Options{Status: func() []byte {
		calls.Add(1)
		return []byte(`{"role":"primary","position":42}`)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 3 {
		st, err := QueryStatus(ctxT(t, 5*time.Second), l.Addr().String(), cfg)
		if err != nil || string(st) != `{"role":"primary","position":42}` {
			t.Fatalf("status: %q %v", st, err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("%d status calls", calls.Load())
	}
	if c, err := l.Accept(ctxT(t, 200*time.Millisecond)); err == nil {
		t.Fatalf("a status query reached Accept: %v", c.RemoteAddr())
	}

	l2, err := Listen("127.0.0.1:0", cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := QueryStatus(ctxT(t, 5*time.Second), l2.Addr().String(), cfg); err == nil || !strings.Contains(err.Error(), "does not serve status") {
		t.Fatalf("status of a listener without Status: %v", err)
	}
}

// TestCorruptInput feeds each kind of malformed input from one side and
// checks that it closes the connection on both, with a protocol error,
// delivering nothing malformed.
func TestCorruptInput(t *testing.T) {
	ctx := context.Background()
	uni := func(c *Conn, b ...[]byte) {
		s, err := c.qc.OpenUniStreamSync(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		s.Write(bytes.Join(b, nil))
	}
	frame := func(seq uint64, rec string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(8+len(rec)))
		b = binary.LittleEndian.AppendUint64(b, seq)
		return append(b, rec...)
	}
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

	cases := []struct {
		name    string
		inject  func(p, b *Conn)
		victim  string // whose input is bad: "backup" or "primary"
		records int    // valid records the backup gets first
		msg     string
	}{
		{"bad frame length", func(p, b *Conn) {
			uni(p, []byte{streamLog}, frame(1, "good"), u32(0xffffffff), u64(2))
		}, "backup", 1, "bad length"},
		{"short frame length", func(p, b *Conn) { uni(p, []byte{streamLog}, u32(3), u64(1)) }, "backup", 0, "bad length"},
		{"sequence out of order", func(p, b *Conn) {
			uni(p, []byte{streamLog}, frame(1, "a"), frame(2, "b"), frame(4, "d"), frame(3, "c"))
		}, "backup", 2, "sequence 4 after 2"},
		{"sequence not from 1", func(p, b *Conn) { uni(p, []byte{streamLog}, frame(0, "z")) }, "backup", 0, "sequence 0 after 0"},
		{"second log stream", func(p, b *Conn) {
			p.SendRecord([]byte("real"))
			b.RecvRecord()
			uni(p, []byte{streamLog}, frame(1, "fake"))
		}, "backup", 0, "second log stream"},
		{"unknown stream type", func(p, b *Conn) { uni(p, []byte{0x7f}, []byte("hello")) }, "backup", 0, "unknown unidirectional stream type 0x7f"},
		{"unknown bidi stream type", func(p, b *Conn) {
			s, _ := p.qc.OpenStreamSync(ctx)
			s.Write([]byte{0x66})
		}, "backup", 0, "unknown bidirectional stream type 0x66"},
		{"bad heartbeat datagram", func(p, b *Conn) { p.qc.SendDatagram([]byte("not a heartbeat")) }, "backup", 0, "malformed heartbeat"},
		{"ack of unsent record", func(p, b *Conn) { uni(b, []byte{streamAck}, u64(5), u64(0)) }, "primary", 0, "ack of record 5, but only 0 sent"},
		{"ack going back", func(p, b *Conn) {
			p.SendRecord([]byte("r1"))
			p.SendRecord([]byte("r2"))
			b.RecvRecord()
			b.RecvRecord()
			uni(b, []byte{streamAck}, u64(2), u64(20), u64(1), u64(30))
		}, "primary", 0, "goes back"},
		{"oversized control message", func(p, b *Conn) {
			p.ctrl.Write(append([]byte{9}, u32(MaxControlSize+1)...))
		}, "backup", 0, "exceeds"},
		{"truncated state", func(p, b *Conn) {
			s, _ := p.qc.OpenStreamSync(ctx)
			s.Write(append(append([]byte{streamState}, u32(100)...), "only a few bytes"...))
			s.Close()
		}, "backup", 0, "truncated"},
		{"state length lies", func(p, b *Conn) {
			s, _ := p.qc.OpenStreamSync(ctx)
			s.Write(bytes.Join([][]byte{{streamState}, u32(3), []byte("abc"), u32(0), u64(4)}, nil))
			s.Close()
		}, "backup", 0, "claims 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, b, _ := pair(t, Options{}, Options{})
			tc.inject(p, b)
			if strings.Contains(tc.name, "state") {
				r, err := b.RecvState()
				if err == nil {
					_, err = io.Copy(io.Discard, r)
				}
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("state reader: %v", err)
				}
			}
			victim, culprit := b, p
			if tc.victim == "primary" {
				victim, culprit = p, b
			}
			for _, c := range []*Conn{victim, culprit} {
				select {
				case <-c.Done():
				case <-time.After(3 * time.Second):
					t.Fatal("connection not closed")
				}
			}
			var pe *ProtocolError
			if !errors.As(victim.Err(), &pe) || pe.Remote || !strings.Contains(pe.Msg, tc.msg) {
				t.Fatalf("victim's error: %v (want a local protocol error with %q)", victim.Err(), tc.msg)
			}
			if !errors.As(culprit.Err(), &pe) || !pe.Remote {
				t.Fatalf("culprit's error: %v", culprit.Err())
			}
			t.Logf("victim: %v; culprit: %v", victim.Err(), culprit.Err())
			got := 0
			for {
				_, _, err := b.RecvRecord()
				if err != nil {
					break
				}
				got++
			}
			if got != tc.records {
				t.Fatalf("backup received %d records, want %d", got, tc.records)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	a, _ := certDirs(t)
	cfg := loadTLS(t, a)
	if _, err := Listen("127.0.0.1:0", cfg, Options{HeartbeatInterval: time.Second, IdleTimeout: time.Second}); err == nil {
		t.Fatal("idle timeout below 3 heartbeats accepted")
	}
	p, _, _ := pair(t, Options{LogBuffer: 1000}, Options{})
	if _, err := p.SendRecord(make([]byte, 2000)); err == nil {
		t.Fatal("a record larger than the log buffer was queued")
	}
	if _, err := p.SendRecord(make([]byte, MaxRecordSize+1)); err == nil {
		t.Fatal("an oversized record was queued")
	}
	if err := p.SendControl(1, make([]byte, MaxControlSize+1)); err == nil {
		t.Fatal("an oversized control message was sent")
	}
}
