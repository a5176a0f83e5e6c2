//go:build linux

package hostio

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"ftvm/devices"
)

func init() {
	openTAP = func(name string, post func(devices.Input), dev uint8) (Net, error) {
		return OpenTAP(name, post, dev)
	}
}

// TAP is a net backend on a Linux TAP interface (/dev/net/tun, IFF_TAP |
// IFF_NO_PI): each read or write of the file is one Ethernet frame. A reader
// goroutine posts every received frame as an devices.InputFrame for device Dev.
type TAP struct {
	f    *os.File
	name string
	dev  uint8
	post func(devices.Input)
	done chan struct{}
	once sync.Once
}

var _ Net = (*TAP)(nil)

// OpenTAP attaches to (or creates, with CAP_NET_ADMIN) the TAP interface
// name and starts its reader, which posts received frames for device dev.
func OpenTAP(name string, post func(devices.Input), dev uint8) (*TAP, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tap %s: open /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: TUNSETIFF: %w", name, err)
	}
	// The descriptor is non-blocking, so os.NewFile puts it under the
	// runtime poller: Read blocks only the reader goroutine and Close
	// wakes it.
	t := &TAP{
		f:    os.NewFile(uintptr(fd), "/dev/net/tun"),
		name: ifr.Name(),
		dev:  dev,
		post: post,
		done: make(chan struct{}),
	}
	go t.reader()
	return t, nil
}

// Name returns the interface name the kernel gave.
func (t *TAP) Name() string { return t.name }

func (t *TAP) reader() {
	defer close(t.done)
	buf := make([]byte, devices.MaxFrameSize)
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return // the interface went away
		}
		if n > 0 && t.post != nil {
			t.post(devices.Input{Kind: devices.InputFrame, Dev: t.dev, Data: append([]byte(nil), buf[:n]...)})
		}
	}
}

// Send implements devices.NetBackend. It never waits: when the interface cannot take
// the frame at once, the frame is dropped and an error returned.
func (t *TAP) Send(frame []byte) error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), frame)
		return true
	}); err != nil {
		return err
	}
	return werr
}

// Close stops the reader and closes the interface.
func (t *TAP) Close() error {
	var err error
	t.once.Do(func() {
		err = t.f.Close()
		<-t.done
	})
	return err
}
