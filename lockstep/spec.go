package lockstep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"

	"ftvm/devices"
	"ftvm/machine"
)

// NewHeader writes a machine spec down as a log header, with the digests of
// its image, snapshot and disks as they are now (the start of the run).
func NewHeader(s *machine.Spec) (Header, error) {
	sum := sha256.Sum256(s.Image)
	h := Header{Image: s.ImagePath, ImageSHA256: hex.EncodeToString(sum[:]), RAM: s.RAM, Snapshot: s.Snapshot,
		Clock: s.Clock.String(), Seed: s.Seed, Cmdline: s.Cmdline, RTCBase: s.RTCBase, Net: s.NIC}
	if s.NIC {
		h.Nets = []string{net.HardwareAddr(s.MAC[:]).String()}
	}
	if s.InitrdPath != "" {
		sum := sha256.Sum256(s.Initrd)
		h.Initrd, h.InitrdSHA256 = s.InitrdPath, hex.EncodeToString(sum[:])
	}
	if s.Snapshot != "" {
		sum, err := FileSHA256(s.Snapshot)
		if err != nil {
			return h, err
		}
		h.SnapshotSHA256 = sum
	}
	for _, d := range s.Disks {
		sum, err := FileSHA256(d.Path)
		if err != nil {
			return h, err
		}
		h.Disks = append(h.Disks, DiskInfo{Path: d.Path, SHA256: sum, ReadOnly: d.ReadOnly, Replicated: true})
	}
	return h, nil
}

// Spec returns the machine spec the header describes, without its image
// (the header holds only the image's name and digest) and with the disk and
// snapshot paths as recorded. The NIC has no host backend: the caller
// chooses one. An unknown clock or a malformed MAC is an error.
func (h *Header) Spec() (machine.Spec, error) {
	clock, err := machine.ParseClock(h.Clock)
	if err != nil {
		return machine.Spec{}, fmt.Errorf("log header: %w", err)
	}
	s := machine.Spec{ImagePath: h.Image, RAM: h.RAM, Clock: clock, Seed: h.Seed, Cmdline: h.Cmdline,
		RTCBase: h.RTCBase, NIC: h.Net, MAC: devices.DefaultMAC(0), Snapshot: h.Snapshot, InitrdPath: h.Initrd}
	if h.Net && len(h.Nets) > 0 {
		hw, err := net.ParseMAC(h.Nets[0])
		if err != nil || len(hw) != 6 {
			return machine.Spec{}, fmt.Errorf("log header: bad MAC %q", h.Nets[0])
		}
		copy(s.MAC[:], hw)
	}
	for _, d := range h.Disks {
		s.Disks = append(s.Disks, machine.DiskSpec{Path: d.Path, ReadOnly: d.ReadOnly})
	}
	return s, nil
}

// CheckFiles checks that the image, initrd, snapshot and disks of s are the
// ones the header recorded, as they were when the recording started: a
// replay needs identical copies.
func (h *Header) CheckFiles(s *machine.Spec) error {
	if sum := sha256.Sum256(s.Image); hex.EncodeToString(sum[:]) != h.ImageSHA256 {
		return fmt.Errorf("%s is not the image recorded (%s)", s.ImagePath, h.Image)
	}
	if h.Initrd != "" || s.Initrd != nil {
		if sum := sha256.Sum256(s.Initrd); s.Initrd == nil || hex.EncodeToString(sum[:]) != h.InitrdSHA256 {
			return fmt.Errorf("initrd %s is not the one recorded (%s)", s.InitrdPath, h.Initrd)
		}
	}
	if s.Snapshot != "" {
		sum, err := FileSHA256(s.Snapshot)
		if err != nil {
			return err
		}
		if sum != h.SnapshotSHA256 {
			return fmt.Errorf("snapshot %s is not the one the recording started from (%s)", s.Snapshot, h.Snapshot)
		}
	}
	if len(s.Disks) != len(h.Disks) {
		return fmt.Errorf("%d disks given, the recording had %d", len(s.Disks), len(h.Disks))
	}
	for i, d := range h.Disks {
		sum, err := FileSHA256(s.Disks[i].Path)
		if err != nil {
			return err
		}
		if sum != d.SHA256 {
			return fmt.Errorf("disk %s differs from the recorded disk's starting state (%s); replay needs a copy taken before the recording (use --disk PATH)", s.Disks[i].Path, d.Path)
		}
	}
	return nil
}
