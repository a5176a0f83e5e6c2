package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"

	"ftvm/kvclient"
)

const kvUsage = `usage: ftvm kv [flags] ADDR CMD...

Sends one request to the kvstore guest at ADDR (host:port) and prints its
reply: CMD is PUT KEY VALUE, GET KEY or STAT (the words are joined with
single spaces). Exit status 0 on a reply (including an ERR reply), 1 when
no attempt got one, 2 for a usage error.

flags:
`

// cmdKV runs `ftvm kv [--timeout D] [--retries N] [--net udp|socket:PATH]
// [--ip A.B.C.D] [--mac MAC] ADDR CMD...`.
func cmdKV(args []string) (int, error) {
	return kvMain(args, os.Stdout, os.Stderr)
}

// kvMain is cmdKV with its output streams.
func kvMain(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("kv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", kvclient.DefaultTimeout, "wait `D` for the reply to each attempt")
	retries := fs.Int("retries", kvclient.DefaultRetries, "attempts after the first one gets no reply (`N`)")
	netSpec := fs.String("net", "udp", "transport `SPEC`: udp (a host UDP socket) or socket:PATH (Ethernet frames through the unix-datagram switch at PATH)")
	ipFlag := fs.String("ip", kvclient.DefaultL2IP.String(), "with --net socket: the client's IPv4 `ADDRESS`")
	macFlag := fs.String("mac", "", "with --net socket: the client's `MAC` address (default: random, locally administered)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), kvUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, nil
		}
		return 0, usagef("kv: %v", err)
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return 0, usagef("kv: want ADDR and a request")
	}
	if *timeout <= 0 {
		return 0, usagef("kv: --timeout must be positive")
	}
	if *retries < 0 {
		return 0, usagef("kv: --retries must not be negative")
	}
	addr := fs.Arg(0)
	request := strings.Join(fs.Args()[1:], " ")

	var t kvclient.Transport
	switch {
	case *netSpec == "udp":
		u, err := kvclient.NewUDP(addr)
		if err != nil {
			return 0, usagef("kv: %v", err)
		}
		t = u
	case strings.HasPrefix(*netSpec, "socket:") && len(*netSpec) > len("socket:"):
		ip, err := netip.ParseAddr(*ipFlag)
		if err != nil || !ip.Is4() {
			return 0, usagef("kv: --ip %q is not an IPv4 address", *ipFlag)
		}
		var mac net.HardwareAddr
		if *macFlag != "" {
			if mac, err = net.ParseMAC(*macFlag); err != nil || len(mac) != 6 {
				return 0, usagef("kv: --mac %q is not an Ethernet address", *macFlag)
			}
		}
		if _, err := netip.ParseAddrPort(addr); err != nil {
			return 0, usagef("kv: with --net socket, ADDR must be IPv4:port, not %q", addr)
		}
		l2, err := kvclient.NewL2(addr, kvclient.L2Config{
			Switch: strings.TrimPrefix(*netSpec, "socket:"),
			IP:     ip,
			MAC:    mac,
		})
		if err != nil {
			return 0, err
		}
		t = l2
	default:
		return 0, usagef("kv: --net %q: want udp or socket:PATH", *netSpec)
	}

	c := kvclient.New(t)
	defer c.Close()
	c.Timeout = *timeout
	c.Retries = *retries
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	reply, err := c.Do(ctx, request)
	if err != nil {
		var nr *kvclient.NoReplyError
		if errors.As(err, &nr) {
			fmt.Fprintf(stderr, "ftvm: kv: %s: %v\n", addr, err)
			return 1, nil
		}
		if errors.Is(err, context.Canceled) {
			return 1, nil
		}
		return 0, fmt.Errorf("kv: %w", err)
	}
	fmt.Fprintln(stdout, reply)
	return 0, nil
}
