package gdbstub

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestConnRead(t *testing.T) {
	tests := []struct {
		name, in string
		want     event
		acks     string
	}{
		{"plain", "+$g#67", event{packet: "g"}, "+"},
		{"bad checksum asked again", "$g#00$g#67", event{packet: "g"}, "-+"},
		{"interrupt", "\x03", event{interrupt: true}, ""},
		{"binary escape", "$X0,1:}]#" + sum("X0,1:}]"), event{packet: "X0,1:}"}, "+"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := &conn{r: bufio.NewReader(strings.NewReader(tc.in)), w: &out}
			got, err := c.read()
			if err != nil || got != tc.want || out.String() != tc.acks {
				t.Errorf("read = %+v, %v, acks %q; want %+v, acks %q", got, err, out.String(), tc.want, tc.acks)
			}
		})
	}
}

func sum(s string) string {
	var b byte
	for i := 0; i < len(s); i++ {
		b += s[i]
	}
	const hex = "0123456789abcdef"
	return string([]byte{hex[b>>4], hex[b&15]})
}

func TestConnReplyEscapes(t *testing.T) {
	var out bytes.Buffer
	c := &conn{w: &out}
	c.reply("a#b")
	if want := "$a}\x03b#" + sum("a}\x03b"); out.String() != want {
		t.Errorf("reply = %q, want %q", out.String(), want)
	}
}

func TestXferRead(t *testing.T) {
	doc := "0123456789"
	for _, tc := range []struct{ arg, want string }{
		{"0,4", "m0123"}, {"8,4", "l89"}, {"a,4", "l"}, {"x,4", "E00"},
	} {
		if got := xferRead(doc, tc.arg); got != tc.want {
			t.Errorf("xferRead(%q) = %q, want %q", tc.arg, got, tc.want)
		}
	}
	if !strings.Contains(targetXML, `<reg name="mxcsr" bitsize="32" type="i386_mxcsr" regnum="56"`) ||
		!strings.Contains(targetXML, `<reg name="efer"`) {
		t.Errorf("target description lacks mxcsr at 56 or efer:\n%s", targetXML)
	}
}
