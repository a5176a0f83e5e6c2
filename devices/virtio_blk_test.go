package devices

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// memDisk is a fake BlockBackend over a byte slice. Submitted requests
// wait in reqs until the test completes them.
type memDisk struct {
	data         []byte
	ro           bool
	reqs         []BlockRequest
	writeThrough []bool
}

func (m *memDisk) Submit(req BlockRequest) error {
	if req.Data != nil {
		req.Data = append([]byte(nil), req.Data...)
	}
	m.reqs = append(m.reqs, req)
	return nil
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) { return copy(p, m.data[off:]), nil }
func (m *memDisk) Size() uint64                            { return uint64(len(m.data)) }
func (m *memDisk) ReadOnly() bool                          { return m.ro }
func (m *memDisk) SetWriteThrough(on bool)                 { m.writeThrough = append(m.writeThrough, on) }

// perform carries out the oldest submitted request and returns the input
// that completes it; withData false leaves the read data out (replay).
func (m *memDisk) perform(withData bool) Input {
	req := m.reqs[0]
	m.reqs = m.reqs[1:]
	in := Input{Kind: InputDiskDone, Arg: req.ID}
	off := req.Sector * 512
	switch req.Op {
	case BlockRead:
		if withData {
			in.Data = append([]byte(nil), m.data[off:off+uint64(req.Len)]...)
		}
	case BlockWrite:
		copy(m.data[off:], req.Data)
	}
	return in
}

// blkReq is a request the fake driver builds: header, data buffers, status.
type blkReq struct {
	hdr, data, status uint64
	dataLen           uint32
}

func (d *driver) blkRequest(typ uint32, sector uint64, dataLen uint32, write bool) blkReq {
	r := blkReq{hdr: d.alloc(16), status: d.alloc(1), dataLen: dataLen}
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint64(h[8:], sector)
	d.put(r.hdr, h[:])
	d.put(r.status, []byte{0xFF})
	bufs := []buf{{r.hdr, 16, false}}
	if dataLen > 0 {
		r.data = d.alloc(uint64(dataLen))
		bufs = append(bufs, buf{r.data, dataLen, write})
	}
	bufs = append(bufs, buf{r.status, 1, true})
	d.addChain(0, bufs...)
	return r
}

func (d *driver) blkStatus(r blkReq) uint8 { return d.get(r.status, 1)[0] }

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func newBlkDriver(t *testing.T, disk BlockBackend, features uint64) (*driver, *VirtioBlk) {
	blk := NewVirtioBlk(disk, 3)
	d := newDriver(t, blk)
	d.init(features, 16)
	return d, blk
}

func TestVirtioBlkFeaturesAndConfig(t *testing.T) {
	for _, ro := range []bool{false, true} {
		disk := &memDisk{data: make([]byte, 8192), ro: ro}
		d := newDriver(t, NewVirtioBlk(disk, 0))
		f := d.deviceFeatures()
		want := uint64(featV1 | 1<<VirtioFEventIdx | 1<<VirtioFIndirectDesc |
			1<<VirtioBlkFFlush | 1<<VirtioBlkFBlkSize | 1<<VirtioBlkFSegMax)
		if ro {
			want |= 1 << VirtioBlkFRO
		}
		if f != want {
			t.Errorf("ro=%v: features %#x, want %#x", ro, f, want)
		}
		if d.r32(mmioDeviceID) != VirtioIDBlock {
			t.Errorf("device ID %d", d.r32(mmioDeviceID))
		}
		capLo, capHi := d.dev.ReadMMIO(0x100, 4), d.dev.ReadMMIO(0x104, 4)
		if capLo != 16 || capHi != 0 || d.dev.ReadMMIO(0x100, 8) != 16 {
			t.Errorf("capacity %d/%d, want 16 sectors", capLo, capHi)
		}
		if got := d.dev.ReadMMIO(0x100+20, 4); got != 512 {
			t.Errorf("blk_size %d", got)
		}
		if got := d.dev.ReadMMIO(0x100+12, 4); got != 254 {
			t.Errorf("seg_max %d", got)
		}
	}
}

