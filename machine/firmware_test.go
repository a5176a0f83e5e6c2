package machine

import (
	"encoding/binary"
	"flag"
	"path/filepath"
	"testing"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files")

// TestBoardACPITables disassembles the tables of a board with a NIC and a
// disk with Debian's iasl and compares them with testdata/board_*.dsl: the
// device map of ARCHITECTURE.md §4 as the guest's ACPI sees it.
func TestBoardACPITables(t *testing.T) {
	m := newLinuxMachine(t, testRAM)
	if _, err := m.AddVirtio(devices.NewVirtioNet(nil, devices.DefaultMAC(0)), devices.InputFrame, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddVirtio(devices.NewVirtioBlk(nil, 0), devices.InputDiskDone, 0); err != nil {
		t.Fatal(err)
	}
	img, err := m.ACPITables().Build(ACPITablesAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"DSDT", "APIC", "FACP"} {
		t.Run(sig, func(t *testing.T) {
			tb := img.Bytes[img.Tables[sig]-img.Base:]
			tb = tb[:binary.LittleEndian.Uint32(tb[4:])]
			testenv.Golden(t, filepath.Join("testdata", "board_"+sig+".dsl"), testenv.DisassembleACPI(t, tb), *updateGolden)
		})
	}
}
