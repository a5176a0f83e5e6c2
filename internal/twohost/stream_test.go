package twohost

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// The stream counts what was echoed and what was lost: an echo server
// loses nothing (the request in flight when the stream is aborted is
// abandoned, not lost); a server that resets the connection after some bytes,
// or answers wrong bytes, breaks the stream and the bytes it did not echo
// correctly count as lost.
func TestStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(c net.Conn)
		broken bool
	}{
		{"echo", func(c net.Conn) { io.Copy(c, c) }, false},
		{"reset after 5 requests", func(c net.Conn) {
			io.CopyN(c, c, 5*11+3) // 3 bytes of the 6th request's answer
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}, true},
		{"wrong answer", func(c net.Conn) {
			buf := make([]byte, 11)
			for i := 0; ; i++ {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if i == 3 {
					buf[5] ^= 1
				}
				c.Write(buf)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				if c, err := l.Accept(); err == nil {
					tc.serve(c)
					c.Close()
				}
			}()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			s := newStream(conn)
			go s.run(context.Background())
			deadline := time.Now().Add(10 * time.Second)
			for s.answered() < 20 && !s.failed() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			s.abort()
			var res Result
			err = s.result(&res)
			if tc.broken != (err != nil) || tc.broken != (res.LostBytes > 0) {
				t.Fatalf("error %v, %d bytes lost of %d sent; want broken %v", err, res.LostBytes, res.BytesSent, tc.broken)
			}
			if err != nil && !errors.Is(err, errStream) {
				t.Errorf("error %v is not errStream", err)
			}
			if res.BytesEcho != int64(res.Pairs)*11 || res.BytesSent != res.BytesEcho+res.LostBytes+res.Abandoned {
				t.Errorf("%d pairs, %d bytes echoed, %d sent, %d lost", res.Pairs, res.BytesEcho, res.BytesSent, res.LostBytes)
			}
		})
	}
}
