package devices

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

// Split virtqueues (virtio 1.x §2.7).
//
// A queue of size N lives in three guest-memory areas the driver allocates:
//
//	descriptor table  16*N bytes, align 16: addr le64, len le32, flags le16, next le16
//	driver (avail)    6+2*N bytes, align 2: flags le16, idx le16, ring[N] le16, used_event le16
//	device (used)     6+8*N bytes, align 4: flags le16, idx le16, ring[N] {id le32, len le32}, avail_event le16
//
// The avail and used indices are free-running 16-bit counters: entry i of a
// ring is at i mod N, which is why N must be a power of two, and the
// difference of two indices is taken modulo 2^16.

// Descriptor flags.
const (
	vringDescFNext     = 1
	vringDescFWrite    = 2
	vringDescFIndirect = 4
)

// Ring flags.
const (
	vringAvailFNoInterrupt = 1 // avail.flags: the driver asks for no used-buffer interrupts
)

// VirtqueueMaxSize is the largest queue size the transport offers
// (QueueNumMax).
const VirtqueueMaxSize = 256

// Segment is one guest-physical buffer of a descriptor chain, entirely in
// guest RAM.
type Segment struct {
	Addr uint64
	Len  uint32
}

// Chain is one available buffer: a descriptor chain with its device-readable
// segments (driver to device) followed by its device-writable segments.
// Zero-length descriptors are left out.
type Chain struct {
	Head     uint16 // index of the chain's first descriptor: the id returned in the used ring
	Readable []Segment
	Writable []Segment
}

// ReadableLen returns the total length of the device-readable segments.
func (c *Chain) ReadableLen() uint64 { return segLen(c.Readable) }

// WritableLen returns the total length of the device-writable segments.
func (c *Chain) WritableLen() uint64 { return segLen(c.Writable) }

func segLen(segs []Segment) uint64 {
	var n uint64
	for _, s := range segs {
		n += uint64(s.Len)
	}
	return n
}

// VirtqueueState is the complete state of one virtqueue, as plain data.
type VirtqueueState struct {
	Num   uint32 // queue size (QueueNum)
	Ready bool   // QueueReady
	Desc  uint64 // descriptor table address
	Avail uint64 // driver area address
	Used  uint64 // device area address

	// LastAvail is the avail index of the next chain the device consumes.
	LastAvail uint16
	// UsedIdx is the used index the device last published.
	UsedIdx uint16
	// SignalledUsed is UsedIdx when the device last decided whether to
	// interrupt (VIRTIO_F_EVENT_IDX); SignalledValid is false until the
	// first decision after the queue was enabled.
	SignalledUsed  uint16
	SignalledValid bool
}

// Virtqueue is the device side of one split virtqueue. Every access to the
// rings goes through mmu.Memory with bounds checks; any inconsistency the
// driver causes marks the device as needing a reset (Transport.Fail) rather
// than panicking or touching memory outside RAM.
type Virtqueue struct {
	t     *Transport
	index int
	s     *VirtqueueState
	buf   [16]byte
}

// Index returns the queue's index within its device.
func (q *Virtqueue) Index() int { return q.index }

// Ready reports whether the driver enabled the queue and the device may use
// it (the driver set DRIVER_OK and the device is not broken).
func (q *Virtqueue) Ready() bool { return q.s.Ready && q.t.Live() }

// Size returns the queue size.
func (q *Virtqueue) Size() uint16 { return uint16(q.s.Num) }

// State returns a copy of the queue's state.
func (q *Virtqueue) State() VirtqueueState { return *q.s }

func (q *Virtqueue) fail(format string, args ...any) {
	q.t.Fail(fmt.Errorf("queue %d: %s", q.index, fmt.Sprintf(format, args...)))
}

func (q *Virtqueue) read16(addr uint64) (uint16, bool) {
	if err := q.t.mem.ReadBytes(addr, q.buf[:2]); err != nil {
		q.fail("%v", err)
		return 0, false
	}
	return binary.LittleEndian.Uint16(q.buf[:2]), true
}

func (q *Virtqueue) write16(addr uint64, v uint16) bool {
	binary.LittleEndian.PutUint16(q.buf[:2], v)
	if err := q.t.mem.WriteBytes(addr, q.buf[:2]); err != nil {
		q.fail("%v", err)
		return false
	}
	return true
}

// availIdx reads the driver's avail index and checks it is at most N
// entries ahead of the device.
func (q *Virtqueue) availIdx() (uint16, bool) {
	idx, ok := q.read16(q.s.Avail + 2)
	if !ok {
		return 0, false
	}
	if uint32(idx-q.s.LastAvail) > q.s.Num {
		q.fail("avail index %d is more than %d ahead of %d", idx, q.s.Num, q.s.LastAvail)
		return 0, false
	}
	return idx, true
}

// Pending reports whether the driver has made chains available that the
// device has not consumed. It returns false for a queue that is not Ready.
func (q *Virtqueue) Pending() bool {
	if !q.Ready() {
		return false
	}
	idx, ok := q.availIdx()
	return ok && idx != q.s.LastAvail
}

