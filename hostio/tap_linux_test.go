//go:build linux

package hostio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

// TestTAP creates a TAP interface, gives it an address, and asks the host
// kernel for it with ARP through the backend: the ARP reply must come back
// through the reader as an devices.InputFrame.
func TestTAP(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testenv.Missing(t, "no /dev/net/tun: %v", err)
	}
	frames := make(chan devices.Input, 64)
	name := fmt.Sprintf("ftvmt%d", os.Getpid()%100000)
	tap, err := OpenTAP(name, func(in devices.Input) { frames <- in }, 3)
	if err != nil {
		testenv.Missing(t, "cannot create a TAP interface here: %v", err)
	}
	defer tap.Close()
	if tap.Name() != name {
		t.Errorf("name %q, want %q", tap.Name(), name)
	}
	// 198.51.100.0/24 is TEST-NET-2 (RFC 5737): never routed.
	hostIP, guestIP := []byte{198, 51, 100, 1}, []byte{198, 51, 100, 2}
	if err := ifconfig(name, hostIP); err != nil {
		testenv.Missing(t, "cannot configure %s: %v", name, err)
	}
	mac := devices.DefaultMAC(9)
	arp := make([]byte, 42)
	copy(arp[0:], bcast[:])
	copy(arp[6:], mac[:])
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	copy(arp[14:], []byte{0, 1, 8, 0, 6, 4, 0, 1}) // Ethernet, IPv4, request
	copy(arp[22:], mac[:])
	copy(arp[28:], guestIP)
	copy(arp[38:], hostIP)
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	if err := tap.Send(arp); err != nil {
		t.Fatalf("send: %v", err)
	}
	for {
		select {
		case in := <-frames:
			f := in.Data
			if in.Kind != devices.InputFrame || in.Dev != 3 {
				t.Fatalf("input %+v", in)
			}
			// An ARP reply (opcode 2) to our MAC, for the host address.
			if len(f) >= 42 && bytes.Equal(f[0:6], mac[:]) && binary.BigEndian.Uint16(f[12:]) == 0x0806 &&
				binary.BigEndian.Uint16(f[20:]) == 2 && bytes.Equal(f[28:32], hostIP) {
				return
			}
		case <-tick.C:
			tap.Send(arp)
		case <-deadline:
			t.Fatal("no ARP reply through the TAP interface")
		}
	}
}

// ifconfig gives interface name the address ip/24 and brings it up.
func ifconfig(name string, ip []byte) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := ifr.SetInet4Addr(ip); err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
		return err
	}
	ifr, _ = unix.NewIfreq(name)
	ifr.SetInet4Addr([]byte{255, 255, 255, 0})
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, ifr); err != nil {
		return err
	}
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func TestOpenNetSpecs(t *testing.T) {
	for _, spec := range []string{"", "tap:", "socket:", "bogus", "tap", "none:x"} {
		if b, err := OpenNet(spec, nil, 0); err == nil {
			b.Close()
			t.Errorf("spec %q accepted", spec)
		}
	}
	b, err := OpenNet("none", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Send([]byte{1, 2, 3}); err != nil {
		t.Error(err)
	}
	b.Close()
	if _, err := OpenNet("socket:/nonexistent/switch.sock", nil, 0); err == nil {
		t.Error("socket backend without a switch opened")
	}
}
