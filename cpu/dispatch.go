package cpu

import "reflect"

//go:generate go run ./gen/dispatchgen -o dispatch_gen.go

// The run loop (runBlocks, generated) dispatches the handlers that retire
// most instructions by a switch on Inst.kind that calls each directly, and
// the rest through Inst.fn. Register-only handlers and the conditional
// branches are inlined into the loop; the memory and stack handlers it
// calls are declared //go:noinline, because inlined there they slowed the
// whole loop. Chosen by benchmark (CPU time, best of 3 alternated runs):
//
//	indirect call for every instruction    bench 246-251 MIPS, Linux boot 193-205
//	switch, every listed handler inlined   bench 263-280,       Linux boot 208-220
//	switch, memory handlers called         bench 289-313,       Linux boot 237-249
//
// Inlining more register-only handlers (shifts, rotates, NOT, NEG) made
// bench 283 against 311; calling the branches too, 295 against 310. The
// SSE and x87 handlers, all called through Inst.fn, pay the switch's jump
// first: fpbench 76 to 72, bench_sse 154 to 148.

// kindOfHandler maps the code address of each handler in kindHandlers to
// its kind.
var kindOfHandler = func() map[uintptr]uint8 {
	m := make(map[uintptr]uint8, numKinds)
	for k, h := range kindHandlers {
		if h != nil {
			m[reflect.ValueOf(h).Pointer()] = uint8(k)
		}
	}
	return m
}()

// kindOf returns the kind that dispatches to h: kindCall when h is not one
// the switch takes.
func kindOf(h handler) uint8 { return kindOfHandler[reflect.ValueOf(h).Pointer()] }
