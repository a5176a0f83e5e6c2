#!/bin/bash
# make bench's table: ftvm against QEMU TCG and TCG -icount (the
# deterministic peer) on the same workloads in the same run, and the pairing
# overhead.
#
#   bench      the integer workload (testdata/guests/bench_body.c)
#   bench_sse  the SSE workload: memcpy, strlen, PCMPISTRI strchr, CRC32C,
#              PSADBW sums compiled -O2 -msse4.2 (QEMU: -cpu max)
#   fpbench    n-body and a matrix product compiled -O2 -msse2
#   linux      Debian's vmlinux with the busybox initramfs to /init's marker
#              (ftvm; QEMU boots the bzImage on its pc machine)
#   bench_r3   bench's body at CPL3 under ftvm --accel kvm, when the host
#              has /dev/kvm (MIPS-equivalent: bench's instructions / wall)
#
# Columns: for ftvm, its MIPS (its --stats retired count) over its own wall
# time and over its CPU time (user+sys), and both times; for QEMU TCG and
# TCG -icount shift=0 (the deterministic peer), the best wall and the best
# CPU time of QEMU_RUNS runs, each minus the hello guest's (QEMU's
# start-up), and the MIPS-equivalent of that CPU time (ftvm's retired count:
# the same guest code). On this shared machine the wall times follow the
# load; the CPU times much less, so the ratios (how many times QEMU is
# faster) are of CPU times. For linux the times run to the marker, the CPU
# times to the end of the run (the poweroff), and QEMU boots the bzImage
# (it decompresses itself: QEMU's MIPS-equivalent is low by that). The
# pairing column is scripts/bench-pair.sh's overhead on bench (alone,
# beside a burner, paired, alternated; best of each) when that script
# exists.
#
# Each guest must print its NAME.golden (linux: the marker). Environment:
# FTVM, QEMU, QEMU_RUNS (default 3), LINUX (the linux-guest directory;
# "none" skips the row), PAIR (0 skips the pairing column).
set -euo pipefail
cd "$(dirname "$0")/.."

FTVM=${FTVM:-bin/ftvm}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_RUNS=${QEMU_RUNS:-3}
LINUX=${LINUX:-testdata/guests/build/linux}
PAIR=${PAIR:-1}
B=testdata/guests/build
QARGS=(-m 64M -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04)
TCG=(-accel tcg)
ICOUNT=(-accel tcg -icount shift=0,sleep=off)
WORKLOADS=(bench bench_sse fpbench)

for f in "$FTVM" "$B/hello.elf" "${WORKLOADS[@]/%/.elf}"; do
	[ -e "$f" ] || [ -e "$B/$f" ] || { echo "bench.sh: $f missing (run make build)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { $1 }" </dev/null; }
