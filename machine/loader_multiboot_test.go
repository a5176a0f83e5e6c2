package machine

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/cpu"
)

// mbHeader returns a multiboot header with flags and, for the a.out kludge,
// the address fields.
func mbHeader(flags uint32, addrs ...uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, multibootHeaderMagic)
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint32(b, -(multibootHeaderMagic + flags))
	for _, a := range addrs {
		b = binary.LittleEndian.AppendUint32(b, a)
	}
	return b
}

// aoutImage is a kludge image: 64 bytes of padding, the header (load
// address 0x200000 for the file's start), code bytes, bss to 0x201000.
func aoutImage() []byte {
	img := make([]byte, 64)
	img = append(img, mbHeader(mbFlagAOut|3, 0x200040, 0x200000, 0, 0x201000, 0x200060)...)
	for len(img) < 0x60 {
		img = append(img, 0)
	}
	return append(img, 0xF4, 0xEB, 0xFE) // hlt; jmp .
}

// elf32Image is an ELF32 i386 executable with one PT_LOAD segment at
// paddr holding a multiboot header and code, memsz larger than filesz.
func elf32Image(machine uint16, paddr uint32) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0x100)
	copy(b, "\x7fELF\x01\x01\x01")
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[24:], paddr+0x10) // entry
	le.PutUint32(b[28:], 52)         // phoff
	le.PutUint16(b[42:], 32)
	le.PutUint16(b[44:], 1)
	ph := b[52:]
	le.PutUint32(ph, 1)         // PT_LOAD
	le.PutUint32(ph[4:], 0x80)  // offset
	le.PutUint32(ph[8:], paddr) // vaddr
	le.PutUint32(ph[12:], paddr)
	le.PutUint32(ph[16:], 0x20)   // filesz
	le.PutUint32(ph[20:], 0x1000) // memsz
	copy(b[0x80:], mbHeader(3))
	b[0x90] = 0xF4
	return b
}

func TestLoadMultiboot(t *testing.T) {
	for _, c := range []struct {
		name  string
		image []byte
		entry uint64
		code  uint64 // physical address of the first code byte
	}{
		{"aout", aoutImage(), 0x200060, 0x200060},
		{"elf32", elf32Image(elfMachine86, 0x300000), 0x300010, 0x300010},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newLinuxMachine(t, 64<<20)
			if !IsMultiboot(c.image) {
				t.Fatal("IsMultiboot = false")
			}
			if err := m.LoadImage(c.image, nil, "root=x quiet"); err != nil {
				t.Fatal(err)
			}
			cp := m.CPU
			if cp.RIP != c.entry || cp.R[cpu.RAX] != MultibootMagic || cp.R[cpu.RBX] != MultibootInfoAddr {
				t.Errorf("EIP %#x EAX %#x EBX %#x, want %#x %#x %#x", cp.RIP, cp.R[cpu.RAX], cp.R[cpu.RBX], c.entry, MultibootMagic, MultibootInfoAddr)
			}
			if cp.CR0 != cpu.CR0PE|cpu.CR0ET || cp.EFER != 0 || cp.RFLAGS()&cpu.FlagIF != 0 {
				t.Errorf("CR0 %#x EFER %#x RFLAGS %#x: want protected mode, paging and interrupts off", cp.CR0, cp.EFER, cp.RFLAGS())
			}
			if cs := cp.Seg[cpu.CS]; cs.Attr&cpu.SegAttrD == 0 || cs.Base != 0 || cs.Limit != 0xFFFFFFFF {
				t.Errorf("CS %+v: want flat 32-bit code", cs)
			}
			if got := m.Mem.RAM[c.code]; got != 0xF4 {
				t.Errorf("code byte %#x, want 0xF4", got)
			}
			info := m.Mem.RAM[MultibootInfoAddr:]
			le := binary.LittleEndian
			if f := le.Uint32(info); f != mbInfoMem|mbInfoCmdline|mbInfoMmap|mbInfoName {
				t.Errorf("info flags %#x", f)
			}
			if lo, hi := le.Uint32(info[4:]), le.Uint32(info[8:]); lo != 639 || hi != 63*1024 {
				t.Errorf("mem_lower %d mem_upper %d, want 639 and %d", lo, hi, 63*1024)
			}
			cl := le.Uint32(info[16:])
			if got := string(m.Mem.RAM[cl : cl+12]); got != "root=x quiet" || m.Mem.RAM[cl+12] != 0 {
				t.Errorf("command line %q", got)
			}
			mm, n := le.Uint32(info[48:]), le.Uint32(info[44:])
			if n != 3*24 || le.Uint32(m.Mem.RAM[mm+24:]) != 20 || le.Uint64(m.Mem.RAM[mm+24+28:]) != 0x100000 {
				t.Errorf("memory map of %d bytes at %#x does not hold 3 entries, the third at 1 MiB", n, mm)
			}
			if c.name == "aout" && m.Mem.RAM[0x200FFF] != 0 {
				t.Error("bss not zeroed")
			}
		})
	}
}

func TestLoadMultibootErrors(t *testing.T) {
	badSum := mbHeader(3)
	badSum[8]++
	for _, c := range []struct {
		name  string
		image []byte
		want  string
	}{
		{"no header", append(make([]byte, 100), badSum...), "no multiboot header"},
		{"video mode", mbHeader(1 << 2), "unsupported features"},
		{"not elf", mbHeader(3), "must be a little-endian ELF32"},
		{"x86-64 machine", elf32Image(62, 0x300000), "want i386"},
		{"below 1 MiB", elf32Image(elfMachine86, 0x1000), "not in RAM above"},
		{"beyond RAM", elf32Image(elfMachine86, 0x7F00000), "not in RAM above"},
		{"aout header before the file", mbHeader(mbFlagAOut, 0x200000, 0x100000, 0, 0, 0x200000), "before the file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := newLinuxMachine(t, 64<<20).LoadMultiboot(c.image, nil, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestPVHEntryGuest boots the hello guest through its PVH note, as QEMU does:
// its 32-bit stub (testdata/guests/lib/pvh.S) builds long mode itself from
// the hvm_start_info and reaches _start, whose output must be the golden's.
func TestPVHEntryGuest(t *testing.T) {
	image, err := os.ReadFile(filepath.Join(guestDir, "build", "hello.elf"))
	if err != nil {
		t.Skipf("guest hello not built (run make guests): %v", err)
	}
	var out bytes.Buffer
	m, err := New(Config{Console: &out, Clock: ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.LoadPVH(image, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.CPU.RIP != uint64(e.EIP) || m.CPU.R[cpu.RBX] != PVHStartInfoAddr || m.CPU.Seg[cpu.CS].Selector != LinuxBootCS32 || m.CPU.CR0&cpu.CR0PG != 0 {
		t.Fatalf("entry state: EIP %#x EBX %#x CS %#x CR0 %#x", m.CPU.RIP, m.CPU.R[cpu.RBX], m.CPU.Seg[cpu.CS].Selector, m.CPU.CR0)
	}
	exit := m.Run(100_000_000)
	want, err := os.ReadFile(filepath.Join(guestDir, "hello.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) || exit.Status() != 1 || m.CPU.UD != 0 {
		t.Errorf("exit %v (status %d, #UD %d), output %q, want %q\n%s", exit.Reason, exit.Status(), m.CPU.UD, out.String(), want, m.CPU.Dump())
	}
}
