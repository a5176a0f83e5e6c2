package main

import (
	"fmt"
	"os"
	"path/filepath"

	"ftvm/transport"
)

// cmdCerts creates the certificates of a pair: `ftvm certs DIR`. DIR is
// created (mode 0700) if needed; existing certificate files are never
// overwritten.
func cmdCerts(args []string) (int, error) {
	fs := newFlags("certs", "")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: ftvm certs DIR\n\n"+
			"Writes a new CA (%s, %s) and a node certificate signed by it (%s, %s)\n"+
			"into DIR. Copy DIR to both hosts of the pair and pass it as --tls DIR.\n",
			transport.CACertFile, transport.CAKeyFile, transport.NodeCertFile, transport.NodeKeyFile)
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, usagef("certs needs exactly one DIR (ftvm certs DIR)")
	}
	dir := fs.Arg(0)
	if dir == "" {
		return 0, usagef("certs: empty DIR")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	if err := transport.GenerateCerts(dir); err != nil {
		return 0, err
	}
	for _, f := range []struct{ name, what string }{
		{transport.CACertFile, "CA certificate"},
		{transport.CAKeyFile, "CA key (keep it safe; running needs only the other three files)"},
		{transport.NodeCertFile, "node certificate (client and server)"},
		{transport.NodeKeyFile, "node key"},
	} {
		fmt.Fprintf(os.Stderr, "ftvm: wrote %s: %s\n", filepath.Join(dir, f.name), f.what)
	}
	return 0, nil
}