min() { calc "a = \"$1\"; b = \"$2\"; print (b == \"\" || a + 0 < b + 0) ? a : b"; }
# cpu TIMEFILE: user+sys of /usr/bin/time -f '%U %S'
cpu() { awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { c = $1 + $2 } END { printf "%.2f", c }' "$1"; }

# run_timed OUT ERR CMD...: sets WALL and CPU (seconds); fails unless the
# exit status is 1 (debug-exit 0)
run_timed() {
	local out=$1 err=$2 rc=0 t0 t1
	shift 2
	t0=$(now)
	/usr/bin/time -o "$tmp/time" -f '%U %S' "$@" </dev/null >"$out" 2>"$err" || rc=$?
	t1=$(now)
	if [ $rc -ne 1 ]; then
		echo "bench.sh: '$*' exited with $rc, want 1" >&2
		tail -5 "$err" >&2
		exit 1
	fi
	WALL=$(calc "printf \"%.3f\", $t1 - $t0")
	CPU=$(cpu "$tmp/time")
}

# check OUT WHO GOLDEN
check() {
	cmp -s "$1" "$3" || { echo "bench.sh: $2 printed '$(head -c 200 "$1")', want '$(cat "$3")'" >&2; exit 1; }
}

# qemu_best NAME MODE...: prints the best wall and the best CPU time of
# QEMU_RUNS runs of guest NAME under QEMU with the accelerator arguments
# MODE, each minus the start-up time (the hello guest's, START, "wall cpu")
qemu_best() {
	local name=$1 w="" c=""
	shift
	for _ in $(seq "$QEMU_RUNS"); do
		run_timed "$tmp/q.out" "$tmp/q.err" "$QEMU" "$@" "${QARGS[@]}" -cpu max -kernel "$B/$name.elf"
		[ "$name" = hello ] || check "$tmp/q.out" "qemu $name" "testdata/guests/$name.golden"
		w=$(min "$WALL" "$w")
		c=$(min "$CPU" "$c")
	done
	echo "$w $c"
}

# net "WALL CPU" "START_WALL START_CPU": the difference of each
net() { calc "split(\"$1\", a, \" \"); split(\"$2\", b, \" \"); printf \"%.3f %.3f\", a[1] - b[1], a[2] - b[2]"; }

# stat KEY FILE: a field of ftvm's "ftvm: retired=N wall=Ss mips=M" line
stat() { grep -o "$1=[0-9.]*" "$2" | tail -1 | cut -d= -f2; }

# row NAME RETIRED FTVM_WALL FTVM_CPU "TCG_WALL TCG_CPU" "ICOUNT_WALL ICOUNT_CPU" PAIR:
# MIPS are RETIRED over each time; the ratios are of the CPU times
rows=()
fmt='%-10s %7s %7s %7s %7s | %6s %6s %6s | %6s %6s %6s | %6s %6s | %8s\n'
row() {
	rows+=("$(calc "
		n = \"$2\" + 0; fw = \"$3\" + 0; fc = \"$4\" + 0
		split(\"$5\", t, \" \"); split(\"$6\", i, \" \")
		printf \"$fmt\", \"$1\", m(n, fw), m(n, fc), s(fw), s(fc),
			s(t[1]), s(t[2]), m(n, t[2]), s(i[1]), s(i[2]), m(n, i[2]), r(fc, t[2]), r(fc, i[2]), \"$7\"
	}
	function m(n, t) { return (n > 0 && t > 0) ? sprintf(\"%.0f\", n / t / 1e6) : \"-\" }
	function s(t) { return (t + 0 > 0) ? sprintf(\"%.2f\", t) : \"-\" }
	function r(a, b) { return (a > 0 && b > 0) ? sprintf(\"%.1fx\", a / b) : \"-\"")")
}

# --- the ELF workloads -------------------------------------------------
q_start=$(qemu_best hello "${TCG[@]}")
qi_start=$(qemu_best hello "${ICOUNT[@]}")
bench_retired=""
bench_mips=""
for w in "${WORKLOADS[@]}"; do
	run_timed "$tmp/f.out" "$tmp/f.err" "$FTVM" run --stats "$B/$w.elf"
	check "$tmp/f.out" "ftvm $w" "testdata/guests/$w.golden"
	fcpu=$CPU
	n=$(stat retired "$tmp/f.err")
	fw=$(stat wall "$tmp/f.err")
	ud=$(stat unimplemented "$tmp/f.err")
	[ "${ud:-0}" = 0 ] || echo "bench.sh: ftvm $w: $ud unimplemented instructions (#UD)" >&2
	t=$(net "$(qemu_best "$w" "${TCG[@]}")" "$q_start")
	i=$(net "$(qemu_best "$w" "${ICOUNT[@]}")" "$qi_start")
	pair=-
	if [ "$w" = bench ]; then
		bench_retired=$n bench_mips=$(stat mips "$tmp/f.err")
		if [ "$PAIR" != 0 ] && [ -x scripts/bench-pair.sh ]; then
			FTVM=$FTVM scripts/bench-pair.sh >"$tmp/pair.out" 2>&1 || { cat "$tmp/pair.out" >&2; exit 1; }
			pair=$(grep -o 'pairing_overhead_percent=[-0-9.]*' "$tmp/pair.out" | cut -d= -f2)%
		fi
	fi
	row "$w" "$n" "$fw" "$fcpu" "$t" "$i" "$pair"
done

# --- Linux to /init ----------------------------------------------------
# to_marker NAME CMD...: runs CMD with its stdin on a FIFO; sets WALL to the
# seconds until the console shows the marker, then types poweroff and waits
# for the end (60 s at most); sets CPU to the process's user+sys time.
MARKER="ftvm-init: ready"
to_marker() {
	local name=$1 t0 t1 pid
	shift
	mkfifo "$tmp/$name.in"
	t0=$(now)
	/usr/bin/time -o "$tmp/$name.time" -f '%U %S' "$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	exec 3>"$tmp/$name.in"
	until grep -q "$MARKER" "$tmp/$name.out"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench.sh: $name ended before the marker:" >&2
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
	WALL=$(calc "printf \"%.2f\", $t1 - $t0")
	CPU=$(cpu "$tmp/$name.time")
}

if [ "$LINUX" != none ]; then
	for f in "$LINUX/vmlinux" "$LINUX/vmlinuz" "$LINUX/initramfs.cpio.gz"; do
		[ -e "$f" ] || { echo "bench.sh: $f missing (run make linux-guest)" >&2; exit 2; }
	done
	to_marker ftvm "$FTVM" run -m 256M --clock virtual --stats --initrd "$LINUX/initramfs.cpio.gz" \
		--append console=ttyS0 "$LINUX/vmlinux"
	fwall=$WALL fcpu=$CPU
	# retired and MIPS cover the whole run (to the poweroff); the MIPS of
	# the time to the marker uses the same count
	n=$(stat retired "$tmp/ftvm.err")
	QL=(-M pc -m 256M -display none -serial stdio -monitor none -no-reboot -kernel "$LINUX/vmlinuz"
		-initrd "$LINUX/initramfs.cpio.gz" -append console=ttyS0)
	to_marker qemu "$QEMU" "${TCG[@]}" "${QL[@]}"
	tl="$WALL $CPU"
	to_marker qemu-icount "$QEMU" "${ICOUNT[@]}" "${QL[@]}"
	il="$WALL $CPU"
	row linux "$n" "$fwall" "$fcpu" "$tl" "$il" -
fi

# --- ftvm --accel kvm ----------------------------------------------------
if [ -e "$B/bench_r3.elf" ] && [ -e /dev/kvm ]; then
	rc=0
	"$FTVM" run --accel kvm --stats "$B/bench_r3.elf" </dev/null >"$tmp/k.out" 2>"$tmp/k.err" || rc=$?
	if [ $rc -eq 1 ] && cmp -s "$tmp/k.out" testdata/guests/bench.golden; then
		kw=$(sed -n 's/^ftvm: accel=kvm wall=\([0-9.]*\)s.*/\1/p' "$tmp/k.err")
		km=$(calc "w = \"$kw\" + 0; if (w > 0) printf \"%.0f\", $bench_retired / w / 1e6; else print \"-\"")
		row "bench_r3" "$bench_retired" "$kw" - "" "" -
		kvm_note="bench_r3: ftvm --accel kvm, MIPS-equivalent = bench's retired count / wall ($(calc "printf \"%.0f\", \"$km\" / $bench_mips")x the interpreter)"
	else
		kvm_note="bench_r3: --accel kvm not measured: $(head -c 200 "$tmp/k.err")"
	fi
fi

echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; QEMU best of $QEMU_RUNS, net of start-up (wall cpu: TCG $q_start, icount $qi_start)"
printf "$fmt" "" ftvm ftvm ftvm ftvm "TCG" TCG TCG icount icount icount "ftvm/" "ftvm/" pairing
printf "$fmt" workload MIPS MIPS wall-s cpu-s wall-s cpu-s MIPS wall-s cpu-s MIPS TCG icount overhead
printf "$fmt" "" "(wall)" "(cpu)" "" "" "" "" "(cpu)" "" "" "(cpu)" "(cpu)" "(cpu)" ""
printf '%s\n' "${rows[@]}"
[ -z "${kvm_note:-}" ] || echo "$kvm_note"
[ ! -s "$tmp/pair.out" ] || grep '^best of' "$tmp/pair.out" | sed 's/^/pairing (scripts\/bench-pair.sh): /'
