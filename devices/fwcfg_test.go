package devices

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// fwRead selects key and reads n bytes from the data port.
func fwRead(d *FwCfg, key uint16, n int) []byte {
	d.WritePort(FwCfgSelector, 2, uint32(key))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(d.ReadPort(FwCfgData, 1))
	}
	return b
}

func TestFwCfgItems(t *testing.T) {
	d, err := NewFwCfg(64<<20, 1, []FwCfgFile{{"etc/e820", []byte{1, 2, 3}}, {"opt/x", []byte("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	le, be := binary.LittleEndian, binary.BigEndian
	tests := []struct {
		name string
		key  uint16
		want []byte
	}{
		{"signature", FwCfgSignature, []byte("QEMU")},
		{"id: traditional interface only", FwCfgID, le.AppendUint32(nil, 1)},
		{"ram size", FwCfgRAMSize, le.AppendUint64(nil, 64<<20)},
		{"cpus", FwCfgNbCPUs, []byte{1, 0}},
		{"max cpus", FwCfgMaxCPUs, []byte{1, 0}},
		{"uuid", FwCfgUUID, make([]byte, 16)},
		{"first file", FwCfgFileFirst, []byte{1, 2, 3, 0}}, // then zeros past the end
		{"second file", FwCfgFileFirst + 1, []byte("hello")},
		{"write bit ignored", FwCfgFileFirst + 1 | 0x4000, []byte("hello")},
		{"no such key", 0x1234, []byte{0, 0}},
		{"architecture key", 0x8003, []byte{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fwRead(d, tt.key, len(tt.want)); !bytes.Equal(got, tt.want) {
				t.Errorf("key %#x: % x, want % x", tt.key, got, tt.want)
			}
		})
	}

	dir := fwRead(d, FwCfgFileDir, 4+2*64)
	if n := be.Uint32(dir); n != 2 {
		t.Fatalf("directory count %d, want 2", n)
	}
	e := dir[4+64:]
	if size, key, name := be.Uint32(e), be.Uint16(e[4:]), string(bytes.TrimRight(e[8:64], "\x00")); size != 5 || key != FwCfgFileFirst+1 || name != "opt/x" {
		t.Errorf("second entry: size %d key %#x name %q", size, key, name)
	}

	// Selecting rewinds; reads of the wrong width or port read 0 without
	// advancing; data writes change nothing.
	d.WritePort(FwCfgSelector, 2, FwCfgSignature)
	d.ReadPort(FwCfgData, 1)
	if v := d.ReadPort(FwCfgData, 2) | d.ReadPort(FwCfgSelector, 1); v != 0 {
		t.Errorf("wide or selector read gave %#x", v)
	}
	d.WritePort(FwCfgData, 1, 'X')
	d.WritePort(FwCfgSelector, 1, FwCfgRAMSize) // byte write: not a selection
	s := d.Snapshot()
	if got := fwRead(d, FwCfgSignature, 4); string(got) != "QEMU" {
		t.Errorf("signature after a data write: %q", got)
	}
	if err := d.Restore(s); err != nil || d.ReadPort(FwCfgData, 1) != 'E' {
		t.Errorf("restored state does not continue at offset 1 of the signature (err %v)", err)
	}
}

func TestFwCfgBadFiles(t *testing.T) {
	for _, files := range [][]FwCfgFile{
		{{Name: strings.Repeat("x", 56)}},
		{{Name: ""}},
		{{Name: "a"}, {Name: "a"}},
	} {
		if _, err := NewFwCfg(1<<20, 1, files); err == nil {
			t.Errorf("files %v accepted", files)
		}
	}
}
