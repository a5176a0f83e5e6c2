#!/bin/bash
# The pairing overhead: how much longer a guest takes as the primary of a
# fault-tolerant pair (ftvm primary --wait-backup, its backup replaying it
# on this machine over QUIC on localhost) than alone (ftvm run), in ROUNDS
# alternations of
#
#   alone   ftvm run --stats IMAGE
#   burner  the same beside a process spinning on the other core: what a
#           busy second core (the backup's) costs this one, without pairing
#   paired  ftvm primary --wait-backup --stats IMAGE, and ftvm backup
#
# Measured for each run: "wall", ftvm's --stats wall time of the guest's run
# (the primary's includes the wait for its backup at the end, not the
# join); "cpu", user+sys of the whole process (/usr/bin/time); and for the
# primary the time its guest waited for the backup (ftvm primary --stats):
# at the end (for the backup to hold the end record), and throttled (the
# backup's replay lagged more than --max-lag, which on a shared machine
# means it got less CPU than the primary: its own CPU time is printed
# beside the primary's).
#
# On a machine shared with other work, wall times measure that work: the
# headline is therefore what the primary's guest would take with a core of
# its own, and its backup another, against alone: its CPU time plus its
# wait at the end, against the CPU time alone, per retired instruction (a
# guest on the host clock, Linux, executes more instructions, idle ticks and
# delay loops, the longer its run takes in wall time; bench retires the same
# count every run). Of the best (lowest) of the ROUNDS runs of each:
#
#   overhead  (paired cpu + end wait) / alone cpu - 1   (per instruction)
#   machine   burner cpu / alone cpu - 1                (per instruction: a
#                                                        busy second core's share)
#   wall      paired wall / alone wall - 1   (meaningful on an idle machine;
#                                             the load average is printed)
#
# The last line is machine-readable:
#   pairing_overhead_percent=N pairing_machine_percent=N pairing_wall_overhead_percent=N
#
#   scripts/bench-pair.sh                      # bench.elf
#   scripts/bench-pair.sh [run flags] IMAGE    # any guest that ends by itself, e.g.
#   scripts/bench-pair.sh -m 256M --initrd I --append 'console=ttyS0 -- "CMD"' vmlinux
#
# Environment: FTVM (default bin/ftvm), ROUNDS (default 3), TIMEOUT of each
# run in seconds (default 900), FAILOVER_TIMEOUT of the pair (default 10s:
# a loaded machine can starve a process for longer than the 300 ms default,
# and a pair that splits measures nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