// Peek parses the next available chain without consuming it. ok is false
// when the queue is not ready, holds no chain, or the chain is malformed (the
// device is then marked as needing a reset).
func (q *Virtqueue) Peek() (c Chain, ok bool) {
	if !q.Ready() {
		return Chain{}, false
	}
	idx, ok := q.availIdx()
	if !ok || idx == q.s.LastAvail {
		return Chain{}, false
	}
	slot := uint64(q.s.LastAvail % uint16(q.s.Num))
	head, ok := q.read16(q.s.Avail + 4 + 2*slot)
	if !ok {
		return Chain{}, false
	}
	c, err := parseChain(q.t.mem, q.s.Desc, q.s.Num, head, q.t.HasFeature(VirtioFIndirectDesc))
	if err != nil {
		q.fail("%v", err)
		return Chain{}, false
	}
	return c, true
}

// Pop parses and consumes the next available chain (see Peek). With
// VIRTIO_F_EVENT_IDX it publishes avail_event so that the driver notifies
// the device when it makes the next chain available.
func (q *Virtqueue) Pop() (Chain, bool) {
	c, ok := q.Peek()
	if !ok {
		return c, false
	}
	q.Skip()
	return c, true
}

// Skip consumes the chain Peek returned without parsing it again.
func (q *Virtqueue) Skip() {
	q.s.LastAvail++
	if q.t.HasFeature(VirtioFEventIdx) {
		q.write16(q.s.Used+4+8*uint64(q.s.Num), q.s.LastAvail)
	}
}

// Push returns the chain with head id to the driver through the used ring,
// with written the number of bytes the device wrote into its writable
// segments. The driver is not interrupted until Signal.
func (q *Virtqueue) Push(head uint16, written uint32) bool {
	if !q.Ready() {
		return false
	}
	slot := uint64(q.s.UsedIdx % uint16(q.s.Num))
	var e [8]byte
	binary.LittleEndian.PutUint32(e[0:], uint32(head))
	binary.LittleEndian.PutUint32(e[4:], written)
	if err := q.t.mem.WriteBytes(q.s.Used+4+8*slot, e[:]); err != nil {
		q.fail("%v", err)
		return false
	}
	q.s.UsedIdx++
	return q.write16(q.s.Used+2, q.s.UsedIdx)
}

// Signal sends a used-buffer notification (interrupt) for the chains pushed
// since the last Signal, unless the driver suppressed it: with
// VIRTIO_F_EVENT_IDX through used_event, otherwise through
// VRING_AVAIL_F_NO_INTERRUPT.
func (q *Virtqueue) Signal() {
	if !q.Ready() || q.s.UsedIdx == q.s.SignalledUsed && q.s.SignalledValid {
		return
	}
	if q.needInterrupt() {
		q.t.raise(VirtioIntUsed)
	}
}

func (q *Virtqueue) needInterrupt() bool {
	if q.t.HasFeature(VirtioFEventIdx) {
		old, valid := q.s.SignalledUsed, q.s.SignalledValid
		now := q.s.UsedIdx
		q.s.SignalledUsed, q.s.SignalledValid = now, true
		event, ok := q.read16(q.s.Avail + 4 + 2*uint64(q.s.Num))
		if !ok {
			return false
		}
		return !valid || vringNeedEvent(event, now, old)
	}
	q.s.SignalledUsed, q.s.SignalledValid = q.s.UsedIdx, true
	flags, ok := q.read16(q.s.Avail)
	return ok && flags&vringAvailFNoInterrupt == 0
}

// vringNeedEvent reports whether moving an index from old to now passed
// event (virtio 1.x §2.7.10): the other side asked to be told when the
// index goes beyond event.
func vringNeedEvent(event, now, old uint16) bool {
	return now-event-1 < now-old
}

// check validates the queue configuration when the driver sets QueueReady.
func (q *Virtqueue) check() error {
	n := uint64(q.s.Num)
	mem := q.t.mem
	switch {
	case n == 0 || n > VirtqueueMaxSize || n&(n-1) != 0:
		return fmt.Errorf("queue %d: size %d is not a power of two in 1..%d", q.index, n, VirtqueueMaxSize)
	case q.s.Desc%16 != 0 || q.s.Avail%2 != 0 || q.s.Used%4 != 0:
		return fmt.Errorf("queue %d: misaligned rings (desc %#x, driver %#x, device %#x)", q.index, q.s.Desc, q.s.Avail, q.s.Used)
	case !mem.IsRAM(q.s.Desc, 16*n):
		return fmt.Errorf("queue %d: descriptor table %#x+%#x is outside RAM", q.index, q.s.Desc, 16*n)
	case !mem.IsRAM(q.s.Avail, 6+2*n):
		return fmt.Errorf("queue %d: driver area %#x+%#x is outside RAM", q.index, q.s.Avail, 6+2*n)
	case !mem.IsRAM(q.s.Used, 6+8*n):
		return fmt.Errorf("queue %d: device area %#x+%#x is outside RAM", q.index, q.s.Used, 6+8*n)
	}
	return nil
}

