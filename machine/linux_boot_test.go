package machine

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"sync"
	"testing"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/internal/testenv"
)

// Synthetic bzImage parameters (boot.rst): four setup sectors after the
// boot sector, then the protected-mode kernel.
const (
	testSetupSects = 4
	testPMSize     = 0x3000
	testPref       = 0x1000000
	testInitSize   = 0x800000
	testRAM        = 64 << 20
)

// testBzImage returns a bzImage as boot.rst describes one built with boot
// protocol 2.15 and a 64-bit entry: header fields at their documented
// offsets, the protected-mode kernel a recognizable pattern.
func testBzImage() []byte {
	setup := (testSetupSects + 1) * 512
	b := make([]byte, setup+testPMSize)
	le := binary.LittleEndian
	b[0x1F1] = testSetupSects
	le.PutUint32(b[0x1F4:], testPMSize/16) // syssize
	le.PutUint16(b[0x1FE:], 0xAA55)
	b[0x200], b[0x201] = 0xEB, 0x6A // jmp over the header, to 0x26C
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], 0x020F)
	b[0x211] = 0x01                         // loadflags: LOADED_HIGH
	le.PutUint32(b[0x214:], 0x100000)       // code32_start
	le.PutUint32(b[0x22C:], 0x7FFFFFFF)     // initrd_addr_max
	le.PutUint32(b[0x230:], 0x200000)       // kernel_alignment
	b[0x234] = 1                            // relocatable_kernel
	b[0x235] = 21                           // min_alignment
	le.PutUint16(b[0x236:], 0x7F)           // xloadflags: KERNEL_64 and more
	le.PutUint32(b[0x238:], 2047)           // cmdline_size
	le.PutUint64(b[0x258:], testPref)       // pref_address
	le.PutUint32(b[0x260:], testInitSize)   // init_size
	copy(b[setup:], pattern(testPMSize, 3)) // startup_32 at +0, startup_64 at +0x200
	return b
}

