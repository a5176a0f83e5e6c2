#!/bin/bash
# Runs the bench guest (about 1.5e9 instructions) under ftvm and under
# qemu-system-x86_64 -accel tcg and compares the wall times; then the same for
# the workloads of WORKLOADS (fpbench: n-body and a matrix product compiled
# -O2 -msse2; bench_sse: memcpy, strlen, PCMPISTRI strchr, CRC32C and PSADBW
# sums compiled -O2 -msse4.2), each against its NAME.golden; QEMU runs them
# with -cpu max (its default qemu64 model has no SSSE3/SSE4.1/SSE4.2).
#
#   ftvm:  bin/ftvm run --stats testdata/guests/build/bench.elf
#          (its stderr line "ftvm: retired=N wall=SECONDSs mips=M" gives MIPS)
#   qemu:  best of QEMU_RUNS runs, minus the QEMU start-up time, measured as
#          the best of QEMU_RUNS runs of the hello guest.
#   ratio: ftvm wall time / qemu net time (lower is better for ftvm).
#
# Both must print the checksum in testdata/guests/bench.golden and exit with
# status 1 (debug-exit 0).  Environment: FTVM, QEMU, QEMU_RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

FTVM=${FTVM:-bin/ftvm}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_RUNS=${QEMU_RUNS:-3}
B=testdata/guests/build
GOLDEN=testdata/guests/bench.golden
QARGS=(-accel tcg -m 64M -display none -serial stdio -no-reboot
       -device isa-debug-exit,iobase=0xf4,iosize=0x04)

