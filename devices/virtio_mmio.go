package devices

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

var _ mmu.MMIODevice = (*VirtioMMIO)(nil)

// Placement of the virtio-mmio slots (ARCHITECTURE.md §4): slot n is at
// VirtioMMIOBase + n*VirtioMMIOStride and drives ISA IRQ VirtioMMIOIRQBase+n.
const (
	VirtioMMIOBase    = 0xD0000000
	VirtioMMIOStride  = 0x1000
	VirtioMMIOSize    = 0x1000 // bytes of MMIO space each slot decodes
	VirtioMMIOIRQBase = 5
)

// VirtioMMIOCmdline returns the Linux kernel command-line parameter that
// declares virtio-mmio slot n, such as "virtio_mmio.device=4K@0xd0000000:5".
func VirtioMMIOCmdline(n int) string {
	return fmt.Sprintf("virtio_mmio.device=4K@%#x:%d", VirtioMMIOBase+uint64(n)*VirtioMMIOStride, VirtioMMIOIRQBase+n)
}

// Virtio device IDs.
const (
	VirtioIDNet   = 1
	VirtioIDBlock = 2
)

// Transport feature bits (virtio 1.x §6), offered for every device.
const (
	VirtioFIndirectDesc = 28 // VIRTIO_F_INDIRECT_DESC
	VirtioFEventIdx     = 29 // VIRTIO_F_EVENT_IDX
	VirtioFVersion1     = 32 // VIRTIO_F_VERSION_1
)

// transportFeatures are the transport features offered for every device.
const transportFeatures = 1<<VirtioFIndirectDesc | 1<<VirtioFEventIdx | 1<<VirtioFVersion1

// Device status bits (virtio 1.x §2.1).
const (
	VirtioStatusAcknowledge = 1
	VirtioStatusDriver      = 2
	VirtioStatusDriverOK    = 4
	VirtioStatusFeaturesOK  = 8
	VirtioStatusNeedsReset  = 0x40
	VirtioStatusFailed      = 0x80
	virtioStatusDriverBits  = VirtioStatusAcknowledge | VirtioStatusDriver | VirtioStatusDriverOK |
		VirtioStatusFeaturesOK | VirtioStatusFailed
)

// InterruptStatus bits.
const (
	VirtioIntUsed   = 1 // used buffer notification
	VirtioIntConfig = 2 // configuration change notification
)

// virtio-mmio register offsets (virtio 1.x §4.2.2), version 2.
const (
	mmioMagicValue        = 0x000
	mmioVersion           = 0x004
	mmioDeviceID          = 0x008
	mmioVendorID          = 0x00C
	mmioDeviceFeatures    = 0x010
	mmioDeviceFeaturesSel = 0x014
	mmioDriverFeatures    = 0x020
	mmioDriverFeaturesSel = 0x024
	mmioQueueSel          = 0x030
	mmioQueueNumMax       = 0x034
	mmioQueueNum          = 0x038
	mmioQueueReady        = 0x044
	mmioQueueNotify       = 0x050
	mmioInterruptStatus   = 0x060
	mmioInterruptACK      = 0x064
	mmioStatus            = 0x070
	mmioQueueDescLow      = 0x080
	mmioQueueDescHigh     = 0x084
	mmioQueueDriverLow    = 0x090
	mmioQueueDriverHigh   = 0x094
	mmioQueueDeviceLow    = 0x0A0
	mmioQueueDeviceHigh   = 0x0A4
	mmioConfigGeneration  = 0x0FC
	mmioConfig            = 0x100
)

// Values of the identification registers.
const (
	VirtioMMIOMagic   = 0x74726976 // "virt"
	VirtioMMIOVersion = 2
	VirtioVendorFTVM  = 0x4D565446 // "FTVM"
)

