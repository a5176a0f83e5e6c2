package devices

import (
	"testing"
)

func TestVringNeedEvent(t *testing.T) {
	tests := []struct {
		event, now, old uint16
		want            bool
	}{
		{0, 1, 0, true},
		{0, 2, 1, false},
		{5, 10, 0, true},
		{10, 10, 0, false},
		{9, 10, 0, true},
		{0xFFFF, 2, 0xFFFE, true}, // across the wrap
		{1, 2, 0xFFFE, true},
		{2, 2, 0xFFFE, false},
	}
	for _, tc := range tests {
		if got := vringNeedEvent(tc.event, tc.now, tc.old); got != tc.want {
			t.Errorf("need_event(%d, %d, %d) = %v, want %v", tc.event, tc.now, tc.old, got, tc.want)
		}
	}
}

func TestSplitSegs(t *testing.T) {
	segs := []Segment{{0x100, 10}, {0x200, 20}, {0x300, 5}}
	for _, tc := range []struct {
		n          uint64
		head, tail uint64
	}{{0, 0, 35}, {10, 10, 25}, {15, 15, 20}, {34, 34, 1}, {35, 35, 0}, {99, 35, 0}} {
		h, tl := splitSegs(segs, tc.n)
		if segLen(h) != tc.head || segLen(tl) != tc.tail {
			t.Errorf("split at %d: %d+%d", tc.n, segLen(h), segLen(tl))
		}
	}
}

// ringSeed builds queue memory (desc, avail, used areas as the fake driver
// lays them out) holding chains that bufs describe.
func ringSeed(t testing.TB, indirect bool, chains ...[]buf) []byte {
	d := newDriver(t, NewVirtioNet(nil, DefaultMAC(0)))
	f := uint64(featV1)
	if indirect {
		f |= 1 << VirtioFIndirectDesc
	}
	d.init(f, 8)
	for _, c := range chains {
		if indirect {
			d.addIndirect(VirtioNetTXQ, c...)
		} else {
			d.addChain(VirtioNetTXQ, c...)
		}
	}
	return d.get(d.queues[VirtioNetTXQ].desc, 0x3000)
}

// FuzzVirtqueue puts arbitrary bytes in the descriptor table and rings of
// a block and a network device and drives them: whatever the tables hold,
// the devices must not panic, and a broken device must say so.
func FuzzVirtqueue(f *testing.F) {
	f.Add(uint8(0), uint8(3), ringSeed(f, false, []buf{{testBufBase, 16, false}, {testBufBase + 16, 512, true}, {testBufBase + 600, 1, true}}), []byte{1, 2, 3})
	f.Add(uint8(1), uint8(3), ringSeed(f, false, []buf{{testBufBase, 80, false}}), make([]byte, 60))
	f.Add(uint8(3), uint8(3), ringSeed(f, true, []buf{{testBufBase, 12, false}, {testBufBase + 12, 60, false}}), make([]byte, 14))
	f.Add(uint8(6), uint8(3), ringSeed(f, true, []buf{{testBufBase, 16, false}, {testBufBase + 32, 1, true}}), []byte{})
	f.Add(uint8(5), uint8(8), []byte{0xFF, 0xFF, 0xFF, 0xFF}, make([]byte, 2000))
	f.Fuzz(fuzzVirtqueue)
}

func fuzzVirtqueue(t *testing.T, which, logNum uint8, ring, frame []byte) {
	if len(ring) > 0x3000 {
		ring = ring[:0x3000]
	}
	feats := uint64(featV1)
	if which&2 != 0 {
		feats |= 1 << VirtioFIndirectDesc
	}
	if which&4 != 0 {
		feats |= 1 << VirtioFEventIdx
	}
	num := uint16(1) << (logNum % 9)
	var disk *memDisk
	var dev VirtioDevice
	if which&1 == 0 {
		disk = &memDisk{data: make([]byte, 64*512)}
		dev = NewVirtioBlk(disk, 0)
	} else {
		dev = NewVirtioNet(&fakeNet{}, DefaultMAC(0))
	}
	d := newDriver(t, dev)
	d.init(feats, num)
	for i := range d.queues {
		d.put(d.queues[i].desc, ring)
	}
	for round := 0; round < 3; round++ {
		for i := range d.queues {
			d.kick(i)
		}
		if disk != nil {
			for len(disk.reqs) > 0 {
				req := disk.reqs[0]
				in := disk.perform(round != 1)
				if round == 2 {
					in.Arg |= DiskDoneError
				}
				if err := d.dev.Deliver(in); err != nil {
					t.Fatalf("completion of request %d: %v", req.ID, err)
				}
			}
		} else {
			d.dev.Deliver(Input{Kind: InputFrame, Data: frame})
		}
		d.ack()
	}
	tr := d.dev.Transport()
	if tr.Broken() != (d.status()&VirtioStatusNeedsReset != 0) || tr.Broken() && tr.FailReason() == "" {
		t.Fatalf("broken %v, status %#x, reason %q", tr.Broken(), d.status(), tr.FailReason())
	}
	// Every chain the parser accepts lies in RAM.
	for i := range d.queues {
		q := d.queues[i]
		for head := uint16(0); head < q.num; head++ {
			c, err := parseChain(d.mem, q.desc, uint32(q.num), head, which&2 != 0)
			if err != nil {
				continue
			}
			for _, s := range append(c.Readable, c.Writable...) {
				if !d.mem.IsRAM(s.Addr, uint64(s.Len)) {
					t.Fatalf("segment %+v outside RAM", s)
				}
			}
			if len(c.Readable)+len(c.Writable) > int(q.num) {
				t.Fatalf("chain of %d segments in a queue of %d", len(c.Readable)+len(c.Writable), q.num)
			}
		}
	}
}
