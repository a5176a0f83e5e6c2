// Package hostx87 runs single x87 instructions on the host CPU, for
// differential tests of package fp80: each operation loads its operands,
// executes one instruction under a given control word and stores the
// stack and status word back.
package hostx87

// Frame is an operation's input and output. Its layout is fixed: the
// assembly addresses it by offset.
type Frame struct {
	CW   uint16   // offset 0: control word
	_    [6]byte  //
	A    [10]byte // 8: ST(0) before
	_    [6]byte  //
	B    [10]byte // 24: ST(1) before
	_    [6]byte  //
	Out0 [10]byte // 40: ST(0) after
	_    [6]byte  //
	Out1 [10]byte // 56: ST(1) after
	_    [6]byte  //
	Mem  [16]byte // 72: memory operand
	_    [8]byte  //
	SW   uint16   // 96: status word after the instruction
	_    [6]byte  //
	Out2 [10]byte // 104: ST(2) after
	_    [6]byte
}