// VirtioDevice is a virtio device type (net, block) behind a Transport.
// Like every model here it is deterministic and called only from the
// goroutine that runs the CPU.
type VirtioDevice interface {
	// DeviceID returns the virtio device ID (VirtioIDNet, VirtioIDBlock).
	DeviceID() uint32
	// DeviceFeatures returns the device-specific feature bits offered;
	// the transport adds its own (VERSION_1, EVENT_IDX, INDIRECT_DESC).
	DeviceFeatures() uint64
	// NumQueues returns the number of virtqueues.
	NumQueues() int
	// ConfigSize returns the size of the device configuration space.
	ConfigSize() int
	// ReadConfig fills p with the configuration space bytes at offset;
	// the transport keeps the range within ConfigSize.
	ReadConfig(offset int, p []byte)
	// WriteConfig writes p at offset of the configuration space.
	WriteConfig(offset int, p []byte)
	// Attach gives the device its transport; NewVirtioMMIO calls it once.
	Attach(t *Transport)
	// Activate is called when the driver sets DRIVER_OK: the negotiated
	// features are final. The transport then calls QueueNotify for every
	// ready queue, so work made available earlier is not lost.
	Activate()
	// QueueNotify handles the driver's notification of queue q.
	QueueNotify(q int)
	// Reset returns the device to its initial state (the driver wrote 0
	// to Status); requests in flight are forgotten.
	Reset()
	// SnapshotState returns the device's state as plain data (a value
	// type of the device, such as VirtioBlkState).
	SnapshotState() any
	// RestoreState replaces the device's state with one SnapshotState
	// returned, after checking it; the transport's state is restored
	// first.
	RestoreState(state any) error
}

// TransportState is the complete state of a virtio transport, as plain
// data.
type TransportState struct {
	Status            uint8 // device status as the driver set it, plus NeedsReset
	DeviceFeaturesSel uint32
	DriverFeaturesSel uint32
	DriverFeatures    uint64 // as written; negotiated once FEATURES_OK is set
	QueueSel          uint32
	InterruptStatus   uint32
	ConfigGeneration  uint32
	Queues            []VirtqueueState
	// FailReason says why the device set DEVICE_NEEDS_RESET (diagnostic).
	FailReason string
	// IRQ is the level driven on the interrupt line.
	IRQ bool
}

// Transport is the device-independent part of a virtio device: status,
// feature negotiation, virtqueues, interrupts. Device types use it to reach
// their queues and guest memory.
type Transport struct {
	mem    *mmu.Memory
	irq    IRQLine
	dev    VirtioDevice
	s      TransportState
	queues []Virtqueue
}

func newTransport(mem *mmu.Memory, irq IRQLine, dev VirtioDevice) *Transport {
	t := &Transport{mem: mem, irq: irq, dev: dev}
	n := dev.NumQueues()
	t.s.Queues = make([]VirtqueueState, n)
	t.queues = make([]Virtqueue, n)
	for i := range t.queues {
		t.queues[i] = Virtqueue{t: t, index: i, s: &t.s.Queues[i]}
	}
	t.resetState()
	return t
}

func (t *Transport) resetState() {
	t.s.Status = 0
	t.s.DeviceFeaturesSel, t.s.DriverFeaturesSel, t.s.DriverFeatures = 0, 0, 0
	t.s.QueueSel = 0
	t.s.InterruptStatus = 0
	t.s.FailReason = ""
	for i := range t.s.Queues {
		t.s.Queues[i] = VirtqueueState{Num: VirtqueueMaxSize}
	}
	t.updateIRQ()
}

// Mem returns guest memory.
func (t *Transport) Mem() *mmu.Memory { return t.mem }

// Queue returns virtqueue i (0 <= i < NumQueues).
func (t *Transport) Queue(i int) *Virtqueue { return &t.queues[i] }

// Features returns the feature bits the driver accepted; zero before
// FEATURES_OK.
func (t *Transport) Features() uint64 {
	if t.s.Status&VirtioStatusFeaturesOK == 0 {
		return 0
	}
	return t.s.DriverFeatures
}

// HasFeature reports whether feature bit was negotiated.
func (t *Transport) HasFeature(bit uint) bool { return t.Features()&(1<<bit) != 0 }

// Status returns the device status register.
func (t *Transport) Status() uint8 { return t.s.Status }

// Live reports whether the driver set DRIVER_OK and the device is not
// broken: the device may consume buffers and interrupt.
func (t *Transport) Live() bool {
	return t.s.Status&(VirtioStatusDriverOK|VirtioStatusNeedsReset|VirtioStatusFailed) == VirtioStatusDriverOK
}

// Broken reports whether the device set DEVICE_NEEDS_RESET.
func (t *Transport) Broken() bool { return t.s.Status&VirtioStatusNeedsReset != 0 }

