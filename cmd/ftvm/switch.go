package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ftvm/netswitch"
)

// cmdSwitch runs `ftvm switch [-idle D] PATH`: a learning Ethernet switch on
// the unix datagram socket PATH, for guests started with --net socket:PATH.
// It runs until interrupted (SIGINT, SIGTERM) and then removes PATH.
func cmdSwitch(args []string) (int, error) {
	fs := newFlags("switch", "usage: ftvm switch [-idle D] PATH")
	idle := fs.Duration("idle", netswitch.DefaultIdle, "forget a port silent for `D`")
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("switch: want one socket PATH")
	}
	if *idle <= 0 {
		*idle = time.Duration(1<<63 - 1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	sw, err := netswitch.Listen(fs.Arg(0))
	if err != nil {
		return 0, err
	}
	sw.Idle = *idle
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-sig:
			sw.Close()
		case <-stopped:
		}
	}()
	fmt.Fprintf(os.Stderr, "ftvm: switch listening on %s\n", sw.Path())
	if err := sw.Serve(); err != nil {
		sw.Close()
		return 0, err
	}
	return 0, nil
}
