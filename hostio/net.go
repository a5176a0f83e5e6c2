package hostio

import (
	"fmt"
	"io"
	"strings"

	"ftvm/devices"
)

// Net is a net backend that holds host resources.
type Net interface {
	devices.NetBackend
	io.Closer
}

// openTAP opens a TAP backend; nil where TAP is not supported.
var openTAP func(name string, post func(devices.Input), dev uint8) (Net, error)

// OpenNet opens the net backend that spec names for net device dev;
// received frames are posted as devices.InputFrame inputs through post:
//
//	none         no link: transmitted frames are discarded, nothing is received
//	tap:NAME     the Linux TAP interface NAME
//	socket:PATH  a switch (ftvm switch PATH) on the unix datagram socket PATH
func OpenNet(spec string, post func(devices.Input), dev uint8) (Net, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "none":
		return NoNet{}, nil
	case kind == "tap" && arg != "":
		if openTAP == nil {
			return nil, fmt.Errorf("net %q: TAP is not supported on this system", spec)
		}
		return openTAP(arg, post, dev)
	case kind == "socket" && arg != "":
		return OpenSocket(arg, post, dev)
	}
	return nil, fmt.Errorf("net %q: want none, tap:NAME or socket:PATH", spec)
}

// NoNet is the backend of a device without a link.
type NoNet struct{}

// Send implements devices.NetBackend; the frame is discarded.
func (NoNet) Send(frame []byte) error { return nil }

// Close implements io.Closer.
func (NoNet) Close() error { return nil }