// FailReason returns why the device needs a reset, or "".
func (t *Transport) FailReason() string { return t.s.FailReason }

// Fail marks the device as needing a reset after an error the driver
// caused (virtio 1.x §2.1.2): it sets DEVICE_NEEDS_RESET, stops using the
// queues and, once the driver has set DRIVER_OK, sends a configuration
// change notification.
func (t *Transport) Fail(err error) {
	if t.Broken() {
		return
	}
	t.s.Status |= VirtioStatusNeedsReset
	t.s.FailReason = err.Error()
	if t.s.Status&VirtioStatusDriverOK != 0 {
		t.raise(VirtioIntConfig)
	}
}

// ConfigChanged bumps the configuration generation and notifies the
// driver, as a device does when its configuration space changes.
func (t *Transport) ConfigChanged() {
	t.s.ConfigGeneration++
	if t.s.Status&VirtioStatusDriverOK != 0 {
		t.raise(VirtioIntConfig)
	}
}

func (t *Transport) raise(bits uint32) {
	t.s.InterruptStatus |= bits
	t.updateIRQ()
}

func (t *Transport) updateIRQ() {
	level := t.s.InterruptStatus != 0
	if level == t.s.IRQ {
		return
	}
	t.s.IRQ = level
	if t.irq != nil {
		t.irq.SetLevel(level)
	}
}

func (t *Transport) offered() uint64 { return t.dev.DeviceFeatures() | transportFeatures }

func (t *Transport) reset() {
	t.resetState()
	t.dev.Reset()
}

// setStatus handles a write of the Status register.
func (t *Transport) setStatus(v uint8) {
	if v == 0 {
		t.reset()
		return
	}
	old := t.s.Status
	v &= virtioStatusDriverBits
	if v&VirtioStatusFeaturesOK != 0 && old&VirtioStatusFeaturesOK == 0 {
		// The device accepts the features only if it offered them all
		// and the driver is modern (§2.2, §6.1); otherwise FEATURES_OK
		// stays clear and the driver sees the failure when it reads
		// Status back.
		f := t.s.DriverFeatures
		if f&^t.offered() != 0 || f&(1<<VirtioFVersion1) == 0 {
			v &^= VirtioStatusFeaturesOK
		}
	}
	if v&VirtioStatusDriverOK != 0 && v&VirtioStatusFeaturesOK == 0 {
		v &^= VirtioStatusDriverOK // DRIVER_OK without negotiated features is ignored
	}
	t.s.Status = v | old&VirtioStatusNeedsReset
	if v&VirtioStatusDriverOK != 0 && old&VirtioStatusDriverOK == 0 && t.Live() {
		t.dev.Activate()
		for i := range t.queues {
			if t.Live() && t.s.Queues[i].Ready {
				t.dev.QueueNotify(i)
			}
		}
	}
}

// snapshot returns a deep copy of the transport's state.
func (t *Transport) snapshot() TransportState {
	s := t.s
	s.Queues = append([]VirtqueueState(nil), t.s.Queues...)
	return s
}

func (t *Transport) restore(s TransportState) error {
	if len(s.Queues) != len(t.queues) {
		return fmt.Errorf("virtio: restore: %d queues, the device has %d", len(s.Queues), len(t.queues))
	}
	if s.Status&^(virtioStatusDriverBits|VirtioStatusNeedsReset) != 0 {
		return fmt.Errorf("virtio: restore: invalid status %#x", s.Status)
	}
	if (s.InterruptStatus != 0) != s.IRQ || s.InterruptStatus&^(VirtioIntUsed|VirtioIntConfig) != 0 {
		return fmt.Errorf("virtio: restore: interrupt status %#x does not match IRQ level %v", s.InterruptStatus, s.IRQ)
	}
	probe := &Transport{mem: t.mem, s: s}
	for i := range s.Queues {
		q := &Virtqueue{t: probe, index: i, s: &s.Queues[i]}
		if s.Queues[i].Ready {
			if err := q.check(); err != nil {
				return fmt.Errorf("virtio: restore: %v", err)
			}
		}
	}
	copy(t.s.Queues, s.Queues)
	s.Queues = t.s.Queues
	t.s = s
	if t.irq != nil {
		t.irq.SetLevel(s.IRQ)
	}
	return nil
}

