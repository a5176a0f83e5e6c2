package kvclient

import (
	"context"
	"fmt"
	"net"
	"time"
)

// UDP is the transport over an ordinary UDP socket of the host.
type UDP struct {
	raddr *net.UDPAddr
}

// NewUDP returns a UDP transport to addr ("host:port").
func NewUDP(addr string) (*UDP, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	return &UDP{raddr: ra}, nil
}

// Open implements Transport: a connected socket on a new ephemeral port.
func (u *UDP) Open(ctx context.Context) (Exchange, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", u.raddr.String())
	if err != nil {
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	return &udpExchange{c: c.(*net.UDPConn)}, nil
}

// Close implements Transport.
func (u *UDP) Close() error { return nil }

type udpExchange struct {
	c   *net.UDPConn
	buf [65536]byte
}

func (x *udpExchange) Send(ctx context.Context, req []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := x.c.Write(req)
	return err
}

func (x *udpExchange) Recv(ctx context.Context) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		x.c.SetReadDeadline(dl)
	} else {
		x.c.SetReadDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { x.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		n, err := x.c.Read(x.buf[:])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return nil, context.DeadlineExceeded
			}
			return nil, err
		}
		return append([]byte(nil), x.buf[:n]...), nil
	}
}

func (x *udpExchange) Close() error { return x.c.Close() }
