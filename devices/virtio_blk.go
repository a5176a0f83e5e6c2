package devices

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// virtio-blk (virtio 1.x §5.2).

// virtio-blk feature bits.
const (
	VirtioBlkFSegMax  = 2
	VirtioBlkFRO      = 5
	VirtioBlkFBlkSize = 6
	VirtioBlkFFlush   = 9
)

// Request types.
const (
	VirtioBlkTIn    = 0
	VirtioBlkTOut   = 1
	VirtioBlkTFlush = 4
	VirtioBlkTGetID = 8
)

// Request status values.
const (
	VirtioBlkSOK     = 0
	VirtioBlkSIOErr  = 1
	VirtioBlkSUnsupp = 2
)

const (
	blkHeaderSize = 16 // type le32, reserved le32, sector le64
	blkIDBytes    = 20 // GET_ID string length
	blkConfigSize = 60 // struct virtio_blk_config through the write-zeroes fields, all zero past blk_size
	// blkMaxData bounds the data of one request; a larger one fails with
	// IOERR. Linux keeps requests far below it.
	blkMaxData = 64 << 20
	// blkSegMax is the seg_max the device advertises: a chain holds the
	// header, at most blkSegMax data buffers and the status byte.
	blkSegMax = VirtqueueMaxSize - 2
)

// DiskDoneError is set in the Arg of an InputDiskDone whose request failed
// on the host (an I/O error, a full disk): the device completes it with
// VIRTIO_BLK_S_IOERR. The request ID is Arg &^ DiskDoneError.
const DiskDoneError = 1 << 63

// WriteThrougher is implemented by block backends that can make each write
// durable before completing it. A virtio-blk device asks for write-through
// when the driver did not negotiate VIRTIO_BLK_F_FLUSH (it then has no other
// way to make its writes durable), and for write-back when it did.
type WriteThrougher interface {
	SetWriteThrough(on bool)
}

// BlkRequestState is one request submitted to the backend and not yet
// completed.
type BlkRequestState struct {
	ID     uint64
	Head   uint16 // descriptor chain head, returned in the used ring
	Type   uint32 // VirtioBlkTIn, VirtioBlkTOut or VirtioBlkTFlush
	Sector uint64
	Len    uint32    // data bytes
	Data   []Segment // guest buffers: read destination (IN) or write source (OUT)
	Status uint64    // guest address of the status byte
}

// VirtioBlkState is the state of a virtio-blk device, as plain data.
type VirtioBlkState struct {
	// NextID is the ID of the next request submitted to the backend. IDs
	// only grow, so a completion for a request that a reset discarded is
	// recognized and ignored.
	NextID   uint64
	InFlight []BlkRequestState // in ID order
}

// VirtioBlk is a virtio block device backed by a BlockBackend. Requests are
// asynchronous: a read, write or flush is submitted to the backend with an
// ID and stays in flight in the device's state until Deliver hands it the
// matching InputDiskDone, at an exact position. Each request in flight holds
// a distinct descriptor head, so there are never more than the queue size.
type VirtioBlk struct {
	t       *Transport
	backend BlockBackend
	serial  [blkIDBytes]byte
	s       VirtioBlkState
	err     error
}

var _ Receiver = (*VirtioBlk)(nil)

// NewVirtioBlk returns a block device for disk number index (its GET_ID
// serial is "ftvm-disk-<index>") backed by backend. Put it behind a
// transport with NewVirtioMMIO.
func NewVirtioBlk(backend BlockBackend, index int) *VirtioBlk {
	b := &VirtioBlk{backend: backend, s: VirtioBlkState{NextID: 1}}
	copy(b.serial[:], fmt.Sprintf("ftvm-disk-%d", index))
	return b
}

// Err returns the first error the backend returned from Submit or ReadAt.
// The guest does not see it directly; the board may report it.
func (b *VirtioBlk) Err() error { return b.err }

// InFlight returns the number of requests waiting for their completion.
func (b *VirtioBlk) InFlight() int { return len(b.s.InFlight) }

// DeviceID implements VirtioDevice.
func (b *VirtioBlk) DeviceID() uint32 { return VirtioIDBlock }

// DeviceFeatures implements VirtioDevice.
func (b *VirtioBlk) DeviceFeatures() uint64 {
	f := uint64(1<<VirtioBlkFSegMax | 1<<VirtioBlkFBlkSize | 1<<VirtioBlkFFlush)
	if b.backend.ReadOnly() {
		f |= 1 << VirtioBlkFRO
	}
	return f
}

// NumQueues implements VirtioDevice: one request queue.
func (b *VirtioBlk) NumQueues() int { return 1 }

// ConfigSize implements VirtioDevice.
func (b *VirtioBlk) ConfigSize() int { return blkConfigSize }

// ReadConfig implements VirtioDevice: capacity (sectors), seg_max, blk_size.
func (b *VirtioBlk) ReadConfig(offset int, p []byte) {
	var c [blkConfigSize]byte
	binary.LittleEndian.PutUint64(c[0:], b.backend.Size()/SectorSize)
	binary.LittleEndian.PutUint32(c[12:], blkSegMax)
	binary.LittleEndian.PutUint32(c[20:], SectorSize)
	copy(p, c[offset:])
}

