#!/usr/bin/env bash
# docker load of a 100 MB image through berthd vs podman load of the same archive, side by
# side in one run, each a few rounds on a fresh store; prints medians and the ratio.
# Needs root and Debian's podman (installed here when missing). Not a test: a benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-100}
ROUNDS=${ROUNDS:-5}
command -v podman >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman
cargo build --release -q -p berthd
work=$(mktemp -d)
bridge=bbench$$
trap 'kill $berthd_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; bench/remove-bridge.sh "$bridge"' EXIT
python3 bench/make-image.py "$work/image.tar" "$SIZE_MB" >/dev/null

./target/release/berthd --data-root "$work/berth" -H "unix://$work/berth.sock" \
    --bridge "$bridge" --bip 10.213.254.1/24 2>"$work/berthd.log" &
berthd_pid=$!
until grep -q "berthd is ready" "$work/berthd.log"; do
    kill -0 $berthd_pid || { cat "$work/berthd.log"; exit 1; }
    sleep 0.05
done
docker_cmd=(docker -H "unix://$work/berth.sock")
podman_cmd=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

berth_times=() podman_times=()
for _ in $(seq "$ROUNDS"); do
    berth_times+=("$(seconds "${docker_cmd[@]}" load -i "$work/image.tar")")
    "${docker_cmd[@]}" rmi bench:load >/dev/null
    podman_times+=("$(seconds "${podman_cmd[@]}" load -q -i "$work/image.tar")")
    "${podman_cmd[@]}" rmi bench:load >/dev/null 2>&1
done
b=$(printf '%s\n' "${berth_times[@]}" | median)
p=$(printf '%s\n' "${podman_times[@]}" | median)
printf 'docker load via berth: median %.3f s over %d rounds (%s MB image)\n' "$b" "$ROUNDS" "$SIZE_MB"
printf 'podman load:           median %.3f s\n' "$p"
printf 'ratio berth/podman:    %.2f\n' "$(echo "$b / $p" | bc -l)"
