package devices

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"ftvm/mmu"
)

// A fake guest driver: it lays out split virtqueues in an mmu.Memory and
// drives the virtio-mmio registers as Linux's virtio_mmio driver does.

const (
	testRAM      = 1 << 20
	testRingBase = 0x10000 // queue i's rings at testRingBase + i*0x4000
	testBufBase  = 0x40000 // bump-allocated buffers from here
)

type fakeIRQ struct {
	level  bool
	raises int
}

func (f *fakeIRQ) SetLevel(high bool) {
	if high && !f.level {
		f.raises++
	}
	f.level = high
}

type drvQueue struct {
	num               uint16
	desc, avail, used uint64
	availIdx          uint16
	usedSeen          uint16
	nextDesc          uint16 // descriptors are handed out round-robin
}

type usedElem struct {
	id, len uint32
}

type driver struct {
	t      testing.TB
	mem    *mmu.Memory
	dev    *VirtioMMIO
	irq    *fakeIRQ
	queues []*drvQueue
	next   uint64
}

type buf struct {
	addr  uint64
	len   uint32
	write bool
}

func newDriver(t testing.TB, dev VirtioDevice) *driver {
	t.Helper()
	mem, err := mmu.NewMemory(testRAM)
	if err != nil {
		t.Fatal(err)
	}
	irq := &fakeIRQ{}
	return &driver{t: t, mem: mem, dev: NewVirtioMMIO(mem, irq, dev), irq: irq, next: testBufBase}
}

func (d *driver) r32(off uint64) uint32    { return uint32(d.dev.ReadMMIO(off, 4)) }
func (d *driver) w32(off uint64, v uint32) { d.dev.WriteMMIO(off, 4, uint64(v)) }
func (d *driver) status() uint8            { return uint8(d.r32(mmioStatus)) }
func (d *driver) setStatus(bits uint8)     { d.w32(mmioStatus, uint32(d.status()|bits)) }
func (d *driver) deviceFeatures() (f uint64) {
	for sel := uint32(0); sel < 2; sel++ {
		d.w32(mmioDeviceFeaturesSel, sel)
		f |= uint64(d.r32(mmioDeviceFeatures)) << (32 * sel)
	}
	return f
}

// negotiate resets the device and runs the feature handshake; it reports
// whether the device accepted the features.
func (d *driver) negotiate(features uint64) bool {
	d.w32(mmioStatus, 0)
	d.setStatus(VirtioStatusAcknowledge)
	d.setStatus(VirtioStatusDriver)
	for sel := uint32(0); sel < 2; sel++ {
		d.w32(mmioDriverFeaturesSel, sel)
		d.w32(mmioDriverFeatures, uint32(features>>(32*sel)))
	}
	d.setStatus(VirtioStatusFeaturesOK)
	return d.status()&VirtioStatusFeaturesOK != 0
}

// init brings the device up with features and queues of size num.
func (d *driver) init(features uint64, num uint16) {
	d.t.Helper()
	if !d.negotiate(features) {
		d.t.Fatalf("features %#x refused", features)
	}
	d.queues = nil
	n := d.dev.Device().NumQueues()
	for i := 0; i < n; i++ {
		d.setupQueue(i, num)
	}
	d.setStatus(VirtioStatusDriverOK)
	if d.status()&VirtioStatusDriverOK == 0 {
		d.t.Fatalf("DRIVER_OK not taken: status %#x", d.status())
	}
}

// writeQueue programs queue i with q's size and ring addresses and sets it
// ready.
func (d *driver) writeQueue(i int, q *drvQueue) {
	d.w32(mmioQueueSel, uint32(i))
	d.w32(mmioQueueNum, uint32(q.num))
	d.w32(mmioQueueDescLow, uint32(q.desc))
	d.w32(mmioQueueDescHigh, uint32(q.desc>>32))
	d.w32(mmioQueueDriverLow, uint32(q.avail))
	d.w32(mmioQueueDriverHigh, uint32(q.avail>>32))
	d.w32(mmioQueueDeviceLow, uint32(q.used))
	d.w32(mmioQueueDeviceHigh, uint32(q.used>>32))
	d.w32(mmioQueueReady, 1)
}