func TestVirtioBlkWriteThrough(t *testing.T) {
	disk := &memDisk{data: make([]byte, 4096)}
	d := newDriver(t, NewVirtioBlk(disk, 0))
	d.init(featV1, 16)
	d.init(featV1|1<<VirtioBlkFFlush, 16)
	// reset (true), activate without FLUSH (true), reset, activate with FLUSH (false)
	if want := []bool{true, true, true, false}; !reflect.DeepEqual(disk.writeThrough, want) {
		t.Errorf("SetWriteThrough calls %v, want %v", disk.writeThrough, want)
	}
}

func TestVirtioBlkRequests(t *testing.T) {
	const sectors = 64
	content := pattern(sectors*512, 1)
	tests := []struct {
		name    string
		ro      bool
		typ     uint32
		sector  uint64
		dataLen uint32
		write   bool   // data buffer device-writable
		submits int    // requests the backend sees
		status  uint8  // final status
		usedLen uint32 // bytes reported written
		check   func(t *testing.T, d *driver, disk *memDisk, r blkReq)
	}{
		{name: "read", typ: VirtioBlkTIn, sector: 2, dataLen: 1024, write: true, submits: 1, usedLen: 1025,
			check: func(t *testing.T, d *driver, disk *memDisk, r blkReq) {
				if !bytes.Equal(d.get(r.data, 1024), content[1024:2048]) {
					t.Error("read data differ")
				}
			}},
		{name: "read last sector", typ: VirtioBlkTIn, sector: sectors - 1, dataLen: 512, write: true, submits: 1, usedLen: 513},
		{name: "write", typ: VirtioBlkTOut, sector: 5, dataLen: 1536, submits: 1, usedLen: 1,
			check: func(t *testing.T, d *driver, disk *memDisk, r blkReq) {
				if !bytes.Equal(disk.data[5*512:5*512+1536], d.get(r.data, 1536)) {
					t.Error("written data differ")
				}
			}},
		{name: "flush", typ: VirtioBlkTFlush, submits: 1, usedLen: 1},
		{name: "get id", typ: VirtioBlkTGetID, dataLen: 20, write: true, usedLen: 21,
			check: func(t *testing.T, d *driver, disk *memDisk, r blkReq) {
				want := append([]byte("ftvm-disk-3"), make([]byte, 9)...)
				if got := d.get(r.data, 20); !bytes.Equal(got, want) {
					t.Errorf("id %q", got)
				}
			}},
		{name: "read beyond end", typ: VirtioBlkTIn, sector: sectors - 1, dataLen: 1024, write: true, status: VirtioBlkSIOErr, usedLen: 1},
		{name: "read far beyond end", typ: VirtioBlkTIn, sector: 1 << 60, dataLen: 512, write: true, status: VirtioBlkSIOErr, usedLen: 1},
		{name: "write beyond end", typ: VirtioBlkTOut, sector: sectors, dataLen: 512, status: VirtioBlkSIOErr, usedLen: 1},
		{name: "partial sector", typ: VirtioBlkTIn, dataLen: 100, write: true, status: VirtioBlkSIOErr, usedLen: 1},
		{name: "write read-only", ro: true, typ: VirtioBlkTOut, dataLen: 512, status: VirtioBlkSIOErr, usedLen: 1,
			check: func(t *testing.T, d *driver, disk *memDisk, r blkReq) {
				if !bytes.Equal(disk.data, content) {
					t.Error("read-only disk modified")
				}
			}},
		{name: "read read-only", ro: true, typ: VirtioBlkTIn, dataLen: 512, write: true, submits: 1, usedLen: 513},
		{name: "unknown type", typ: 99, status: VirtioBlkSUnsupp, usedLen: 1},
		{name: "discard unsupported", typ: 11, dataLen: 16, status: VirtioBlkSUnsupp, usedLen: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			disk := &memDisk{data: append([]byte(nil), content...), ro: tc.ro}
			d, blk := newBlkDriver(t, disk, featV1|1<<VirtioBlkFFlush)
			r := d.blkRequest(tc.typ, tc.sector, tc.dataLen, tc.write)
			if tc.typ == VirtioBlkTOut {
				d.put(r.data, pattern(int(tc.dataLen), 9))
			}
			d.kick(0)
			if len(disk.reqs) != tc.submits {
				t.Fatalf("%d requests submitted, want %d", len(disk.reqs), tc.submits)
			}
			if tc.submits > 0 {
				if u := d.takeUsed(0); len(u) != 0 || d.blkStatus(r) != 0xFF {
					t.Fatal("request completed before its input")
				}
				if blk.InFlight() != 1 {
					t.Fatalf("in flight %d", blk.InFlight())
				}
				if err := d.dev.Deliver(disk.perform(true)); err != nil {
					t.Fatal(err)
				}
			}
			u := d.takeUsed(0)
			if len(u) != 1 || u[0].len != tc.usedLen {
				t.Fatalf("used %+v, want one entry of length %d", u, tc.usedLen)
			}
			if got := d.blkStatus(r); got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			if d.ack()&VirtioIntUsed == 0 {
				t.Error("no interrupt")
			}
			if blk.InFlight() != 0 || d.dev.Transport().Broken() {
				t.Errorf("in flight %d, broken %q", blk.InFlight(), d.dev.Transport().FailReason())
			}
			if tc.check != nil {
				tc.check(t, d, disk, r)
			}
		})
	}
}

