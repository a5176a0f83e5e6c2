package main

import (
	"context"
	"fmt"
	"time"

	"ftvm/metrics"
)

// cmdTop draws the sides of a pair from their --metrics endpoints until
// interrupted.
func cmdTop(args []string) (int, error) {
	fs := newFlags("top", "usage: ftvm top [--interval DURATION] ADDR... (each side's --metrics address)")
	interval := fs.Duration("interval", time.Second, "refresh every `DURATION`")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() == 0 || *interval <= 0 {
		return 0, usagef("top needs at least one ADDR and a positive --interval")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer onSignal(cancel)()
	top := metrics.NewTop(fs.Args())
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		scrapeCtx, done := context.WithTimeout(ctx, *interval)
		screen := top.Refresh(scrapeCtx)
		done()
		fmt.Print("\x1b[H\x1b[2J" + screen)
		select {
		case <-ctx.Done():
			return 0, nil
		case <-tick.C:
		}
	}
}