func (d *driver) setupQueue(i int, num uint16) {
	base := uint64(testRingBase + i*0x4000)
	q := &drvQueue{num: num, desc: base, avail: base + 0x1000, used: base + 0x2000}
	d.put(base, make([]byte, 0x3000)) // fresh rings, as a driver allocates them
	d.w32(mmioQueueSel, uint32(i))
	if d.r32(mmioQueueReady) != 0 {
		d.t.Fatalf("queue %d ready before setup", i)
	}
	if max := d.r32(mmioQueueNumMax); max < uint32(num) {
		d.t.Fatalf("queue %d: QueueNumMax %d < %d", i, max, num)
	}
	d.writeQueue(i, q)
	for len(d.queues) <= i {
		d.queues = append(d.queues, nil)
	}
	d.queues[i] = q
}

// alloc returns n bytes of guest memory, 16-aligned.
func (d *driver) alloc(n uint64) uint64 {
	a := d.next
	d.next += (n + 15) &^ 15
	if d.next > testRAM {
		d.next = testBufBase
		a = d.next
		d.next += (n + 15) &^ 15
	}
	return a
}

func (d *driver) put(addr uint64, b []byte) {
	if err := d.mem.WriteBytes(addr, b); err != nil {
		d.t.Fatal(err)
	}
}

func (d *driver) get(addr uint64, n int) []byte {
	b := make([]byte, n)
	if err := d.mem.ReadBytes(addr, b); err != nil {
		d.t.Fatal(err)
	}
	return b
}

func (d *driver) put16(addr uint64, v uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], v)
	d.put(addr, b[:])
}

func (d *driver) get16(addr uint64) uint16 { return binary.LittleEndian.Uint16(d.get(addr, 2)) }

func (d *driver) writeDesc(table uint64, i uint16, addr uint64, l uint32, flags, next uint16) {
	var e [16]byte
	binary.LittleEndian.PutUint64(e[0:], addr)
	binary.LittleEndian.PutUint32(e[8:], l)
	binary.LittleEndian.PutUint16(e[12:], flags)
	binary.LittleEndian.PutUint16(e[14:], next)
	d.put(table+16*uint64(i), e[:])
}

// addChain writes bufs as a direct descriptor chain and makes it available
// (without notifying); it returns the head.
func (d *driver) addChain(qi int, bufs ...buf) uint16 {
	q := d.queues[qi]
	head := q.nextDesc
	for j, b := range bufs {
		i := (head + uint16(j)) % q.num
		var flags uint16
		if b.write {
			flags |= vringDescFWrite
		}
		if j < len(bufs)-1 {
			flags |= vringDescFNext
		}
		d.writeDesc(q.desc, i, b.addr, b.len, flags, (i+1)%q.num)
	}
	q.nextDesc = (head + uint16(len(bufs))) % q.num
	d.publish(qi, head)
	return head
}

// addIndirect writes bufs as an indirect table referenced by one descriptor.
func (d *driver) addIndirect(qi int, bufs ...buf) uint16 {
	q := d.queues[qi]
	table := d.alloc(16 * uint64(len(bufs)))
	for j, b := range bufs {
		var flags uint16
		if b.write {
			flags |= vringDescFWrite
		}
		if j < len(bufs)-1 {
			flags |= vringDescFNext
		}
		d.writeDesc(table, uint16(j), b.addr, b.len, flags, uint16(j+1))
	}
	head := q.nextDesc
	d.writeDesc(q.desc, head, table, uint32(16*len(bufs)), vringDescFIndirect, 0)
	q.nextDesc = (head + 1) % q.num
	d.publish(qi, head)
	return head
}

// publish puts head in the avail ring and advances avail.idx.
func (d *driver) publish(qi int, head uint16) {
	q := d.queues[qi]
	d.put16(q.avail+4+2*uint64(q.availIdx%q.num), head)
	q.availIdx++
	d.put16(q.avail+2, q.availIdx)
}

func (d *driver) kick(qi int) { d.w32(mmioQueueNotify, uint32(qi)) }

