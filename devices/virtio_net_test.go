package devices

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func ethFrame(dst, src [6]byte, n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f[0:], dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x88B5) // local experimental EtherType
	for i := 14; i < n; i++ {
		f[i] = byte(i) + seed
	}
	return f
}

var bcast = [6]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

func newNetDriver(t *testing.T, be NetBackend) (*driver, *VirtioNet) {
	n := NewVirtioNet(be, DefaultMAC(1))
	d := newDriver(t, n)
	d.init(featV1|1<<VirtioNetFMAC|1<<VirtioNetFStatus|1<<VirtioFEventIdx, 16)
	return d, n
}

func TestVirtioNetTransmit(t *testing.T) {
	tests := []struct {
		name    string
		bufs    func(d *driver, frame []byte) []buf
		frame   int // frame length (after the header)
		sent    bool
		dropped uint64
	}{
		{"one buffer", func(d *driver, f []byte) []buf {
			a := d.alloc(uint64(VirtioNetHdrSize + len(f)))
			d.put(a+VirtioNetHdrSize, f)
			return []buf{{a, uint32(VirtioNetHdrSize + len(f)), false}}
		}, 60, true, 0},
		{"header apart, frame split", func(d *driver, f []byte) []buf {
			h, a, b := d.alloc(12), d.alloc(20), d.alloc(uint64(len(f)-20))
			d.put(a, f[:20])
			d.put(b, f[20:])
			return []buf{{h, 12, false}, {a, 20, false}, {b, uint32(len(f) - 20), false}}
		}, 1514, true, 0},
		{"header split across buffers", func(d *driver, f []byte) []buf {
			a, b := d.alloc(7), d.alloc(uint64(5+len(f)))
			d.put(b+5, f)
			return []buf{{a, 7, false}, {b, uint32(5 + len(f)), false}}
		}, 100, true, 0},
		{"header only", func(d *driver, f []byte) []buf {
			return []buf{{d.alloc(12), 12, false}}
		}, 60, false, 1},
		{"truncated frame", func(d *driver, f []byte) []buf {
			a := d.alloc(12 + 10)
			return []buf{{a, 22, false}}
		}, 60, false, 1},
		{"oversized frame", func(d *driver, f []byte) []buf {
			a := d.alloc(12 + MaxFrameSize + 1)
			return []buf{{a, 12 + MaxFrameSize + 1, false}}
		}, 60, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &fakeNet{}
			d, n := newNetDriver(t, be)
			frame := ethFrame(bcast, n.MAC(), tc.frame, 1)
			d.addChain(VirtioNetTXQ, tc.bufs(d, frame)...)
			d.kick(VirtioNetTXQ)
			if u := d.takeUsed(VirtioNetTXQ); len(u) != 1 || u[0].len != 0 {
				t.Fatalf("used %v", u)
			}
			if tc.sent {
				if len(be.frames) != 1 || !bytes.Equal(be.frames[0], frame) {
					t.Fatalf("sent %d frames", len(be.frames))
				}
			} else if len(be.frames) != 0 {
				t.Fatalf("sent %d frames, want none", len(be.frames))
			}
			st := n.Stats()
			if st.TxDropped != tc.dropped || (st.TxFrames == 1) != tc.sent {
				t.Errorf("stats %+v", st)
			}
			if d.dev.Transport().Broken() {
				t.Errorf("broken: %s", d.dev.Transport().FailReason())
			}
		})
	}
}

type failingNet struct{}

func (failingNet) Send([]byte) error { return errors.New("link down") }

func TestVirtioNetSendError(t *testing.T) {
	d, n := newNetDriver(t, failingNet{})
	a := d.alloc(100)
	d.addChain(VirtioNetTXQ, buf{a, 100, false})
	d.kick(VirtioNetTXQ)
	if c, err := n.SendErrors(); c != 1 || err == nil {
		t.Errorf("send errors %d %v", c, err)
	}
	if u := d.takeUsed(VirtioNetTXQ); len(u) != 1 {
		t.Errorf("buffer not returned: %v", u)
	}
}

