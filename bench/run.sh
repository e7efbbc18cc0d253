#!/usr/bin/env bash
# `docker run --rm busybox true` through berthd, side by side with `runc run` of the same
# root filesystem and `podman run --rm` of the same image, in one run; prints medians and
# ratios. The docker CLI's own start-up is part of berth's figure. Not a test: a
# benchmark. Needs root, runc and podman (installed here when missing).
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

# A run that fails is no measurement: stop with its error rather than time it.
ms() {
    local s e
    s=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$work/last-error"; then
        echo "failed: $* ($(cat "$work/last-error"))" >&2
        exit 1
    fi
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
}
b=() r=() p=() c=()
for i in $(seq "$ROUNDS"); do
    # The CLI's own floor: start-up plus one API round trip, no container.
    c+=("$(ms "${docker[@]}" version --format '{{.Server.Version}}')")
    b+=("$(ms "${docker[@]}" run --rm busybox true)")
    r+=("$(ms runc run --bundle "$work/bundle" "bench-$$-$i")")
    p+=("$(ms "${podman[@]}" run --rm --network none busybox:latest true)")
done
bm=$(printf '%s\n' "${b[@]}" | median); rm_=$(printf '%s\n' "${r[@]}" | median); pm=$(printf '%s\n' "${p[@]}" | median)
cm=$(printf '%s\n' "${c[@]}" | median)
echo "docker run --rm busybox true via berth: median ${bm} ms over ${ROUNDS} runs"
echo "runc run of the same root:              median ${rm_} ms"
echo "podman run --rm busybox true:           median ${pm} ms"
echo "docker version against berthd:          median ${cm} ms (the CLI alone, in berth's figure)"
awk -v b="$bm" -v r="$rm_" -v p="$pm" 'BEGIN { printf "ratio berth/podman %.2f (target <= 0.25), berth/runc %.1f\n", b / p, b / r }'