// takeUsed returns the used entries the device added since the last call.
func (d *driver) takeUsed(qi int) []usedElem {
	q := d.queues[qi]
	idx := d.get16(q.used + 2)
	var out []usedElem
	for q.usedSeen != idx {
		e := d.get(q.used+4+8*uint64(q.usedSeen%q.num), 8)
		out = append(out, usedElem{binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])})
		q.usedSeen++
	}
	return out
}

// ack acknowledges all pending interrupts and returns what they were.
func (d *driver) ack() uint32 {
	s := d.r32(mmioInterruptStatus)
	d.w32(mmioInterruptACK, s)
	return s
}

func (d *driver) setUsedEvent(qi int, v uint16) {
	q := d.queues[qi]
	d.put16(q.avail+4+2*uint64(q.num), v)
}

// A fake net backend.
type fakeNet struct{ frames [][]byte }

func (f *fakeNet) Send(frame []byte) error {
	f.frames = append(f.frames, append([]byte(nil), frame...))
	return nil
}

const featV1 = 1 << VirtioFVersion1

func TestVirtioMMIOIdentity(t *testing.T) {
	d := newDriver(t, NewVirtioNet(nil, [6]byte{2, 0, 0, 0, 0, 9}))
	for _, c := range []struct {
		off  uint64
		want uint32
	}{
		{mmioMagicValue, 0x74726976},
		{mmioVersion, 2},
		{mmioDeviceID, VirtioIDNet},
		{mmioVendorID, 0x4D565446},
		{mmioStatus, 0},
		{mmioInterruptStatus, 0},
		{mmioConfigGeneration, 0},
	} {
		if got := d.r32(c.off); got != c.want {
			t.Errorf("register %#x = %#x, want %#x", c.off, got, c.want)
		}
	}
	for q, want := range []uint32{256, 256, 0} {
		d.w32(mmioQueueSel, uint32(q))
		if got := d.r32(mmioQueueNumMax); got != want {
			t.Errorf("queue %d: QueueNumMax %d, want %d", q, got, want)
		}
	}
	// Config space: MAC bytes, then status (link up), in any width.
	if got := d.dev.ReadMMIO(0x100, 4); got != 0x00000002 {
		t.Errorf("config[0:4] = %#x", got)
	}
	if got := d.dev.ReadMMIO(0x105, 1); got != 9 {
		t.Errorf("config[5] = %#x", got)
	}
	if got := d.dev.ReadMMIO(0x106, 2); got != 1 {
		t.Errorf("config status = %#x, want link up", got)
	}
	if got := d.dev.ReadMMIO(0x100, 8); got != 0x0001_0900_0000_0002 {
		t.Errorf("config[0:8] = %#x", got)
	}
	// Out-of-range config and odd-sized register accesses read 0.
	for _, c := range []struct {
		off  uint64
		size int
	}{{0x100 + netConfigSize, 1}, {0x100 + netConfigSize - 1, 2}, {0x0, 2}, {0x2, 4}, {0x0, 8}, {0x100, 3}} {
		if got := d.dev.ReadMMIO(c.off, c.size); got != 0 {
			t.Errorf("read %#x/%d = %#x, want 0", c.off, c.size, got)
		}
	}
	if cl := VirtioMMIOCmdline(1); cl != "virtio_mmio.device=4K@0xd0001000:6" {
		t.Errorf("cmdline %q", cl)
	}
}