func TestVirtioNetReceive(t *testing.T) {
	type rxBuf struct{ sizes []uint32 }
	tests := []struct {
		name    string
		bufs    []rxBuf // receive chains posted, in order
		frames  []int   // frame lengths delivered
		got     []int   // indices of frames the guest receives, in order
		stats   NetStats
		noReady bool // RX queue never set up / driver not ready
	}{
		{name: "one frame", bufs: []rxBuf{{[]uint32{1526}}}, frames: []int{60}, got: []int{0},
			stats: NetStats{RxFrames: 1, RxBytes: 60}},
		{name: "split buffer", bufs: []rxBuf{{[]uint32{12, 100, 1414}}}, frames: []int{1514}, got: []int{0},
			stats: NetStats{RxFrames: 1, RxBytes: 1514}},
		{name: "exact fit", bufs: []rxBuf{{[]uint32{72}}}, frames: []int{60}, got: []int{0},
			stats: NetStats{RxFrames: 1, RxBytes: 60}},
		{name: "no buffer", frames: []int{60, 60}, stats: NetStats{RxNoBuffer: 2}},
		{name: "buffers run out", bufs: []rxBuf{{[]uint32{1526}}}, frames: []int{60, 70}, got: []int{0},
			stats: NetStats{RxFrames: 1, RxBytes: 60, RxNoBuffer: 1}},
		{name: "too big for the buffer, kept for the next", bufs: []rxBuf{{[]uint32{200}}}, frames: []int{1514, 100}, got: []int{1},
			stats: NetStats{RxFrames: 1, RxBytes: 100, RxTooBig: 1}},
		{name: "runt", bufs: []rxBuf{{[]uint32{1526}}}, frames: []int{10, 0, 60}, got: []int{2},
			stats: NetStats{RxFrames: 1, RxBytes: 60, RxRunt: 2}},
		{name: "oversized", bufs: []rxBuf{{[]uint32{1526}}}, frames: []int{MaxFrameSize + 1}, stats: NetStats{RxTooBig: 1}},
		{name: "driver not ready", noReady: true, frames: []int{60}, stats: NetStats{RxNoBuffer: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := NewVirtioNet(&fakeNet{}, DefaultMAC(1))
			d := newDriver(t, n)
			if tc.noReady {
				d.negotiate(featV1)
			} else {
				d.init(featV1|1<<VirtioFEventIdx, 16)
			}
			type posted struct {
				head uint16
				bufs []buf
			}
			var chains []posted
			for _, b := range tc.bufs {
				var bs []buf
				for _, s := range b.sizes {
					bs = append(bs, buf{d.alloc(uint64(s)), s, true})
				}
				chains = append(chains, posted{d.addChain(VirtioNetRXQ, bs...), bs})
			}
			if !tc.noReady {
				d.kick(VirtioNetRXQ)
			}
			var frames [][]byte
			for i, l := range tc.frames {
				f := ethFrame(n.MAC(), DefaultMAC(2), max(l, 14), byte(i))[:l]
				frames = append(frames, f)
				if err := d.dev.Deliver(Input{Kind: InputFrame, Data: f}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.noReady {
				if n.Stats() != tc.stats {
					t.Errorf("stats %+v, want %+v", n.Stats(), tc.stats)
				}
				return
			}
			used := d.takeUsed(VirtioNetRXQ)
			if len(used) != len(tc.got) {
				t.Fatalf("used %v, want %d entries", used, len(tc.got))
			}
			for i, u := range used {
				c := chains[i]
				if uint16(u.id) != c.head {
					t.Errorf("used id %d, want %d", u.id, c.head)
				}
				want := frames[tc.got[i]]
				if u.len != uint32(VirtioNetHdrSize+len(want)) {
					t.Errorf("used len %d, want %d", u.len, VirtioNetHdrSize+len(want))
				}
				var data []byte
				for _, b := range c.bufs {
					data = append(data, d.get(b.addr, int(b.len))...)
				}
				hdr := data[:VirtioNetHdrSize]
				if !bytes.Equal(hdr, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}) {
					t.Errorf("header % x", hdr)
				}
				if !bytes.Equal(data[VirtioNetHdrSize:VirtioNetHdrSize+len(want)], want) {
					t.Errorf("frame %d differs", i)
				}
			}
			if len(used) > 0 && d.ack()&VirtioIntUsed == 0 {
				t.Error("no interrupt")
			}
			if n.Stats() != tc.stats {
				t.Errorf("stats %+v, want %+v", n.Stats(), tc.stats)
			}
		})
	}
}

func TestVirtioNetRXReadableBuffer(t *testing.T) {
	d, _ := newNetDriver(t, &fakeNet{})
	d.addChain(VirtioNetRXQ, buf{d.alloc(2000), 2000, false})
	d.dev.Deliver(Input{Kind: InputFrame, Data: ethFrame(bcast, bcast, 60, 0)})
	if !d.dev.Transport().Broken() {
		t.Error("receive buffer without writable descriptors accepted")
	}
}

// frameLog is a FrameCapture that keeps what it is given.
type frameLog [][]byte

func (l *frameLog) WriteFrame(f []byte) error {
	*l = append(*l, append([]byte(nil), f...))
	return nil
}

func TestVirtioNetCapture(t *testing.T) {
	var capture frameLog
	be := &fakeNet{}
	d, n := newNetDriver(t, be)
	n.SetCapture(&capture)
	out := ethFrame(bcast, n.MAC(), 80, 1)
	a := d.alloc(12 + 80)
	d.put(a+12, out)
	d.addChain(VirtioNetTXQ, buf{a, 92, false})
	d.kick(VirtioNetTXQ)
	d.addChain(VirtioNetRXQ, buf{d.alloc(1526), 1526, true})
	in := ethFrame(n.MAC(), DefaultMAC(5), 64, 2)
	d.dev.Deliver(Input{Kind: InputFrame, Data: in})
	if !reflect.DeepEqual(capture, frameLog{out, in}) {
		t.Errorf("captured %d frames, want the one sent and the one received", len(capture))
	}
}

func TestVirtioNetSnapshot(t *testing.T) {
	be := &fakeNet{}
	d, n := newNetDriver(t, be)
	rx := d.alloc(1526)
	d.addChain(VirtioNetRXQ, buf{rx, 1526, true})
	d.addChain(VirtioNetRXQ, buf{d.alloc(1526), 1526, true})
	d.dev.Deliver(Input{Kind: InputFrame, Data: ethFrame(n.MAC(), bcast, 60, 0)})
	snap := d.dev.Snapshot()

	d2 := newDriver(t, NewVirtioNet(&fakeNet{}, DefaultMAC(1)))
	copy(d2.mem.RAM, d.mem.RAM)
	if err := d2.dev.Restore(snap); err != nil {
		t.Fatal(err)
	}
	frame := ethFrame(n.MAC(), bcast, 200, 9)
	for _, dd := range []*driver{d, d2} {
		dd.dev.Deliver(Input{Kind: InputFrame, Data: frame})
		dd.dev.Deliver(Input{Kind: InputFrame, Data: frame})
	}
	if !bytes.Equal(d.mem.RAM, d2.mem.RAM) || !reflect.DeepEqual(d.dev.Snapshot(), d2.dev.Snapshot()) {
		t.Error("restored device diverged")
	}
	if st := d2.dev.Device().(*VirtioNet).Stats(); st.RxFrames != 2 || st.RxNoBuffer != 1 {
		t.Errorf("stats %+v", st)
	}
}
