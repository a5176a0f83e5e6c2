// Package hostio holds the host side of ftvm's devices: the backends that
// carry a guest's frames and disk requests to the host and bring what the
// host answers back as inputs. Each owns host resources and goroutines:
//
//   - TAP: a Linux TAP interface, with a reader goroutine;
//   - Socket: a datagram socket to a switch (package netswitch), with a
//     reader and a keep-alive goroutine;
//   - DiskImage: a raw image file, with one worker goroutine performing the
//     requests in order;
//   - PCAPWriter: a packet capture file.
//
// A backend implements an interface of package devices (NetBackend,
// BlockBackend, FrameCapture) and posts what arrives (received frames, disk
// completions) as devices.Input values through the post function it is
// given, safe for concurrent use (the board's live input source). Package
// devices never imports hostio: the board's builder connects the two.
package hostio