// TestVirtioBlkCompletionPaths covers the ways a completion input can end a
// read: data in the input, data from the backend's own copy (replay), a
// host error, a completion for a request a reset discarded.
func TestVirtioBlkCompletionPaths(t *testing.T) {
	content := pattern(8192, 3)
	t.Run("replay reads own copy", func(t *testing.T) {
		disk := &memDisk{data: append([]byte(nil), content...)}
		d, _ := newBlkDriver(t, disk, featV1)
		r := d.blkRequest(VirtioBlkTIn, 4, 2048, true)
		d.kick(0)
		if err := d.dev.Deliver(disk.perform(false)); err != nil {
			t.Fatal(err)
		}
		if d.blkStatus(r) != 0 || !bytes.Equal(d.get(r.data, 2048), content[2048:4096]) {
			t.Error("read from the backend copy failed")
		}
	})
	// A completion the host marks failed (here of a write), and one with
	// less data than the read asked for, end the request with IOERR.
	for _, tc := range []struct {
		name  string
		req   func(d *driver) blkReq
		spoil func(in *Input)
	}{
		{"host error", func(d *driver) blkReq { return d.blkRequest(VirtioBlkTOut, 0, 512, false) },
			func(in *Input) { in.Arg |= DiskDoneError }},
		{"short data", func(d *driver) blkReq { return d.blkRequest(VirtioBlkTIn, 0, 1024, true) },
			func(in *Input) { in.Data = in.Data[:512] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := &memDisk{data: append([]byte(nil), content...)}
			d, _ := newBlkDriver(t, disk, featV1)
			r := tc.req(d)
			d.kick(0)
			in := disk.perform(true)
			tc.spoil(&in)
			if err := d.dev.Deliver(in); err != nil {
				t.Fatal(err)
			}
			if d.blkStatus(r) != VirtioBlkSIOErr {
				t.Errorf("status %d, want IOERR", d.blkStatus(r))
			}
		})
	}
	t.Run("stale and bogus completions", func(t *testing.T) {
		disk := &memDisk{data: append([]byte(nil), content...)}
		d, blk := newBlkDriver(t, disk, featV1)
		d.blkRequest(VirtioBlkTIn, 0, 512, true)
		d.kick(0)
		d.init(featV1, 16) // reset with the request in flight
		if blk.InFlight() != 0 {
			t.Fatal("reset kept the request")
		}
		if err := d.dev.Deliver(disk.perform(true)); err != nil {
			t.Errorf("stale completion: %v", err)
		}
		if u := d.takeUsed(0); len(u) != 0 {
			t.Errorf("stale completion used a buffer: %v", u)
		}
		if err := d.dev.Deliver(Input{Kind: InputDiskDone, Arg: 1000}); err == nil {
			t.Error("completion of an unknown request accepted")
		}
		if err := d.dev.Deliver(Input{Kind: InputFrame}); err == nil {
			t.Error("frame input accepted")
		}
	})
	t.Run("out of order", func(t *testing.T) {
		disk := &memDisk{data: append([]byte(nil), content...)}
		d, _ := newBlkDriver(t, disk, featV1)
		r1 := d.blkRequest(VirtioBlkTIn, 0, 512, true)
		r2 := d.blkRequest(VirtioBlkTIn, 1, 512, true)
		d.kick(0)
		first := disk.perform(true)
		second := disk.perform(true)
		d.dev.Deliver(second)
		if u := d.takeUsed(0); len(u) != 1 || d.blkStatus(r2) != 0 || d.blkStatus(r1) != 0xFF {
			t.Fatalf("second completion: used %v", u)
		}
		d.dev.Deliver(first)
		if !bytes.Equal(d.get(r1.data, 512), content[:512]) || !bytes.Equal(d.get(r2.data, 512), content[512:1024]) {
			t.Error("data differ")
		}
	})
}

