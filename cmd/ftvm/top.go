package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"ftvm/metrics"
)

// cmdTop draws the sides of a pair from their --metrics endpoints until
// interrupted.
func cmdTop(args []string) (int, error) {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	interval := fs.Duration("interval", time.Second, "refresh every `DURATION`")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ftvm top [--interval DURATION] ADDR... (each side's --metrics address)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 0, usageError{err.Error()}
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
