package hostio

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TestPCAPWriter writes two frames and reads them back with gopacket's
// reader.
func TestPCAPWriter(t *testing.T) {
	var capture bytes.Buffer
	pw, err := NewPCAPWriter(&capture)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{pattern(80, 1), pattern(64, 2)}
	for _, f := range frames {
		if err := pw.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	r, err := pcapgo.NewReader(&capture)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v", r.LinkType())
	}
	for i, want := range frames {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(data, want) || ci.Length != len(want) || ci.Timestamp.IsZero() {
			t.Errorf("packet %d differs", i)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("extra packet: %v", err)
	}
}
