#!/bin/bash
# Runs every test guest under qemu-system-x86_64 (TCG) and compares its serial
# output with testdata/guests/NAME.golden and its exit status with the
# expected one.  Usage: scripts/qemu-check.sh [--update] [NAME...]
#   --update   rewrite the .golden files from the QEMU output (read them!)
#
# Known QEMU 7.2 deviations, handled here:
#   exercise  needs -cpu max: the default qemu64 model has no POPCNT/BMI1
#             (TZCNT runs as BSF) so the output would differ.
#   sse, bench_sse  need -cpu max too (SSSE3, SSE4.1, SSE4.2 are not in qemu64).
#             QEMU 7.2 takes the explicit lengths of PCMPESTRI with REX.W
#             (RAX/RDX) wrongly, and computes FNSTENV's tags of registers MMX
#             code wrote differently from Intel CPUs: the pcmpestriq-m and
#             mmx-x87-state lines differ from the host CPU's (and ftvm's);
#             they are taken from the golden file.
#   paging    QEMU < 8.0 pushes error code vector*16+2 instead of vector*8+2
#             for a software INT through a gate with DPL < CPL (fixed upstream
#             by "target/i386: ... intno * 8 + 2"); that one check fails.
#   ssefp     QEMU 7.2's softfloat is not exact in every MXCSR flag (e.g. the
#             denormal-operand flag, DAZ/FTZ corners, RCP/RSQRT setting PE), so
#             only the families it gets right are compared: the conversions
#             to and from integers and ROUNDPS/PD/SS/SD (SSEFP_QEMU_EXACT).
#   fpu       QEMU 7.2's x87 does not report C1 (rounded up) and differs on
#             denormal and unsupported operands: only the fpu-compiled line
#             (the code gcc generates for long double) is compared. The host
#             CPU is the oracle of the rest (machine TestGuestsAgainstHost).
#   mb32      QEMU's TCG does not check data segment limits, rights (writes to
#             read-only data or code, reads of execute-only code), null data
#             segments or the CS limit on near branches and fall-through, and reports a PAE reserved-bit #PF without P (error
#             code 8; the SDM and ftvm: 9): only the other lines are compared.
#   compat32  SYSENTER from compatibility mode is Intel's (AMD CPUs raise #UD):
#             QEMU's qemu64 model says AuthenticAMD, so it runs with
#             vendor=GenuineIntel, as ftvm's CPUID model does.
#   halt, spin  never end under QEMU (no halt-exit, no instruction limit): run
#             with a timeout, the output is still compared.
set -euo pipefail
cd "$(dirname "$0")/.."

QEMU=${QEMU:-qemu-system-x86_64}
B=testdata/guests/build
G=testdata/guests
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi

# name : expected QEMU exit status ("timeout" = still running after the timeout)
declare -A want=(
    [hello]=1 [exercise]=1 [paging]=1 [bench]=1 [exitcode]=67
    [halt]=timeout [reset]=0 [triple]=0 [spin]=timeout [sse]=1 [ssefp]=1 [fpbench]=1 [bench_sse]=1 [fpu]=1
    [mb32]=1 [compat32]=1 [tick]=1 [dirty]=1
)
SSEFP_QEMU_EXACT='^(cvtt?(ss|sd)2si|cvtsi2|cvtt?(ps2dq|pd2dq)|cvtdq2|round)'
# the lines QEMU gets right, for the guests whose golden is the host oracle's
MB32_QEMU_EXACT='^(mb32|mmap|mods| args|ring3|call gate|les/lds|seg base|ro read|stack16|expand-down (above|wrote)|gdt limit|not present|ss dpl3|bound|into|int 0x30|legacy|fw_cfg|testdev|pg32|pae: |pae execute|compat|long mode)'
declare -A exact=( [ssefp]="$SSEFP_QEMU_EXACT" [fpu]='^fpu-compiled ' [mb32]="$MB32_QEMU_EXACT" )
declare -A extra=( [mb32]="-device pc-testdev" [compat32]="-cpu qemu64,vendor=GenuineIntel" [exercise]="-cpu max" [sse]="-cpu max" [ssefp]="-cpu max" [bench_sse]="-cpu max" )
declare -A tmo=( [bench]=300 [bench_sse]=300 [halt]=3 [spin]=3 )

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(hello exercise paging bench exitcode halt reset triple spin sse ssefp fpbench bench_sse fpu mb32 compat32 tick dirty)

qemu_major=$($QEMU --version | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
fail=0
for n in "${names[@]}"; do
    elf=$B/$n.elf
    [ -f "$elf" ] || { echo "qemu-check: $elf missing (make guests)" >&2; exit 2; }
    out=$(mktemp)
    start=$(date +%s.%N)
    rc=0
    # shellcheck disable=SC2086
    mods=()
    [ -f "$G/$n.modules" ] && mods=(-initrd "$(cat "$G/$n.modules")")
    timeout "${tmo[$n]:-60}" $QEMU -accel tcg ${extra[$n]:-} -m 64M -display none -serial stdio \
        -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$elf" "${mods[@]}" \
        </dev/null >"$out" 2>"$out.err" || rc=$?
    end=$(date +%s.%N)
    [ $rc -eq 124 ] && rc=timeout
    cmp_out=$out
    if [ "$n" = paging ] && [ "${qemu_major:-0}" -lt 8 ]; then
        # undo the known QEMU < 8.0 error-code bug (see above)
        sed -e 's/^FAIL user-int-dpl0-gate-gp vec=13 err=0x812$/ok user-int-dpl0-gate-gp/' \
            -e 's/^paging: \([0-9]*\) checks, 1 failed$/paging: \1 checks, 0 failed/' "$out" >"$out.fixed"
        if ! cmp -s "$out" "$out.fixed" && [ "$rc" = 3 ]; then rc=1; fi
        cmp_out=$out.fixed
    fi
    golden=$G/$n.golden
    if [ "$n" = sse ]; then
        # the known QEMU PCMPESTRI REX.W and FNSTENV-after-MMX deviations (see above)
        l1=$(grep '^pcmpestriq-m ' $G/sse.golden || true)
        l2=$(grep '^mmx-x87-state ' $G/sse.golden || true)
        sed -e "s/^pcmpestriq-m .*/$l1/" -e "s/^mmx-x87-state .*/$l2/" "$out" >"$out.fixed"
        cmp_out=$out.fixed
    fi
    if [ -n "${exact[$n]:-}" ]; then
        grep -E "${exact[$n]}" "$out" >"$out.fixed" || true
        grep -E "${exact[$n]}" "$golden" >"$out.golden" || true
        cmp_out=$out.fixed golden=$out.golden
    fi
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ $update -eq 1 ] && [ -z "${exact[$n]:-}" ]; then  # those goldens come from NAME_host
        cp "$cmp_out" $G/$n.golden
    fi
    status=ok
    if ! cmp -s "$cmp_out" "$golden"; then
        status="FAIL (output differs from $G/$n.golden)"
        diff "$golden" "$cmp_out" | head -20 || true
    fi
    if [ "$rc" != "${want[$n]}" ]; then
        status="FAIL (exit $rc, want ${want[$n]})"
        cat "$out.err" >&2 || true
    fi
    [ "$status" = ok ] || fail=1
    printf '%-9s exit=%-8s %6ss  %s\n' "$n" "$rc" "$secs" "$status"
    rm -f "$out" "$out.err" "$out.fixed" "$out.golden"
done
exit $fail