// parseChain walks the descriptor chain starting at head in the table at
// desc of n entries. It follows at most n descriptors in all (a longer chain
// is a loop or a driver error), accepts one indirect table (when indirect is
// true) as the chain's last descriptor, and checks that every buffer lies in
// RAM and that no device-readable buffer follows a device-writable one.
func parseChain(mem *mmu.Memory, desc uint64, n uint32, head uint16, indirect bool) (Chain, error) {
	c := Chain{Head: head}
	if uint32(head) >= n {
		return c, fmt.Errorf("chain head %d is outside the queue of %d", head, n)
	}
	var d [16]byte
	table, size := desc, n // the table being walked
	i := uint32(head)
	inIndirect := false
	for count := uint32(0); ; {
		if count >= n {
			return c, fmt.Errorf("chain from %d is longer than the queue size %d (a loop?)", head, n)
		}
		if err := mem.ReadBytes(table+16*uint64(i), d[:]); err != nil {
			return c, err
		}
		addr := binary.LittleEndian.Uint64(d[0:])
		length := binary.LittleEndian.Uint32(d[8:])
		flags := binary.LittleEndian.Uint16(d[12:])
		next := binary.LittleEndian.Uint16(d[14:])
		if flags&vringDescFIndirect != 0 {
			switch {
			case !indirect:
				return c, fmt.Errorf("descriptor %d is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated", i)
			case inIndirect:
				return c, fmt.Errorf("indirect table holds an indirect descriptor")
			case length == 0 || length%16 != 0:
				return c, fmt.Errorf("indirect table length %d is not a positive multiple of 16", length)
			case !mem.IsRAM(addr, uint64(length)):
				return c, fmt.Errorf("indirect table %#x+%#x is outside RAM", addr, length)
			}
			// The indirect descriptor ends the direct chain; its NEXT
			// and WRITE flags are ignored, as the spec asks.
			table, size, i, inIndirect = addr, length/16, 0, true
			continue
		}
		count++
		if length > 0 {
			if !mem.IsRAM(addr, uint64(length)) {
				return c, fmt.Errorf("descriptor %d buffer %#x+%#x is outside RAM", i, addr, length)
			}
			seg := Segment{addr, length}
			if flags&vringDescFWrite != 0 {
				c.Writable = append(c.Writable, seg)
			} else {
				if len(c.Writable) > 0 {
					return c, fmt.Errorf("descriptor %d is device-readable after a device-writable one", i)
				}
				c.Readable = append(c.Readable, seg)
			}
		}
		if flags&vringDescFNext == 0 {
			return c, nil
		}
		if uint32(next) >= size {
			return c, fmt.Errorf("descriptor %d: next %d is outside the table of %d", i, next, size)
		}
		i = uint32(next)
	}
}

// gather copies the device-readable bytes of segs, skipping the first skip
// bytes, into a new slice of at most max bytes; ok is false when they exceed
// max.
func gather(mem *mmu.Memory, segs []Segment, skip, max uint64) ([]byte, bool) {
	total := segLen(segs)
	if total < skip {
		return nil, true
	}
	if total-skip > max {
		return nil, false
	}
	out := make([]byte, total-skip)
	pos := uint64(0)
	for _, s := range segs {
		a, l := s.Addr, uint64(s.Len)
		if skip >= l {
			skip -= l
			continue
		}
		a, l = a+skip, l-skip
		skip = 0
		if err := mem.ReadBytes(a, out[pos:pos+l]); err != nil {
			return nil, false // cannot happen: parseChain checked the segment
		}
		pos += l
	}
	return out, true
}

// prefix copies the first n bytes of segs (fewer when they are shorter).
func prefix(mem *mmu.Memory, segs []Segment, n uint64) []byte {
	head, _ := splitSegs(segs, n)
	out, _ := gather(mem, head, 0, n)
	return out
}

// scatter writes data into segs from their start; it returns the number of
// bytes written (less than len(data) when the segments are shorter).
func scatter(mem *mmu.Memory, segs []Segment, data []byte) uint64 {
	var n uint64
	for _, s := range segs {
		if len(data) == 0 {
			break
		}
		l := min(uint64(s.Len), uint64(len(data)))
		if err := mem.WriteBytes(s.Addr, data[:l]); err != nil {
			break // cannot happen: parseChain checked the segment
		}
		data = data[l:]
		n += l
	}
	return n
}

// splitSegs splits segs after the first n bytes.
func splitSegs(segs []Segment, n uint64) (head, tail []Segment) {
	for i, s := range segs {
		if n == 0 {
			return head, append(tail, segs[i:]...)
		}
		if uint64(s.Len) <= n {
			head = append(head, s)
			n -= uint64(s.Len)
			continue
		}
		head = append(head, Segment{s.Addr, uint32(n)})
		tail = append(tail, Segment{s.Addr + n, s.Len - uint32(n)})
		tail = append(tail, segs[i+1:]...)
		return head, tail
	}
	return head, nil
}
