#!/bin/bash
# Boots Debian's kernel with the busybox initramfs (make linux-guest) under
# ftvm and under qemu-system-x86_64 -accel tcg, and prints for each the wall
# time from start to /init's marker ("ftvm-init: ready"); for ftvm also the
# instructions retired (to the end of the run: the marker, then poweroff)
# and the MIPS. ftvm boots the vmlinux (no decompression) and the bzImage;
# QEMU boots the bzImage on its pc machine. Environment: FTVM, QEMU, OUT
# (the linux-guest directory).
set -euo pipefail
cd "$(dirname "$0")/.."
FTVM=${FTVM:-bin/ftvm}
QEMU=${QEMU:-qemu-system-x86_64}
OUT=${OUT:-testdata/guests/build/linux}
MARKER="ftvm-init: ready"
for f in "$FTVM" "$OUT/vmlinux" "$OUT/vmlinuz" "$OUT/initramfs.cpio.gz"; do
	[ -e "$f" ] || { echo "bench-linux.sh: $f missing (run make build linux-guest)" >&2; exit 2; }
done
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }

# to_marker NAME CMD...: runs CMD with its stdin on a FIFO, prints the
# seconds until the console shows the marker, then types poweroff and waits
# for the end (60 s at most).
to_marker() {
	local name=$1 t0 t1 pid
	shift
	mkfifo "$tmp/$name.in"
	t0=$(now)
	"$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	exec 3>"$tmp/$name.in"
	until grep -q "$MARKER" "$tmp/$name.out"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench-linux.sh: $name ended before the marker:" >&2
			tail -5 "$tmp/$name.out" "$tmp/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	t1=$(now)
	echo poweroff >&3
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	exec 3>&-
	awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}

FARGS=(run -m 256M --clock virtual --stats --initrd "$OUT/initramfs.cpio.gz" --append console=ttyS0)
for k in vmlinux vmlinuz; do
	s=$(to_marker "ftvm-$k" "$FTVM" "${FARGS[@]}" "$OUT/$k")
	stats=$(grep -o 'retired=[0-9]* wall=[0-9.]*s mips=[0-9.]*' "$tmp/ftvm-$k.err" || echo "no stats")
	printf 'linux %-8s ftvm: %6.2f s to /init  (%s)\n' "$k" "$s" "$stats"
done
s=$(to_marker qemu "$QEMU" -accel tcg -M pc -m 256M -display none -serial stdio -monitor none -no-reboot \
	-kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio.gz" -append console=ttyS0)
printf 'linux %-8s qemu TCG: %6.2f s to /init\n' vmlinuz "$s"
