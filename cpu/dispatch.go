package cpu

import (
	"reflect"
	"unsafe"
)

//go:generate go run ./gen/dispatchgen -o dispatch_gen.go

// The run loop (runBlocks, generated) dispatches the handlers that retire
// most instructions by a switch on Inst.kind that calls each directly, and
// the rest through Inst.fn. Register-only handlers and the conditional
// branches are inlined into the loop; the memory and stack handlers it
// calls are declared //go:noinline, because inlined there they slowed the
// whole loop. Chosen by benchmark (bench, MIPS by CPU time, best of 3
// alternated runs): every listed handler inlined 263-280, the memory and
// stack ones called 289-313; more register-only handlers inlined (shifts,
// rotates, NOT, NEG) 283 against 311; the branches called too 295 against
// 310. Frequent pairs run as one kind (fuse below), the loop walks a
// block by pointer to its end marker (nextInst), and a taken branch goes
// from its case straight to the block's end. Against the loop with an
// indirect call per instruction (as built at 8895964): bench 209-230 to
// 461-469, the first 1.5e9 instructions of the Linux boot 192 to 323; see
// the README's Benchmarks for each step.

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

// pairKindOf maps the kinds of two instructions in a row to the pair kind
// that runs them together, kindCall if none; [1] has the pairs ending in a
// conditional branch, [0] the others.
var pairKindOf = func() (t [2][numKinds][numKinds]uint8) {
	for _, p := range pairKinds {
		b := 0
		if p.branch {
			b = 1
		}
		t[b][p.first][p.second] = p.pair
	}
	return
}()

// fuse gives each instruction of insts that begins a pair the pair's
// kind, the pairs not overlapping: first those ending in a conditional
// branch, left to right, then the others among the instructions left. The
// second instruction keeps its kind, for runPart.
func fuse(insts []Inst) {
	var inPair [maxBlockInsts + 1]bool
	for _, b := range []int{1, 0} {
		for i := 0; i+1 < len(insts); i++ {
			if inPair[i] || inPair[i+1] {
				continue
			}
			if k := pairKindOf[b][insts[i].kind][insts[i+1].kind]; k != kindCall {
				insts[i].kind = k
				inPair[i], inPair[i+1] = true, true
				i++
			}
		}
	}
}

// A block's instructions are followed in memory by an end marker (kind
// kindEnd, see buildBlock), so that runBlocks walks them by pointer with no
// index or bounds check, and a block cut short by a budget runs through
// runPart instead.

// nextInst returns the instruction after in in its block: the end marker
// after the last.
func nextInst(in *Inst) *Inst {
	return (*Inst)(unsafe.Add(unsafe.Pointer(in), unsafe.Sizeof(Inst{})))
}

// instAddr returns in's address, which c.at records for instIndex.
func instAddr(in *Inst) uintptr { return uintptr(unsafe.Pointer(in)) }

// indexAt returns the index of the element of insts at address at.
func indexAt(insts []Inst, at uintptr) int {
	return int((at - instAddr(&insts[0])) / unsafe.Sizeof(Inst{}))
}

// instIndex returns the index in c.blk of the instruction being executed
// (0 outside a block).
func (c *CPU) instIndex() int {
	if c.blk == nil {
		return 0
	}
	return indexAt(c.blk.insts, c.at)
}

// runPart runs insts, the first instructions of a block, each through
// Inst.fn: a budget or an interrupt shadow ends the run inside the block.
func (c *CPU) runPart(insts []Inst) {
	for i := range insts {
		in := &insts[i]
		c.at = instAddr(in)
		in.fn(c, in)
		if c.brk {
			c.Retired += uint64(i + 1)
			return
		}
	}
	c.Retired += uint64(len(insts))
	c.RIP = insts[len(insts)-1].next
}
