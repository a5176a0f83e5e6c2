package cpu

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ftvm/internal/testenv"
	"ftvm/mmu"
)

// Test harness shared by the family tests: a CPU in 64-bit long mode with an
// identity map of the first 1 GiB (2 MiB pages), code at codeBase, and an
// assembler for Intel-syntax snippets.

const (
	testRAM   = 16 << 20
	codeBase  = 0x100000
	dataBase  = 0x200000 // a scratch data page for tests
	stackTop  = 0x80000
	testPML4  = 0x1000
	testGDT   = 0x500
	testPDPT  = 0x2000
	testPD    = 0x3000
	testFlags = 0x2
)

// fixedEnv is a deterministic Env for tests.
type fixedEnv struct{}

func (fixedEnv) TSC(pos uint64) uint64 { return pos * 3 }
func (fixedEnv) Random(pos uint64, seed bool) (uint64, bool) {
	return pos*0x9E3779B97F4A7C15 + 1, true
}

// newTestCPU returns a CPU ready to run 64-bit code at CPL 0.
func newTestCPU(t testing.TB) *CPU {
	t.Helper()
	mem, err := mmu.NewMemory(testRAM)
	if err != nil {
		t.Fatal(err)
	}
	ram := mem.RAM
	put := func(a uint64, v uint64) { binary.LittleEndian.PutUint64(ram[a:], v) }
	// GDT: null, 0x08 64-bit code, 0x10 data, 0x18 user data, 0x20 user code.
	put(testGDT+0x08, 0x00209A0000000000)
	put(testGDT+0x10, 0x0000920000000000)
	put(testGDT+0x18, 0x0000F20000000000)
	put(testGDT+0x20, 0x0020FA0000000000)
	put(testPML4, testPDPT|3)
	put(testPDPT, testPD|3)
	for i := uint64(0); i < 512; i++ {
		put(testPD+i*8, i<<21|0x83)
	}
	c := New(mem, fixedEnv{})
	c.GDTR = DTR{Base: testGDT, Limit: 0x27}
	c.Seg[CS] = Segment{Selector: 0x08, Limit: 0xFFFFFFFF, Attr: 0x9B | SegAttrL | 0x8000}
	for _, s := range []int{DS, ES, SS, FS, GS} {
		c.Seg[s] = Segment{Selector: 0x10, Limit: 0xFFFFFFFF, Attr: 0x93 | SegAttrD | 0x8000}
	}
	c.CR0 = CR0PE | CR0MP | CR0ET | CR0NE | CR0WP | CR0PG
	c.CR4 = CR4PAE | CR4OSFXSR | CR4OSXMMEXCPT
	c.CR3 = testPML4
	c.EFER = EFERLME | EFERLMA | EFERNXE | EFERSCE
	c.R[RSP] = stackTop
	c.SetRFLAGS(testFlags)
	c.StateChanged()
	return c
}

// load copies code to codeBase followed by HLT and points RIP at it.
func load(c *CPU, code []byte) {
	n := copy(c.ram[codeBase:], code)
	c.ram[codeBase+n] = 0xF4
	c.RIP = codeBase
}

// runCode runs code (then HLT) on c and fails the test unless it halts.
func runCode(t testing.TB, c *CPU, code []byte) {
	t.Helper()
	load(c, code)
	if r := c.Run(1_000_000); r != StopHalt {
		t.Fatalf("run stopped with %v at RIP %#x, want halt", r, c.RIP)
	}
}

var (
	asmMu    sync.Mutex
	asmCache = map[string][]byte{}
)

// assemble turns Intel-syntax assembly into 64-bit machine code with the
// host's GNU assembler; several instructions may be separated by ';' or
// newlines. Tests that use it skip when no assembler is installed.
func assemble(t testing.TB, src string) []byte {
	t.Helper()
	asmMu.Lock()
	defer asmMu.Unlock()
	if b, ok := asmCache[src]; ok {
		return b
	}
	as := testenv.Program(t, "as")
	dir := t.TempDir()
	s := filepath.Join(dir, "a.s")
	o := filepath.Join(dir, "a.o")
	bin := filepath.Join(dir, "a.bin")
	text := ".intel_syntax noprefix\n.code64\n" + strings.ReplaceAll(src, ";", "\n") + "\n"
	if err := os.WriteFile(s, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(as, "--64", "-o", o, s).CombinedOutput(); err != nil {
		t.Fatalf("as: %v\n%s\nsource:\n%s", err, out, text)
	}
	if out, err := exec.Command("objcopy", "-O", "binary", "-j", ".text", o, bin).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	asmCache[src] = b
	return b
}

// runAsm assembles src and runs it on a fresh CPU after setup, returning it.
func runAsm(t testing.TB, src string, setup func(c *CPU)) *CPU {
	t.Helper()
	c := newTestCPU(t)
	if setup != nil {
		setup(c)
	}
	runCode(t, c, assemble(t, src))
	return c
}

func TestHarnessHalts(t *testing.T) {
	c := runAsm(t, "nop", nil)
	if c.RIP != codeBase+2 {
		t.Errorf("RIP after nop; hlt = %#x, want %#x", c.RIP, codeBase+2)
	}
	if c.Retired != 2 {
		t.Errorf("retired %d, want 2", c.Retired)
	}
}

// valueCheck is a value a test read back and the value it must have.
type valueCheck struct {
	name      string
	got, want uint64
}

// checkValues reports each check whose value is wrong.
func checkValues(t *testing.T, checks []valueCheck) {
	t.Helper()
	for _, k := range checks {
		if k.got != k.want {
			t.Errorf("%s = %#x, want %#x", k.name, k.got, k.want)
		}
	}
}
