package machine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Spec describes a board and its guest: everything needed to build the same
// machine again, for a run, its recording, its replay or a backup
// (board.Build builds it). A log header is a Spec written down
// (lockstep.NewHeader, Header.Spec).
type Spec struct {
	// ImagePath names the guest image; Image holds its bytes. With Image
	// nil no image is loaded (a backup's machine is restored from its
	// primary's state instead).
	ImagePath string
	Image     []byte
	// RAM is the guest RAM size in bytes (DefaultRAM when zero).
	RAM uint64
	// Clock selects where guest time comes from; Seed seeds the virtual
	// clock's random numbers.
	Clock ClockMode
	Seed  uint64
	// Cmdline is the command line handed to the guest.
	Cmdline string
	// InitrdPath names a Linux guest's initial ramdisk; Initrd holds its
	// bytes (nil: none). For a multiboot kernel InitrdPath is the module
	// list as QEMU's -initrd takes it ("FILE [ARGS][,FILE [ARGS]...]"),
	// Modules the modules read from it and Initrd their bytes one after
	// the other (what a recording's digest covers).
	InitrdPath string
	Initrd     []byte
	Modules    []MultibootModule
	// RTCBase is the wall-clock time (Unix seconds) of guest time 0; zero
	// selects DefaultRTCBase.
	RTCBase int64
	// NIC says whether the guest has a virtio-net device, with address MAC.
	NIC bool
	MAC [6]byte
	// Net is the NIC's host backend (hostio.OpenNet: tap:NAME or
	// socket:PATH); "" or "none" leaves the NIC without a link.
	Net string
	// PCAP, if set, is a file that receives every frame the NIC sends or
	// receives.
	PCAP string
	// Disks are the virtio-blk devices, in slot order after the NIC.
	Disks []DiskSpec
	// Snapshot, if set, is a snapshot file the machine starts from instead
	// of the image's entry point (the image is loaded first all the same).
	Snapshot string
}

// DiskSpec is one virtio-blk device: a raw image file.
type DiskSpec struct {
	Path     string
	ReadOnly bool
}

// ParseDisk parses a disk argument: PATH, or PATH,ro for a read-only disk.
func ParseDisk(s string) DiskSpec {
	if p, ok := strings.CutSuffix(s, ",ro"); ok {
		return DiskSpec{Path: p, ReadOnly: true}
	}
	return DiskSpec{Path: s}
}

// ParseClock parses a clock name: "host" or "virtual". Any other name is an
// error, wherever it comes from (a flag, a log header, a peer).
func ParseClock(name string) (ClockMode, error) {
	switch name {
	case "host":
		return ClockHost, nil
	case "virtual":
		return ClockVirtual, nil
	}
	return 0, fmt.Errorf("unknown clock %q (want host or virtual)", name)
}

// String returns the clock's name, as ParseClock reads it.
func (c ClockMode) String() string {
	if c == ClockVirtual {
		return "virtual"
	}
	return "host"
}

// RestoreSnapshotFile restores the machine from the snapshot file path.
func (m *Machine) RestoreSnapshotFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return m.RestoreSnapshot(bufio.NewReader(f))
}

// SaveSnapshotFile writes the machine's state to the file path, synced to
// stable storage before it returns.
func (m *Machine) SaveSnapshotFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = m.SaveSnapshot(f)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