func TestFeatureNegotiation(t *testing.T) {
	netOffered := uint64(featV1 | 1<<VirtioFEventIdx | 1<<VirtioFIndirectDesc | 1<<VirtioNetFMAC | 1<<VirtioNetFStatus)
	tests := []struct {
		name     string
		features uint64
		ok       bool
	}{
		{"version 1 only", featV1, true},
		{"everything offered", netOffered, true},
		{"legacy driver", 1 << VirtioNetFMAC, false},
		{"nothing", 0, false},
		{"not offered: MRG_RXBUF", featV1 | 1<<15, false},
		{"not offered: high bit", featV1 | 1<<40, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, NewVirtioNet(nil, DefaultMAC(0)))
			if got := d.deviceFeatures(); got != netOffered {
				t.Fatalf("device features %#x, want %#x", got, netOffered)
			}
			if got := d.negotiate(tc.features); got != tc.ok {
				t.Fatalf("FEATURES_OK %v, want %v", got, tc.ok)
			}
			tr := d.dev.Transport()
			if tc.ok {
				if tr.Features() != tc.features {
					t.Errorf("negotiated %#x, want %#x", tr.Features(), tc.features)
				}
				// Features are fixed once accepted.
				d.w32(mmioDriverFeaturesSel, 0)
				d.w32(mmioDriverFeatures, 0)
				if tr.Features() != tc.features {
					t.Errorf("features changed after FEATURES_OK: %#x", tr.Features())
				}
			} else {
				d.setStatus(VirtioStatusDriverOK)
				if d.status()&VirtioStatusDriverOK != 0 {
					t.Errorf("DRIVER_OK accepted without FEATURES_OK")
				}
				if tr.Features() != 0 {
					t.Errorf("features %#x without FEATURES_OK", tr.Features())
				}
			}
		})
	}
}

func TestQueueWrapAround(t *testing.T) {
	for _, eventIdx := range []bool{false, true} {
		name := "flags"
		if eventIdx {
			name = "event-idx"
		}
		t.Run(name, func(t *testing.T) {
			be := &fakeNet{}
			d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
			f := uint64(featV1)
			if eventIdx {
				f |= 1 << VirtioFEventIdx
			}
			d.init(f, 4)
			frame := d.alloc(VirtioNetHdrSize + 64)
			const total = 65536 + 40
			for i := 0; i < total; i++ {
				var payload [64]byte
				binary.LittleEndian.PutUint32(payload[14:], uint32(i))
				d.put(frame+VirtioNetHdrSize, payload[:])
				d.setUsedEvent(VirtioNetTXQ, d.queues[VirtioNetTXQ].availIdx)
				d.addChain(VirtioNetTXQ, buf{frame, VirtioNetHdrSize + 64, false})
				d.kick(VirtioNetTXQ)
				u := d.takeUsed(VirtioNetTXQ)
				if len(u) != 1 {
					t.Fatalf("frame %d: %d used entries", i, len(u))
				}
				if d.ack()&VirtioIntUsed == 0 {
					t.Fatalf("frame %d: no interrupt", i)
				}
				if got := binary.LittleEndian.Uint32(be.frames[i][14:]); got != uint32(i) {
					t.Fatalf("frame %d carries %d", i, got)
				}
				be.frames[i] = nil
			}
			q := d.dev.Transport().Queue(VirtioNetTXQ).State()
			if q.LastAvail != total%65536 || q.UsedIdx != total%65536 {
				t.Errorf("indices after wrap: last avail %d used %d, want %d", q.LastAvail, q.UsedIdx, total%65536)
			}
			if d.dev.Transport().Broken() {
				t.Errorf("device broken: %s", d.dev.Transport().FailReason())
			}
		})
	}
}

func TestNotificationSuppression(t *testing.T) {
	tests := []struct {
		name        string
		eventIdx    bool
		noInterrupt bool
		// usedEvent, relative to the used index before the batch
		usedEvent uint16
		batch     int
		want      bool
	}{
		{"interrupts on", false, false, 0, 1, true},
		{"NO_INTERRUPT", false, true, 0, 1, false},
		{"event idx reached", true, false, 0, 1, true},
		{"event idx inside batch", true, false, 2, 3, true},
		{"event idx beyond batch", true, false, 3, 3, false},
		{"event idx behind", true, false, 0xFFFF, 3, false},
		{"event idx ignores NO_INTERRUPT", true, true, 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &fakeNet{}
			d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
			f := uint64(featV1)
			if tc.eventIdx {
				f |= 1 << VirtioFEventIdx
			}
			d.init(f, 16)
			frame := d.alloc(64)
			q := d.queues[VirtioNetTXQ]
			// A first batch so that the device has signalled once.
			d.addChain(VirtioNetTXQ, buf{frame, 64, false})
			d.kick(VirtioNetTXQ)
			d.takeUsed(VirtioNetTXQ)
			d.ack()
			raises := d.irq.raises
			if tc.noInterrupt {
				d.put16(q.avail, vringAvailFNoInterrupt)
			}
			d.setUsedEvent(VirtioNetTXQ, q.usedSeen+tc.usedEvent)
			for i := 0; i < tc.batch; i++ {
				d.addChain(VirtioNetTXQ, buf{frame, 64, false})
			}
			d.kick(VirtioNetTXQ)
			if n := len(d.takeUsed(VirtioNetTXQ)); n != tc.batch {
				t.Fatalf("%d used, want %d", n, tc.batch)
			}
			got := d.irq.raises > raises
			if got != tc.want || got != (d.r32(mmioInterruptStatus)&VirtioIntUsed != 0) {
				t.Errorf("interrupt %v (status %#x), want %v", got, d.r32(mmioInterruptStatus), tc.want)
			}
			if tc.eventIdx {
				// avail_event tells the driver to notify at the next chain.
				if got := d.get16(q.used + 4 + 8*uint64(q.num)); got != q.availIdx {
					t.Errorf("avail_event %d, want %d", got, q.availIdx)
				}
			}
		})
	}
}

