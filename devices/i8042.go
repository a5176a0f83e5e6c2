package devices

import "ftvm/mmu"

var _ mmu.PortDevice = (*I8042)(nil)

// i8042 ports. Map the device at each of them separately: 0x61-0x63 belong to
// other devices.
const (
	I8042DataPort    = 0x60 // data port
	I8042CommandPort = 0x64 // status (read) and command (write) port
)

// I8042Status is the status byte read from port 0x64: output and input
// buffers empty, system flag set (the self-test passed), keyboard not
// inhibited.
const I8042Status = i8042StatusSystem | i8042StatusUnlocked

const (
	i8042StatusSystem   = 1 << 2
	i8042StatusUnlocked = 1 << 4
)

// I8042 models only the reset line of the PC keyboard controller, the way
// guests reboot a PC. A write of 0xFE to the command port pulses the CPU
// reset line and calls OnReset. So does, as in QEMU, any other "pulse output
// lines" command 0xF0-0xFF whose bit 0 is clear (the bits that are clear
// select the lines to pulse; bit 0 is the reset line). Every
// other command and every data byte is accepted and ignored; the output
// buffer is always empty and the data port reads 0. I8042 implements
// mmu.PortDevice and has no state.
type I8042 struct {
	// OnReset is called when the guest pulses the reset line. The board
	// ends the run with status 0. Nil ignores resets.
	OnReset func()
}

// NewI8042 returns an I8042 that calls onReset on a reset command.
func NewI8042(onReset func()) *I8042 {
	return &I8042{OnReset: onReset}
}

// ReadPort implements mmu.PortDevice: the command port reads I8042Status,
// the data port 0. Bytes of a wide access that fall on other ports read as
// 0xFF, like unmapped ports.
func (k *I8042) ReadPort(port uint16, size int) uint32 {
	v := uint32(0xFFFFFFFF)
	switch port {
	case I8042DataPort:
		v = 0xFFFFFF00
	case I8042CommandPort:
		v = 0xFFFFFF00 | I8042Status
	}
	return v & byteMask(size)
}

// WritePort implements mmu.PortDevice. Only the low byte of a write to the
// command port is a command.
func (k *I8042) WritePort(port uint16, size int, value uint32) {
	if port != I8042CommandPort || size < 1 {
		return
	}
	cmd := uint8(value)
	if cmd >= 0xF0 && cmd&1 == 0 && k.OnReset != nil {
		k.OnReset()
	}
}
