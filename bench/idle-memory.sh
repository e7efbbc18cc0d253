#!/usr/bin/env bash
# Memory of idle containers: N `sleep` containers through berthd, side by side with N
# through podman, in one run. Per container, berth pays one berth-monitor plus whatever
# berthd (the runner) grows by; podman pays one conmon (podman itself exits). Prints RSS
# and PSS (PSS shares the pages that every monitor maps from the same binary fairly) and
# the ratio. Not a test: a benchmark. Needs root and podman (installed here when missing).
set -euo pipefail
N=${N:-100}
BENCH_BIP=10.214.0.1/22
source "$(dirname "$0")/common.sh"
start_berthd
start_podman

# KiB of RSS and PSS summed over the given pids.
kib() {
    local rss=0 pss=0 pid
    for pid in "$@"; do
        rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")))
        pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")))
    done
    echo "$rss $pss"
}
pids_of() { pgrep -f "$1" | while read -r p; do grep -qF "$work" "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done || true; }

# A first container warms berthd's lazy state (snapshots, the bridge) before the baseline.
"${docker[@]}" run --rm busybox true >/dev/null
read -r before_rss before_pss < <(kib "$berthd_pid")
for _ in $(seq "$N"); do "${docker[@]}" run -d busybox sleep 1d >/dev/null; done
read -r after_rss after_pss < <(kib "$berthd_pid")
mapfile -t monitors < <(pids_of berth-monitor)
read -r mon_rss mon_pss < <(kib "${monitors[@]}")

for _ in $(seq "$N"); do "${podman[@]}" run -d --network none busybox:latest sleep 1d >/dev/null 2>&1; done
mapfile -t conmons < <(pids_of conmon)
read -r con_rss con_pss < <(kib "${conmons[@]}")

awk -v n="$N" -v m="${#monitors[@]}" -v c="${#conmons[@]}" \
    -v mr="$mon_rss" -v mp="$mon_pss" -v gr=$((after_rss - before_rss)) -v gp=$((after_pss - before_pss)) \
    -v cr="$con_rss" -v cp="$con_pss" 'BEGIN {
    printf "%d idle containers each (berth monitors found: %d, podman conmons found: %d)\n", n, m, c
    printf "berth: monitor RSS %.0f KiB + berthd growth %.0f KiB = %.0f KiB per container (PSS %.0f + %.0f = %.0f KiB)\n", mr / n, gr / n, (mr + gr) / n, mp / n, gp / n, (mp + gp) / n
    printf "podman: conmon RSS %.0f KiB per container (PSS %.0f KiB)\n", cr / n, cp / n
    printf "ratio berth/podman: RSS %.2f, PSS %.2f (target: berth below 1024 KiB per container)\n", (mr + gr) / cr, (mp + gp) / cp
}'
