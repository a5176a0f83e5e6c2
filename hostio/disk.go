package hostio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"ftvm/devices"
)

// DiskImage is a raw disk image file serving a block device's requests on
// the host (a devices.BlockBackend). One worker goroutine performs the requests in
// the order they were submitted and reports each completion by calling post
// with an devices.InputDiskDone for device Dev: Arg is the request ID, Data the
// bytes read by a read request. A request that fails on the host (an I/O
// error, a full disk) completes with Arg|devices.DiskDoneError and nil Data, which
// the device reports to the guest as VIRTIO_BLK_S_IOERR: a host error never
// stops ftvm.
type DiskImage struct {
	f        *os.File
	size     uint64
	readOnly bool
	dev      uint8
	post     func(devices.Input)

	mu           sync.Mutex
	cond         *sync.Cond             // signalled when queue or closed changes; guarded by mu
	queue        []devices.BlockRequest // guarded by mu; at most DiskQueueMax
	queuedBytes  int                    // write data in queue; guarded by mu
	busy         bool                   // the worker is performing a request; guarded by mu
	closed       bool                   // guarded by mu
	writeThrough bool                   // guarded by mu
	done         chan struct{}          // closed when the worker has returned
}

// Bounds of a disk image's queue of requests not yet performed. A guest
// keeps at most a queue size of requests in flight per device, but a device
// reset forgets requests the worker still holds; the bounds keep a guest
// that resets in a loop, or writes faster than the host disk, from growing
// the queue. Submit waits for room.
const (
	DiskQueueMax      = 512      // requests
	DiskQueueMaxBytes = 64 << 20 // bytes of write data
)

var (
	_ devices.BlockBackend   = (*DiskImage)(nil)
	_ devices.WriteThrougher = (*DiskImage)(nil)
)

// OpenDiskImage opens the raw image at path for block device dev, read-only
// if readOnly, and starts its worker; completions go to post, which the
// worker goroutine calls (it must be safe for concurrent use, as a live
// InputSource is). The image size must be a multiple of 512 bytes. Writes are
// write-through (each made durable before it completes) until
// SetWriteThrough(false).
func OpenDiskImage(path string, readOnly bool, post func(devices.Input), dev uint8) (*DiskImage, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	// Seek rather than Stat: a block device reports its size this way.
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	if end%devices.SectorSize != 0 {
		f.Close()
		return nil, fmt.Errorf("disk image %s: size %d bytes is not a multiple of %d", path, end, devices.SectorSize)
	}
	d := &DiskImage{
		f:            f,
		size:         uint64(end),
		readOnly:     readOnly,
		dev:          dev,
		post:         post,
		writeThrough: true,
		done:         make(chan struct{}),
	}
	d.cond = sync.NewCond(&d.mu)
	go d.worker()
	return d, nil
}

// Size implements devices.BlockBackend.
func (d *DiskImage) Size() uint64 { return d.size }

// ReadOnly implements devices.BlockBackend.
func (d *DiskImage) ReadOnly() bool { return d.readOnly }

// ReadAt implements devices.BlockBackend: a synchronous read of the image,
// once every request submitted before it has been performed, so that it
// sees what earlier writes put there (a replaying device submits its writes
// and serves its reads with ReadAt, without waiting for completions).
func (d *DiskImage) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	for len(d.queue) > 0 || d.busy {
		d.cond.Wait()
	}
	d.mu.Unlock()
	return d.f.ReadAt(p, off)
}

// SetWriteThrough implements devices.WriteThrougher: when on, every write is
// followed by an fsync before its completion is posted.
func (d *DiskImage) SetWriteThrough(on bool) {
	d.mu.Lock()
	d.writeThrough = on
	d.mu.Unlock()
}

// Submit implements devices.BlockBackend: the request is queued for the
// worker. While the queue is full (DiskQueueMax requests, or
// DiskQueueMaxBytes of write data with at least one request queued) it waits
// for the worker to make room, as a disk that is busy holds up its driver.
// Write data are not copied; the caller must not modify them.
func (d *DiskImage) Submit(req devices.BlockRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for !d.closed && (len(d.queue) >= DiskQueueMax || len(d.queue) > 0 && d.queuedBytes+len(req.Data) > DiskQueueMaxBytes) {
		d.cond.Wait()
	}
	if d.closed {
		return errors.New("disk image is closed")
	}
	d.queue = append(d.queue, req)
	d.queuedBytes += len(req.Data)
	d.cond.Broadcast()
	return nil
}

// Close stops taking requests, waits until the worker has performed the
// queued ones and posted their completions, and closes the file.
func (d *DiskImage) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.done
		return nil
	}
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	<-d.done
	return d.f.Close()
}

func (d *DiskImage) worker() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		req := d.queue[0]
		d.queue[0] = devices.BlockRequest{}
		d.queue = d.queue[1:]
		d.queuedBytes -= len(req.Data)
		wt := d.writeThrough
		d.busy = true
		d.cond.Broadcast() // room for a waiting Submit
		d.mu.Unlock()

		in := devices.Input{Kind: devices.InputDiskDone, Dev: d.dev, Arg: req.ID &^ devices.DiskDoneError}
		data, err := d.perform(req, wt)
		d.mu.Lock()
		d.busy = false
		d.cond.Broadcast() // a waiting ReadAt
		d.mu.Unlock()
		if err != nil {
			in.Arg |= devices.DiskDoneError
		} else {
			in.Data = data
		}
		if d.post != nil {
			d.post(in)
		}
	}
}

// perform carries out one request; for a read it returns the bytes read.
func (d *DiskImage) perform(req devices.BlockRequest, writeThrough bool) ([]byte, error) {
	off := req.Sector * devices.SectorSize
	if req.Sector > d.size/devices.SectorSize {
		return nil, errors.New("beyond the end of the disk")
	}
	switch req.Op {
	case devices.BlockRead:
		if req.Len < 0 || uint64(req.Len) > d.size-off {
			return nil, errors.New("beyond the end of the disk")
		}
		buf := make([]byte, req.Len)
		if _, err := d.f.ReadAt(buf, int64(off)); err != nil {
			return nil, err
		}
		return buf, nil
	case devices.BlockWrite:
		if d.readOnly {
			return nil, errors.New("read-only disk")
		}
		if uint64(len(req.Data)) > d.size-off {
			return nil, errors.New("beyond the end of the disk")
		}
		if _, err := d.f.WriteAt(req.Data, int64(off)); err != nil {
			return nil, err
		}
		if writeThrough {
			return nil, d.f.Sync()
		}
		return nil, nil
	case devices.BlockFlush:
		if d.readOnly {
			return nil, nil
		}
		return nil, d.f.Sync()
	}
	return nil, fmt.Errorf("unknown operation %d", req.Op)
}
