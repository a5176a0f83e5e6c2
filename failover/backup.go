package failover

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"ftvm/devices"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// BuildFunc builds the backup's machine from its primary's header, with the
// node's configuration pieces in cfg (see Node.Configure). It returns the
// machine and its block devices.
type BuildFunc func(h lockstep.Header, cfg machine.Config) (*machine.Machine, []*devices.VirtioBlk, error)

// JoinPrimary connects to the primary at addr (retrying, and saying so,
// until it is there), receives the machine's state, builds the machine with
// build and prepares to replay the primary's stream. disks are the local
// copies of the guest's disks; one whose content differs from the
// primary's is overwritten with it.
func (n *Node) JoinPrimary(ctx context.Context, addr string, disks []string, build BuildFunc, console io.Writer) error {
	n.disks = disks
	var sums []string
	for _, d := range disks {
		s, err := lockstep.FileSHA256(d)
		if err != nil {
			return err
		}
		sums = append(sums, s)
	}
	var c *transport.Conn
	for tries := 0; ; tries++ {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		c, err = transport.Dial(dctx, addr, n.opts.TLS, transport.Options{
			HeartbeatInterval: n.opts.Heartbeat,
			IdleTimeout:       max(4*n.opts.FailoverTimeout, time.Second),
			Status:            n.status,
		})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if tries%5 == 0 {
			n.emit(Event{Kind: EventWaitingPrimary, Peer: addr}, "waiting for the primary at %s: %v", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	t0 := time.Now()
	// A cancelled ctx (a signal) ends the join at once, wherever it is.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	hb, _ := json.Marshal(hello{Disks: sums})
	if err := c.SendControl(ctlHello, hb); err != nil {
		c.Close()
		return err
	}
	r, err := c.RecvState()
	if err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	meta := make([]byte, binary.LittleEndian.Uint32(head[:]))
	if len(meta) > 1<<20 {
		c.Close()
		return fmt.Errorf("state transfer: header of %d bytes", len(meta))
	}
	if _, err := io.ReadFull(r, meta); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	var info joinInfo
	if err := json.Unmarshal(meta, &info); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	if err := info.check(); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: %v", err)
	}
	// The buffer grows with what arrives, never ahead of it.
	var snapBuf bytes.Buffer
	if _, err := io.CopyN(&snapBuf, r, info.Snapshot); err != nil {
		c.Close()
		return fmt.Errorf("state transfer: snapshot: %v", err)
	}
	snap := snapBuf.Bytes()
	if len(info.SendDisks) > len(disks) {
		c.Close()
		return fmt.Errorf("the primary has %d disks, this backup %d (--disk)", len(info.SendDisks), len(disks))
	}
	for i, size := range info.SendDisks {
		if size == 0 {
			continue
		}
		if err := writeFileFrom(disks[i], io.LimitReader(r, size), size); err != nil {
			c.Close()
			return fmt.Errorf("disk copy %s: %v", disks[i], err)
		}
	}
	// Read to the end: the primary's send completes only then.
	if extra, err := io.Copy(io.Discard, r); err != nil || extra != 0 {
		c.Close()
		return fmt.Errorf("state transfer: %d unexpected bytes (%v)", extra, err)
	}
	n.gen.Store(info.Generation)
	clock, err := machine.ParseClock(info.Header.Clock)
	if err != nil {
		c.Close()
		return fmt.Errorf("the primary's log header: %w", err)
	}
	n.opts.Clock = clock
	n.live = machine.NewLiveInputs(n.opts.Clock == machine.ClockHost)
	n.mode.Store(int32(modeReplaying))
	n.gate.SetMode(lockstep.GateBuffer)
	cfg := n.Configure(machine.Config{}, console)
	m, blks, err := build(info.Header, cfg)
	if err != nil {
		c.Close()
		return err
	}
	n.Attach(m, info.Header, disks, blks)
	if err := m.RestoreSnapshot(bytes.NewReader(snap)); err != nil {
		c.Close()
		return err
	}
	// Writes the primary had in flight at the snapshot are redone on this
	// copy (their completions come from the log).
	for _, b := range blks {
		b.Reissue()
	}
	n.rep = lockstep.NewReplayerFrom(&streamSource{conn: c, pos: n.seenPos.Load, waiting: &n.waiting}, info.Header.DigestInterval, info.NextDigest)
	n.rep.Attach(m)
	n.repEnv = n.rep.WrapEnv(n.clockEnv)
	n.seenPos.Store(info.Position)
	n.mu.Lock()
	n.conn = c
	n.mu.Unlock()
	if ctx.Err() != nil {
		c.Close()
		return ctx.Err()
	}
	go n.readControl(c)
	go n.watchPeer(c, func() {
		if n.stopping.Load() || n.ran.Load() {
			return // this side stopped or ended: it closed the link
		}
		n.lostAt = c.LastHeard()
		n.primaryLost.Store(true)
		ago := float64(time.Since(n.lostAt).Microseconds()) / 1000
		n.emit(Event{Kind: EventPrimaryLost, Millis: ago}, "primary lost (last heard %.0f ms ago)", ago)
		// Closing ends the stream: replay consumes every record received
		// and stops at the last one, then the node goes live.
		c.Close()
	})
	took := float64(time.Since(t0).Microseconds()) / 1000
	n.emit(Event{Kind: EventJoinedPrimary, Peer: addr, Position: info.Position, Generation: n.gen.Load(), Millis: took},
		"joined the primary at %s at position %d (generation %d): state received in %.1f ms", addr, info.Position, n.gen.Load(), took)
	return nil
}

// readControl applies the primary's release notices.
func (n *Node) readControl(c *transport.Conn) {
	for {
		kind, p, err := c.RecvControl()
		if err != nil {
			return
		}
		if kind == ctlReleased && len(p) == 8 {
			n.gate.Released(binary.LittleEndian.Uint64(p))
		}
	}
}

// goLive turns a backup whose primary is gone into the live machine, after
// it consumed every record it had. It reports false when the other side
// holds the next generation.
func (n *Node) goLive() bool {
	won, err := n.opts.Arbiter.TestAndSet(n.gen.Load()+1, "backup")
	if err != nil || !won {
		n.Err = fmt.Errorf("lost the arbiter for generation %d (the primary carries on); stopping this side", n.gen.Load()+1)
		if err != nil {
			n.Err = fmt.Errorf("arbiter: %v; stopping this side", err)
		}
		n.emit(Event{Kind: EventLostArbiter, Generation: n.gen.Load() + 1}, "%v", n.Err)
		return false
	}
	n.gen.Add(1)
	n.m.ClearStop()
	n.live.Align(n.m.Clock.Now())
	n.mode.Store(int32(modeAlone))
	n.mu.Lock()
	n.conn = nil
	n.mu.Unlock()
	for _, b := range n.blks {
		b.Reissue()
	}
	n.gate.SetMode(lockstep.GateDirect)
	n.announce()
	after := float64(time.Since(n.lostAt).Microseconds()) / 1000
	n.emit(Event{Kind: EventWentLive, Generation: n.gen.Load(), Position: n.m.CPU.Position(), Millis: after},
		"went live as generation %d at position %d, %.0f ms after the primary was last heard", n.gen.Load(), n.m.CPU.Position(), after)
	if n.Addr() == "" && n.opts.Listen != "" {
		if err := n.Listen(); err != nil {
			n.emit(Event{Kind: EventError}, "cannot accept a new backup: %v", err)
		}
	}
	return true
}

// writeFileFrom overwrites path with size bytes from r.
func writeFileFrom(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(f, r, size); err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
