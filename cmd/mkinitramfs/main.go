// Command mkinitramfs writes the gzip-compressed newc initramfs ftvm boots
// Debian's kernel with (package internal/initramfs).
//
//	mkinitramfs [-busybox PATH] [-modules DIR] [-load LIST] -o FILE
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"ftvm/internal/initramfs"
)

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "statically linked busybox `PATH`")
	modules := flag.String("modules", "", "kernel module `DIR` (/lib/modules/VERSION)")
	load := flag.String("load", "virtio_mmio,virtio_pci,virtio_blk,virtio_net,crc32c_generic,ext4", "comma-separated `MODULES` /init loads, in order")
	out := flag.String("o", "", "output `FILE`")
	flag.Parse()
	if *modules == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkinitramfs [-busybox PATH] -modules DIR [-load LIST] -o FILE")
		os.Exit(2)
	}
	if err := write(*out, initramfs.Config{Busybox: *busybox, ModulesDir: *modules, Modules: strings.Split(*load, ",")}); err != nil {
		fmt.Fprintf(os.Stderr, "mkinitramfs: %v\n", err)
		os.Exit(1)
	}
}

// write builds the archive into path, removing it on failure.
func write(path string, cfg initramfs.Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = initramfs.Build(bw, cfg)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