func TestVirtioBlkMalformed(t *testing.T) {
	tests := []struct {
		name  string
		build func(d *driver)
	}{
		{"no status byte", func(d *driver) {
			d.addChain(0, buf{d.alloc(16), 16, false}, buf{d.alloc(512), 512, false})
		}},
		{"short header", func(d *driver) {
			d.addChain(0, buf{d.alloc(8), 8, false}, buf{d.alloc(1), 1, true})
		}},
		{"header outside RAM", func(d *driver) {
			d.addChain(0, buf{testRAM - 4, 16, false}, buf{d.alloc(1), 1, true})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			disk := &memDisk{data: make([]byte, 4096)}
			d, _ := newBlkDriver(t, disk, featV1)
			tc.build(d)
			d.kick(0)
			if d.status()&VirtioStatusNeedsReset == 0 || len(disk.reqs) != 0 {
				t.Errorf("status %#x, %d submitted", d.status(), len(disk.reqs))
			}
		})
	}
}

// TestVirtioBlkRepostedHead makes a driver publish the head of a request
// still in flight, again and again: the device must refuse it (NEEDS_RESET)
// rather than start the chain twice, so that its requests in flight never
// outnumber the queue's entries.
func TestVirtioBlkRepostedHead(t *testing.T) {
	disk := &memDisk{data: make([]byte, 8192)}
	d, blk := newBlkDriver(t, disk, featV1)
	d.blkRequest(VirtioBlkTIn, 0, 512, true)
	d.kick(0)
	if blk.InFlight() != 1 {
		t.Fatalf("%d in flight after one request", blk.InFlight())
	}
	for range 100 {
		d.publish(0, 0) // head 0 is the request in flight
		d.kick(0)
		if n := blk.InFlight(); n > int(d.queues[0].num) {
			t.Fatalf("%d requests in flight on a %d-entry queue", n, d.queues[0].num)
		}
	}
	if d.status()&VirtioStatusNeedsReset == 0 {
		t.Error("a head already in flight was accepted")
	}
	if blk.InFlight() != 1 || len(disk.reqs) != 1 {
		t.Errorf("%d in flight, %d submitted; want the first request only", blk.InFlight(), len(disk.reqs))
	}
}

func TestVirtioBlkScatteredLayout(t *testing.T) {
	// Any layout is valid: a header split over two buffers, the data
	// split over several, the status sharing the data's last buffer; and
	// the same through an indirect table.
	content := pattern(4096, 5)
	for _, indirect := range []bool{false, true} {
		disk := &memDisk{data: append([]byte(nil), content...)}
		d, _ := newBlkDriver(t, disk, featV1|1<<VirtioFIndirectDesc)
		h := d.alloc(16)
		var hdr [16]byte
		binary.LittleEndian.PutUint32(hdr[0:], VirtioBlkTIn)
		binary.LittleEndian.PutUint64(hdr[8:], 1)
		d.put(h, hdr[:])
		a, b := d.alloc(300), d.alloc(213)
		bufs := []buf{{h, 10, false}, {h + 10, 6, false}, {a, 300, true}, {b, 213, true}}
		if indirect {
			d.addIndirect(0, bufs...)
		} else {
			d.addChain(0, bufs...)
		}
		d.kick(0)
		d.dev.Deliver(disk.perform(true))
		got := append(d.get(a, 300), d.get(b, 212)...)
		if !bytes.Equal(got, content[512:1024]) || d.get(b+212, 1)[0] != 0 {
			t.Errorf("indirect=%v: scattered read failed", indirect)
		}
		if u := d.takeUsed(0); len(u) != 1 || u[0].len != 513 {
			t.Errorf("used %v", u)
		}
	}
}

