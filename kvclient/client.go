// Package kvclient is the client of the kvstore appliance guest
// (testdata/guests/kvstore): one ASCII request per UDP datagram, one reply
// datagram back.
//
// Requests and replies:
//
//	PUT <key> <value>   OK <n>            n: the write's sequence number
//	GET <key>           VAL <value> | NONE
//	STAT                KEYS <k> WRITES <n>
//	anything malformed  ERR <reason>
//
// A Client sends a request through a Transport and waits up to Timeout for
// the reply, Retries more times. Each Do uses a fresh source port, so a late
// reply to an earlier request is never taken for the answer to a later one.
// A retried PUT may be applied twice (it is then acknowledged with the
// second sequence number): requests are delivered at least once.
//
// Two transports: UDP, an ordinary UDP socket of the host; and L2, which
// speaks Ethernet itself (ARP, IPv4, UDP) through the unix-datagram switch
// of `ftvm switch` / --net socket:PATH, so tests need no privileges.
package kvclient

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults of a new Client.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 5
)

// Transport carries request datagrams to one kvstore server and its replies
// back.
type Transport interface {
	// Open starts an exchange with its own source port.
	Open(ctx context.Context) (Exchange, error)
	// Close releases the transport.
	Close() error
}

// Exchange is one request's conversation: its sends (attempts) and the
// replies to them.
type Exchange interface {
	// Send transmits the request once. It may block until ctx is done
	// (the L2 transport resolves the server's address first).
	Send(ctx context.Context, req []byte) error
	// Recv returns the next reply datagram, or ctx's error when ctx is
	// done first.
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

// Client sends requests to a kvstore.
type Client struct {
	t Transport
	// Timeout is how long one attempt waits for the reply.
	Timeout time.Duration
	// Retries is how many more attempts follow a first one that got no
	// reply (so 1 + Retries attempts in all).
	Retries int
}

// New returns a client on transport t with DefaultTimeout and
// DefaultRetries.
func New(t Transport) *Client {
	return &Client{t: t, Timeout: DefaultTimeout, Retries: DefaultRetries}
}

// Close closes the transport.
func (c *Client) Close() error { return c.t.Close() }

// NoReplyError is returned by Do when no attempt got a reply.
type NoReplyError struct {
	Attempts int
	Last     error // the error of the last attempt
}

func (e *NoReplyError) Error() string {
	if e.Last != nil {
		return fmt.Sprintf("no reply after %d attempts (last: %v)", e.Attempts, e.Last)
	}
	return fmt.Sprintf("no reply after %d attempts", e.Attempts)
}

func (e *NoReplyError) Unwrap() error { return e.Last }

// Do sends request and returns the reply. It tries 1 + c.Retries times,
// each attempt waiting up to c.Timeout; an error is a *NoReplyError when
// every attempt went unanswered, ctx's error when ctx ended first, or an
// error of the transport's setup.
func (c *Client) Do(ctx context.Context, request string) (string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	attempts := 1 + c.Retries
	if attempts < 1 {
		attempts = 1
	}
	ex, err := c.t.Open(ctx)
	if err != nil {
		return "", err
	}
	defer ex.Close()
	req := []byte(request)
	var last error
	for i := 0; i < attempts; i++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := ex.Send(actx, req)
		if err == nil {
			var reply []byte
			reply, err = ex.Recv(actx)
			if err == nil {
				cancel()
				return string(reply), nil
			}
		}
		// An attempt that failed early (a refused send, say) still takes
		// its whole timeout, so that retries are spread as promised.
		<-actx.Done()
		cancel()
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			last = err
		} else if last == nil {
			last = fmt.Errorf("timeout after %v", timeout)
		}
	}
	return "", &NoReplyError{Attempts: attempts, Last: last}
}
