package devices

import (
	"encoding/binary"
	"fmt"
)

// virtio-net (virtio 1.x §5.1).

// virtio-net feature bits.
const (
	VirtioNetFMAC    = 5
	VirtioNetFStatus = 16
)

// Queues of a virtio-net device with one queue pair.
const (
	VirtioNetRXQ = 0
	VirtioNetTXQ = 1
)

const (
	// VirtioNetHdrSize is the size of struct virtio_net_hdr with
	// VIRTIO_F_VERSION_1 (num_buffers always present).
	VirtioNetHdrSize = 12
	netConfigSize    = 12 // mac[6], status le16, max_virtqueue_pairs le16, mtu le16
	netStatusLinkUp  = 1
	ethHeaderSize    = 14
	netHdrNumBuffers = 10 // offset of num_buffers in the header
)

// NetStats counts what a virtio-net device did with frames. The counts are
// part of the device state: they depend only on the guest and the inputs.
type NetStats struct {
	RxFrames, RxBytes uint64 // frames delivered to the guest
	RxNoBuffer        uint64 // dropped: no receive buffer (or the driver is not ready)
	RxTooBig          uint64 // dropped: larger than the receive buffer offered, or than MaxFrameSize
	RxRunt            uint64 // dropped: shorter than an Ethernet header
	TxFrames, TxBytes uint64 // frames the guest transmitted
	TxDropped         uint64 // transmit buffers without a whole frame, or too large
}

// VirtioNetState is the state of a virtio-net device, as plain data (the
// queues are in the transport's state).
type VirtioNetState struct {
	Stats NetStats
}

// VirtioNet is a virtio network device with one receive and one transmit
// queue, no offloads and no mergeable receive buffers. Frames the guest
// transmits go to a NetBackend; received frames arrive as InputFrame inputs
// through Deliver.
type VirtioNet struct {
	t       *Transport
	backend NetBackend
	mac     [6]byte
	s       VirtioNetState
	capture FrameCapture

	sendErrors uint64 // host-side, not guest state
	sendErr    error
}

var _ Receiver = (*VirtioNet)(nil)

// NewVirtioNet returns a network device with address mac whose transmitted
// frames go to backend (nil discards them). Put it behind a transport with
// NewVirtioMMIO.
func NewVirtioNet(backend NetBackend, mac [6]byte) *VirtioNet {
	return &VirtioNet{backend: backend, mac: mac}
}

// DefaultMAC returns the MAC address ftvm gives net device n unless told
// otherwise: 52:54:00:12:34:56+n, locally administered, as QEMU numbers its
// NICs.
func DefaultMAC(n int) [6]byte {
	return [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, byte(0x56 + n)}
}

// SetCapture makes the device hand every frame it transmits or receives to c
// (nil stops it). The capture is host output, not guest state.
func (n *VirtioNet) SetCapture(c FrameCapture) { n.capture = c }

// MAC returns the device's MAC address.
func (n *VirtioNet) MAC() [6]byte { return n.mac }

// Stats returns the device's frame counters.
func (n *VirtioNet) Stats() NetStats { return n.s.Stats }

// SendErrors returns how many frames the backend refused and the first
// error it returned. Host-side information: not part of the guest state.
func (n *VirtioNet) SendErrors() (uint64, error) { return n.sendErrors, n.sendErr }

// DeviceID implements VirtioDevice.
func (n *VirtioNet) DeviceID() uint32 { return VirtioIDNet }

// DeviceFeatures implements VirtioDevice.
func (n *VirtioNet) DeviceFeatures() uint64 { return 1<<VirtioNetFMAC | 1<<VirtioNetFStatus }

// NumQueues implements VirtioDevice: receive queue 0, transmit queue 1.
func (n *VirtioNet) NumQueues() int { return 2 }

// ConfigSize implements VirtioDevice.
func (n *VirtioNet) ConfigSize() int { return netConfigSize }

// ReadConfig implements VirtioDevice: the MAC address and a link that is
// always up.
func (n *VirtioNet) ReadConfig(offset int, p []byte) {
	var c [netConfigSize]byte
	copy(c[:6], n.mac[:])
	binary.LittleEndian.PutUint16(c[6:], netStatusLinkUp)
	copy(p, c[offset:])
}

