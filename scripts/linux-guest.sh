#!/bin/bash
# Builds the Linux guest material from Debian's packages into OUT (default
# testdata/guests/build/linux):
#   vmlinuz            the newest installed /boot/vmlinuz-* (bzImage, xz)
#   vmlinux            its uncompressed ELF kernel, extracted from the
#                      bzImage's payload (setup header payload_offset and
#                      payload_length, boot.rst) with xz
#   initramfs.cpio.gz  busybox-static, the virtio and ext4 modules of that
#                      kernel and /init (cmd/mkinitramfs)
# Environment: GO (default go), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${OUT:-testdata/guests/build/linux}
kernel=$(ls -v /boot/vmlinuz-* 2>/dev/null | tail -n 1)
if [ -z "$kernel" ]; then
	echo "linux-guest: no /boot/vmlinuz-*: run make deps (linux-image-amd64)" >&2
	exit 1
fi
version=${kernel#/boot/vmlinuz-}
mkdir -p "$OUT"

# le32 FILE OFFSET prints the little-endian 32-bit word at OFFSET.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

if [ "$kernel" -nt "$OUT/vmlinux" ] || [ ! -s "$OUT/vmlinuz" ]; then
	cp "$kernel" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
	setup_sects=$(od -An -tu1 -j $((0x1F1)) -N1 "$kernel" | tr -d ' ')
	if [ "$setup_sects" -eq 0 ]; then setup_sects=4; fi
	start=$(( (setup_sects + 1) * 512 + $(le32 "$kernel" $((0x248))) ))
	length=$(le32 "$kernel" $((0x24C)))
	# The payload ends with its 4-byte uncompressed size, which
	# --single-stream leaves unread.
	dd if="$kernel" of="$OUT/payload.xz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$length" status=none
	xz -dc --single-stream "$OUT/payload.xz" > "$OUT/vmlinux.tmp"
	rm "$OUT/payload.xz"
	mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
fi
"$GO" run ./cmd/mkinitramfs -modules "/lib/modules/$version" -o "$OUT/initramfs.cpio.gz"
echo "linux-guest: $OUT: vmlinuz, vmlinux and initramfs.cpio.gz of $version"
