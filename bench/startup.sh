#!/usr/bin/env bash
# How long berthd takes from exec to "berthd is ready" (all five services listening, the
# runner announced), over a few runs on fresh data roots. The target is under 1 s after
# build. Not a test: a benchmark. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-10}
cargo build --release -q -p berthd -p berth-runner
work=$(mktemp -d)
bridge=bbench$$
trap 'rm -rf "$work"; bench/remove-bridge.sh "$bridge"' EXIT
times=()
for i in $(seq "$ROUNDS"); do
    start=$(date +%s%N)
    ./target/release/berthd --data-root "$work/r$i" -H "unix://$work/s$i.sock" \
        --bridge "$bridge" --bip 10.213.253.1/24 2>"$work/log$i" &
    pid=$!
    until grep -q "berthd is ready" "$work/log$i"; do
        kill -0 $pid || { cat "$work/log$i"; exit 1; }
        sleep 0.005
    done
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
    kill -TERM $pid; wait $pid || true
done
printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "berthd ready in: median %d ms, max %d ms over %d runs (target < 1000 ms)\n", a[int((NR + 1) / 2)], a[NR], NR }'
