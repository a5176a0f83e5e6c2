package hostio

import (
	"io"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"ftvm/devices"
)

// pcapSnapLen is the snapshot length written in the file header: frames are
// captured whole.
const pcapSnapLen = devices.MaxFrameSize

// PCAPWriter writes Ethernet frames to a libpcap capture file. Timestamps
// come from the host clock: a capture is host output and never feeds back
// into the guest. It is safe for concurrent use.
type PCAPWriter struct {
	mu  sync.Mutex
	w   *pcapgo.Writer
	err error
	now func() time.Time
}

// NewPCAPWriter writes the pcap file header (Ethernet link type,
// microsecond timestamps) to w and returns a writer for the frames.
func NewPCAPWriter(w io.Writer) (*PCAPWriter, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &PCAPWriter{w: pw, now: time.Now}, nil
}

// WriteFrame appends one frame, stamped with the host time. After the first
// write error it does nothing and returns that error (see Err).
func (p *PCAPWriter) WriteFrame(frame []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	ci := gopacket.CaptureInfo{Timestamp: p.now(), CaptureLength: len(frame), Length: len(frame)}
	p.err = p.w.WritePacket(ci, frame)
	return p.err
}

// Err returns the first write error.
func (p *PCAPWriter) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