// TestVirtioBlkSnapshotContinues snapshots a device with requests in
// flight, restores it on a second device over a copy of guest memory, and
// checks that both continue identically when given the same completions.
func TestVirtioBlkSnapshotContinues(t *testing.T) {
	content := pattern(16384, 7)
	disk := &memDisk{data: append([]byte(nil), content...)}
	d, blk := newBlkDriver(t, disk, featV1|1<<VirtioFEventIdx|1<<VirtioBlkFFlush)
	r1 := d.blkRequest(VirtioBlkTIn, 3, 1024, true)
	r2 := d.blkRequest(VirtioBlkTOut, 8, 512, false)
	d.put(r2.data, pattern(512, 99))
	r3 := d.blkRequest(VirtioBlkTFlush, 0, 0, false)
	d.kick(0)
	if blk.InFlight() != 3 {
		t.Fatalf("in flight %d", blk.InFlight())
	}
	snap := d.dev.Snapshot()
	st := snap.Device.(VirtioBlkState)
	if len(st.InFlight) != 3 || st.InFlight[0].Type != VirtioBlkTIn || st.InFlight[1].Type != VirtioBlkTOut {
		t.Fatalf("snapshot in flight: %+v", st.InFlight)
	}

	// The second machine: same RAM contents, its own (identical) disk.
	disk2 := &memDisk{data: append([]byte(nil), content...)}
	d2 := newDriver(t, NewVirtioBlk(disk2, 3))
	copy(d2.mem.RAM, d.mem.RAM)
	if err := d2.dev.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d2.dev.Snapshot(), snap) {
		t.Fatal("restored state differs")
	}
	// The backup goes live and reissues what was in flight.
	d2.dev.Device().(*VirtioBlk).Reissue()
	if len(disk2.reqs) != 3 || !reflect.DeepEqual(disk2.reqs, disk.reqs) {
		t.Fatalf("reissued %+v, want %+v", disk2.reqs, disk.reqs)
	}
	for len(disk.reqs) > 0 {
		in1, in2 := disk.perform(true), disk2.perform(false)
		if err := d.dev.Deliver(in1); err != nil {
			t.Fatal(err)
		}
		if err := d2.dev.Deliver(in2); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(d.mem.RAM, d2.mem.RAM) {
		t.Error("guest memory differs after the completions")
	}
	if !reflect.DeepEqual(d.dev.Snapshot(), d2.dev.Snapshot()) {
		t.Error("device state differs after the completions")
	}
	if !bytes.Equal(disk.data, disk2.data) {
		t.Error("disks differ")
	}
	for _, r := range []blkReq{r1, r2, r3} {
		if d2.blkStatus(r) != 0 {
			t.Errorf("status %d", d2.blkStatus(r))
		}
	}
	// Invalid states are refused.
	bad := snap
	bs := snap.Device.(VirtioBlkState)
	bs.InFlight = append([]BlkRequestState(nil), bs.InFlight...)
	bs.InFlight[0].Status = testRAM
	bad.Device = bs
	if err := d2.dev.Restore(bad); err == nil {
		t.Error("request with status outside RAM accepted")
	}
	bs.InFlight[0] = st.InFlight[0]
	bs.InFlight[0].ID = bs.NextID
	if err := d2.dev.Restore(bad); err == nil {
		t.Error("request ID beyond NextID accepted")
	}
	bs.InFlight[0] = st.InFlight[0]
	bs.InFlight[1].Head = bs.InFlight[0].Head
	if err := d2.dev.Restore(bad); err == nil {
		t.Error("two requests on one head accepted")
	}
}
