package devices

import (
	"fmt"
	"math/bits"

	"ftvm/mmu"
)

var _ mmu.PortDevice = (*PIT)(nil)
var _ Timed = (*PIT)(nil)

// PIT ports and clock.
const (
	PITBase    = 0x40 // channel 0 data port; channels 1 and 2 follow, 0x43 the control word
	PITLast    = 0x43
	PITPort61  = 0x61 // system control port B: channel 2 gate, speaker, channel 2 output
	PITHz      = 1193182
	PITIRQ     = 0 // ISA IRQ of channel 0
	pitControl = 0x43

	// refreshNs is the period of the DRAM refresh toggle (port 0x61 bit 4).
	refreshNs = 15085
)

// Port 0x61 bits.
const (
	p61Gate2    = 1 << 0
	p61Speaker  = 1 << 1
	p61Writable = 0x0F // gate, speaker, parity and channel check enables
	p61Refresh  = 1 << 4
	p61Out2     = 1 << 5
)

// Access modes (control word bits 4-5).
const (
	accessLow  = 1
	accessHigh = 2
	accessWord = 3
)

// Latched count read states.
const (
	latchNone  = 0
	latchLow   = 1 // lobyte access: the low byte, then done
	latchHigh  = 2 // hibyte access: the high byte, then done
	latchWord0 = 3 // lohi: the low byte next
	latchWord1 = 4 // lohi: the high byte next
)

// PITChannelState is the state of one 8254 counter. Times are in ticks of
// the PIT's 1193182 Hz input clock since boot (tick k begins at guest time
// ceil(k*1e9/1193182) ns).
type PITChannelState struct {
	Mode   uint8 // 0-5
	Access uint8 // accessLow, accessHigh or accessWord
	BCD    bool
	// Reload is the count register as last written (0 stands for 0x10000,
	// or 10000 in BCD).
	Reload uint16
	// Loaded is set once a count has been written after the control word.
	Loaded bool
	// Gate is the gate input (always high for channels 0 and 1).
	Gate bool
	// Running is set while the counter counts; Start is then the tick at
	// which it started from the reload value. While stopped, Elapsed is
	// the number of ticks it had counted.
	Running bool
	Start   uint64
	Elapsed uint64
	// Triggered: in modes 1 and 5, a gate trigger started the count.
	Triggered bool
	// WriteLow: in lohi access the low byte has been written (LowByte)
	// and the high byte is awaited.
	WriteLow bool
	LowByte  uint8
	// ReadHigh: in lohi access the next read of the live count returns
	// its high byte.
	ReadHigh bool
	// LatchState and Latch hold a latched count being read.
	LatchState uint8
	Latch      uint16
	// StatusLatched and Status hold a latched status byte.
	StatusLatched bool
	Status        uint8
	// NullCount is the status byte's null count bit: a count or control
	// word was written and not yet loaded.
	NullCount bool
}

// PITState is the complete state of the PIT.
type PITState struct {
	Channels [3]PITChannelState
	// Port61 holds the writable bits of port 0x61 (0-3).
	Port61 uint8
	// Out0 is the level driven on the IRQ 0 line.
	Out0 bool
	// IRQDone is the tick through which channel 0's output edges have
	// been signalled.
	IRQDone uint64
}

// PIT is the Intel 8254 programmable interval timer with its three
// channels, plus the PC's port 0x61 (system control port B), where the
// guest drives channel 2's gate and reads its output. The counters are not
// stepped: every count and output is computed from guest time, so the PIT
// does no work per tick. Channel 0's output drives IRQ 0.
//
// All modes (0-5), binary and BCD counting, the three access modes, the
// counter latch and read-back commands and the status byte are modelled.
// Writing a control word stops the counter until its count is written; in
// modes 2 and 3 a new count takes effect at once (as in QEMU) rather than at
// the end of the current period. Mode 3 with an odd count is approximated
// as in QEMU. The gate of channels 0 and 1 is tied high, so modes 1 and 5
// (hardware triggered) never start on them.
//
// For the interrupt, what matters is the rising edge of channel 0's output:
// at the end of each period in modes 2 and 3, at terminal count in mode 0,
// after the strobe in mode 4. The PIT implements Timed with those edges; at
// each it pulses the IRQ 0 line low and high so that an edge-triggered
// input latches it even if the line was already high. Every port access
// first brings the PIT up to the clock's time.
//
// The reset state is the one QEMU gives (and a BIOS leaves): every channel
// in mode 3 with count 0x10000, channels 0 and 1 counting from the PIT's
// creation (NewPIT drives IRQ 0 to channel 0's output at once), channel
// 2's gate low. PIT implements mmu.PortDevice; map it at 0x40-0x43 and at
// 0x61.
type PIT struct {
	s     PITState
	clock Clock
	irq   IRQLine
}

