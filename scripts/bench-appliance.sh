#!/bin/bash
# Runs BenchmarkApplianceRequests (cmd/ftvm/bench_test.go): the kvstore
# appliance under ftvm on the socket network (an in-process switch), one
# client doing sequential PUTs (each appended to the guest's disk log and
# flushed before the reply), and prints requests/s and the latency
# percentiles of one request.
#
# Environment: GO (default go), BENCHTIME (default 3s), COUNT (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BENCHTIME=${BENCHTIME:-3s}
COUNT=${COUNT:-1}

[ -e testdata/guests/build/kvstore.elf ] || { echo "bench-appliance.sh: testdata/guests/build/kvstore.elf missing (run make guests)" >&2; exit 2; }

tags=()
if pkg-config --exists capstone 2>/dev/null; then tags=(-tags capstone); fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$GO" test "${tags[@]}" -run '^$' -bench '^BenchmarkApplianceRequests$' -benchtime "$BENCHTIME" -count "$COUNT" ./cmd/ftvm >"$out" 2>&1; then
    cat "$out" >&2
    echo "bench-appliance.sh: the benchmark failed" >&2
    exit 1
fi

# BenchmarkApplianceRequests-2  1996  520878 ns/op  462.0 p50-µs  650.0 p90-µs  2034 p99-µs  1920 req/s
lines=$(grep '^BenchmarkApplianceRequests' "$out" || true)
if [ -z "$lines" ]; then
    cat "$out" >&2
    echo "bench-appliance.sh: no benchmark result (guest not built?)" >&2
    exit 1
fi
awk '
    /^BenchmarkApplianceRequests/ {
        for (i = 3; i < NF; i++) v[$(i + 1)] = $i
        printf "appliance: %d sequential PUTs: %.0f requests/s, latency p50 %.0f us, p90 %.0f us, p99 %.0f us\n",
            $2, v["req/s"], v["p50-µs"], v["p90-µs"], v["p99-µs"]
    }' <<<"$lines"
