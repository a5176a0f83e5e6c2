package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"ftvm/lockstep"
)

// cmdLog inspects an event log: `ftvm log show [--summary] LOG`.
func cmdLog(args []string) (int, error) {
	if len(args) == 0 || args[0] != "show" {
		return 0, usagef("usage: ftvm log show [--summary] LOG")
	}
	fs := newFlags("log show", "")
	summary := fs.Bool("summary", false, "print only the header and the counts by kind")
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("log show needs exactly one LOG")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := lockstep.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", fs.Arg(0), err)
	}
	hdr, _ := json.MarshalIndent(r.Header, "", "  ")
	fmt.Printf("header %s\n", hdr)
	type tally struct{ count, bytes uint64 }
	var kinds [16]tally
	var last uint64
	total := uint64(r.Offset())
	for {
		start := r.Offset()
		rec, err := r.Next()
		if errors.Is(err, lockstep.ErrEnd) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %v", fs.Arg(0), err)
		}
		size := uint64(r.Offset() - start)
		total += size
		kinds[rec.Kind%16].count++
		kinds[rec.Kind%16].bytes += size
		last = rec.Pos
		if !*summary {
			fmt.Printf("%14d %-10s %s\n", rec.Pos, rec.Kind, describe(rec))
		}
	}
	fmt.Printf("records by kind (count, bytes):\n")
	for k := range kinds {
		if kinds[k].count > 0 {
			fmt.Printf("  %-10s %8d %10d\n", lockstep.Kind(k), kinds[k].count, kinds[k].bytes)
		}
	}
	fmt.Printf("total %d bytes, last position %d", total, last)
	if last > 0 {
		fmt.Printf(", %.1f bytes per million instructions", float64(total)/float64(last)*1e6)
	}
	fmt.Println()
	return 0, nil
}

// describe renders a record's payload for humans.
func describe(r lockstep.Record) string {
	p := r.Payload
	switch r.Kind {
	case lockstep.KindFrame:
		if len(p) > 0 {
			return fmt.Sprintf("dev=%d %d bytes", p[0], len(p)-1)
		}
	case lockstep.KindDiskDone:
		if len(p) >= 9 {
			return fmt.Sprintf("dev=%d request=%d data=%d bytes", p[0], binary.LittleEndian.Uint64(p[1:]), len(p)-9)
		}
	case lockstep.KindConsole:
		return fmt.Sprintf("%q", p)
	case lockstep.KindClock:
		if len(p) == 9 {
			what := "anchor"
			if p[0] == 1 {
				what = "skip"
			}
			return fmt.Sprintf("%s guest_ns=%d", what, binary.LittleEndian.Uint64(p[1:]))
		}
	case lockstep.KindRandom:
		if len(p) == 9 {
			return fmt.Sprintf("ok=%v value=%#x", p[0] == 1, binary.LittleEndian.Uint64(p[1:]))
		}
	case lockstep.KindDigest, lockstep.KindEnd:
		off := 0
		if r.Kind == lockstep.KindEnd && len(p) > 0 {
			off = 1
			if len(p) >= 1+17*8 {
				return fmt.Sprintf("status=%d rip=%#x", p[0], binary.LittleEndian.Uint64(p[1+16*8:]))
			}
		}
		if len(p) >= off+17*8 {
			return fmt.Sprintf("rip=%#x", binary.LittleEndian.Uint64(p[off+16*8:]))
		}
	}
	return fmt.Sprintf("%d bytes", len(p))
}
