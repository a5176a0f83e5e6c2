#!/bin/bash
# The pairing overhead: how much longer a guest takes as the primary of a
# fault-tolerant pair (ftvm primary --wait-backup, a backup replaying it on
# this machine over QUIC on localhost) than alone (ftvm run), in ROUNDS
# alternations of
#
#   alone   ftvm run --stats IMAGE
#   burner  the same, beside a process spinning on the other core (what the
#           backup's replay takes from a 2-core machine, without pairing)
#   paired  ftvm primary --wait-backup --stats IMAGE and ftvm backup
#
# Times: "wall" is ftvm's own --stats wall time of the guest's run (the
# primary's includes waiting for the backup to take the end, not the join);
# "cpu" is user+sys of the whole process (/usr/bin/time), which other load
# on the machine barely moves. Overheads are of the best of the ROUNDS runs:
#
#   overhead      paired wall / alone wall - 1           (the headline)
#   vs burner     paired wall / burner wall - 1          (pairing's own cost
#                                                         once a core is taken)
#   cpu           paired primary cpu / alone cpu - 1     (work added to the
#                                                         primary's process)
#
# The last line is machine-readable: pairing_overhead_percent=N (the
# headline), for make bench.
#
#   scripts/bench-pair.sh                      # bench.elf
#   scripts/bench-pair.sh [run flags] IMAGE    # any guest, e.g. Linux:
#   scripts/bench-pair.sh -m 256M --initrd I --append "..." vmlinux
#
# Environment: FTVM (default bin/ftvm), ROUNDS (default 3), TIMEOUT for
# each run in seconds (default 600). The guest must end by itself (an exit
# through debug-exit or a power-off), the same way alone and paired.
set -euo pipefail
cd "$(dirname "$0")/.."

FTVM=${FTVM:-bin/ftvm}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-600}
if [ $# -eq 0 ]; then
    set -- testdata/guests/build/bench.elf
fi
for f in "$FTVM" "${@: -1}"; do
    [ -e "$f" ] || { echo "bench-pair.sh: $f missing (run make build)" >&2; exit 2; }
done
command -v /usr/bin/time >/dev/null || { echo "bench-pair.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }

tmp=$(mktemp -d)
burner=""
pids=()
cleanup() {
    [ -z "$burner" ] || kill "$burner" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
"$FTVM" certs "$tmp/tls" >/dev/null 2>&1

# stat_wall ERR: ftvm's "ftvm: retired=N wall=Ss ..." wall time
stat_wall() { sed -n 's/^ftvm: retired=[0-9]* wall=\([0-9.]*\)s.*/\1/p' "$1" | tail -1; }
# cpu TIMEFILE: user+sys of /usr/bin/time -f '%U %S'
cpu() { awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { c = $1 + $2 } END { printf "%.2f", c }' "$1"; }
# status TIMEFILE ERR WHO: fails unless the run ended by itself with its stats
check() {
    if [ -z "$(stat_wall "$2")" ]; then
        echo "bench-pair.sh: $3 printed no statistics:" >&2
        cat "$2" >&2
        exit 1
    fi
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

# alone NAME: ftvm run, its wall in $wall and cpu in $cput
alone() {
    local name=$1
    shift
    /usr/bin/time -f '%U %S' -o "$tmp/$name.time" timeout "$TIMEOUT" \
        "$FTVM" run --serial none --stats "$@" </dev/null >/dev/null 2>"$tmp/$name.err" || true
    check "$tmp/$name.time" "$tmp/$name.err" "ftvm run ($name)"
    wall=$(stat_wall "$tmp/$name.err")
    cput=$(cpu "$tmp/$name.time")
}

# paired: the primary and its backup, the primary's wall in $wall, its cpu
# in $cput, the backup's cpu in $bcpu
paired() {
    local ev=$tmp/p.ev addr="" i
    rm -f "$ev"
    /usr/bin/time -f '%U %S' -o "$tmp/p.time" timeout "$TIMEOUT" \
        "$FTVM" primary --listen 127.0.0.1:0 --tls "$tmp/tls" --wait-backup --events "$ev" \
        --serial none --stats "$@" </dev/null >/dev/null 2>"$tmp/p.err" &
    local pp=$!
    pids=("$pp")
    for i in $(seq 200); do
        addr=$(sed -n 's/.*"event":"listening".*"peer":"\([^"]*\)".*/\1/p' "$ev" 2>/dev/null | head -1)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    if [ -z "$addr" ]; then
        echo "bench-pair.sh: the primary did not listen:" >&2
        cat "$tmp/p.err" >&2
        exit 1
    fi
    /usr/bin/time -f '%U %S' -o "$tmp/b.time" timeout "$TIMEOUT" \
        "$FTVM" backup --primary "$addr" --tls "$tmp/tls" --serial none --stats </dev/null >/dev/null 2>"$tmp/b.err" &
    local bp=$!
    pids=("$pp" "$bp")
    wait "$pp" || true
    wait "$bp" || true
    pids=()
    check "$tmp/p.time" "$tmp/p.err" "ftvm primary"
    check "$tmp/b.time" "$tmp/b.err" "ftvm backup"
    wall=$(stat_wall "$tmp/p.err")
    cput=$(cpu "$tmp/p.time")
    bcpu=$(cpu "$tmp/b.time")
}

echo "pairing overhead: ${*}, $ROUNDS rounds of alone / alone beside a burner / paired (wall: ftvm --stats; cpu: user+sys)"
best_a="" best_b="" best_p="" best_ac="" best_pc=""
for r in $(seq "$ROUNDS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    alone alone "$@"
    a_wall=$wall a_cpu=$cput
    # the burner: one process spinning, which the kernel puts on the other core
    awk 'BEGIN { for (;;) ; }' &
    burner=$!
    alone burner "$@"
    kill "$burner" 2>/dev/null || true
    wait "$burner" 2>/dev/null || true
    burner=""
    b_wall=$wall b_cpu=$cput
    paired "$@"
    printf 'round %d (load %s): alone %6.2fs cpu %6.2fs | beside burner %6.2fs cpu %6.2fs | paired %6.2fs cpu %6.2fs, backup cpu %6.2fs | overhead %5s%%, vs burner %5s%%\n' \
        "$r" "$load" "$a_wall" "$a_cpu" "$b_wall" "$b_cpu" "$wall" "$cput" "$bcpu" \
        "$(pct "$wall" "$a_wall")" "$(pct "$wall" "$b_wall")"
    best_a=$(min "$a_wall" "$best_a")
    best_b=$(min "$b_wall" "$best_b")
    best_p=$(min "$wall" "$best_p")
    best_ac=$(min "$a_cpu" "$best_ac")
    best_pc=$(min "$cput" "$best_pc")
done
printf 'best of %d: alone %.2fs, beside burner %.2fs, paired %.2fs: overhead %s%%, vs burner %s%%, primary cpu %s%%\n' \
    "$ROUNDS" "$best_a" "$best_b" "$best_p" "$(pct "$best_p" "$best_a")" "$(pct "$best_p" "$best_b")" "$(pct "$best_pc" "$best_ac")"
echo "pairing_overhead_percent=$(pct "$best_p" "$best_a") pairing_overhead_vs_burner_percent=$(pct "$best_p" "$best_b") pairing_cpu_overhead_percent=$(pct "$best_pc" "$best_ac")"
