package hostio

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ftvm/devices"
	"ftvm/internal/testenv"
)

func writeImage(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type collector struct {
	mu  sync.Mutex
	ins []devices.Input
}

func (c *collector) post(in devices.Input) {
	c.mu.Lock()
	c.ins = append(c.ins, in)
	c.mu.Unlock()
}

func TestOpenDiskImage(t *testing.T) {
	tests := []struct {
		name string
		size int
		err  string
	}{
		{"empty", 0, ""},
		{"one sector", 512, ""},
		{"odd size", 1000, "not a multiple of 512"},
		{"one byte", 1, "not a multiple of 512"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := OpenDiskImage(writeImage(t, make([]byte, tc.size)), false, nil, 0)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Size() != uint64(tc.size) {
				t.Errorf("size %d", img.Size())
			}
		})
	}
	if _, err := OpenDiskImage(filepath.Join(t.TempDir(), "missing"), false, nil, 0); err == nil {
		t.Error("missing image opened")
	}
}

// TestDiskImageRequests submits requests and checks, after Close drains
// them, their completions (in order) and the image.
func TestDiskImageRequests(t *testing.T) {
	data := pattern(16*512, 4)
	tests := []struct {
		name     string
		readOnly bool
		reqs     []devices.BlockRequest
		failed   []bool // per request: completed with devices.DiskDoneError
		reads    [][]byte
		image    []byte
	}{
		{
			name: "read write flush",
			reqs: []devices.BlockRequest{
				{ID: 1, Op: devices.BlockRead, Sector: 1, Len: 1024},
				{ID: 2, Op: devices.BlockWrite, Sector: 2, Data: pattern(512, 77)},
				{ID: 3, Op: devices.BlockFlush},
				{ID: 4, Op: devices.BlockRead, Sector: 2, Len: 512},
			},
			failed: []bool{false, false, false, false},
			reads:  [][]byte{data[512:1536], nil, nil, pattern(512, 77)},
			image:  append(append(append([]byte(nil), data[:1024]...), pattern(512, 77)...), data[1536:]...),
		},
		{
			name:     "read-only",
			readOnly: true,
			reqs: []devices.BlockRequest{
				{ID: 1, Op: devices.BlockWrite, Sector: 0, Data: pattern(512, 1)},
				{ID: 2, Op: devices.BlockFlush},
				{ID: 3, Op: devices.BlockRead, Sector: 15, Len: 512},
			},
			failed: []bool{true, false, false},
			reads:  [][]byte{nil, nil, data[15*512:]},
			image:  data,
		},
		{
			name: "beyond the end",
			reqs: []devices.BlockRequest{
				{ID: 7, Op: devices.BlockRead, Sector: 15, Len: 1024},
				{ID: 8, Op: devices.BlockWrite, Sector: 16, Data: pattern(512, 1)},
				{ID: 9, Op: devices.BlockRead, Sector: 1 << 62, Len: 512},
				{ID: 10, Op: 99},
			},
			failed: []bool{true, true, true, true},
			reads:  [][]byte{nil, nil, nil, nil},
			image:  data,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeImage(t, data)
			var c collector
			img, err := OpenDiskImage(path, tc.readOnly, c.post, 7)
			if err != nil {
				t.Fatal(err)
			}
			img.SetWriteThrough(false)
			for _, r := range tc.reqs {
				if err := img.Submit(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := img.Close(); err != nil {
				t.Fatal(err)
			}
			if err := img.Submit(devices.BlockRequest{ID: 99, Op: devices.BlockFlush}); err == nil {
				t.Error("submit after close accepted")
			}
			if len(c.ins) != len(tc.reqs) {
				t.Fatalf("%d completions, want %d", len(c.ins), len(tc.reqs))
			}
			for i, in := range c.ins {
				failed := in.Arg&devices.DiskDoneError != 0
				if in.Kind != devices.InputDiskDone || in.Dev != 7 || in.Arg&^devices.DiskDoneError != tc.reqs[i].ID || failed != tc.failed[i] {
					t.Errorf("completion %d: %+v", i, in)
				}
				if !bytes.Equal(in.Data, tc.reads[i]) {
					t.Errorf("completion %d: data differ", i)
				}
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, tc.image) {
				t.Error("image differs")
			}
		})
	}
}

// TestDiskImageQueueBound stalls the worker (its completions are not
// taken) and submits more than the queue holds: Submit must wait for room
// instead of growing the queue, by request count and by bytes of write data,
// and every request must still complete once the completions flow.
func TestDiskImageQueueBound(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		req   devices.BlockRequest
		limit func(queued, bytes int) bool // true while within the bound
	}{
		{"requests", DiskQueueMax + 20, devices.BlockRequest{Op: devices.BlockFlush},
			func(q, _ int) bool { return q <= DiskQueueMax }},
		{"bytes", 40, devices.BlockRequest{Op: devices.BlockWrite, Data: make([]byte, 4<<20)},
			func(_, b int) bool { return b <= DiskQueueMaxBytes }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan devices.Input) // unbuffered: the worker stalls in post
			img, err := OpenDiskImage(writeImage(t, make([]byte, 8<<20)), false, func(in devices.Input) { done <- in }, 0)
			if err != nil {
				t.Fatal(err)
			}
			img.SetWriteThrough(false)
			submitted := make(chan error, 1)
			go func() {
				for i := range tc.n {
					r := tc.req
					r.ID = uint64(i + 1)
					if err := img.Submit(r); err != nil {
						submitted <- err
						return
					}
				}
				submitted <- nil
			}()
			// The submitter must get stuck with the queue at its bound.
			deadline := time.Now().Add(10 * time.Second)
			for {
				img.mu.Lock()
				q, b := len(img.queue), img.queuedBytes
				img.mu.Unlock()
				if !tc.limit(q, b) {
					t.Fatalf("queue grew to %d requests, %d bytes", q, b)
				}
				select {
				case err := <-submitted:
					t.Fatalf("all %d requests queued behind a stalled worker (err %v)", tc.n, err)
				default:
				}
				if q > 0 && !tc.limit(q+1, b+len(tc.req.Data)) {
					break // full: the submitter waits
				}
				if time.Now().After(deadline) {
					t.Fatalf("queue never filled: %d requests, %d bytes", q, b)
				}
				time.Sleep(time.Millisecond)
			}
			for i := range tc.n {
				in := <-done
				if in.Arg != uint64(i+1) {
					t.Fatalf("completion %d is for request %d", i+1, in.Arg)
				}
			}
			if err := <-submitted; err != nil {
				t.Fatal(err)
			}
			go func() {
				for range done {
				}
			}()
			img.Close()
			close(done)
		})
	}
}