FTVM=${FTVM:-bin/ftvm}
ROUNDS=${ROUNDS:-3}
TIMEOUT=${TIMEOUT:-900}
FAILOVER_TIMEOUT=${FAILOVER_TIMEOUT:-10s}
if [ $# -eq 0 ]; then
    set -- testdata/guests/build/bench.elf
fi
for f in "$FTVM" "${@: -1}"; do
    [ -e "$f" ] || { echo "bench-pair.sh: $f missing (run make build)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench-pair.sh: /usr/bin/time missing (make deps installs the time package)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
"$FTVM" certs "$tmp/tls" >/dev/null 2>&1

# stat_wall ERR, stat_retired ERR: from ftvm's "ftvm: retired=N wall=Ss ..." line
stat_wall() { sed -n 's/^ftvm: retired=[0-9]* wall=\([0-9.]*\)s.*/\1/p' "$1" | tail -1; }
stat_retired() { sed -n 's/^ftvm: retired=\([0-9]*\) wall=.*/\1/p' "$1" | tail -1; }
# waited ERR N: the throttled (1) or end (2) time of the primary's
# "ftvm: waited for the backup: throttled=Ts end=Es" line
waited() { sed -n 's/^ftvm: waited for the backup: throttled=\([0-9.]*\)s end=\([0-9.]*\)s.*/\1 \2/p' "$1" | awk -v n="$2" '{ printf "%.3f", $n }'; }
# cpu TIMEFILE: user+sys of /usr/bin/time -f '%U %S'
cpu() { awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { c = $1 + $2 } END { printf "%.2f", c }' "$1"; }
# check ERR WHO: fails unless the run printed its statistics
check() {
    if [ -z "$(stat_wall "$1")" ]; then
        echo "bench-pair.sh: $2 printed no statistics:" >&2
        grep -v '^\[' "$1" | tail -20 >&2
        exit 1
    fi
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", (a / b - 1) * 100; else print "n/a" }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }
# nsi SECONDS INSNS: nanoseconds per instruction
nsi() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.4f", s * 1e9 / n }'; }
# ginsn INSNS: in units of 1e9
ginsn() { awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
timed() { /usr/bin/time -f '%U %S' -o "$1" timeout "$TIMEOUT" "${@:2}"; }

# alone NAME ARGS...: ftvm run; sets wall, cput and ret
alone() {
    local name=$1
    shift
    timed "$tmp/$name.time" "$FTVM" run --serial none --stats "$@" </dev/null >/dev/null 2>"$tmp/$name.err" || true
    check "$tmp/$name.err" "ftvm run ($name)"
    wall=$(stat_wall "$tmp/$name.err")
    ret=$(stat_retired "$tmp/$name.err")
    cput=$(cpu "$tmp/$name.time")
}

# paired ARGS...: the primary and its backup; sets wall, ret, cput, throttled
# and endwait (the primary's) and bcpu (the backup's)
paired() {
    local ev=$tmp/p.ev addr="" i
    rm -f "$ev"
    timed "$tmp/p.time" "$FTVM" primary --listen 127.0.0.1:0 --tls "$tmp/tls" --wait-backup --events "$ev" \
        --failover-timeout "$FAILOVER_TIMEOUT" --serial none --stats "$@" </dev/null >/dev/null 2>"$tmp/p.err" &
    pids=($!)
    for i in $(seq 400); do
        addr=$(sed -n 's/.*"event":"listening".*"peer":"\([^"]*\)".*/\1/p' "$ev" 2>/dev/null | head -1 || true)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    if [ -z "$addr" ]; then
        echo "bench-pair.sh: the primary did not listen:" >&2
        cat "$tmp/p.err" >&2
        exit 1
    fi
    timed "$tmp/b.time" "$FTVM" backup --primary "$addr" --tls "$tmp/tls" --failover-timeout "$FAILOVER_TIMEOUT" \
        --serial none --stats </dev/null >/dev/null 2>"$tmp/b.err" &
    pids+=($!)
    wait "${pids[0]}" || true
    wait "${pids[1]}" || true
    pids=()
    check "$tmp/p.err" "ftvm primary"
    check "$tmp/b.err" "ftvm backup"
    if grep -q '"event":"backup-lost"' "$ev"; then
        echo "bench-pair.sh: the pair split (the primary lost its backup): not a paired run" >&2
        grep -v '^\[' "$tmp/p.err" "$tmp/b.err" | tail -20 >&2
        exit 1
    fi
    wall=$(stat_wall "$tmp/p.err")
    ret=$(stat_retired "$tmp/p.err")
    cput=$(cpu "$tmp/p.time")
    throttled=$(waited "$tmp/p.err" 1)
    endwait=$(waited "$tmp/p.err" 2)
    bcpu=$(cpu "$tmp/b.time")
}

echo "pairing overhead of ${*}: $ROUNDS rounds of alone / beside a burner / paired, on $(nproc) cores"
best_a="" best_b="" best_p="" best_aw="" best_pw=""
for r in $(seq "$ROUNDS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    alone alone "$@"
    a_wall=$wall a_cpu=$cput a_ret=$ret
    awk 'BEGIN { for (;;) ; }' &
    pids=($!)
    alone burner "$@"
    kill "${pids[0]}" 2>/dev/null || true
    wait "${pids[0]}" 2>/dev/null || true
    pids=()
    b_wall=$wall b_cpu=$cput b_ret=$ret
    paired "$@"
    p_eff=$(add "$cput" "$endwait")
    a_nsi=$(nsi "$a_cpu" "$a_ret") b_nsi=$(nsi "$b_cpu" "$b_ret") p_nsi=$(nsi "$p_eff" "$ret")
    printf 'round %d (load %s): alone cpu %.2fs wall %.2fs (%s Ginsn) | beside burner cpu %.2fs wall %.2fs (%s) | paired cpu %.2fs + end wait %.3fs (throttled %.3fs), wall %.2fs (%s); backup cpu %.2fs | overhead %s%%\n' \
        "$r" "$load" "$a_cpu" "$a_wall" "$(ginsn "$a_ret")" "$b_cpu" "$b_wall" "$(ginsn "$b_ret")" "$cput" "$endwait" "$throttled" "$wall" "$(ginsn "$ret")" "$bcpu" "$(pct "$p_nsi" "$a_nsi")"
    best_a=$(min "$a_nsi" "$best_a")
    best_b=$(min "$b_nsi" "$best_b")
    best_p=$(min "$p_nsi" "$best_p")
    best_aw=$(min "$a_wall" "$best_aw")
    best_pw=$(min "$wall" "$best_pw")
done
overhead=$(pct "$best_p" "$best_a")
machine=$(pct "$best_b" "$best_a")
wallo=$(pct "$best_pw" "$best_aw")
printf 'best of %d, CPU ns per instruction: alone %.3f, beside burner %.3f, paired %.3f (cpu + end wait): overhead %s%%, of which a busy second core %s%%; wall %.2fs alone, %.2fs paired: %s%%\n' \
    "$ROUNDS" "$best_a" "$best_b" "$best_p" "$overhead" "$machine" "$best_aw" "$best_pw" "$wallo"
echo "pairing_overhead_percent=$overhead pairing_machine_percent=$machine pairing_wall_overhead_percent=$wallo"
