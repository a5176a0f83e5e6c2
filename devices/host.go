package devices

// The boundary between the device models and the world outside the guest.
//
// Device models are deterministic. They never read the host clock, a socket
// or a file on the guest's path. What comes from outside reaches them in
// exactly two ways, both owned by the board and implemented by the lockstep
// layer (live: recorder; backup: replayer):
//
//   - Guest time, through Clock: a deterministic function of the position
//     (the retired-instruction count) and of recorded clock inputs.
//   - Inputs: received frames, disk completions, console bytes and clock
//     re-anchors, each taking effect at an exact position. The board polls
//     its input source at instruction boundaries and hands each Input to
//     its device (Receiver.Deliver).
//
// What goes out (a transmitted frame, a disk request, console bytes) goes
// through the backend interfaces a device is built with (NetBackend,
// BlockBackend, an io.Writer for the console); the lockstep layer can hold
// those outputs (output rule) or discard them (backup). The backends that
// reach the host (TAP, sockets, disk images) live in package hostio.

// Clock is guest time as devices see it.
type Clock interface {
	// Now returns the guest time in nanoseconds since boot.
	Now() uint64
}

// Timed is a device that changes state by itself at a guest time (a timer
// expiring). The board never runs the CPU past the earliest NextEvent of
// its devices without calling Advance.
type Timed interface {
	// NextEvent returns the guest time of the device's next state change,
	// or ok=false when none is scheduled.
	NextEvent() (at uint64, ok bool)
	// Advance brings the device up to guest time now: timers due by now
	// fire (raising their interrupts).
	Advance(now uint64)
}

// InputKind says what an Input carries.
type InputKind uint8

// Kinds of host input.
const (
	// InputFrame is a network frame received for the net device Dev.
	InputFrame InputKind = iota + 1
	// InputDiskDone completes request Arg of the block device Dev; Data
	// holds the bytes read for a read request on the live side (empty when
	// the replaying side serves the read from its own disk copy).
	InputDiskDone
	// InputConsole is bytes typed on the serial console.
	InputConsole
	// InputClock re-anchors guest time: Arg is the guest time in
	// nanoseconds at this position.
	InputClock
)

// Input is one input from the host, taking effect at Pos.
type Input struct {
	Pos  uint64
	Kind InputKind
	Dev  uint8
	Arg  uint64
	Data []byte
}

// Receiver is a device that takes inputs.
type Receiver interface {
	// Deliver hands the device one input addressed to it.
	Deliver(in Input) error
}

// MaxFrameSize is the largest Ethernet frame a net device carries (a 64 KiB
// MTU, the header and a VLAN tag).
const MaxFrameSize = 1<<16 + 18

// NetBackend carries a net device's frames to the outside.
type NetBackend interface {
	// Send transmits one Ethernet frame. It must not block the guest for
	// long; a backend may drop frames as a real link does.
	Send(frame []byte) error
}

// FrameCapture records the frames a net device transmits and receives (a
// packet capture such as a pcap file). It is host output: what it does never
// feeds back into the guest.
type FrameCapture interface {
	// WriteFrame records one Ethernet frame.
	WriteFrame(frame []byte) error
}

// SectorSize is the size in bytes of the sectors a BlockRequest counts in.
const SectorSize = 512

// BlockRequest is one disk operation a block device asks its backend to
// perform. The completion comes back as an InputDiskDone input.
type BlockRequest struct {
	ID     uint64
	Op     BlockOp
	Sector uint64 // 512-byte sector of the first byte
	Data   []byte // bytes to write (BlockWrite)
	Len    int    // bytes to read (BlockRead)
}

// BlockOp is a disk operation.
type BlockOp uint8

// Disk operations.
const (
	BlockRead BlockOp = iota + 1
	BlockWrite
	BlockFlush
)

// BlockBackend performs a block device's requests on a disk image.
type BlockBackend interface {
	// Submit starts a request; its completion arrives later as an input.
	Submit(req BlockRequest) error
	// ReadAt reads the image synchronously. A block device uses it to
	// serve a read whose completion input carries no data (the replaying
	// side, whose disk is an identical copy).
	ReadAt(p []byte, off int64) (int, error)
	// Size returns the disk size in bytes.
	Size() uint64
	// ReadOnly reports whether writes are refused.
	ReadOnly() bool
}
