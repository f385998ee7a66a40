#!/usr/bin/env bash
# The sync path's regression guard: instruction counts of two fixed scenarios under callgrind
# (`fieldsync bench guard fresh|ingest`), compared with the committed baseline
# docs/perf-baseline.json. Instruction counts do not move with this machine's load, so ±5 %
# means the code changed, not the neighbours. Run it before stopping; it is not part of CI
# (a release build and about two minutes of callgrind).
#
#   scripts/perf-guard.sh            compare with the baseline; exit 1 past the tolerance
#   scripts/perf-guard.sh --update   write the measured counts as the new baseline
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=docs/perf-baseline.json
tolerance=${PERF_GUARD_TOLERANCE:-0.05}
update=false
[ "${1:-}" = "--update" ] && update=true

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    else
        echo "perf-guard: valgrind is missing (apt-get install valgrind)" >&2
        exit 2
    fi
fi

cargo build --release --locked -p fieldsync-server --bin fieldsync >&2
bin=target/release/fieldsync

inputs=$(mktemp -d)
trap 'rm -rf "$inputs"' EXIT

# Instructions executed by the whole process (every thread), as callgrind counts them, of a
# scenario whose input was made beforehand without callgrind.
count() {
    local log scenario=$1
    shift
    "$bin" bench guard "$scenario" "$@" --input "$inputs/$scenario" --prepare
    log=$(mktemp)
    if ! valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$log" \
        "$bin" bench guard "$scenario" "$@" --input "$inputs/$scenario" >/dev/null; then
        cat "$log" >&2
        rm -f "$log"
        echo "perf-guard: the scenario failed under callgrind: $scenario $*" >&2
        exit 2
    fi
    grep -E '^==[0-9]+== Collected' "$log" | awk '{print $4}'
    rm -f "$log"
}

started=$(date +%s)
fresh=$(count fresh --documents 2000)
ingest=$(count ingest --changes 1000 --per-request 10)
seconds=$(( $(date +%s) - started ))

if $update; then
    printf '{\n  "fresh_2000_instructions": %s,\n  "ingest_1000_instructions": %s\n}\n' "$fresh" "$ingest" >"$baseline"
    echo "perf-guard: baseline written to $baseline (fresh $fresh, ingest $ingest; ${seconds} s)"
    exit 0
fi

python3 - "$baseline" "$fresh" "$ingest" "$tolerance" "$seconds" <<'EOF'
import json, sys
path, fresh, ingest, tolerance, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
base = json.load(open(path))
failed = False
for name, now in (("fresh_2000_instructions", fresh), ("ingest_1000_instructions", ingest)):
    then = base[name]
    ratio = now / then
    verdict = "ok" if abs(ratio - 1) <= tolerance else ("SLOWER" if ratio > 1 else "faster: update the baseline")
    failed |= ratio > 1 + tolerance
    print(json.dumps({"guard": name, "baseline": then, "measured": now, "ratio": round(ratio, 4), "verdict": verdict}))
print(json.dumps({"guard": "cost_seconds", "seconds": int(seconds)}))
sys.exit(1 if failed else 0)
EOF