func TestInterruptACK(t *testing.T) {
	be := &fakeNet{}
	d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
	d.init(featV1, 8)
	frame := d.alloc(64)
	d.addChain(VirtioNetTXQ, buf{frame, 64, false})
	d.kick(VirtioNetTXQ)
	if !d.irq.level || d.r32(mmioInterruptStatus) != VirtioIntUsed {
		t.Fatalf("after TX: level %v status %#x", d.irq.level, d.r32(mmioInterruptStatus))
	}
	d.w32(mmioInterruptACK, VirtioIntConfig) // not pending: no change
	if !d.irq.level {
		t.Fatal("line dropped on ACK of another bit")
	}
	d.w32(mmioInterruptACK, VirtioIntUsed)
	if d.irq.level || d.r32(mmioInterruptStatus) != 0 {
		t.Fatalf("after ACK: level %v status %#x", d.irq.level, d.r32(mmioInterruptStatus))
	}
}

func TestDeviceReset(t *testing.T) {
	be := &fakeNet{}
	d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
	d.init(featV1|1<<VirtioFEventIdx, 8)
	frame := d.alloc(64)
	d.addChain(VirtioNetTXQ, buf{frame, 64, false})
	d.kick(VirtioNetTXQ)
	if !d.irq.level {
		t.Fatal("no interrupt before reset")
	}
	d.w32(mmioStatus, 0)
	if d.irq.level {
		t.Error("interrupt line still high after reset")
	}
	tr := d.dev.Transport()
	for q := 0; q < 2; q++ {
		d.w32(mmioQueueSel, uint32(q))
		if d.r32(mmioQueueReady) != 0 {
			t.Errorf("queue %d ready after reset", q)
		}
		if s := tr.Queue(q).State(); s.LastAvail != 0 || s.UsedIdx != 0 || s.Desc != 0 {
			t.Errorf("queue %d state after reset: %+v", q, s)
		}
	}
	if d.status() != 0 || d.r32(mmioInterruptStatus) != 0 || tr.Features() != 0 {
		t.Errorf("after reset: status %#x, interrupt %#x, features %#x", d.status(), d.r32(mmioInterruptStatus), tr.Features())
	}
	// Notifications are ignored until the device is set up again.
	d.kick(VirtioNetTXQ)
	// And the device works again after a new initialization.
	d.init(featV1, 8)
	d.addChain(VirtioNetTXQ, buf{frame, 64, false})
	d.kick(VirtioNetTXQ)
	if len(be.frames) != 2 {
		t.Errorf("%d frames sent, want 2", len(be.frames))
	}
}

