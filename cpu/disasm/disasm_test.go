package disasm

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
)

// backends lists the decoders compiled into this test binary.
func backends() map[string]func([]byte, uint64) (Inst, error) {
	m := map[string]func([]byte, uint64) (Inst, error){"x86asm": decodeX86asm}
	m[Backend] = Decode
	return m
}

func TestDecodeKnown(t *testing.T) {
	tests := []struct {
		name     string
		code     []byte
		addr     uint64
		len      int
		mnemonic []string // accepted spellings (backends differ on aliases)
		prefixes string
		contains string // substring expected in Text
	}{
		{"add", []byte{0x48, 0x01, 0xd8}, 0, 3, []string{"add"}, "", "rax, rbx"},
		{"rep movsq", []byte{0xf3, 0x48, 0xa5}, 0, 3, []string{"movsq"}, "rep", "rep movsq"},
		{"syscall", []byte{0x0f, 0x05}, 0, 2, []string{"syscall"}, "", ""},
		{"call fwd", []byte{0xe8, 0xfb, 0x0f, 0x00, 0x00}, 0x1000, 5, []string{"call"}, "", "0x2000"},
		{"call back", []byte{0xe8, 0xf6, 0xff, 0xff, 0xff}, 0x401000, 5, []string{"call"}, "", "0x400ffb"},
		{"call addr0", []byte{0xe8, 0x0b, 0x00, 0x00, 0x00}, 0, 5, []string{"call"}, "", "0x10"},
		{"jz short", []byte{0x74, 0x10}, 0xffff800000001000, 2, []string{"jz", "je"}, "", "0xffff800000001012"},
		{"nop word", []byte{0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}, 0, 6, []string{"nop"}, "", "word"},
		{"ud2", []byte{0x0f, 0x0b}, 0, 2, []string{"ud2"}, "", ""},
		{"lock cmpxchg", []byte{0xf0, 0x48, 0x0f, 0xb1, 0x0f}, 0, 5, []string{"cmpxchg"}, "lock", "lock cmpxchg"},
		{"repne scasb", []byte{0xf2, 0xae}, 0, 2, []string{"scasb"}, "repne", ""},
		{"movabs", []byte{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 0, 10, []string{"mov", "movabs"}, "", "0x807060504030201"},
		{"mov cr3", []byte{0x0f, 0x22, 0xd8}, 0, 3, []string{"mov"}, "", "cr3, rax"},
		{"fs load", []byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0}, 0, 9, []string{"mov"}, "", "fs:"},
		{"iretq", []byte{0x48, 0xcf}, 0, 2, []string{"iretq"}, "", ""},
		{"hlt+junk", []byte{0xf4, 0xff, 0xff}, 0, 1, []string{"hlt"}, "", ""},
		{"vzeroupper", []byte{0xc5, 0xf8, 0x77}, 0, 3, []string{"vzeroupper"}, "", ""},
		{"truncated rex", []byte{0x48}, 0, 0, nil, "", ""},
		{"truncated call", []byte{0xe8, 0x00, 0x00}, 0, 0, nil, "", ""},
		{"truncated 0f", []byte{0x0f}, 0, 0, nil, "", ""},
		{"push es (invalid in 64-bit)", []byte{0x06}, 0, 0, nil, "", ""},
		{"empty", nil, 0, 0, nil, "", ""},
	}
	for bname, dec := range backends() {
		for _, tc := range tests {
			t.Run(bname+"/"+tc.name, func(t *testing.T) {
				inst, err := dec(tc.code, tc.addr)
				if tc.len == 0 {
					if err == nil {
						t.Fatalf("% x: got %+v, want error", tc.code, inst)
					}
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("error %v does not wrap ErrInvalid", err)
					}
					if inst.Len != 0 {
						t.Errorf("Len = %d on error, want 0", inst.Len)
					}
					return
				}
				if err != nil {
					t.Fatalf("% x: %v", tc.code, err)
				}
				if inst.Len != tc.len {
					t.Errorf("Len = %d, want %d (%q)", inst.Len, tc.len, inst.Text)
				}
				ok := false
				for _, m := range tc.mnemonic {
					ok = ok || inst.Mnemonic == m
				}
				if !ok {
					t.Errorf("Mnemonic = %q, want one of %q (%q)", inst.Mnemonic, tc.mnemonic, inst.Text)
				}
				if inst.Prefixes != tc.prefixes {
					t.Errorf("Prefixes = %q, want %q", inst.Prefixes, tc.prefixes)
				}
				if !strings.Contains(inst.Text, tc.contains) {
					t.Errorf("Text = %q, want it to contain %q", inst.Text, tc.contains)
				}
				if inst.Text != strings.ToLower(inst.Text) {
					t.Errorf("Text %q is not lowercase", inst.Text)
				}
			})
		}
	}
}

