package main

import (
	"bufio"

	"golang.org/x/sys/unix"
)

// The interactive console: when `ftvm run --serial stdio` has a terminal on
// stdin, the terminal is put in raw mode so every key, Ctrl-C and Ctrl-Z
// included, reaches the guest's COM1, and the guest's output is written as
// it comes. As with QEMU's -nographic, Ctrl-A x quits ftvm and Ctrl-A
// Ctrl-A sends one Ctrl-A to the guest.
const (
	escapeKey  = 0x01 // Ctrl-A
	escapeQuit = 'x'
)

// escapeFilter takes the Ctrl-A escapes out of typed input.
type escapeFilter struct {
	armed bool // the last byte was an unpaired Ctrl-A
}

// filter returns the bytes of in meant for the guest and whether the quit
// escape was typed (the bytes after it are dropped). A Ctrl-A followed by
// anything else than x or Ctrl-A is dropped with it.
func (e *escapeFilter) filter(in []byte) (out []byte, quit bool) {
	for _, c := range in {
		switch {
		case e.armed:
			e.armed = false
			switch c {
			case escapeQuit:
				return out, true
			case escapeKey:
				out = append(out, escapeKey)
			}
		case c == escapeKey:
			e.armed = true
		default:
			out = append(out, c)
		}
	}
	return out, false
}

// rawTerminal puts the terminal fd in raw mode (no line editing, echo or
// signal keys; output processing kept, so ftvm's own messages still start
// at the left margin) and returns the function that restores it. It fails
// when fd is not a terminal.
func rawTerminal(fd int) (restore func(), err error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	old := *t
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, &old) }, nil
}

// flushWriter writes through a bufio.Writer and flushes after every write:
// the interactive console shows each echoed key at once.
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}