// VirtioMMIOState is the state of a virtio-mmio device: the transport and,
// as the device's own plain-data type, the device.
type VirtioMMIOState struct {
	Transport TransportState
	Device    any // VirtioBlkState, VirtioNetState, ...
}

// VirtioMMIO is a virtio device on the virtio-mmio transport, version 2
// (virtio 1.x §4.2). It implements mmu.MMIODevice; map it at
// VirtioMMIOBase+n*VirtioMMIOStride with size VirtioMMIOSize.
//
// Registers are accessed 32 bits wide at 4-aligned offsets; other accesses
// to them read as 0 and are ignored on write. The configuration space from
// 0x100 accepts 1, 2, 4 and 8-byte accesses.
type VirtioMMIO struct {
	t *Transport
}

// NewVirtioMMIO returns dev on a virtio-mmio transport in its reset state.
// irq, which may be nil, is the device's interrupt line: high while
// InterruptStatus is not zero.
func NewVirtioMMIO(mem *mmu.Memory, irq IRQLine, dev VirtioDevice) *VirtioMMIO {
	t := newTransport(mem, irq, dev)
	dev.Attach(t)
	return &VirtioMMIO{t: t}
}

// Transport returns the device's transport.
func (v *VirtioMMIO) Transport() *Transport { return v.t }

// Device returns the device type behind the transport.
func (v *VirtioMMIO) Device() VirtioDevice { return v.t.dev }

// Deliver hands an input to the device, which must be a Receiver.
func (v *VirtioMMIO) Deliver(in Input) error {
	r, ok := v.t.dev.(Receiver)
	if !ok {
		return fmt.Errorf("virtio: device %d takes no inputs", v.t.dev.DeviceID())
	}
	return r.Deliver(in)
}

// Snapshot returns the state of the transport and the device.
func (v *VirtioMMIO) Snapshot() VirtioMMIOState {
	return VirtioMMIOState{Transport: v.t.snapshot(), Device: v.t.dev.SnapshotState()}
}

// Restore replaces the state of the transport and the device with s and
// drives the interrupt line to the restored level. On error the transport
// may have been restored but the device has not; restore again or reset.
func (v *VirtioMMIO) Restore(s VirtioMMIOState) error {
	old := v.t.snapshot()
	if err := v.t.restore(s.Transport); err != nil {
		return err
	}
	if err := v.t.dev.RestoreState(s.Device); err != nil {
		_ = v.t.restore(old)
		return err
	}
	return nil
}

// ReadMMIO implements mmu.MMIODevice.
func (v *VirtioMMIO) ReadMMIO(offset uint64, size int) uint64 {
	t := v.t
	if offset >= mmioConfig {
		return t.readConfig(offset-mmioConfig, size)
	}
	if size != 4 || offset%4 != 0 {
		return 0
	}
	switch offset {
	case mmioMagicValue:
		return VirtioMMIOMagic
	case mmioVersion:
		return VirtioMMIOVersion
	case mmioDeviceID:
		return uint64(t.dev.DeviceID())
	case mmioVendorID:
		return VirtioVendorFTVM
	case mmioDeviceFeatures:
		if t.s.DeviceFeaturesSel > 1 {
			return 0
		}
		return uint64(uint32(t.offered() >> (32 * t.s.DeviceFeaturesSel)))
	case mmioDeviceFeaturesSel:
		return uint64(t.s.DeviceFeaturesSel)
	case mmioDriverFeatures:
		if t.s.DriverFeaturesSel > 1 {
			return 0
		}
		return uint64(uint32(t.s.DriverFeatures >> (32 * t.s.DriverFeaturesSel)))
	case mmioDriverFeaturesSel:
		return uint64(t.s.DriverFeaturesSel)
	case mmioQueueSel:
		return uint64(t.s.QueueSel)
	case mmioQueueNumMax:
		if t.selected() == nil {
			return 0
		}
		return VirtqueueMaxSize
	case mmioInterruptStatus:
		return uint64(t.s.InterruptStatus)
	case mmioStatus:
		return uint64(t.s.Status)
	case mmioConfigGeneration:
		return uint64(t.s.ConfigGeneration)
	}
	q := t.selected()
	if q == nil {
		return 0
	}
	switch offset {
	case mmioQueueNum:
		return uint64(q.Num)
	case mmioQueueReady:
		if q.Ready {
			return 1
		}
		return 0
	case mmioQueueDescLow:
		return uint64(uint32(q.Desc))
	case mmioQueueDescHigh:
		return q.Desc >> 32
	case mmioQueueDriverLow:
		return uint64(uint32(q.Avail))
	case mmioQueueDriverHigh:
		return q.Avail >> 32
	case mmioQueueDeviceLow:
		return uint64(uint32(q.Used))
	case mmioQueueDeviceHigh:
		return q.Used >> 32
	}
	return 0
}