// WriteConfig implements VirtioDevice; the configuration is read-only for a
// modern driver.
func (n *VirtioNet) WriteConfig(offset int, p []byte) {}

// Attach implements VirtioDevice.
func (n *VirtioNet) Attach(t *Transport) { n.t = t }

// Activate implements VirtioDevice.
func (n *VirtioNet) Activate() {}

// Reset implements VirtioDevice. The counters are kept.
func (n *VirtioNet) Reset() {}

// SnapshotState implements VirtioDevice.
func (n *VirtioNet) SnapshotState() any { return n.s }

// RestoreState implements VirtioDevice; state must be a VirtioNetState.
func (n *VirtioNet) RestoreState(state any) error {
	switch s := state.(type) {
	case VirtioNetState:
		n.s = s
	case *VirtioNetState:
		if s == nil {
			return fmt.Errorf("virtio-net: restore: nil state")
		}
		n.s = *s
	default:
		return fmt.Errorf("virtio-net: restore: state is %T, not VirtioNetState", state)
	}
	return nil
}

// QueueNotify implements VirtioDevice: a notification of the transmit queue
// sends every frame made available. Receive buffers are used as frames
// arrive, so a notification of the receive queue needs no action.
func (n *VirtioNet) QueueNotify(qi int) {
	if qi != VirtioNetTXQ {
		return
	}
	q := n.t.Queue(VirtioNetTXQ)
	for {
		c, ok := q.Pop()
		if !ok {
			break
		}
		n.transmit(&c)
		q.Push(c.Head, 0)
	}
	q.Signal()
}

func (n *VirtioNet) transmit(c *Chain) {
	total := c.ReadableLen()
	if total < VirtioNetHdrSize+ethHeaderSize || total-VirtioNetHdrSize > MaxFrameSize {
		n.s.Stats.TxDropped++
		return
	}
	frame, _ := gather(n.t.mem, c.Readable, VirtioNetHdrSize, MaxFrameSize)
	n.s.Stats.TxFrames++
	n.s.Stats.TxBytes += uint64(len(frame))
	if n.capture != nil {
		n.capture.WriteFrame(frame)
	}
	if n.backend != nil {
		if err := n.backend.Send(frame); err != nil {
			n.sendErrors++
			if n.sendErr == nil {
				n.sendErr = err
			}
		}
	}
}

// Deliver implements Receiver: an InputFrame is written, after a
// virtio_net_hdr, into the next receive buffer. A frame is dropped and
// counted when there is no receive buffer or it does not fit the next one
// (which stays available for later frames).
func (n *VirtioNet) Deliver(in Input) error {
	if in.Kind != InputFrame {
		return fmt.Errorf("virtio-net: unexpected input kind %d", in.Kind)
	}
	frame := in.Data
	if n.capture != nil {
		n.capture.WriteFrame(frame)
	}
	st := &n.s.Stats
	switch {
	case len(frame) < ethHeaderSize:
		st.RxRunt++
		return nil
	case len(frame) > MaxFrameSize:
		st.RxTooBig++
		return nil
	}
	q := n.t.Queue(VirtioNetRXQ)
	c, ok := q.Peek()
	if !ok {
		st.RxNoBuffer++
		return nil
	}
	if len(c.Readable) > 0 {
		n.t.Fail(fmt.Errorf("virtio-net: receive buffer %d has device-readable descriptors", c.Head))
		st.RxNoBuffer++
		return nil
	}
	need := uint64(VirtioNetHdrSize + len(frame))
	if c.WritableLen() < need {
		st.RxTooBig++
		return nil
	}
	q.Skip()
	buf := make([]byte, need)
	binary.LittleEndian.PutUint16(buf[netHdrNumBuffers:], 1)
	copy(buf[VirtioNetHdrSize:], frame)
	scatter(n.t.mem, c.Writable, buf)
	q.Push(c.Head, uint32(need))
	q.Signal()
	st.RxFrames++
	st.RxBytes += uint64(len(frame))
	return nil
}
