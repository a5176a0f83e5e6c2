package machine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"

	"ftvm/cpu"
	"ftvm/mmu"
)

// A snapshot is the whole machine as plain data: CPU, devices, guest clock
// and RAM. The format:
//
//	magic "FTVMSNAP" (8), version (uint32 LE), state length n (uint32 LE),
//	n bytes of gob-encoded State, then RAM: for each 4 KiB page in order a
//	flag byte (0: all zero, 1: the 4096 bytes follow), then magic "END!".
//
// Zero pages cost one byte, so a fresh 64 MiB guest snapshots to a few
// hundred KiB.

const (
	snapMagic   = "FTVMSNAP"
	snapVersion = 1
	snapEnd     = "END!"
	maxSnapMeta = 16 << 20
)

// State is the machine's state apart from RAM.
type State struct {
	RAMSize   uint64
	CPU       cpu.State
	Clock     ClockState
	Devices   map[string][]byte // gob-encoded device states by name
	ConsoleIn []byte
}

// Snapshotter is a device whose state the machine saves and restores.
type Snapshotter interface {
	// SnapshotState returns the device's state, gob-encodable plain data.
	SnapshotState() any
	// RestoreState loads a state decoded from a snapshot into the device.
	RestoreState(dec func(v any) error) error
}

// AddSnapshotter registers a device under name for snapshots.
func (m *Machine) AddSnapshotter(name string, s Snapshotter) {
	if m.snaps == nil {
		m.snaps = map[string]Snapshotter{}
	}
	m.snaps[name] = s
}

// stateful is a device model with plain-data state S.
type stateful[S any] interface {
	Snapshot() S
	Restore(S) error
}

// deviceSnap adapts a stateful device to Snapshotter.
type deviceSnap[S any] struct{ d stateful[S] }

func (a deviceSnap[S]) SnapshotState() any { return a.d.Snapshot() }

func (a deviceSnap[S]) RestoreState(dec func(v any) error) error {
	var s S
	if err := dec(&s); err != nil {
		return err
	}
	return a.d.Restore(s)
}

// state returns the machine's state apart from RAM.
func (m *Machine) state() (State, error) {
	st := State{
		RAMSize:   uint64(len(m.Mem.RAM)),
		CPU:       m.CPU.State(),
		Clock:     m.Clock.Snapshot(),
		Devices:   map[string][]byte{},
		ConsoleIn: m.consoleIn,
	}
	for name, s := range m.snaps {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(s.SnapshotState()); err != nil {
			return State{}, fmt.Errorf("snapshot: device %s: %v", name, err)
		}
		st.Devices[name] = b.Bytes()
	}
	return st, nil
}

// restoreState loads st (without RAM) into the devices, CPU and clock.
func (m *Machine) restoreState(st *State) error {
	for name, s := range m.snaps {
		b, ok := st.Devices[name]
		if !ok {
			return fmt.Errorf("snapshot has no state for device %s", name)
		}
		dec := gob.NewDecoder(bytes.NewReader(b))
		if err := s.RestoreState(dec.Decode); err != nil {
			return fmt.Errorf("snapshot: device %s: %v", name, err)
		}
	}
	m.CPU.SetState(st.CPU)
	m.Clock.Restore(st.Clock)
	m.consoleIn = st.ConsoleIn
	// The restored machine has not exited, whatever this one did since.
	m.exit, m.exiting, m.Err = Exit{}, false, nil
	return nil
}

// SaveSnapshot writes the machine's state to w. Call it between runs.
func (m *Machine) SaveSnapshot(w io.Writer) error {
	st, err := m.state()
	if err != nil {
		return err
	}
	var meta bytes.Buffer
	if err := gob.NewEncoder(&meta).Encode(&st); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr [16]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], snapVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(meta.Len()))
	bw.Write(hdr[:])
	bw.Write(meta.Bytes())
	ram := m.Mem.RAM
	for off := 0; off < len(ram); off += mmu.PageSize {
		page := ram[off : off+mmu.PageSize]
		if IsZero(page) {
			bw.WriteByte(0)
			continue
		}
		bw.WriteByte(1)
		bw.Write(page)
	}
	bw.WriteString(snapEnd)
	return bw.Flush()
}

// IsZero reports whether every byte of b is zero.
func IsZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// ErrSnapshotFormat is wrapped by errors about a malformed snapshot.
var ErrSnapshotFormat = errors.New("malformed snapshot")

// RestoreSnapshot loads a snapshot written by SaveSnapshot into m, which
// must have been built with the same RAM size and devices. On error m may
// be partly restored and should not be run.
func (m *Machine) RestoreSnapshot(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var hdr [16]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return fmt.Errorf("%w: header: %v", ErrSnapshotFormat, err)
	}
	if string(hdr[:8]) != snapMagic {
		return fmt.Errorf("%w: not an ftvm snapshot", ErrSnapshotFormat)
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != snapVersion {
		return fmt.Errorf("%w: version %d, this ftvm reads %d", ErrSnapshotFormat, v, snapVersion)
	}
	n := binary.LittleEndian.Uint32(hdr[12:])
	if n > maxSnapMeta {
		return fmt.Errorf("%w: state of %d bytes", ErrSnapshotFormat, n)
	}
	meta := make([]byte, n)
	if _, err := io.ReadFull(br, meta); err != nil {
		return fmt.Errorf("%w: state: %v", ErrSnapshotFormat, err)
	}
	var st State
	if err := gob.NewDecoder(bytes.NewReader(meta)).Decode(&st); err != nil {
		return fmt.Errorf("%w: state: %v", ErrSnapshotFormat, err)
	}
	if st.RAMSize != uint64(len(m.Mem.RAM)) {
		return fmt.Errorf("snapshot has %d bytes of RAM, this machine %d", st.RAMSize, len(m.Mem.RAM))
	}
	ram := m.Mem.RAM
	for off := 0; off < len(ram); off += mmu.PageSize {
		flag, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: RAM page %#x: %v", ErrSnapshotFormat, off, err)
		}
		page := ram[off : off+mmu.PageSize]
		switch flag {
		case 0:
			clear(page)
		case 1:
			if _, err := io.ReadFull(br, page); err != nil {
				return fmt.Errorf("%w: RAM page %#x: %v", ErrSnapshotFormat, off, err)
			}
		default:
			return fmt.Errorf("%w: RAM page %#x: bad flag %d", ErrSnapshotFormat, off, flag)
		}
	}
	var end [4]byte
	if _, err := io.ReadFull(br, end[:]); err != nil || string(end[:]) != snapEnd {
		return fmt.Errorf("%w: missing end marker", ErrSnapshotFormat)
	}
	return m.restoreState(&st)
}
