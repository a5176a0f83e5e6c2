package main

import (
	"bytes"
	"os"
	"testing"
)

func TestEscapeFilter(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []string // successive reads
		out  string
		quit bool
	}{
		{"plain", []string{"ls\r"}, "ls\r", false},
		{"Ctrl-C passes", []string{"\x03"}, "\x03", false},
		{"quit", []string{"ab\x01xcd"}, "ab", true},
		{"quit split across reads", []string{"ab\x01", "x"}, "ab", true},
		{"literal Ctrl-A", []string{"\x01\x01z"}, "\x01z", false},
		{"unknown escape dropped", []string{"\x01qz"}, "z", false},
		{"x alone", []string{"x"}, "x", false},
	} {
		var e escapeFilter
		var got []byte
		quit := false
		for _, r := range c.in {
			out, q := e.filter([]byte(r))
			got = append(got, out...)
			if q {
				quit = true
				break
			}
		}
		if !bytes.Equal(got, []byte(c.out)) || quit != c.quit {
			t.Errorf("%s: %q quit %v, want %q quit %v", c.name, got, quit, c.out, c.quit)
		}
	}
}

func TestRawTerminalNeedsATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := rawTerminal(int(r.Fd())); err == nil {
		t.Error("a pipe was put in raw mode")
	}
}
