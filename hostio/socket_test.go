package hostio

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"ftvm/netswitch"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

// TestSocketBackendSwitch connects three socket backends to an in-process
// switch and exchanges broadcast and learned unicast frames.
func TestSocketBackendSwitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switch.sock")
	sw, err := netswitch.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- sw.Serve() }()
	defer func() {
		sw.Close()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	const n = 3
	inbox := make([]chan devices.Input, n)
	ends := make([]Net, n)
	macs := make([][6]byte, n)
	for i := range ends {
		inbox[i] = make(chan devices.Input, 16)
		ch := inbox[i]
		ends[i], err = OpenNet("socket:"+path, func(in devices.Input) { ch <- in }, uint8(i))
		if err != nil {
			t.Fatal(err)
		}
		defer ends[i].Close()
		macs[i] = devices.DefaultMAC(i)
	}
	// The backends registered with empty datagrams; wait until the switch
	// has seen all three.
	testenv.Poll(t, 5*time.Second, "the switch to know every port", func() bool { return sw.Stats().Ports >= n })

	expect := func(who int, want []byte) {
		t.Helper()
		select {
		case in := <-inbox[who]:
			if in.Kind != devices.InputFrame || in.Dev != uint8(who) || !bytes.Equal(in.Data, want) {
				t.Fatalf("endpoint %d got %+v", who, in)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("endpoint %d received nothing", who)
		}
	}
	quiet := func(who int) {
		t.Helper()
		select {
		case in := <-inbox[who]:
			t.Fatalf("endpoint %d got an unexpected frame % x", who, in.Data[:14])
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Everyone broadcasts once: the others all receive it, and the switch
	// learns each source.
	for i := 0; i < n; i++ {
		f := ethFrame(bcast, macs[i], 60, byte(i))
		if err := ends[i].Send(f); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < n; j++ {
			if j != i {
				expect(j, f)
			}
		}
		quiet(i)
	}
	// Learned unicast: 0 -> 2 and 2 -> 1 reach only their destination.
	f := ethFrame(macs[2], macs[0], 100, 7)
	ends[0].Send(f)
	expect(2, f)
	quiet(1)
	quiet(0)
	f = ethFrame(macs[1], macs[2], 1514, 8)
	ends[2].Send(f)
	expect(1, f)
	quiet(0)
	// An unknown unicast destination is flooded.
	f = ethFrame(devices.DefaultMAC(40), macs[1], 60, 9)
	ends[1].Send(f)
	expect(0, f)
	expect(2, f)
	quiet(1)
	if st := sw.Stats(); st.MACs != n || st.Ports != n {
		t.Errorf("switch stats %+v", st)
	}
}

// bcast is the Ethernet broadcast address.
var bcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ethFrame returns an n-byte Ethernet frame from src to dst of a local
// experimental EtherType, its payload derived from seed.
func ethFrame(dst, src [6]byte, n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f[0:], dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x88B5)
	for i := 14; i < n; i++ {
		f[i] = byte(i) + seed
	}
	return f
}
