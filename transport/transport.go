// Package transport carries a primary/backup pair's traffic: one QUIC
// connection per pair, authenticated both ways by certificates from the
// pair's own CA (mutual TLS 1.3, ALPN "ftvm/1").
//
// One connection carries, each on a path of its own so none can hold up
// another:
//
//   - the log stream (primary → backup): event records in order, each with
//     a sequence number from 1 (SendRecord / RecvRecord);
//   - acks (backup → primary): cumulative (sequence, replay position) pairs
//     (Ack / Acked, WaitAcked, Options.OnAck), sent by the backup's
//     application or, after AckOnArrival, as records arrive; the primary's unacknowledged
//     records are bounded by Options.LogBuffer, beyond which SendRecord
//     blocks: the primary stalls, nothing is dropped;
//   - control messages, both ways (SendControl / RecvControl);
//   - state transfer (primary → backup): a machine snapshot (SendState /
//     RecvState);
//   - heartbeats, both ways, every Options.HeartbeatInterval as QUIC
//     datagrams carrying the sender's position (SetPosition /
//     PeerPosition); LastHeard tells when the peer was last heard from.
//
// Roles are not tied to who dialed: whichever side calls SendRecord is the
// primary of that connection. Typically the primary listens (Listen,
// Accept) and the backup dials (Dial). A listener also answers status
// queries (QueryStatus, for `ftvm status ADDR`) from Options.Status.
//
// Anything malformed from the peer (a bad frame length, an unknown message
// or stream type, a sequence number out of order, an ack that goes
// backwards) closes the connection with a *ProtocolError, which the peer
// sees too; it is never delivered to the application.
//
// # Wire protocol
//
// Every stream starts with one type byte. The dialer opens the control
// stream (bidirectional) with [typeControl, protocol version] and the
// listener answers [protocol version]; after that either side may send
// control messages on it: kind (uint8), payload length (uint32 LE), payload.
// Integers are little-endian throughout.
//
//   - log (unidirectional, from the primary): frames of length n (uint32 =
//     8 + record length), sequence number (uint64), record;
//   - acks (unidirectional, from the backup): sequence (uint64), replay
//     position (uint64);
//   - state (bidirectional, from the primary): chunks of length n (uint32,
//     1..MaxStateChunk) and n bytes, then n = 0, the total byte count
//     (uint64) and the end of the stream; the receiver answers one byte
//     (1) once it has read it all, which is when SendState returns;
//   - heartbeats: 17-byte datagrams 'H', counter (uint64), position
//     (uint64); the same messages on a unidirectional stream when the peer
//     cannot take datagrams;
//   - status (bidirectional, a connection of its own): the client sends the
//     type byte and ends its side; the server answers ok (uint8, 1 = ok),
//     length (uint32), body (JSON, or the error message when ok = 0).
package transport

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval = 50 * time.Millisecond
	// DefaultIdleIntervals is the default IdleTimeout in heartbeat
	// intervals.
	DefaultIdleIntervals = 10
	DefaultLogBuffer     = 16 << 20
)

// Limits enforced on what a peer sends.
const (
	// MaxRecordSize bounds one log record (a lockstep frame: at most 1 MiB
	// of payload plus framing, or a log header).
	MaxRecordSize = 4 << 20
	// MaxControlSize bounds one control message's payload.
	MaxControlSize = 1 << 20
	// MaxStateChunk bounds one chunk of a state transfer.
	MaxStateChunk = 1 << 20
	// MaxStatusSize bounds a status reply.
	MaxStatusSize = 16 << 20
)

// protoVersion is exchanged on the control stream when a pair connects.
const protoVersion = 1

// Stream types: the first byte of every stream.
const (
	streamControl   = 0x01 // bidirectional, opened by the dialer
	streamStatus    = 0x02 // bidirectional, a status query
	streamState     = 0x03 // bidirectional, a state transfer
	streamLog       = 0x11 // unidirectional, primary → backup
	streamAck       = 0x12 // unidirectional, backup → primary
	streamHeartbeat = 0x13 // unidirectional, when datagrams are unavailable
)

// heartbeat messages.
const (
	heartbeatTag = 'H'
	heartbeatLen = 17
)

// frameOverhead is the bytes a log frame adds to a record: length, sequence.
const frameOverhead = 4 + 8

// Application error codes of CONNECTION_CLOSE.
const (
	codeNone     = 0x0
	codeProtocol = 0x1 // the closing side received malformed input
	codeRefused  = 0x2 // the listener did not take the connection
)

// Stream error codes.
const codeStateAborted = 0x10 // a state transfer was abandoned

// handshakeTimeout bounds the ftvm hello after the QUIC handshake and the
// wait for the first byte of a new stream.
const handshakeTimeout = 10 * time.Second

// Options tune a connection. The zero value gives the defaults.
type Options struct {
	// HeartbeatInterval is how often heartbeats are sent (both sides);
	// default 50 ms.
	HeartbeatInterval time.Duration
	// IdleTimeout: a connection that hears nothing from its peer for this
	// long is closed and Done fires (with an error matching ErrPeerLost);
	// default DefaultIdleIntervals heartbeat intervals (500 ms). It must be
	// at least 3 heartbeat intervals.
	IdleTimeout time.Duration
	// LogBuffer bounds, in bytes, the primary's records sent but not yet
	// acknowledged (each record counts its length plus 12 bytes of
	// framing); default 16 MiB.
	LogBuffer int
	// DisableDatagrams makes this side refuse QUIC datagrams; heartbeats
	// then travel on a stream of their own. Datagrams are on by default
	// (the field is negative so the zero value is the default).
	DisableDatagrams bool
	// Status, on a listener, answers status queries (QueryStatus) with a
	// JSON document. A listener without it answers with an error.
	Status func() []byte
	// OnAck, on the primary, is called for each ack received, in order,
	// from the connection's ack reader (keep it short, do not block).
	OnAck func(seq, replayPos uint64)
}

func (o Options) withDefaults() (Options, error) {
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatInterval < 0 {
		return o, fmt.Errorf("transport: negative heartbeat interval %v", o.HeartbeatInterval)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleIntervals * o.HeartbeatInterval
	}
	if o.IdleTimeout < 3*o.HeartbeatInterval {
		return o, fmt.Errorf("transport: idle timeout %v is shorter than 3 heartbeat intervals (%v)", o.IdleTimeout, o.HeartbeatInterval)
	}
	if o.LogBuffer == 0 {
		o.LogBuffer = DefaultLogBuffer
	}
	if o.LogBuffer < 0 {
		return o, fmt.Errorf("transport: negative log buffer %d", o.LogBuffer)
	}
	return o, nil
}

// Errors a connection ends with (Conn.Err, and what its methods return
// once it is gone).
var (
	// ErrClosed: this side closed the connection (or the listener).
	ErrClosed = errors.New("transport: connection closed")
	// ErrPeerClosed: the peer closed the connection normally.
	ErrPeerClosed = errors.New("transport: peer closed the connection")
	// ErrPeerLost: nothing was heard from the peer for the idle timeout,
	// or the peer no longer knows the connection (it restarted).
	ErrPeerLost = errors.New("transport: peer lost")
)

// ProtocolError is malformed input on a connection: the connection was
// closed because of it.
type ProtocolError struct {
	// Remote is true when the peer found our input malformed and closed
	// the connection; false when we found the peer's.
	Remote bool
	Msg    string
}

func (e *ProtocolError) Error() string {
	if e.Remote {
		return "transport: peer closed the connection: protocol error: " + e.Msg
	}
	return "transport: protocol error from peer: " + e.Msg
}