func TestLines(t *testing.T) {
	code := []byte{0x48, 0x01, 0xd8, 0x06, 0x0f, 0x05, 0xe8}
	got := Lines(code, 0x1000)
	want := []string{
		fmt.Sprintf("%016x  %-30s  %s", 0x1000, "4801d8", "add rax, rbx"),
		fmt.Sprintf("%016x  %-30s  %s", 0x1003, "06", "(bad)"),
		fmt.Sprintf("%016x  %-30s  %s", 0x1004, "0f05", "syscall"),
		fmt.Sprintf("%016x  %-30s  %s", 0x1006, "e8", "(bad)"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if Lines(nil, 0) != nil {
		t.Errorf("Lines(nil) not empty")
	}
}

func TestConcurrentDecode(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				inst, err := Decode([]byte{0xf3, 0x48, 0xa5}, uint64(i))
				if err != nil || inst.Mnemonic != "movsq" {
					t.Errorf("concurrent decode: %+v %v", inst, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRandomNoPanic feeds random bytes to every backend and checks the
// basic contract: no panic, Len within bounds, error iff Len 0.
func TestRandomNoPanic(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	buf := make([]byte, 20)
	for bname, dec := range backends() {
		for i := 0; i < 5000; i++ {
			n := r.Intn(len(buf) + 1)
			r.Read(buf[:n])
			inst, err := dec(buf[:n], r.Uint64())
			if err != nil {
				if inst.Len != 0 {
					t.Fatalf("%s % x: Len %d with error %v", bname, buf[:n], inst.Len, err)
				}
				continue
			}
			if inst.Len <= 0 || inst.Len > n || inst.Len > MaxInstLen || inst.Mnemonic == "" {
				t.Fatalf("%s % x: bad result %+v", bname, buf[:n], inst)
			}
		}
	}
}

// TestBackendAgreement compares instruction lengths between capstone and
// x86asm on random byte strings. It needs the capstone build tag.
func TestBackendAgreement(t *testing.T) {
	if Backend != "capstone" {
		t.Skip("only one backend compiled in; run with -tags capstone to compare")
	}
	const samples = 20000
	r := rand.New(rand.NewSource(1))
	buf := make([]byte, MaxInstLen)
	var both, neither, onlyCS, onlyX86, lenDiff int
	var examples []string
	note := func(s string) {
		if len(examples) < 20 {
			examples = append(examples, s)
		}
	}
	for i := 0; i < samples; i++ {
		r.Read(buf)
		cs, errCS := Decode(buf, 0x1000)
		xa, errX := decodeX86asm(buf, 0x1000)
		switch {
		case errCS != nil && errX != nil:
			neither++
		case errX != nil:
			onlyCS++
		case errCS != nil:
			onlyX86++
		default:
			both++
			if cs.Len != xa.Len {
				lenDiff++
				note(fmt.Sprintf("len %x: capstone %d %q, x86asm %d %q", buf, cs.Len, cs.Text, xa.Len, xa.Text))
			}
		}
	}
	rate := float64(lenDiff) / float64(max(both, 1))
	t.Logf("%d samples: both accept %d, neither %d, only capstone %d (%.2f%%), only x86asm %d (%.2f%%)",
		samples, both, neither, onlyCS, 100*float64(onlyCS)/samples, onlyX86, 100*float64(onlyX86)/samples)
	t.Logf("length disagreements where both accept: %d (%.3f%%)", lenDiff, 100*rate)
	for _, e := range examples {
		t.Log(e)
	}
	if rate > 0.005 {
		t.Errorf("length disagreement rate %.3f%% exceeds 0.5%%", 100*rate)
	}
}

// TestDecodeMode32 decodes encodings whose meaning differs in 32-bit code
// with every backend.
func TestDecodeMode32(t *testing.T) {
	backends := map[string]func([]byte, uint64, int) (Inst, error){"x86asm": decodeX86asmMode}
	backends[Backend] = DecodeMode
	tests := []struct {
		code     []byte
		len      int
		mnemonic string
		contains string
	}{
		{[]byte{0x40}, 1, "inc", "eax"},
		{[]byte{0x06}, 1, "push", "es"},
		{[]byte{0xc4, 0x06}, 2, "les", "esi"},
		{[]byte{0x60}, 1, "pusha", ""},
		{[]byte{0xc5, 0xf8, 0x77}, 3, "vzeroupper", ""},
		{[]byte{0xe8, 0xfb, 0x0f, 0x00, 0x00}, 5, "call", "0x2000"},
	}
	for bname, dec := range backends {
		for _, tc := range tests {
			inst, err := dec(tc.code, 0x1000, 32)
			if err != nil || inst.Len != tc.len || !strings.HasPrefix(inst.Mnemonic, tc.mnemonic) || !strings.Contains(inst.Text, tc.contains) {
				t.Errorf("%s % x: %+v %v, want %d bytes %s ... %s", bname, tc.code, inst, err, tc.len, tc.mnemonic, tc.contains)
			}
		}
	}
}
