#!/usr/bin/env bash
# `docker run --rm busybox true` through berthd, side by side with `runc run` of the same
# root filesystem and `podman run --rm` of the same image, in one run; prints medians and
# ratios. The docker CLI's own start-up is part of berth's figure. Not a test: a
# benchmark. Needs root, runc and podman (installed here when missing).
#
# Two pairs, so that like is compared with like: each engine's default (berth: a veth on
# its bridge with NAT; podman: netavark's bridge), which is what the runner issue's
# target is about, and both with `--network none`, which leaves networking out. runc's
# bundle has no network namespace set-up, no seccomp filter and no cgroup limits.
#
# The two ratios of the first-run issue: berth against podman (target <= 0.15), and
# berth against the floor, `docker version` against berthd (the CLI's own start and one
# API round trip) plus `runc run` of the same root, each measured in this run (target
# <= 1.5). Figures only compare when the machine is otherwise idle: the load average is
# printed before and after, to go next to the figures.
set -euo pipefail
ROUNDS=${ROUNDS:-10}
BENCH_BIP=10.213.249.1/24
source "$(dirname "$0")/common.sh"
need runc
start_berthd
start_podman

# runc: the same busybox root, a bundle with `true` and no terminal.
mkdir -p "$work/bundle/rootfs"
tar -xf "$work/busybox.tar" -C "$work" manifest.json
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][0])' "$work/manifest.json")
tar -xf "$work/busybox.tar" -O "$layer" | tar -x -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["true"]
c["process"]["terminal"] = False
json.dump(c, open("config.json", "w"))
PY
)

b=() bn=() r=() p=() pn=() c=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$ROUNDS"); do
    # The CLI's own floor: start-up plus one API round trip, no container.
    c+=("$(ms "${docker[@]}" version --format '{{.Server.Version}}')")
    b+=("$(ms "${docker[@]}" run --rm busybox true)")
    p+=("$(ms "${podman[@]}" run --rm busybox:latest true)")
    bn+=("$(ms "${docker[@]}" run --rm --network none busybox true)")
    pn+=("$(ms "${podman[@]}" run --rm --network none busybox:latest true)")
    r+=("$(ms runc run --bundle "$work/bundle" "bench-$$-$i")")
done
med() { printf '%s\n' "$@" | median; }
bm=$(med "${b[@]}") pm=$(med "${p[@]}") bnm=$(med "${bn[@]}") pnm=$(med "${pn[@]}")
rm_=$(med "${r[@]}") cm=$(med "${c[@]}")
echo "medians over ${ROUNDS} rounds (ms)"
echo "  docker run --rm busybox true via berth:       ${bm}"
echo "  podman run --rm busybox true:                 ${pm}"
echo "  the same with --network none: berth ${bnm}, podman ${pnm}"
echo "  runc run of the same root:                    ${rm_}"
echo "  docker version against berthd:                ${cm} (the CLI alone, in berth's figures)"
echo "  load average (1, 5, 15 min) before: ${load_before}; after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$bm" -v p="$pm" -v bn="$bnm" -v pn="$pnm" -v r="$rm_" -v c="$cm" 'BEGIN {
    printf "ratio berth/podman, defaults: %.2f (target <= 0.15)\n", b / p
    printf "ratio berth/floor (docker version + runc run = %d ms): %.2f (target <= 1.5)\n", c + r, b / (c + r)
    printf "ratio berth/podman, --network none: %.2f\n", bn / pn
    printf "ratio berth/runc: %.1f\n", b / r
}'
