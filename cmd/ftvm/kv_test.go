package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// `ftvm kv` against a stand-in server on a host UDP socket.

func kvServer(t *testing.T) (addr string, requests chan string) {
	t.Helper()
	requests = make(chan string, 16)
	addr = testenv.UDPServer(t, func(req []byte) []byte {
		requests <- string(req)
		return []byte("OK 1")
	})
	return addr, requests
}

func runKV(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	var out, errb bytes.Buffer
	st, err := kvMain(args, &out, &errb)
	return out.String(), errb.String(), st, err
}

func TestKVReply(t *testing.T) {
	addr, reqs := kvServer(t)
	out, _, st, err := runKV(t, "--timeout", "1s", addr, "PUT", "key", "some value")
	if err != nil || st != 0 {
		t.Fatalf("status %d, %v", st, err)
	}
	if out != "OK 1\n" {
		t.Errorf("stdout %q", out)
	}
	if r := <-reqs; r != "PUT key some value" {
		t.Errorf("request %q", r)
	}
}

func TestKVNoReply(t *testing.T) {
	silent := testenv.SilentUDP(t)
	out, stderr, st, err := runKV(t, "--timeout", "50ms", "--retries", "2", silent, "STAT")
	if err != nil || st != 1 {
		t.Fatalf("status %d, %v; want 1", st, err)
	}
	if out != "" || !strings.Contains(stderr, "no reply after 3 attempts") {
		t.Errorf("stdout %q stderr %q", out, stderr)
	}
}

func TestKVSocketNoSwitch(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	_, stderr, st, err := runKV(t, "--net", "socket:"+filepath.Join(dir, "none.sock"), "--timeout", "50ms",
		"--retries", "0", "--mac", "02:00:00:00:00:01", "10.0.2.15:7000", "STAT")
	if err != nil || st != 1 || !strings.Contains(stderr, "no reply") {
		t.Errorf("status %d, %v, stderr %q; want 1", st, err, stderr)
	}
}

func TestKVUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"127.0.0.1:7000"},
		{"--timeout", "0s", "127.0.0.1:7000", "STAT"},
		{"--retries", "-1", "127.0.0.1:7000", "STAT"},
		{"--net", "tap:x", "127.0.0.1:7000", "STAT"},
		{"--net", "socket:/x", "--ip", "fe80::1", "10.0.2.15:7000", "STAT"},
		{"--net", "socket:/x", "--mac", "zz", "10.0.2.15:7000", "STAT"},
		{"--net", "socket:/x", "guest:7000", "STAT"},
		{"--bogus", "127.0.0.1:7000", "STAT"},
		{"no-port", "STAT"},
	} {
		_, _, _, err := runKV(t, args...)
		if _, ok := err.(usageError); !ok {
			t.Errorf("kv %q: %v, want a usage error", args, err)
		}
	}
}
