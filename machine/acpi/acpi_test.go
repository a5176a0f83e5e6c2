package acpi

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleTables is a board like ftvm's: COM1, two virtio-mmio slots, the
// power registers at I/O 0x600.
func sampleTables() Tables {
	slot := func(n int) Term {
		return Device("VR0"+string(rune('0'+n)),
			Name("_HID", String("LNRO0005")),
			Name("_UID", Integer(uint64(n))),
			Name("_CRS", ResourceTemplate(
				Memory32Fixed(true, 0xD0000000+uint32(n)*0x1000, 0x1000),
				Interrupt(Level, ActiveHigh, uint32(5+n)),
			)))
	}
	return Tables{
		FADT: FADT{
			Flags:        FADTPowerButton | FADTSleepButton | FADTResetReg,
			BootArch:     BootArchNoVGA | BootArchNoMSI,
			Reset:        IOByte(0x602),
			ResetValue:   1,
			SleepControl: IOByte(0x600),
			SleepStatus:  IOByte(0x601),
			HypervisorID: "FTVM",
		},
		MADT: MADT{
			LAPICBase: 0xFEE00000, Flags: MADTPCATCompat, IOAPICBase: 0xFEC00000, NMILINT: 1,
			Overrides: []Override{
				{Source: 0, GSI: 2},
				{Source: 5, GSI: 5, Flags: PolarityHigh | TriggerLevel},
			},
		},
		DSDT: []Term{
			Scope("_SB",
				Device("COM1",
					Name("_HID", EISAID("PNP0501")),
					Name("_UID", Integer(1)),
					Name("_CRS", ResourceTemplate(IO(0x3F8, 0x3F8, 0, 8), IRQNoFlags(4)))),
				slot(0), slot(1)),
			Name("_S5", Package(Integer(5), Integer(0), Integer(0), Integer(0))),
		},
	}
}

// encoding is an encoder's input and the bytes it must produce.
type encoding[T any] struct {
	in   T
	want []byte
}

// checkEncodings runs the encoder name (enc) on each case.
func checkEncodings[T any, R ~[]byte](t *testing.T, name string, enc func(T) R, cases []encoding[T]) {
	t.Helper()
	for _, c := range cases {
		if got := enc(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("%s(%#v) = % x, want % x", name, c.in, got, c.want)
		}
	}
}

func TestIntegerEncoding(t *testing.T) {
	checkEncodings(t, "Integer", Integer, []encoding[uint64]{
		{0, []byte{0}},
		{1, []byte{1}},
		{2, []byte{0x0A, 2}},
		{0xFF, []byte{0x0A, 0xFF}},
		{0x100, []byte{0x0B, 0, 1}},
		{0x12345678, []byte{0x0C, 0x78, 0x56, 0x34, 0x12}},
		{1 << 32, []byte{0x0E, 0, 0, 0, 0, 1, 0, 0, 0}},
		{^uint64(0), []byte{0xFF}},
	})
}

func TestPkgLength(t *testing.T) {
	checkEncodings(t, "pkgLength", pkgLength, []encoding[int]{
		{0, []byte{1}},
		{62, []byte{63}},
		{63, []byte{0x41, 0x04}}, // 65 = 0x41: lead nibble 1, then 4
		{4093, []byte{0x4F, 0xFF}},
		{4094, []byte{0x81, 0x00, 0x01}}, // 4097 = 0x1001
	})
}

func TestEISAID(t *testing.T) {
	// PNP0501 is 0x0105D041 as a little-endian DWORD (QEMU's tables).
	checkEncodings(t, "EISAID", EISAID, []encoding[string]{{"PNP0501", []byte{0x0C, 0x41, 0xD0, 0x05, 0x01}}})
}