// TestMalformedQueues checks that a driver error marks the device as needing
// a reset, with a configuration interrupt, and never panics or writes
// outside RAM.
func TestMalformedQueues(t *testing.T) {
	tests := []struct {
		name     string
		features uint64
		build    func(d *driver)
		want     string
	}{
		{"buffer outside RAM", featV1, func(d *driver) {
			d.addChain(VirtioNetTXQ, buf{testRAM - 8, 64, false})
		}, "outside RAM"},
		{"buffer wraps the address space", featV1, func(d *driver) {
			d.addChain(VirtioNetTXQ, buf{^uint64(0) - 8, 64, false})
		}, "outside RAM"},
		{"looping chain", featV1, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			a := d.alloc(64)
			d.writeDesc(q.desc, 0, a, 64, vringDescFNext, 1)
			d.writeDesc(q.desc, 1, a, 64, vringDescFNext, 0)
			d.publish(VirtioNetTXQ, 0)
		}, "loop"},
		{"self loop", featV1, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			d.writeDesc(q.desc, 3, d.alloc(64), 64, vringDescFNext, 3)
			d.publish(VirtioNetTXQ, 3)
		}, "loop"},
		{"next outside table", featV1, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			d.writeDesc(q.desc, 0, d.alloc(64), 64, vringDescFNext, 200)
			d.publish(VirtioNetTXQ, 0)
		}, "outside the table"},
		{"head outside table", featV1, func(d *driver) {
			d.publish(VirtioNetTXQ, 100)
		}, "outside the queue"},
		{"avail index jump", featV1, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			d.put16(q.avail+2, 100)
		}, "ahead"},
		{"indirect not negotiated", featV1, func(d *driver) {
			d.addIndirect(VirtioNetTXQ, buf{d.alloc(64), 64, false})
		}, "INDIRECT"},
		{"indirect bad length", featV1 | 1<<VirtioFIndirectDesc, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			d.writeDesc(q.desc, 0, d.alloc(64), 24, vringDescFIndirect, 0)
			d.publish(VirtioNetTXQ, 0)
		}, "multiple of 16"},
		{"indirect table outside RAM", featV1 | 1<<VirtioFIndirectDesc, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			d.writeDesc(q.desc, 0, testRAM-16, 32, vringDescFIndirect, 0)
			d.publish(VirtioNetTXQ, 0)
		}, "outside RAM"},
		{"nested indirect", featV1 | 1<<VirtioFIndirectDesc, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			inner := d.alloc(16)
			d.writeDesc(inner, 0, d.alloc(64), 64, vringDescFIndirect, 0)
			d.writeDesc(q.desc, 0, inner, 16, vringDescFIndirect, 0)
			d.publish(VirtioNetTXQ, 0)
		}, "indirect"},
		{"indirect loop", featV1 | 1<<VirtioFIndirectDesc, func(d *driver) {
			q := d.queues[VirtioNetTXQ]
			table := d.alloc(32)
			a := d.alloc(64)
			d.writeDesc(table, 0, a, 64, vringDescFNext, 1)
			d.writeDesc(table, 1, a, 64, vringDescFNext, 0)
			d.writeDesc(q.desc, 0, table, 32, vringDescFIndirect, 0)
			d.publish(VirtioNetTXQ, 0)
		}, "loop"},
		{"readable after writable", featV1, func(d *driver) {
			d.addChain(VirtioNetTXQ, buf{d.alloc(64), 64, true}, buf{d.alloc(64), 64, false})
		}, "readable after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &fakeNet{}
			d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
			d.init(tc.features, 8)
			tc.build(d)
			d.kick(VirtioNetTXQ)
			tr := d.dev.Transport()
			if d.status()&VirtioStatusNeedsReset == 0 {
				t.Fatalf("status %#x: DEVICE_NEEDS_RESET not set", d.status())
			}
			if !strings.Contains(tr.FailReason(), tc.want) {
				t.Errorf("reason %q, want it to mention %q", tr.FailReason(), tc.want)
			}
			if d.r32(mmioInterruptStatus)&VirtioIntConfig == 0 || !d.irq.level {
				t.Errorf("no configuration interrupt")
			}
			if len(be.frames) != 0 {
				t.Errorf("%d frames sent", len(be.frames))
			}
			// A broken device ignores the queues until reset.
			d.addChain(VirtioNetTXQ, buf{d.alloc(64), 64, false})
			d.kick(VirtioNetTXQ)
			if len(be.frames) != 0 {
				t.Errorf("broken device sent a frame")
			}
			// The driver cannot clear NEEDS_RESET, only reset.
			d.w32(mmioStatus, uint32(d.status()&^VirtioStatusNeedsReset))
			if d.status()&VirtioStatusNeedsReset == 0 {
				t.Errorf("driver cleared NEEDS_RESET")
			}
			d.init(featV1, 8)
			if tr.Broken() {
				t.Errorf("still broken after reset")
			}
		})
	}
}

