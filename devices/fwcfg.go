package devices

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

var _ mmu.PortDevice = (*FwCfg)(nil)

// QEMU's fw_cfg I/O interface (QEMU docs/specs/fw_cfg.rst): a guest writes an
// item's key to the 16-bit selector port and reads the item byte by byte from
// the 8-bit data port. The DMA interface is not modelled (FW_CFG_ID says so).
const (
	FwCfgSelector = 0x510
	FwCfgData     = 0x511

	FwCfgSignature = 0x00 // "QEMU"
	FwCfgID        = 0x01 // feature bitmap, 32-bit LE: bit 0 the traditional interface
	FwCfgUUID      = 0x02 // 16 bytes
	FwCfgRAMSize   = 0x03 // 64-bit LE
	FwCfgNbCPUs    = 0x05 // 16-bit LE
	FwCfgMaxCPUs   = 0x0F // 16-bit LE
	FwCfgFileDir   = 0x19 // the file directory
	FwCfgFileFirst = 0x20 // the first file's key

	fwCfgKeyMask  = 0x3FFF // the key bits of a selector (bit 14: write, bit 15: architecture-specific)
	fwCfgNameSize = 56     // a file name's field in the directory, NUL included
)

// FwCfgFile is a named item of the fw_cfg file directory.
type FwCfgFile struct {
	Name string
	Data []byte
}

// FwCfg is QEMU's fw_cfg device at I/O ports 0x510-0x511: the signature, the
// ID (traditional interface only), a zero UUID, the RAM size, the CPU count
// (also as the maximum) and a file directory with the files it was made
// with. Reading past an item's end, or an item that does not exist, gives
// zeros; data writes are ignored (read-only since QEMU 2.4). It implements
// mmu.PortDevice; it is not safe for concurrent use.
type FwCfg struct {
	items map[uint16][]byte // fixed at construction
	// sel is the selected key and off the read offset in its item; both
	// change only through the guest's port accesses.
	sel uint16
	off uint32
}

// FwCfgState is FwCfg's state for snapshots.
type FwCfgState struct {
	Selector uint16
	Offset   uint32
}

// NewFwCfg returns an fw_cfg device for a board with ram bytes of RAM and
// cpus processors, serving files in directory order. Names must be shorter
// than 56 bytes and unique.
func NewFwCfg(ram uint64, cpus uint16, files []FwCfgFile) (*FwCfg, error) {
	le := binary.LittleEndian
	d := &FwCfg{items: map[uint16][]byte{
		FwCfgSignature: []byte("QEMU"),
		FwCfgID:        le.AppendUint32(nil, 1),
		FwCfgUUID:      make([]byte, 16),
		FwCfgRAMSize:   le.AppendUint64(nil, ram),
		FwCfgNbCPUs:    le.AppendUint16(nil, cpus),
		FwCfgMaxCPUs:   le.AppendUint16(nil, cpus),
	}}
	be := binary.BigEndian
	dir := be.AppendUint32(nil, uint32(len(files)))
	seen := map[string]bool{}
	for i, f := range files {
		if len(f.Name) >= fwCfgNameSize || f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("fw_cfg: file name %q is empty, repeated or longer than %d bytes", f.Name, fwCfgNameSize-1)
		}
		seen[f.Name] = true
		key := uint16(FwCfgFileFirst + i)
		if key > fwCfgKeyMask {
			return nil, fmt.Errorf("fw_cfg: more than %d files", fwCfgKeyMask-FwCfgFileFirst+1)
		}
		dir = be.AppendUint32(dir, uint32(len(f.Data)))
		dir = be.AppendUint16(dir, key)
		dir = be.AppendUint16(dir, 0)
		var name [fwCfgNameSize]byte
		copy(name[:], f.Name)
		dir = append(dir, name[:]...)
		d.items[key] = f.Data
	}
	d.items[FwCfgFileDir] = dir
	return d, nil
}

// ReadPort implements mmu.PortDevice: a byte read of the data port returns
// the next byte of the selected item.
func (d *FwCfg) ReadPort(port uint16, size int) uint32 {
	if port != FwCfgData || size != 1 {
		return 0
	}
	item := d.items[d.sel&fwCfgKeyMask]
	if d.sel&0x8000 != 0 || uint64(d.off) >= uint64(len(item)) {
		return 0 // no architecture-specific items; past the end
	}
	b := item[d.off]
	d.off++
	return uint32(b)
}

// WritePort implements mmu.PortDevice: a 16-bit write of the selector port
// selects an item and rewinds it.
func (d *FwCfg) WritePort(port uint16, size int, value uint32) {
	if port == FwCfgSelector && size == 2 {
		d.sel, d.off = uint16(value), 0
	}
}

// Snapshot returns the device state.
func (d *FwCfg) Snapshot() FwCfgState { return FwCfgState{d.sel, d.off} }

// Restore loads a state returned by Snapshot.
func (d *FwCfg) Restore(s FwCfgState) error {
	d.sel, d.off = s.Selector, s.Offset
	return nil
}