// TestDiskImageReadAfterWrite reads, with ReadAt, a sector that a write
// submitted just before changes, while the worker is still busy with an
// earlier request: the read must see the write (a replaying device serves
// its reads this way).
func TestDiskImageReadAfterWrite(t *testing.T) {
	stall := make(chan devices.Input) // unbuffered: the worker stalls in post
	img, err := OpenDiskImage(writeImage(t, make([]byte, 8*512)), false, func(in devices.Input) { stall <- in }, 0)
	if err != nil {
		t.Fatal(err)
	}
	img.SetWriteThrough(false)
	img.Submit(devices.BlockRequest{ID: 1, Op: devices.BlockFlush})
	want := pattern(512, 9)
	img.Submit(devices.BlockRequest{ID: 2, Op: devices.BlockWrite, Sector: 3, Data: want})
	got := make(chan []byte)
	go func() {
		p := make([]byte, 512)
		img.ReadAt(p, 3*512)
		got <- p
	}()
	// The worker holds completion 1 until taken: ReadAt must still be
	// waiting for write 2.
	select {
	case p := <-got:
		t.Fatalf("ReadAt returned before the write was performed (data changed: %v)", bytes.Equal(p, want))
	case <-time.After(50 * time.Millisecond):
	}
	<-stall
	<-stall
	if p := <-got; !bytes.Equal(p, want) {
		t.Error("ReadAt does not see the write submitted before it")
	}
	img.Close()
}

func TestDiskImageReadAt(t *testing.T) {
	data := pattern(4*512, 8)
	img, err := OpenDiskImage(writeImage(t, data), true, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p := make([]byte, 512)
	if n, err := img.ReadAt(p, 1024); n != 512 || err != nil || !bytes.Equal(p, data[1024:1536]) {
		t.Errorf("ReadAt: %d %v", n, err)
	}
	if !img.ReadOnly() {
		t.Error("not read-only")
	}
}

// TestDiskImageFull writes to a disk whose host file system is full: the
// request fails, and ftvm goes on.
func TestDiskImageFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		testenv.Missing(t, "no /dev/full")
	}
	// /dev/full has no size; wrap it so that the image appears to have
	// sectors, and check that the ENOSPC of the write is reported.
	var c collector
	img, err := OpenDiskImage("/dev/full", false, c.post, 1)
	if err != nil {
		testenv.Missing(t, "cannot open /dev/full: %v", err)
	}
	img.size = 4096
	img.Submit(devices.BlockRequest{ID: 1, Op: devices.BlockWrite, Data: make([]byte, 512)})
	img.Close()
	if len(c.ins) != 1 || c.ins[0].Arg != 1|devices.DiskDoneError {
		t.Errorf("completions %+v, want a failed one", c.ins)
	}
}

// pattern returns n bytes that differ from one seed to another.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}