func newLinuxMachine(t *testing.T, ram uint64) *Machine {
	t.Helper()
	m, err := New(Config{RAM: ram})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadBzImage(t *testing.T) {
	m := newLinuxMachine(t, testRAM)
	img := testBzImage()
	initrd := pattern(5000, 7)
	const cmdline = "console=ttyS0 quiet"
	if err := m.LoadLinux(img, initrd, cmdline); err != nil {
		t.Fatal(err)
	}
	ram := m.Mem.RAM
	le := binary.LittleEndian
	if !bytes.Equal(ram[testPref:testPref+testPMSize], img[5*512:]) {
		t.Error("protected-mode kernel not at pref_address")
	}
	c := m.CPU
	if c.RIP != testPref+0x200 || c.R[cpu.RSI] != LinuxBootParamsAddr || c.R[cpu.RSP] != LinuxStackTop {
		t.Errorf("entry RIP %#x RSI %#x RSP %#x", c.RIP, c.R[cpu.RSI], c.R[cpu.RSP])
	}
	if c.Seg[cpu.CS].Selector != 0x10 || c.Seg[cpu.DS].Selector != 0x18 || c.Seg[cpu.SS].Selector != 0x18 ||
		c.Seg[cpu.CS].Attr&cpu.SegAttrL == 0 || c.RFLAGS()&(1<<9) != 0 {
		t.Errorf("CS %+v DS %+v SS %+v RFLAGS %#x", c.Seg[cpu.CS], c.Seg[cpu.DS], c.Seg[cpu.SS], c.RFLAGS())
	}
	gdt := ram[c.GDTR.Base:]
	if le.Uint64(gdt[0x10:]) != 0x00AF9B000000FFFF || le.Uint64(gdt[0x18:]) != 0x00CF93000000FFFF {
		t.Errorf("GDT __BOOT_CS %#x __BOOT_DS %#x", le.Uint64(gdt[0x10:]), le.Uint64(gdt[0x18:]))
	}
	bp := ram[LinuxBootParamsAddr : LinuxBootParamsAddr+0x1000]
	// The setup header is the image's, with the loader's fields set.
	if string(bp[0x202:0x206]) != "HdrS" || le.Uint16(bp[0x206:]) != 0x020F || le.Uint64(bp[0x258:]) != testPref {
		t.Error("setup header not copied into boot_params")
	}
	if bp[0x210] != 0xFF || bp[0x211]&1 == 0 {
		t.Errorf("type_of_loader %#x loadflags %#x", bp[0x210], bp[0x211])
	}
	cl := le.Uint32(bp[0x228:])
	if got, _, _ := strings.Cut(string(ram[cl:cl+100]), "\x00"); got != cmdline || le.Uint32(bp[0xC8:]) != 0 {
		t.Errorf("cmd_line_ptr %#x -> %q", cl, got)
	}
	at, size := uint64(le.Uint32(bp[0x218:])), uint64(le.Uint32(bp[0x21C:]))
	if size != uint64(len(initrd)) || at%4096 != 0 || at < testPref+testInitSize || at+size > testRAM ||
		!bytes.Equal(ram[at:at+size], initrd) {
		t.Errorf("initrd at %#x size %d", at, size)
	}
	if at+size+4096 <= testRAM {
		t.Errorf("initrd at %#x is not at the top of RAM", at)
	}
	rsdp := le.Uint64(bp[0x70:])
	if rsdp != ACPITablesAddr || string(ram[rsdp:rsdp+8]) != "RSD PTR " {
		t.Errorf("acpi_rsdp_addr %#x", rsdp)
	}
	want := []e820Entry{{0, 0x9FC00, 1}, {0x9FC00, 0x60400, 2}, {0x100000, testRAM - 0x100000, 1}}
	if n := int(bp[0x1E8]); n != len(want) {
		t.Fatalf("%d e820 entries", n)
	}
	for i, w := range want {
		e := bp[0x2D0+20*i:]
		if got := (e820Entry{le.Uint64(e), le.Uint64(e[8:]), le.Uint32(e[16:])}); got != w {
			t.Errorf("e820[%d] = %+v, want %+v", i, got, w)
		}
	}
}

func TestMemoryMapDeviceHole(t *testing.T) {
	got := memoryMap(5 << 30)
	if len(got) != 4 || got[2] != (e820Entry{0x100000, 0xD0000000 - 0x100000, 1}) || got[3] != (e820Entry{1 << 32, 1 << 30, 1}) {
		t.Errorf("memoryMap(5 GiB) = %+v", got)
	}
}

func TestLoadLinuxErrors(t *testing.T) {
	edit := func(f func(b []byte) []byte) []byte { return f(testBzImage()) }
	for _, c := range []struct {
		name    string
		image   []byte
		ram     uint64
		initrd  int
		cmdline int
		want    string
	}{
		{"not a kernel", []byte("#!/bin/sh\necho this is a shell script, not a kernel, padded to be long enough for a header\n" + strings.Repeat("x", 600)), testRAM, 0, 0, "neither an ELF file nor a Linux bzImage"},
		{"tiny", []byte("MZ"), testRAM, 0, 0, "too short"},
		{"truncated in the header", testBzImage()[:0x210], testRAM, 0, 0, "setup header ends"},
		{"truncated in the setup", testBzImage()[:0x600], testRAM, 0, 0, "truncated bzImage"},
		{"truncated kernel", testBzImage()[:5*512+0x1000], testRAM, 0, 0, "truncated bzImage"},
		{"protocol 2.11", edit(set16(0x206, 0x020B)), testRAM, 0, 0, "older than 2.12"},
		{"protocol 2.02", edit(set16(0x206, 0x0202)), testRAM, 0, 0, "older than 2.12"},
		{"32-bit only", edit(set16(0x236, 0x02)), testRAM, 0, 0, "32-bit-only"},
		{"bad boot flag", edit(set16(0x1FE, 0x1234)), testRAM, 0, 0, "boot flag"},
		{"RAM too small", testBzImage(), 20 << 20, 0, 0, "give it more with -m"},
		{"pref_address below 1 MiB", edit(chain(set64(0x258, 0x1000), setByte(0x234, 0))), testRAM, 0, 0, "needs RAM from 0x1000"},
		{"huge init_size", edit(set32(0x260, 0xFFFFFFFF)), testRAM, 0, 0, "give it more with -m"},
		{"initrd larger than RAM", testBzImage(), testRAM, testRAM, 0, "initrd"},
		{"initrd in the kernel's room", testBzImage(), testRAM, testRAM - testPref - testInitSize + 1, 0, "does not fit"},
		{"initrd above initrd_addr_max", edit(set32(0x22C, testPref+testInitSize+0x1000-1)), testRAM, 0x2000, 0, "does not fit"},
		{"command line over cmdline_size", edit(set32(0x238, 16)), testRAM, 0, 17, "longer than the kernel's limit of 16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newLinuxMachine(t, c.ram)
			err := m.LoadLinux(c.image, make([]byte, c.initrd), strings.Repeat("a", c.cmdline))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// At the limits: a command line of exactly cmdline_size bytes and an
	// initrd filling RAM up to the kernel's end load.
	m := newLinuxMachine(t, testRAM)
	img := edit(set32(0x238, 16))
	if err := m.LoadLinux(img, make([]byte, testRAM-testPref-testInitSize), strings.Repeat("a", 16)); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

// testVmlinux is an ELF vmlinux as the kernel's linker script lays it out:
// text at 16 MiB entered at its start, data after it, a PT_NOTE with the
// Linux and Xen notes (XEN_ELFNOTE_PHYS32_ENTRY among them).
func testVmlinux(pvhEntry uint32) []byte {
	var notes []byte
	note := func(owner string, typ uint32, desc []byte) {
		le := binary.LittleEndian
		name := append([]byte(owner), 0)
		notes = le.AppendUint32(notes, uint32(len(name)))
		notes = le.AppendUint32(notes, uint32(len(desc)))
		notes = le.AppendUint32(notes, typ)
		notes = append(notes, name...)
		notes = append(notes, make([]byte, (4-len(name)%4)%4)...)
		notes = append(notes, desc...)
		notes = append(notes, make([]byte, (4-len(desc)%4)%4)...)
	}
	note("Xen", 6, []byte("linux\x00"))
	if pvhEntry != 0 {
		note("Xen", 18, binary.LittleEndian.AppendUint64(nil, uint64(pvhEntry)))
	}
	note("GNU", 3, pattern(20, 1))
	note("Linux", 0x100, []byte("6.1\x00"))
	e := testELF{
		class: elfClass64, encoding: elfData2LSB, typ: elfTypeExec, machine: elfMachineX,
		entry: 0x1000000,
		segs: []testSeg{
			{typ: ptLoad, flags: pfR | pfExec, offset: 0x1000, paddr: 0x1000000, data: pattern(0x2000, 1), memsz: 0x2000},
			{typ: ptLoad, flags: pfR | pfW, offset: 0x3000, paddr: 0x1200000, data: pattern(0x100, 9), memsz: 0x10000},
			{typ: ptNote, flags: pfR, offset: 0x3100, data: notes, memsz: uint64(len(notes))},
		},
	}
	return e.build()
}

func TestIsLinuxKernel(t *testing.T) {
	for _, c := range []struct {
		name  string
		image []byte
		want  bool
	}{
		{"vmlinux", testVmlinux(0x1000850), true},
		{"bzImage", testBzImage(), true},
		{"not ELF", []byte("text"), true},
		{"plain ELF64 guest", validELF().build(), false},
		{"truncated ELF", testVmlinux(0)[:100], false},
	} {
		if got := IsLinuxKernel(c.image); got != c.want {
			t.Errorf("%s: IsLinuxKernel = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLoadVmlinux(t *testing.T) {
	m := newLinuxMachine(t, testRAM)
	img := testVmlinux(0)
	if err := m.LoadLinux(img, pattern(100, 2), "root=/dev/vda"); err != nil {
		t.Fatal(err)
	}
	ram := m.Mem.RAM
	le := binary.LittleEndian
	if !bytes.Equal(ram[0x1000000:0x1002000], img[0x1000:0x3000]) || ram[0x1200100] != 0 {
		t.Error("segments not loaded")
	}
	if m.CPU.RIP != 0x1000000 || m.CPU.R[cpu.RSI] != LinuxBootParamsAddr {
		t.Errorf("RIP %#x RSI %#x", m.CPU.RIP, m.CPU.R[cpu.RSI])
	}
	bp := ram[LinuxBootParamsAddr:]
	// No setup header in the image: the loader writes the fields the
	// kernel reads.
	if le.Uint16(bp[0x1FE:]) != 0xAA55 || string(bp[0x202:0x206]) != "HdrS" || bp[0x210] != 0xFF {
		t.Error("synthesized setup header missing")
	}
	if at := le.Uint32(bp[0x218:]); at < 0x1210000 || le.Uint32(bp[0x21C:]) != 100 {
		t.Errorf("initrd at %#x", at)
	}
	m = newLinuxMachine(t, 16<<20)
	if err := m.LoadLinux(img, nil, ""); err == nil || !strings.Contains(err.Error(), "-m") {
		t.Errorf("vmlinux in 16 MiB: %v", err)
	}
	m = newLinuxMachine(t, testRAM)
	if err := m.LoadLinux(img, nil, strings.Repeat("x", 2048)); err == nil || !strings.Contains(err.Error(), "2047") {
		t.Errorf("2048-byte command line: %v", err)
	}
}

// TestInstalledBzImage loads Debian's kernel and runs its decompressor's
// first instructions: it gets past the 64-bit entry, relocates itself and
// is still running.
func TestInstalledBzImage(t *testing.T) {
	img, err := os.ReadFile(testenv.LinuxKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	m := newLinuxMachine(t, 256<<20)
	if err := m.LoadLinux(img, nil, "console=ttyS0"); err != nil {
		t.Fatal(err)
	}
	if m.CPU.RIP%0x200000 != 0x200 {
		t.Errorf("startup_64 at %#x", m.CPU.RIP)
	}
	if exit := m.Run(1_500_000); exit.Reason != ExitInsnLimit {
		t.Fatalf("the decompressor stopped: %v at position %d, RIP %#x", exit.Reason, m.CPU.Retired, m.CPU.RIP)
	}
	// By then it has copied itself to the end of its init_size buffer
	// (REP MOVSQ, one position per iteration) and runs from there.
	le := binary.LittleEndian
	load, initSize := le.Uint64(img[0x258:]), uint64(le.Uint32(img[0x260:]))
	if rip := m.CPU.RIP; rip < load+uint64(len(img)) || rip >= load+initSize {
		t.Errorf("RIP %#x is not in the relocated decompressor (%#x..%#x)", rip, load+uint64(len(img)), load+initSize)
	}
	if _, err := loadBzImage(m.Mem, img[:len(img)/2]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("half the kernel: %v", err)
	}
}

// TestTimeFrequenciesAgree checks that the frequency CPUID advertises (Linux
// trusts it instead of calibrating) is the one the guest clock's TSC and the
// local APIC timer count at.
func TestTimeFrequenciesAgree(t *testing.T) {
	if cpu.TSCHz != devices.LAPICTimerHz {
		t.Errorf("CPUID says %d Hz, the APIC timer counts at %d Hz", cpu.TSCHz, devices.LAPICTimerHz)
	}
	pos := uint64(0)
	g := NewGuestClock(ClockVirtual, func() uint64 { return pos })
	pos = 1_000_000 // a million instructions at the virtual clock's 1 ns each
	if ticks, ns := g.TSC(pos), g.Now(); ticks*1_000_000_000 != ns*cpu.TSCHz {
		t.Errorf("%d TSC ticks in %d ns: not %d Hz", ticks, ns, cpu.TSCHz)
	}
}

func TestLoadPVH(t *testing.T) {
	m := newLinuxMachine(t, testRAM)
	initrd := pattern(3000, 4)
	e, err := m.LoadPVH(testVmlinux(0x1000850), initrd, "console=ttyS0")
	if err != nil {
		t.Fatal(err)
	}
	if e != (PVHEntry{EIP: 0x1000850, StartInfo: PVHStartInfoAddr}) {
		t.Errorf("entry %+v", e)
	}
	ram := m.Mem.RAM
	le := binary.LittleEndian
	si := ram[PVHStartInfoAddr:]
	if le.Uint32(si) != 0x336EC578 || le.Uint32(si[4:]) != 1 || le.Uint32(si[12:]) != 1 {
		t.Fatalf("start info magic %#x version %d modules %d", le.Uint32(si), le.Uint32(si[4:]), le.Uint32(si[12:]))
	}
	cl := le.Uint64(si[24:])
	if got, _, _ := strings.Cut(string(ram[cl:cl+64]), "\x00"); got != "console=ttyS0" {
		t.Errorf("cmdline %q", got)
	}
	if rsdp := le.Uint64(si[32:]); string(ram[rsdp:rsdp+8]) != "RSD PTR " {
		t.Errorf("rsdp_paddr %#x", rsdp)
	}
	mod := ram[le.Uint64(si[16:]):]
	at, size := le.Uint64(mod), le.Uint64(mod[8:])
	if size != uint64(len(initrd)) || !bytes.Equal(ram[at:at+size], initrd) {
		t.Errorf("module 0 at %#x size %d", at, size)
	}
	mm, n := ram[le.Uint64(si[40:]):], int(le.Uint32(si[48:]))
	want := memoryMap(testRAM)
	if n != len(want) {
		t.Fatalf("%d memory map entries", n)
	}
	for i, w := range want {
		b := mm[24*i:]
		if got := (e820Entry{le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:])}); got != w {
			t.Errorf("memmap[%d] = %+v, want %+v", i, got, w)
		}
	}
	for _, c := range []struct {
		name  string
		image []byte
		want  string
	}{
		{"no note", testVmlinux(0), "no PVH entry note"},
		{"entry outside the kernel", testVmlinux(0x500000), "outside the kernel"},
	} {
		if _, err := newLinuxMachine(t, testRAM).LoadPVH(c.image, nil, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// FuzzLoadLinux feeds damaged kernels to the Linux loaders (bzImage,
// vmlinux and PVH): any input ends in an error or a loaded kernel, never a
// panic.
func FuzzLoadLinux(f *testing.F) {
	f.Add(testBzImage()[:0x400])
	f.Add(testVmlinux(0x1000850))
	f.Add(testBzImage())
	m, err := New(Config{RAM: 32 << 20}) // reused: only panics matter
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, image []byte) {
		mu.Lock()
		defer mu.Unlock()
		m.LoadLinux(image, []byte("initrd"), "console=ttyS0")
		if isELF(image) {
			m.LoadPVH(image, nil, "")
		}
		IsLinuxKernel(image)
	})
}