func TestQueueReadyChecks(t *testing.T) {
	ring := func(num uint16, desc, avail, used uint64) *drvQueue {
		return &drvQueue{num: num, desc: desc, avail: avail, used: used}
	}
	for _, tc := range []struct {
		name string
		q    *drvQueue
		ok   bool
	}{
		{"good", ring(8, 0x1000, 0x2000, 0x3000), true},
		{"size not a power of two", ring(6, 0x1000, 0x2000, 0x3000), false},
		{"size zero", ring(0, 0x1000, 0x2000, 0x3000), false},
		{"size too big", ring(512, 0x1000, 0x2000, 0x3000), false},
		{"misaligned desc", ring(8, 0x1008, 0x2000, 0x3000), false},
		{"used outside RAM", ring(8, 0x1000, 0x2000, testRAM-8), false},
		{"desc above 4G", ring(8, 1<<32, 0x2000, 0x3000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, NewVirtioNet(nil, DefaultMAC(0)))
			d.negotiate(featV1)
			d.writeQueue(0, tc.q)
			if got := d.r32(mmioQueueReady) == 1; got != tc.ok {
				t.Errorf("ready %v, want %v", got, tc.ok)
			}
			if broken := d.status()&VirtioStatusNeedsReset != 0; broken == tc.ok {
				t.Errorf("needs reset %v", broken)
			}
		})
	}
}

func TestTransportSnapshotRoundTrip(t *testing.T) {
	be := &fakeNet{}
	d := newDriver(t, NewVirtioNet(be, DefaultMAC(0)))
	d.init(featV1|1<<VirtioFEventIdx, 8)
	d.addChain(VirtioNetTXQ, buf{d.alloc(64), 64, false})
	d.kick(VirtioNetTXQ)
	snap := d.dev.Snapshot()

	irq := &fakeIRQ{}
	other := NewVirtioMMIO(d.mem, irq, NewVirtioNet(be, DefaultMAC(0)))
	if err := other.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !irq.level {
		t.Error("restored line not driven high")
	}
	if got := other.Snapshot(); !reflect.DeepEqual(got, snap) {
		t.Errorf("snapshot after restore differs:\n got %+v\nwant %+v", got, snap)
	}
	bad := snap
	bad.Transport.Queues = bad.Transport.Queues[:1]
	if err := other.Restore(bad); err == nil {
		t.Error("restore with a missing queue accepted")
	}
	bad = d.dev.Snapshot()
	bad.Transport.Queues[1].Used = testRAM
	if err := other.Restore(bad); err == nil {
		t.Error("restore with a queue outside RAM accepted")
	}
	bad = d.dev.Snapshot()
	bad.Device = VirtioBlkState{}
	if err := other.Restore(bad); err == nil {
		t.Error("restore with another device's state accepted")
	}
	if got := other.Snapshot(); !reflect.DeepEqual(got, snap) {
		t.Errorf("failed restore changed the state")
	}
}

func TestSnapshotDuringSetup(t *testing.T) {
	// A snapshot taken while the driver is still writing a queue's
	// registers (any values, the queue not ready) restores.
	d := newDriver(t, NewVirtioNet(nil, DefaultMAC(0)))
	d.negotiate(featV1)
	d.w32(mmioQueueSel, 1)
	d.w32(mmioQueueNum, 1000)
	d.w32(mmioQueueDescLow, 0xFFFFFFF0)
	snap := d.dev.Snapshot()
	other := NewVirtioMMIO(d.mem, nil, NewVirtioNet(nil, DefaultMAC(0)))
	if err := other.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(other.Snapshot(), snap) {
		t.Error("state differs")
	}
	other.WriteMMIO(mmioQueueSel, 4, 1)
	if got := other.ReadMMIO(mmioQueueNum, 4); got != 1000 {
		t.Errorf("QueueNum %d", got)
	}
}
