// Package board assembles a machine from its spec (machine.Spec): the board
// with its console, inputs and checker, the NIC and disks with the host
// backends they use (package hostio), the guest image and the snapshot it
// starts from. Run, record, replay and both sides of a pair build their
// machines here, so they build the same one.
package board

import (
	"fmt"
	"io"
	"os"

	"ftvm/devices"
	"ftvm/hostio"
	"ftvm/machine"
)

// Host says how a board's devices meet the host.
type Host struct {
	// Live false (a replay) gives the devices no host inputs at all:
	// frames and disk completions come from a log and the NIC has no link.
	Live bool
	// Post receives the inputs host backends produce; nil posts them to
	// the machine's own live input source.
	Post func(devices.Input)
	// WrapNet, if set, wraps the NIC's host backend (the output rule of a
	// primary holds its frames).
	WrapNet func(hostio.Net) hostio.Net
	// WrapDisk, if set, wraps the host backend of disk index (a
	// checkpointing primary ships the writes with its checkpoints).
	WrapDisk func(b devices.BlockBackend, index int) devices.BlockBackend
	// Producer registers a host input producer and returns its release;
	// nil registers with the machine's own live input source.
	Producer func() func()
}

// Board is a built machine with the host resources its devices hold.
type Board struct {
	*machine.Machine
	// Blks are the virtio-blk devices, in the order of Spec.Disks.
	Blks []*devices.VirtioBlk
	// closers release the host resources, in order.
	closers []io.Closer
}

// Close releases the board's host resources (disk images, network
// backends, the pcap file) and returns the first error.
func (b *Board) Close() error {
	var first error
	for _, c := range b.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	b.closers = nil
	return first
}

// producer closes a live input producer registration.
type producer struct{ done func() }

func (p producer) Close() error { p.done(); return nil }

// Build makes the machine spec s describes: the board with cfg's console,
// inputs and checker, the NIC and disks with their host backends, the
// image, and the snapshot it starts from. The spec's fields override cfg's
// RAM, Clock, Seed, Cmdline and RTCBase.
func Build(s *machine.Spec, cfg machine.Config, host Host) (*Board, error) {
	cfg.RAM, cfg.Clock, cfg.Seed, cfg.Cmdline, cfg.RTCBase = s.RAM, s.Clock, s.Seed, s.Cmdline, s.RTCBase
	m, err := machine.New(cfg)
	if err != nil {
		return nil, err
	}
	b := &Board{Machine: m}
	if err := b.attach(s, host); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// attach adds the spec's devices with their host backends, loads the image
// and restores the snapshot.
func (b *Board) attach(s *machine.Spec, host Host) error {
	m := b.Machine
	post := func(devices.Input) {}
	if host.Live {
		post = m.Live.Post
		if host.Post != nil {
			post = host.Post
		}
		if host.Producer == nil {
			host.Producer = m.Live.AddProducer
		}
	}
	if s.NIC {
		if err := b.addNIC(s, host, post); err != nil {
			return err
		}
	}
	for i, d := range s.Disks {
		img, err := hostio.OpenDiskImage(d.Path, d.ReadOnly, post, uint8(i))
		if err != nil {
			return err
		}
		b.closers = append(b.closers, img)
		if host.Live {
			b.closers = append(b.closers, producer{host.Producer()})
		}
		var backend devices.BlockBackend = img
		if host.WrapDisk != nil {
			backend = host.WrapDisk(img, i)
		}
		blk := devices.NewVirtioBlk(backend, i)
		if _, err := m.AddVirtio(blk, devices.InputDiskDone, uint8(i)); err != nil {
			return err
		}
		b.Blks = append(b.Blks, blk)
	}
	if s.Image == nil {
		return nil
	}
	load := func() error { return m.LoadImage(s.Image, s.Initrd, s.Cmdline) }
	if machine.IsMultiboot(s.Image) {
		load = func() error { return m.LoadMultiboot(s.Image, s.Modules, s.Cmdline) }
	}
	if err := load(); err != nil {
		return fmt.Errorf("%s: %w", s.ImagePath, err)
	}
	if s.Snapshot != "" {
		if err := m.RestoreSnapshotFile(s.Snapshot); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.Snapshot, err)
		}
	}
	return nil
}

// addNIC adds the virtio-net device of s with its host backend and pcap.
func (b *Board) addNIC(s *machine.Spec, host Host, post func(devices.Input)) error {
	var backend hostio.Net = hostio.NoNet{}
	if host.Live && s.Net != "" && s.Net != "none" {
		var err error
		if backend, err = hostio.OpenNet(s.Net, post, 0); err != nil {
			return err
		}
		b.closers = append(b.closers, producer{host.Producer()})
		if host.WrapNet != nil {
			backend = host.WrapNet(backend)
		}
	}
	b.closers = append(b.closers, backend)
	vn := devices.NewVirtioNet(backend, s.MAC)
	if s.PCAP != "" {
		pf, err := os.Create(s.PCAP)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		b.closers = append(b.closers, pf)
		pw, err := hostio.NewPCAPWriter(pf)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		vn.SetCapture(pw)
	}
	_, err := b.AddVirtio(vn, devices.InputFrame, 0)
	return err
}
