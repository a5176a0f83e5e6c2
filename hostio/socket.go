package hostio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"ftvm/devices"
)

// SocketKeepalive is how often a socket backend tells its switch it is
// there (an empty datagram), so that the switch keeps its port while the
// guest is silent. It is well below the switch's idle expiry (60 s).
const SocketKeepalive = 20 * time.Second

// Socket is a net backend that exchanges frames, one per datagram, with a
// switch on a unix datagram socket. It binds its own socket at an address
// the kernel chooses (Linux autobind, in the abstract namespace) or, where
// that fails, in a temporary directory; it sends an empty datagram at once
// and every SocketKeepalive so that the switch learns its address. A reader
// goroutine posts received frames as devices.InputFrame inputs for device Dev.
type Socket struct {
	conn *net.UnixConn
	raw  interface {
		Write(func(uintptr) bool) error
	}
	peer    unix.Sockaddr
	tmpDir  string
	dev     uint8
	post    func(devices.Input)
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	closeEr error
}

var _ Net = (*Socket)(nil)

// OpenSocket connects device dev to the switch listening at path.
func OpenSocket(path string, post func(devices.Input), dev uint8) (*Socket, error) {
	conn, tmpDir, err := bindDatagram()
	if err != nil {
		return nil, fmt.Errorf("socket:%s: %w", path, err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("socket:%s: %w", path, err)
	}
	s := &Socket{
		conn:   conn,
		raw:    rc,
		peer:   &unix.SockaddrUnix{Name: path},
		tmpDir: tmpDir,
		dev:    dev,
		post:   post,
		stop:   make(chan struct{}),
	}
	if err := s.Send(nil); err != nil {
		s.Close()
		return nil, fmt.Errorf("socket:%s: no switch: %w", path, err)
	}
	s.wg.Add(2)
	go s.reader()
	go s.keepalive()
	return s, nil
}

// bindDatagram returns a unix datagram socket bound to an address of its
// own: autobound on Linux, else in a new temporary directory (returned, for
// removal).
func bindDatagram() (*net.UnixConn, string, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, "", err
	}
	unix.CloseOnExec(fd)
	var tmpDir string
	// An address of the family alone asks Linux to autobind a unique
	// abstract name.
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		tmpDir, err = os.MkdirTemp("", "ftvm-net-")
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(tmpDir, "sock")})
		}
		if err != nil {
			unix.Close(fd)
			if tmpDir != "" {
				os.RemoveAll(tmpDir)
			}
			return nil, "", fmt.Errorf("bind: %w", err)
		}
	}
	f := os.NewFile(uintptr(fd), "ftvm-net-socket")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
		return nil, "", err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, "", errors.New("not a unix socket")
	}
	return uc, tmpDir, nil
}

// LocalAddr returns the backend's own socket address.
func (s *Socket) LocalAddr() string { return s.conn.LocalAddr().String() }

// Send implements devices.NetBackend. It never waits: when the switch cannot take
// the frame at once, or is gone, the frame is dropped and an error
// returned.
func (s *Socket) Send(frame []byte) error {
	var serr error
	if err := s.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, unix.MSG_DONTWAIT, s.peer)
		return true
	}); err != nil {
		return err
	}
	return serr
}

func (s *Socket) reader() {
	defer s.wg.Done()
	buf := make([]byte, devices.MaxFrameSize+1)
	for {
		n, _, err := s.conn.ReadFromUnix(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.stop:
				return
			default:
			}
			continue // a transient error on a datagram socket
		}
		if n == 0 || s.post == nil {
			continue
		}
		s.post(devices.Input{Kind: devices.InputFrame, Dev: s.dev, Data: append([]byte(nil), buf[:n]...)})
	}
}

func (s *Socket) keepalive() {
	defer s.wg.Done()
	tick := time.NewTicker(SocketKeepalive)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.Send(nil)
		}
	}
}

// Close stops the reader and closes the socket.
func (s *Socket) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.closeEr = s.conn.Close()
		s.wg.Wait()
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
	})
	return s.closeEr
}