// WriteMMIO implements mmu.MMIODevice.
func (v *VirtioMMIO) WriteMMIO(offset uint64, size int, value uint64) {
	t := v.t
	if offset >= mmioConfig {
		t.writeConfig(offset-mmioConfig, size, value)
		return
	}
	if size != 4 || offset%4 != 0 {
		return
	}
	val := uint32(value)
	switch offset {
	case mmioDeviceFeaturesSel:
		t.s.DeviceFeaturesSel = val
		return
	case mmioDriverFeatures:
		// Features are fixed once FEATURES_OK is set.
		if t.s.Status&VirtioStatusFeaturesOK == 0 && t.s.DriverFeaturesSel <= 1 {
			sh := 32 * t.s.DriverFeaturesSel
			t.s.DriverFeatures = t.s.DriverFeatures&^(0xFFFFFFFF<<sh) | uint64(val)<<sh
		}
		return
	case mmioDriverFeaturesSel:
		t.s.DriverFeaturesSel = val
		return
	case mmioQueueSel:
		t.s.QueueSel = val
		return
	case mmioQueueNotify:
		if int64(val) < int64(len(t.queues)) && t.Live() && t.s.Queues[val].Ready {
			t.dev.QueueNotify(int(val))
		}
		return
	case mmioInterruptACK:
		t.s.InterruptStatus &^= val
		t.updateIRQ()
		return
	case mmioStatus:
		t.setStatus(uint8(val))
		return
	}
	q := t.selected()
	if q == nil {
		return
	}
	if offset == mmioQueueReady {
		switch {
		case val == 0:
			q.Ready = false
		case !q.Ready:
			vq := &t.queues[t.s.QueueSel]
			if err := vq.check(); err != nil {
				t.Fail(err)
				return
			}
			q.Ready = true
			q.SignalledValid = false
		}
		return
	}
	if q.Ready {
		return // the queue's configuration is fixed while it is in use
	}
	switch offset {
	case mmioQueueNum:
		q.Num = val
	case mmioQueueDescLow:
		q.Desc = q.Desc&^0xFFFFFFFF | uint64(val)
	case mmioQueueDescHigh:
		q.Desc = q.Desc&0xFFFFFFFF | uint64(val)<<32
	case mmioQueueDriverLow:
		q.Avail = q.Avail&^0xFFFFFFFF | uint64(val)
	case mmioQueueDriverHigh:
		q.Avail = q.Avail&0xFFFFFFFF | uint64(val)<<32
	case mmioQueueDeviceLow:
		q.Used = q.Used&^0xFFFFFFFF | uint64(val)
	case mmioQueueDeviceHigh:
		q.Used = q.Used&0xFFFFFFFF | uint64(val)<<32
	}
}

// selected returns the state of the queue QueueSel names, or nil.
func (t *Transport) selected() *VirtqueueState {
	if uint64(t.s.QueueSel) >= uint64(len(t.s.Queues)) {
		return nil
	}
	return &t.s.Queues[t.s.QueueSel]
}

func validConfigAccess(off uint64, size, limit int) bool {
	switch size {
	case 1, 2, 4, 8:
	default:
		return false
	}
	return off < uint64(limit) && uint64(size) <= uint64(limit)-off
}

func (t *Transport) readConfig(off uint64, size int) uint64 {
	if !validConfigAccess(off, size, t.dev.ConfigSize()) {
		return 0
	}
	var b [8]byte
	t.dev.ReadConfig(int(off), b[:size])
	return binary.LittleEndian.Uint64(b[:])
}

func (t *Transport) writeConfig(off uint64, size int, value uint64) {
	if !validConfigAccess(off, size, t.dev.ConfigSize()) {
		return
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], value)
	t.dev.WriteConfig(int(off), b[:size])
}