WORKLOADS=(fpbench bench_sse)
for f in "$B/bench.elf" "$B/hello.elf" "$FTVM" "${WORKLOADS[@]/#/$B/}"; do
    [ -e "$f" ] || [ -e "$f.elf" ] || { echo "bench.sh: $f missing (run make build)" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

# run_timed OUT ERR CMD... : prints the wall time; fails unless exit status 1
run_timed() {
    local out=$1 err=$2 rc=0 t0 t1
    shift 2
    t0=$(now)
    "$@" </dev/null >"$out" 2>"$err" || rc=$?
    t1=$(now)
    if [ $rc -ne 1 ]; then
        echo "bench.sh: '$*' exited with $rc, want 1" >&2
        cat "$err" >&2
        exit 1
    fi
    sub "$t1" "$t0"
}

# check_output OUT WHO [GOLDEN]
check_output() {
    local golden=${3:-$GOLDEN}
    if ! cmp -s "$1" "$golden"; then
        echo "bench.sh: $2 printed '$(head -c 200 "$1")', want '$(cat "$golden")'" >&2
        exit 1
    fi
}

# --- QEMU ---------------------------------------------------------------
q_start=""
q_bench=""
for _ in $(seq "$QEMU_RUNS"); do
    t=$(run_timed "$tmp/qh.out" "$tmp/qh.err" "$QEMU" "${QARGS[@]}" -kernel "$B/hello.elf")
    q_start=$(min "$t" "$q_start")
    t=$(run_timed "$tmp/qb.out" "$tmp/qb.err" "$QEMU" "${QARGS[@]}" -kernel "$B/bench.elf")
    check_output "$tmp/qb.out" qemu
    q_bench=$(min "$t" "$q_bench")
done
q_net=$(sub "$q_bench" "$q_start")

# --- ftvm ---------------------------------------------------------------
f_wall=$(run_timed "$tmp/fb.out" "$tmp/fb.err" "$FTVM" run --stats "$B/bench.elf")
check_output "$tmp/fb.out" ftvm
stats=$(grep '^ftvm: retired=' "$tmp/fb.err" | tail -1 || true)
f_retired=$(sed -n 's/.*retired=\([0-9]*\).*/\1/p' <<<"$stats")
f_swall=$(sed -n 's/.*wall=\([0-9.]*\)s.*/\1/p' <<<"$stats")
f_mips=$(sed -n 's/.*mips=\([0-9.]*\).*/\1/p' <<<"$stats")

ratio=$(awk -v f="$f_wall" -v q="$q_net" 'BEGIN { if (q > 0) printf "%.2f", f / q; else print "n/a" }')

echo "bench guest: $(cat "$GOLDEN")"
printf 'qemu tcg : wall %ss (best of %d), start-up %ss, net %ss\n' "$q_bench" "$QEMU_RUNS" "$q_start" "$q_net"
printf 'ftvm     : wall %ss, retired %s, ftvm-reported wall %ss, %s MIPS\n' \
    "$f_wall" "${f_retired:-?}" "${f_swall:-?}" "${f_mips:-?}"
[ -n "$stats" ] || echo "bench.sh: warning: no 'ftvm: retired=' line on ftvm's stderr" >&2
printf 'ratio    : ftvm/qemu = %s\n' "$ratio"

# --- ftvm --accel kvm: bench_r3 (bench's body at CPL3, testdata/guests/lib/ring3.h, so a
# PVM host runs it natively). KVM does not count instructions: the MIPS-equivalent is
# bench's retired count (same body, within 0.01%) over ftvm's reported KVM wall time.
if [ -e "$B/bench_r3.elf" ]; then
    rc=0; "$FTVM" run --accel kvm --stats "$B/bench_r3.elf" </dev/null >"$tmp/kb.out" 2>"$tmp/kb.err" || rc=$?
    if [ $rc -eq 1 ]; then
        check_output "$tmp/kb.out" "ftvm --accel kvm"
        k_wall=$(sed -n 's/^ftvm: accel=kvm wall=\([0-9.]*\)s.*/\1/p' "$tmp/kb.err")
        k_mips=$(awk -v n="${f_retired:-0}" -v w="${k_wall:-0}" 'BEGIN { if (w > 0 && n > 0) printf "%.0f", n / w / 1e6; else print "?" }')
        printf 'kvm      : bench_r3 wall %ss, %s MIPS-equivalent (%s instructions / wall), %sx the interpreter\n' \
            "${k_wall:-?}" "$k_mips" "${f_retired:-?}" "$(awk -v a="$k_mips" -v b="${f_mips:-0}" 'BEGIN { if (b > 0 && a > 0) printf "%.0f", a / b; else print "?" }')"
    else
        echo "kvm      : not measured: $(head -c 300 "$tmp/kb.err")"
    fi
fi

# --- the other workloads: NAME.elf under QEMU (best of QEMU_RUNS, minus the
# start-up time measured above) and under ftvm -----------------------------
for w in "${WORKLOADS[@]}"; do
    golden=testdata/guests/$w.golden
    qw=""
    for _ in $(seq "$QEMU_RUNS"); do
        t=$(run_timed "$tmp/qw.out" "$tmp/qw.err" "$QEMU" "${QARGS[@]}" -cpu max -kernel "$B/$w.elf")
        check_output "$tmp/qw.out" "qemu $w" "$golden"
        qw=$(min "$t" "$qw")
    done
    qw_net=$(sub "$qw" "$q_start")
    fw=$(run_timed "$tmp/fw.out" "$tmp/fw.err" "$FTVM" run --stats "$B/$w.elf")
    check_output "$tmp/fw.out" "ftvm $w" "$golden"
    st=$(grep '^ftvm: retired=' "$tmp/fw.err" | tail -1 || true)
    printf '%s: qemu tcg net %ss, ftvm wall %ss (retired %s, %s MIPS, unimplemented %s), ftvm/qemu = %s\n' "$w" \
        "$qw_net" "$fw" "$(sed -n 's/.*retired=\([0-9]*\).*/\1/p' <<<"$st")" \
        "$(sed -n 's/.*mips=\([0-9.]*\).*/\1/p' <<<"$st")" "$(sed -n 's/.*unimplemented=\([0-9]*\).*/\1/p' <<<"$st")" \
        "$(awk -v f="$fw" -v q="$qw_net" 'BEGIN { if (q > 0) printf "%.2f", f / q; else print "n/a" }')"
done
