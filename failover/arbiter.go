// Package failover makes a pair of ftvm processes one fault-tolerant
// machine: a primary that runs the guest and streams its event log to a
// backup that replays it, failure detection on both sides, an arbiter that
// lets only one side go live per generation, and go-live: the backup
// consumes every record it holds, switches its devices to the real world,
// announces the guest's address, reissues disk I/O in flight, emits the
// outputs the primary had not released, and can take a new backup.
package failover

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Arbiter decides which side may go live for a generation: an atomic
// test-and-set that exactly one caller wins.
type Arbiter interface {
	// TestAndSet claims generation gen for who; it reports whether the
	// claim won (false: someone else holds gen).
	TestAndSet(gen uint64, who string) (bool, error)
	// Highest returns the highest generation claimed so far (0: none).
	Highest() (uint64, error)
}

// FileArbiter is an arbiter on storage both sides see: generation g is the
// file PATH.gen<g>, created with O_EXCL, which the filesystem makes atomic.
type FileArbiter struct{ Path string }

func (a FileArbiter) name(gen uint64) string { return fmt.Sprintf("%s.gen%d", a.Path, gen) }

// TestAndSet implements Arbiter.
func (a FileArbiter) TestAndSet(gen uint64, who string) (bool, error) {
	f, err := os.OpenFile(a.name(gen), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("arbiter: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s pid %d\n", who, os.Getpid()); err != nil {
		return true, fmt.Errorf("arbiter: %w", err)
	}
	return true, f.Sync()
}

// Highest implements Arbiter.
func (a FileArbiter) Highest() (uint64, error) {
	matches, err := filepath.Glob(a.Path + ".gen*")
	if err != nil {
		return 0, err
	}
	var max uint64
	for _, m := range matches {
		if g, err := strconv.ParseUint(strings.TrimPrefix(m, a.Path+".gen"), 10, 64); err == nil && g > max {
			max = g
		}
	}
	return max, nil
}

// NoArbiter lets every claim win. Without a shared arbiter a broken link
// between two healthy hosts can leave both live; ftvm says so at start.
type NoArbiter struct{}

// TestAndSet implements Arbiter.
func (NoArbiter) TestAndSet(uint64, string) (bool, error) { return true, nil }

// Highest implements Arbiter.
func (NoArbiter) Highest() (uint64, error) { return 0, nil }

// ParseArbiter parses --arbiter: "" (none), file:PATH (shared storage) or
// etcd:URL[,URL...]/PREFIX (an etcd cluster; https URLs use tlsCfg, the
// pair's client configuration, for mutual TLS).
func ParseArbiter(spec string, tlsCfg *tls.Config) (Arbiter, error) {
	switch {
	case spec == "":
		return NoArbiter{}, nil
	case strings.HasPrefix(spec, "file:") && len(spec) > 5:
		return FileArbiter{Path: spec[5:]}, nil
	case strings.HasPrefix(spec, "etcd:"):
		a, err := parseEtcd(spec[5:], tlsCfg)
		if err != nil {
			return nil, fmt.Errorf("--arbiter %q: %w", spec, err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("--arbiter %q: want file:PATH or etcd:URL[,URL...]/PREFIX", spec)
}
