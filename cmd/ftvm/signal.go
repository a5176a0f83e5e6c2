package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// onSignal makes SIGINT and SIGTERM end the command: the first calls stop,
// for a clean end (console flushed, recording closed) within a second; a
// second one exits at once with status 128+signal. release restores the
// default handling.
func onSignal(stop func()) (release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		stop()
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "ftvm: %v again: exiting at once\n", s)
			os.Exit(128 + int(s.(syscall.Signal)))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
