package machine

import (
	"encoding/gob"
	"fmt"

	"ftvm/devices"
)

func init() {
	// The device half of a virtio slot's state is an interface value.
	gob.Register(devices.VirtioNetState{})
	gob.Register(devices.VirtioBlkState{})
}

// maxVirtioSlots is how many virtio-mmio slots the board offers: slot n uses
// ISA IRQ 5+n, and IRQ 8 belongs to the RTC.
const maxVirtioSlots = 3

// AddVirtio attaches dev to the next virtio-mmio slot (ARCHITECTURE.md §4),
// routes the inputs of kind for device index to it, and declares the slot
// on the guest command line as Linux expects it. Call it before LoadELF64.
func (m *Machine) AddVirtio(dev devices.VirtioDevice, kind devices.InputKind, index uint8) (*devices.VirtioMMIO, error) {
	n := len(m.virtio)
	if n >= maxVirtioSlots {
		return nil, fmt.Errorf("at most %d virtio devices", maxVirtioSlots)
	}
	v := devices.NewVirtioMMIO(m.Mem, m.ISALine(devices.VirtioMMIOIRQBase+n), dev)
	base := devices.VirtioMMIOBase + uint64(n)*devices.VirtioMMIOStride
	if err := m.Mem.MapMMIO(base, devices.VirtioMMIOSize, v); err != nil {
		return nil, err
	}
	m.AddReceiver(kind, index, v)
	m.AddSnapshotter(fmt.Sprintf("virtio%d", n), deviceSnap[devices.VirtioMMIOState]{v})
	m.virtio = append(m.virtio, v)
	if m.cmdline != "" {
		m.cmdline += " "
	}
	m.cmdline += devices.VirtioMMIOCmdline(n)
	if len(m.cmdline) >= cmdlineMax {
		return nil, fmt.Errorf("command line longer than %d bytes", cmdlineMax-1)
	}
	return v, nil
}

// Virtio returns the virtio-mmio slots in use.
func (m *Machine) Virtio() []*devices.VirtioMMIO { return m.virtio }
