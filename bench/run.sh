#!/usr/bin/env bash
# `docker run --rm busybox true` through berthd, side by side with `runc run` of the same
# root filesystem and `podman run --rm` of the same image, in one run; prints medians and
# ratios. The docker CLI's own start-up is part of berth's figure. Not a test: a
# benchmark. Needs root, runc and podman (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-10}
for pkg in runc podman; do command -v $pkg >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkg; done
cargo build --release -q -p berthd -p berth-runner
cargo build --release -q -p berth-testkit --example busybox-image
work=$(mktemp -d)
bridge=bbench$$
cleanup() {
    kill "${berthd_pid:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    # podman leaves its storage mounted; unmount everything below the work dir.
    grep -F "$work" /proc/mounts | awk '{ print $2 }' | sort -r | xargs -r umount -l 2>/dev/null || true
    rm -rf "$work" || true
    bench/remove-bridge.sh "$bridge"
}
trap cleanup EXIT

./target/release/examples/busybox-image "$work/busybox.tar" busybox:latest >/dev/null
./target/release/berthd --data-root "$work/berth" -H "unix://$work/berth.sock" \
    --bridge "$bridge" --bip 10.213.249.1/24 2>"$work/berthd.log" &
berthd_pid=$!
until grep -q "berthd is ready" "$work/berthd.log"; do kill -0 $berthd_pid; sleep 0.02; done
docker=(docker -H "unix://$work/berth.sock")
"${docker[@]}" load -q -i "$work/busybox.tar" >/dev/null

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

# podman: its own store, runc, and a nofile limit this machine allows.
mkdir -p "$work/podman-conf"
cat >"$work/podman-conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/podman-conf/containers.conf"
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)
"${podman[@]}" load -q -i "$work/busybox.tar" >/dev/null 2>&1

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
b=() r=() p=()
for i in $(seq "$ROUNDS"); do
    b+=("$(ms "${docker[@]}" run --rm busybox true)")
    r+=("$(ms runc run --bundle "$work/bundle" "bench-$$-$i")")
    p+=("$(ms "${podman[@]}" run --rm --network none busybox:latest true)")
done
bm=$(printf '%s\n' "${b[@]}" | median); rm_=$(printf '%s\n' "${r[@]}" | median); pm=$(printf '%s\n' "${p[@]}" | median)
echo "docker run --rm busybox true via berth: median ${bm} ms over ${ROUNDS} runs"
echo "runc run of the same root:              median ${rm_} ms"
echo "podman run --rm busybox true:           median ${pm} ms"
awk -v b="$bm" -v r="$rm_" -v p="$pm" 'BEGIN { printf "ratio berth/podman %.2f (target <= 0.25), berth/runc %.1f\n", b / p, b / r }'