// WriteConfig implements VirtioDevice; the configuration is read-only.
func (b *VirtioBlk) WriteConfig(offset int, p []byte) {}

// Attach implements VirtioDevice.
func (b *VirtioBlk) Attach(t *Transport) { b.t = t }

// Activate implements VirtioDevice: it tells the backend whether each write
// must be durable before it completes.
func (b *VirtioBlk) Activate() { b.setWriteThrough() }

func (b *VirtioBlk) setWriteThrough() {
	if w, ok := b.backend.(WriteThrougher); ok {
		w.SetWriteThrough(!b.t.HasFeature(VirtioBlkFFlush))
	}
}

// Reset implements VirtioDevice: requests in flight are forgotten (the
// backend may still perform them; their completions are ignored).
func (b *VirtioBlk) Reset() {
	b.s.InFlight = nil
	if w, ok := b.backend.(WriteThrougher); ok {
		w.SetWriteThrough(true)
	}
}

// Snapshot returns the device's state.
func (b *VirtioBlk) Snapshot() VirtioBlkState {
	s := b.s
	s.InFlight = make([]BlkRequestState, len(b.s.InFlight))
	for i, r := range b.s.InFlight {
		r.Data = slices.Clone(r.Data)
		s.InFlight[i] = r
	}
	return s
}

// SnapshotState implements VirtioDevice.
func (b *VirtioBlk) SnapshotState() any { return b.Snapshot() }

// RestoreState implements VirtioDevice; state must be a VirtioBlkState.
func (b *VirtioBlk) RestoreState(state any) error {
	s, ok := state.(VirtioBlkState)
	if !ok {
		if p, isPtr := state.(*VirtioBlkState); isPtr && p != nil {
			s, ok = *p, true
		}
	}
	if !ok {
		return fmt.Errorf("virtio-blk: restore: state is %T, not VirtioBlkState", state)
	}
	mem := b.t.mem
	for i, r := range s.InFlight {
		switch {
		case r.ID >= s.NextID || i > 0 && r.ID <= s.InFlight[i-1].ID:
			return fmt.Errorf("virtio-blk: restore: request ID %d out of order", r.ID)
		case r.Type != VirtioBlkTIn && r.Type != VirtioBlkTOut && r.Type != VirtioBlkTFlush:
			return fmt.Errorf("virtio-blk: restore: request %d has type %d", r.ID, r.Type)
		case uint32(r.Head) >= b.t.s.Queues[0].Num:
			return fmt.Errorf("virtio-blk: restore: request %d head %d", r.ID, r.Head)
		case slices.ContainsFunc(s.InFlight[:i], func(o BlkRequestState) bool { return o.Head == r.Head }):
			return fmt.Errorf("virtio-blk: restore: two requests in flight on head %d", r.Head)
		case !mem.IsRAM(r.Status, 1):
			return fmt.Errorf("virtio-blk: restore: request %d status byte outside RAM", r.ID)
		case segLen(r.Data) != uint64(r.Len):
			return fmt.Errorf("virtio-blk: restore: request %d data segments do not match its length", r.ID)
		}
		for _, sg := range r.Data {
			if !mem.IsRAM(sg.Addr, uint64(sg.Len)) {
				return fmt.Errorf("virtio-blk: restore: request %d buffer outside RAM", r.ID)
			}
		}
	}
	b.s = s
	b.s.InFlight = slices.Clone(s.InFlight)
	if b.t.Live() {
		b.setWriteThrough()
	}
	return nil
}

// Reissue submits every request in flight to the backend again, with the
// same IDs; write data are gathered again from guest memory, which the
// driver may not touch before completion. A backup that goes live calls it
// for the requests whose completions the failed primary never logged.
func (b *VirtioBlk) Reissue() {
	for _, r := range b.s.InFlight {
		b.submit(&r)
	}
}

// QueueNotify implements VirtioDevice: it starts every available request.
func (b *VirtioBlk) QueueNotify(qi int) {
	q := b.t.Queue(0)
	if qi != 0 {
		return
	}
	for {
		c, ok := q.Pop()
		if !ok {
			break
		}
		b.start(c)
	}
	q.Signal()
}

