package main

import (
	"fmt"
	"net"
	"os"

	"ftvm/gdbstub"
	"ftvm/machine"
)

// serveGDB runs m under the GDB stub on --gdb's address.
func serveGDB(m *machine.Machine, f *runFlags, hist gdbstub.History) (machine.Exit, error) {
	ln, err := net.Listen("tcp", f.gdb)
	if err != nil {
		return machine.Exit{}, fmt.Errorf("--gdb: %v", err)
	}
	defer ln.Close()
	fmt.Fprintf(os.Stderr, "ftvm: gdb stub listening on %v\n", ln.Addr())
	return gdbstub.Serve(ln, m, gdbstub.Options{Wait: f.gdbWait, MaxInsns: f.maxInsns, History: hist, Log: os.Stderr})
}