// NewPIT returns a PIT in its reset state, reading guest time from clock
// and driving irq0 (which may be nil) with channel 0's output.
func NewPIT(clock Clock, irq0 IRQLine) *PIT {
	p := &PIT{clock: clock, irq: irq0}
	start := pitTicks(p.now())
	for i := range p.s.Channels {
		c := &p.s.Channels[i]
		c.Mode = 3
		c.Access = accessWord
		c.Loaded = true
		c.Gate = i != 2
		c.Running = c.Gate
		c.Start = start
	}
	p.s.IRQDone = start
	p.setLine(p.s.Channels[0].out(start))
	return p
}

// Snapshot returns the PIT's complete state.
func (p *PIT) Snapshot() PITState { return p.s }

// Restore replaces the PIT's state with s after checking it, and drives the
// IRQ 0 line to the restored level.
func (p *PIT) Restore(s PITState) error {
	if s.Port61&^p61Writable != 0 {
		return fmt.Errorf("pit: restore: port 0x61 value %#x has read-only bits set", s.Port61)
	}
	for i := range s.Channels {
		c := &s.Channels[i]
		switch {
		case c.Mode > 5:
			return fmt.Errorf("pit: restore: channel %d: mode %d", i, c.Mode)
		case c.Access < accessLow || c.Access > accessWord:
			return fmt.Errorf("pit: restore: channel %d: access mode %d", i, c.Access)
		case c.LatchState > latchWord1:
			return fmt.Errorf("pit: restore: channel %d: latch state %d", i, c.LatchState)
		case c.Gate != (i == 2 && s.Port61&p61Gate2 != 0 || i != 2):
			return fmt.Errorf("pit: restore: channel %d: gate does not match its wiring", i)
		case c.Running && !c.Loaded:
			return fmt.Errorf("pit: restore: channel %d counts without a count", i)
		case c.Running && c.Elapsed != 0:
			return fmt.Errorf("pit: restore: channel %d: elapsed ticks while running", i)
		case c.Triggered && c.Mode != 1 && c.Mode != 5:
			return fmt.Errorf("pit: restore: channel %d: triggered in mode %d", i, c.Mode)
		case c.WriteLow && c.Access != accessWord, c.ReadHigh && c.Access != accessWord:
			return fmt.Errorf("pit: restore: channel %d: byte flip-flop set outside lohi access", i)
		}
	}
	p.s = s
	if p.irq != nil {
		p.irq.SetLevel(s.Out0)
	}
	return nil
}

func (p *PIT) now() uint64 {
	if p.clock == nil {
		return 0
	}
	return p.clock.Now()
}