// start begins request chain c: it completes at once when it fails or
// needs no host I/O, otherwise it is submitted and stays in flight.
func (b *VirtioBlk) start(c Chain) {
	mem := b.t.mem
	// A head the device has not returned is not the driver's to reuse
	// (virtio 1.x §2.7.13.1): starting it again would put two requests on
	// one chain. Refusing it also bounds the requests in flight by the
	// queue size.
	if slices.ContainsFunc(b.s.InFlight, func(r BlkRequestState) bool { return r.Head == c.Head }) {
		b.t.Fail(fmt.Errorf("virtio-blk: the driver made head %d available again while its request is in flight", c.Head))
		return
	}
	hdr := prefix(mem, c.Readable, blkHeaderSize)
	if len(hdr) < blkHeaderSize || c.WritableLen() == 0 {
		b.t.Fail(fmt.Errorf("virtio-blk: request %d lacks a header or a status byte", c.Head))
		return
	}
	typ := binary.LittleEndian.Uint32(hdr[0:])
	sector := binary.LittleEndian.Uint64(hdr[8:])
	in, st := splitSegs(c.Writable, c.WritableLen()-1)
	r := BlkRequestState{Head: c.Head, Type: typ, Sector: sector, Status: st[0].Addr}
	_, out := splitSegs(c.Readable, blkHeaderSize)

	done := func(status uint8, written uint64) {
		b.finish(&r, status, uint32(written))
	}
	switch typ {
	case VirtioBlkTIn, VirtioBlkTOut:
		r.Data = out
		if typ == VirtioBlkTIn {
			r.Data = in
		}
		n := segLen(r.Data)
		switch {
		case n%SectorSize != 0 || n > blkMaxData || !b.inBounds(sector, n):
			done(VirtioBlkSIOErr, 0)
			return
		case typ == VirtioBlkTOut && b.backend.ReadOnly():
			done(VirtioBlkSIOErr, 0)
			return
		case n == 0:
			done(VirtioBlkSOK, 0)
			return
		}
		r.Len = uint32(n)
	case VirtioBlkTFlush:
	case VirtioBlkTGetID:
		n := scatter(mem, in, b.serial[:])
		done(VirtioBlkSOK, n)
		return
	default:
		done(VirtioBlkSUnsupp, 0)
		return
	}
	r.ID = b.s.NextID
	b.s.NextID++
	b.s.InFlight = append(b.s.InFlight, r)
	b.submit(&r)
}

// inBounds reports whether n bytes at sector lie within the disk.
func (b *VirtioBlk) inBounds(sector, n uint64) bool {
	size := b.backend.Size()
	return sector <= size/SectorSize && n <= size-sector*SectorSize
}

func (b *VirtioBlk) submit(r *BlkRequestState) {
	req := BlockRequest{ID: r.ID, Sector: r.Sector}
	switch r.Type {
	case VirtioBlkTIn:
		req.Op, req.Len = BlockRead, int(r.Len)
	case VirtioBlkTOut:
		req.Op = BlockWrite
		req.Data, _ = gather(b.t.mem, r.Data, 0, blkMaxData)
	default:
		req.Op = BlockFlush
	}
	if err := b.backend.Submit(req); err != nil && b.err == nil {
		// The request stays in flight: whether and when it completes is
		// the backend's to say, through an input, so that a replay sees
		// the same thing.
		b.err = fmt.Errorf("virtio-blk: submit request %d: %w", r.ID, err)
	}
}

// finish writes the status byte and returns the chain to the driver; the
// caller signals the queue.
func (b *VirtioBlk) finish(r *BlkRequestState, status uint8, written uint32) {
	if err := b.t.mem.WriteBytes(r.Status, []byte{status}); err != nil {
		b.t.Fail(err)
		return
	}
	b.t.Queue(0).Push(r.Head, written+1)
}

// Deliver implements Receiver: an InputDiskDone completes request in.Arg
// (see DiskDoneError). For a read, the data are in.Data when present, else
// they are read from the backend (the replaying side, whose disk is an
// identical copy). A completion for a request a reset discarded is ignored.
func (b *VirtioBlk) Deliver(in Input) error {
	if in.Kind != InputDiskDone {
		return fmt.Errorf("virtio-blk: unexpected input kind %d", in.Kind)
	}
	id, failed := in.Arg&^DiskDoneError, in.Arg&DiskDoneError != 0
	i := slices.IndexFunc(b.s.InFlight, func(r BlkRequestState) bool { return r.ID == id })
	if i < 0 {
		if id < b.s.NextID {
			return nil
		}
		return fmt.Errorf("virtio-blk: completion for request %d, which was never submitted", id)
	}
	r := b.s.InFlight[i]
	b.s.InFlight = slices.Delete(b.s.InFlight, i, i+1)
	if !b.t.Live() {
		return nil // the device is broken: the buffers are no longer used
	}
	status, written := uint8(VirtioBlkSOK), uint32(0)
	switch {
	case failed:
		status = VirtioBlkSIOErr
	case r.Type == VirtioBlkTIn:
		data := in.Data
		if len(data) == 0 {
			data = make([]byte, r.Len)
			if n, err := b.backend.ReadAt(data, int64(r.Sector*SectorSize)); n != len(data) {
				if b.err == nil {
					b.err = fmt.Errorf("virtio-blk: read request %d: %v", r.ID, err)
				}
				data = nil
			}
		}
		if len(data) != int(r.Len) {
			status = VirtioBlkSIOErr
			break
		}
		written = uint32(scatter(b.t.mem, r.Data, data))
	}
	b.finish(&r, status, written)
	b.t.Queue(0).Signal()
	return nil
}
