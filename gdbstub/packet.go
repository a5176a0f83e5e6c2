package gdbstub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxPacket bounds an incoming packet's payload (PacketSize in qSupported).
const maxPacket = 0x4000

// interrupt is gdb's Ctrl-C: a lone 0x03 byte outside any packet.
const interrupt = 0x03

// event is what the reader saw: a packet's payload, or an interrupt.
type event struct {
	packet    string
	interrupt bool
}

// conn frames the remote serial protocol over a byte stream: $payload#xx
// packets acknowledged with + (or - to ask again), binary escapes with }.
type conn struct {
	r *bufio.Reader
	// mu guards w: the reader acknowledges while the stub replies.
	mu sync.Mutex
	w  io.Writer
}

// errPacket is returned for malformed framing the protocol cannot resync.
var errPacket = errors.New("gdbstub: malformed packet")

// read returns the next packet or interrupt, acknowledging good packets and
// asking again for those with a bad checksum.
func (c *conn) read() (event, error) {
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return event{}, err
		}
		switch b {
		case interrupt:
			return event{interrupt: true}, nil
		case '$':
		default:
			continue // acks and noise between packets
		}
		var payload []byte
		var sum byte
		for {
			b, err := c.r.ReadByte()
			if err != nil {
				return event{}, err
			}
			if b == '#' {
				break
			}
			if len(payload) >= maxPacket {
				return event{}, fmt.Errorf("%w: longer than %d bytes", errPacket, maxPacket)
			}
			sum += b
			payload = append(payload, b)
		}
		var hex [2]byte
		if _, err := io.ReadFull(c.r, hex[:]); err != nil {
			return event{}, err
		}
		want, ok := parseHex(string(hex[:]))
		if !ok || byte(want) != sum {
			c.send("-")
			continue
		}
		c.send("+")
		return event{packet: string(unescape(payload))}, nil
	}
}

// unescape undoes the binary escape (} then the byte xor 0x20).
func unescape(p []byte) []byte {
	out := p[:0]
	for i := 0; i < len(p); i++ {
		if p[i] == '}' && i+1 < len(p) {
			i++
			out = append(out, p[i]^0x20)
			continue
		}
		out = append(out, p[i])
	}
	return out
}

// reply sends one packet (acknowledgements from gdb are skipped by read).
func (c *conn) reply(payload string) error {
	buf := make([]byte, 0, len(payload)+4)
	buf = append(buf, '$')
	var sum byte
	for i := 0; i < len(payload); i++ {
		b := payload[i]
		if b == '$' || b == '#' || b == '}' || b == '*' {
			buf = append(buf, '}')
			sum += '}'
			b ^= 0x20
		}
		buf = append(buf, b)
		sum += b
	}
	buf = fmt.Appendf(buf, "#%02x", sum)
	return c.send(string(buf))
}

func (c *conn) send(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, s)
	return err
}

// parseHex parses a big-endian hex number (addresses, lengths, numbers).
func parseHex(s string) (uint64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := hexDigit(s[i])
		if !ok {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

func hexDigit(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// decodeHex decodes a string of hex byte pairs.
func decodeHex(s string) ([]byte, bool) {
	if len(s)%2 != 0 {
		return nil, false
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}