func TestNameString(t *testing.T) {
	for _, c := range []struct {
		path string
		want string
	}{
		{"_HID", "_HID"},
		{"VR0", "VR0_"},
		{`\_SB`, `\_SB_`},
		{`\_SB.COM1`, "\\\x2E_SB_COM1"},
		{`\_SB.PCI0.S08`, "\\\x2F\x03_SB_PCI0S08_"},
		{`\`, "\\\x00"},
	} {
		if got := string(nameString(c.path)); got != c.want {
			t.Errorf("nameString(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

func TestBadNamesPanic(t *testing.T) {
	for _, name := range []string{"", "TOOLONG", "1ABC", "a", "A-B"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Name(%q) did not panic", name)
				}
			}()
			Name(name, Integer(0))
		}()
	}
}

func TestBuildChecksumsAndPointers(t *testing.T) {
	img, err := sampleTables().Build(0xE0000)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bytes
	at := func(addr uint64) []byte { return b[addr-img.Base:] }
	le := binary.LittleEndian
	r := at(img.RSDP)[:rsdpSize]
	if string(r[:8]) != "RSD PTR " || Checksum(r[:20]) != 0 || Checksum(r) != 0 {
		t.Fatalf("bad RSDP % x", r)
	}
	x := le.Uint64(r[24:])
	if x != img.Tables["XSDT"] {
		t.Fatalf("RSDP names XSDT at %#x, want %#x", x, img.Tables["XSDT"])
	}
	for sig, addr := range img.Tables {
		tb := at(addr)
		n := le.Uint32(tb[4:])
		if string(tb[:4]) != sig || Checksum(tb[:n]) != 0 {
			t.Errorf("table %s at %#x: signature %q, checksum sum %#x", sig, addr, tb[:4], Checksum(tb[:n]))
		}
		if addr%16 != 0 {
			t.Errorf("table %s at %#x is not 16-byte aligned", sig, addr)
		}
	}
	xs := at(x)
	if n := le.Uint32(xs[4:]); n != headerSize+16 {
		t.Fatalf("XSDT length %d", n)
	}
	if le.Uint64(xs[36:]) != img.Tables["FACP"] || le.Uint64(xs[44:]) != img.Tables["APIC"] {
		t.Errorf("XSDT entries % x", xs[36:52])
	}
	f := at(img.Tables["FACP"])
	if le.Uint32(f[4:]) != fadtSize || le.Uint64(f[140:]) != img.Tables["DSDT"] || le.Uint32(f[40:]) != uint32(img.Tables["DSDT"]) {
		t.Errorf("FADT does not point at the DSDT")
	}
	if _, err := sampleTables().Build(0xE0001); err == nil {
		t.Error("unaligned base accepted")
	}
}

// TestIASLDisassembly disassembles each table with Debian's iasl -d and
// compares the listing with testdata/NAME.dsl.
func TestIASLDisassembly(t *testing.T) {
	img, err := sampleTables().Build(0xE0000)
	if err != nil {
		t.Fatal(err)
	}
	for sig, name := range map[string]string{"DSDT": "dsdt", "FACP": "facp", "APIC": "apic", "XSDT": "xsdt"} {
		t.Run(name, func(t *testing.T) {
			addr := img.Tables[sig]
			tb := img.Bytes[addr-img.Base:]
			tb = tb[:binary.LittleEndian.Uint32(tb[4:])]
			got := testenv.DisassembleACPI(t, tb)
			testenv.Golden(t, filepath.Join("testdata", name+".dsl"), got, *update)
			if strings.Contains(got, "**** ") {
				t.Errorf("iasl flagged the table:\n%s", got)
			}
		})
	}
}

// TestIASLCompilesSameAML compiles the golden DSDT listing with iasl and
// checks that iasl's AML is byte for byte the encoder's (the header's
// compiler fields and checksum aside).
func TestIASLCompilesSameAML(t *testing.T) {
	iasl := testenv.Program(t, "iasl")
	img, err := sampleTables().Build(0xE0000)
	if err != nil {
		t.Fatal(err)
	}
	d := img.Bytes[img.Tables["DSDT"]-img.Base:]
	d = d[:binary.LittleEndian.Uint32(d[4:])]
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "dsdt.dsl"))
	if err != nil {
		t.Fatal(err)
	}
	asl := filepath.Join(dir, "dsdt.asl")
	if err := os.WriteFile(asl, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(iasl, "-p", filepath.Join(dir, "out"), asl).CombinedOutput(); err != nil {
		t.Fatalf("iasl: %v\n%s", err, out)
	}
	aml, err := os.ReadFile(filepath.Join(dir, "out.aml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(aml[headerSize:], d[headerSize:]) || !bytes.Equal(aml[:9], d[:9]) {
		t.Errorf("iasl's AML differs:\niasl % x\nours % x", aml, d)
	}
}