// ticksAt returns the number of whole periods of a clock of hz Hertz
// elapsed by guest time t nanoseconds: floor(t*hz/1e9).
func ticksAt(t, hz uint64) uint64 {
	hi, lo := bits.Mul64(t, hz)
	if hi >= 1e9 {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	return q
}

// tickTime returns the guest time at which tick k of a clock of hz Hertz
// begins: the least t with ticksAt(t, hz) >= k.
func tickTime(k, hz uint64) uint64 {
	hi, lo := bits.Mul64(k, 1e9)
	if hi >= hz {
		return ^uint64(0)
	}
	q, r := bits.Div64(hi, lo, hz)
	if r != 0 && q != ^uint64(0) {
		q++
	}
	return q
}

func pitTicks(t uint64) uint64 { return ticksAt(t, PITHz) }

// count returns the channel's initial count, 1..0x10000 (BCD: 1..10000,
// or more for invalid BCD digits).
func (c *PITChannelState) count() uint64 {
	if !c.BCD {
		if c.Reload == 0 {
			return 0x10000
		}
		return uint64(c.Reload)
	}
	r := uint64(c.Reload)
	n := (r>>12)*1000 + (r>>8&0xF)*100 + (r>>4&0xF)*10 + r&0xF
	if n == 0 {
		return 10000
	}
	return n
}

// elapsed returns the ticks the counter has counted at tick now.
func (c *PITChannelState) elapsed(now uint64) uint64 {
	if !c.Running {
		return c.Elapsed
	}
	if now < c.Start {
		return 0
	}
	return now - c.Start
}

// value returns the counter's value at tick now, encoded in BCD in BCD
// mode.
func (c *PITChannelState) value(now uint64) uint16 {
	d := c.elapsed(now)
	n := c.count()
	var v uint64
	switch c.Mode {
	case 2:
		v = n - d%n
	case 3:
		v = n - (2*d)%n
	default:
		if c.BCD {
			v = (n + 10000 - d%10000) % 10000
		} else {
			v = n - d
		}
	}
	if !c.BCD {
		return uint16(v)
	}
	v %= 10000
	return uint16(v/1000<<12 | v/100%10<<8 | v/10%10<<4 | v%10)
}

// out returns the channel's output at tick now.
func (c *PITChannelState) out(now uint64) bool {
	if !c.Loaded {
		return c.Mode != 0
	}
	d := c.elapsed(now)
	n := c.count()
	switch c.Mode {
	case 0:
		return d >= n
	case 1:
		return !c.Triggered || d >= n
	case 2:
		return !c.Running || n < 2 || d%n != n-1
	case 3:
		return !c.Running || d%n < (n+1)/2
	case 4:
		return d != n
	default: // 5
		return !c.Triggered || d != n
	}
}

// nextEdge returns the tick of the first rising edge of the output after
// tick after, or ok=false when none is coming.
func (c *PITChannelState) nextEdge(after uint64) (uint64, bool) {
	if !c.Running {
		return 0, false
	}
	d := uint64(0)
	if after > c.Start {
		d = after - c.Start
	}
	n := c.count()
	var e uint64
	switch c.Mode {
	case 0, 1:
		if d >= n {
			return 0, false
		}
		e = n
	case 2, 3:
		e = (d/n + 1) * n
	default: // 4, 5
		if d >= n+1 {
			return 0, false
		}
		e = n + 1
	}
	return c.Start + e, true
}

// NextEvent implements Timed: the guest time of channel 0's next rising
// output edge.
func (p *PIT) NextEvent() (uint64, bool) {
	k, ok := p.s.Channels[0].nextEdge(p.s.IRQDone)
	if !ok {
		return 0, false
	}
	return tickTime(k, PITHz), true
}

// Advance implements Timed: a rising edge of channel 0's output due by now
// pulses IRQ 0 (edges missed in between merge into one).
func (p *PIT) Advance(now uint64) {
	t := pitTicks(now)
	if t < p.s.IRQDone {
		return
	}
	c := &p.s.Channels[0]
	if k, ok := c.nextEdge(p.s.IRQDone); ok && k <= t {
		p.setLine(false)
		p.setLine(true)
	}
	p.s.IRQDone = t
	p.setLine(c.out(t))
}

func (p *PIT) setLine(high bool) {
	if p.s.Out0 == high {
		return
	}
	p.s.Out0 = high
	if p.irq != nil {
		p.irq.SetLevel(high)
	}
}

// ReadPort implements mmu.PortDevice. The ports are 8 bits wide; a wider
// access is split into byte accesses of consecutive ports, bytes that fall
// outside the PIT's ports reading 0xFF.
func (p *PIT) ReadPort(port uint16, size int) uint32 {
	now := p.now()
	p.Advance(now)
	var v uint32
	for i := 0; i < size && i < 4; i++ {
		v |= uint32(p.readByte(port+uint16(i), now)) << (8 * i)
	}
	return v
}

// WritePort implements mmu.PortDevice; wide accesses are split as in
// ReadPort.
func (p *PIT) WritePort(port uint16, size int, value uint32) {
	now := p.now()
	p.Advance(now)
	for i := 0; i < size && i < 4; i++ {
		p.writeByte(port+uint16(i), uint8(value>>(8*i)), now)
	}
	p.setLine(p.s.Channels[0].out(pitTicks(now)))
}

func (p *PIT) readByte(port uint16, now uint64) uint8 {
	t := pitTicks(now)
	switch {
	case port >= PITBase && port < pitControl:
		return p.readChannel(&p.s.Channels[port-PITBase], t)
	case port == PITPort61:
		v := p.s.Port61
		if (now/refreshNs)&1 != 0 {
			v |= p61Refresh
		}
		if p.s.Channels[2].out(t) {
			v |= p61Out2
		}
		return v
	}
	return 0xFF // the control word register cannot be read
}

func (p *PIT) readChannel(c *PITChannelState, t uint64) uint8 {
	if c.StatusLatched {
		c.StatusLatched = false
		return c.Status
	}
	switch c.LatchState {
	case latchLow:
		c.LatchState = latchNone
		return uint8(c.Latch)
	case latchWord0: // lohi goes on to the high byte
		c.LatchState = latchWord1
		return uint8(c.Latch)
	case latchHigh, latchWord1:
		c.LatchState = latchNone
		return uint8(c.Latch >> 8)
	}
	v := c.value(t)
	switch c.Access {
	case accessLow:
		return uint8(v)
	case accessHigh:
		return uint8(v >> 8)
	}
	c.ReadHigh = !c.ReadHigh
	if c.ReadHigh {
		return uint8(v)
	}
	return uint8(v >> 8)
}

func (p *PIT) writeByte(port uint16, v uint8, now uint64) {
	t := pitTicks(now)
	switch {
	case port >= PITBase && port < pitControl:
		p.writeChannel(&p.s.Channels[port-PITBase], v, t)
	case port == pitControl:
		p.control(v, t)
	case port == PITPort61:
		p.s.Port61 = v & p61Writable
		p.setGate(&p.s.Channels[2], v&p61Gate2 != 0, t)
	}
}

// control carries out a write of the control word register.
func (p *PIT) control(v uint8, t uint64) {
	sel := v >> 6
	if sel == 3 { // read-back
		for i := range p.s.Channels {
			if v&(2<<i) == 0 {
				continue
			}
			c := &p.s.Channels[i]
			if v&0x20 == 0 {
				c.latch(t)
			}
			if v&0x10 == 0 && !c.StatusLatched {
				c.Status = c.status(t)
				c.StatusLatched = true
			}
		}
		return
	}
	c := &p.s.Channels[sel]
	access := v >> 4 & 3
	if access == 0 {
		c.latch(t)
		return
	}
	mode := v >> 1 & 7
	if mode > 5 {
		mode -= 4 // 6 and 7 are modes 2 and 3
	}
	c.Elapsed = c.elapsed(t)
	c.Mode = mode
	c.Access = access
	c.BCD = v&1 != 0
	c.Loaded = false
	c.Running = false
	c.Triggered = false
	c.WriteLow = false
	c.ReadHigh = false
	c.NullCount = true
}

// latch latches the count unless a latched count is still being read.
func (c *PITChannelState) latch(t uint64) {
	if c.LatchState != latchNone {
		return
	}
	c.Latch = c.value(t)
	c.LatchState = [4]uint8{accessLow: latchLow, accessHigh: latchHigh, accessWord: latchWord0}[c.Access]
}

// status returns the read-back status byte.
func (c *PITChannelState) status(t uint64) uint8 {
	s := c.Access<<4 | c.Mode<<1
	if c.BCD {
		s |= 1
	}
	if c.NullCount {
		s |= 0x40
	}
	if c.out(t) {
		s |= 0x80
	}
	return s
}

// writeChannel writes a count byte.
func (p *PIT) writeChannel(c *PITChannelState, v uint8, t uint64) {
	switch c.Access {
	case accessLow:
		c.load(uint16(v), t)
	case accessHigh:
		c.load(uint16(v)<<8, t)
	default:
		if !c.WriteLow {
			c.WriteLow = true
			c.LowByte = v
			c.NullCount = true
			if c.Mode == 0 {
				// Writing the first byte stops the count; OUT
				// goes low.
				c.Elapsed = c.elapsed(t)
				c.Running = false
				c.Loaded = false
			}
			return
		}
		c.WriteLow = false
		c.load(uint16(c.LowByte)|uint16(v)<<8, t)
	}
}

// load loads a new count and starts counting as the mode and gate allow.
func (c *PITChannelState) load(v uint16, t uint64) {
	c.Reload = v
	c.Loaded = true
	c.NullCount = false
	c.Triggered = false
	c.Elapsed = 0
	c.Running = false
	switch c.Mode {
	case 1, 5:
		// Waits for a trigger on the gate.
	default:
		if c.Gate {
			c.Running = true
			c.Start = t
		}
	}
}

// setGate drives the channel's gate input.
func (p *PIT) setGate(c *PITChannelState, g bool, t uint64) {
	if c.Gate == g {
		return
	}
	c.Gate = g
	if !c.Loaded {
		return
	}
	if g {
		switch c.Mode {
		case 1, 5:
			c.Triggered = true
			c.Running = true
			c.Start = t
			c.Elapsed = 0
		case 2, 3:
			c.Running = true
			c.Start = t
			c.Elapsed = 0
		default:
			if !c.Running {
				c.Running = true
				c.Start = t - c.Elapsed
				c.Elapsed = 0
			}
		}
		return
	}
	switch c.Mode {
	case 0, 2, 3, 4:
		if c.Running {
			c.Elapsed = c.elapsed(t)
			c.Running = false
		}
	}
}
