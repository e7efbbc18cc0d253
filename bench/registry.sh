#!/usr/bin/env bash
# Pull and push through berthd against a local registry (Debian's docker-registry on
# loopback), side by side in one run with skopeo (copy to a new OCI layout, and from the
# layout to a new repository) and podman (pull into its own store, which also unpacks).
# The image: busybox plus random data, 5 gzip layers, about 106 MB on the wire. Prints
# medians in MB/s and the ratios of the registry issue:
#   berth pull / skopeo copy              target >= 1
#   podman pull / berth pull + first run  target >= 2 in berth's favour (berth unpacks on
#                                          first use; podman unpacks in the pull)
#   berth push / skopeo push              target >= 1
# Not a test: a benchmark. Needs root; installs skopeo, docker-registry and podman.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SIZE_MB=${SIZE_MB:-100}
BENCH_BIP=10.213.248.1/24
source "$(dirname "$0")/common.sh"
need skopeo docker-registry
start_berthd
start_podman

# A registry of its own storage on a free loopback port; prints HOST:PORT. Pushes each
# go to a new one, so no client finds the blobs there already (skopeo would mount them
# from another repository of the same registry, which berth does not do yet).
start_registry() {
    local dir=$work/registry-$1
    mkdir -p "$dir"
    cat >"$dir/config.yml" <<YML
version: 0.1
log: {level: info}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:0}
YML
    # Called in $(...): its output must not hold the substitution open.
    docker-registry serve "$dir/config.yml" >/dev/null 2>"$dir/log" &
    echo $! >"$dir/pid"
    until grep -q "listening on" "$dir/log"; do
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
        sleep 0.05
    done
    sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$dir/log" | head -n 1
}
stop_registries() {
    local pid
    for pid in "$work"/registry-*/pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
}
trap 'stop_registries; cleanup' EXIT
reg=$(start_registry main)

bytes=$(python3 bench/make-layout.py "$work/layout" "$work/busybox.tar" "$SIZE_MB" 5)
mb=$(python3 -c "print(round($bytes / 1048576, 1))")
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://$reg/bench/big:v1"
image="$reg/bench/big:v1"

pull_and_run() { "${docker[@]}" pull -q "$image" && "${docker[@]}" run --rm "$image" true; }

bp=() br=() sp=() pp=() bu=() su=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$ROUNDS"); do
    bp+=("$(ms "${docker[@]}" pull -q "$image")")
    "${docker[@]}" rmi -f "$image" >/dev/null   # the store's GC takes the blobs
    br+=("$(ms pull_and_run)")
    # Push to a new registry each round, so every layer goes up.
    push_reg=$(start_registry "berth-$i")
    "${docker[@]}" tag "$image" "$push_reg/bench/pushed:v1"
    bu+=("$(ms "${docker[@]}" push "$push_reg/bench/pushed:v1")")
    "${docker[@]}" rmi -f "$image" "$push_reg/bench/pushed:v1" >/dev/null
    sp+=("$(ms skopeo copy -q --src-tls-verify=false "docker://$image" "oci:$work/skopeo-$i:v1")")
    rm -rf "$work/skopeo-$i"
    push_reg=$(start_registry "skopeo-$i")
    su+=("$(ms skopeo copy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://$push_reg/bench/pushed:v1")")
    pp+=("$(ms "${podman[@]}" pull -q --tls-verify=false "$image")")
    "${podman[@]}" rmi -f "$image" >/dev/null
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

med() { printf '%s\n' "$@" | median; }
rate() { python3 -c "print(round($mb / ($1 / 1000), 1))"; }
ratio() { python3 -c "print(round($1 / $2, 2))"; }
m_bp=$(med "${bp[@]}") m_br=$(med "${br[@]}") m_sp=$(med "${sp[@]}")
m_pp=$(med "${pp[@]}") m_bu=$(med "${bu[@]}") m_su=$(med "${su[@]}")
echo "image: $mb MB in 5 gzip layers; $ROUNDS rounds; load average $load_before -> $load_after"
printf '%-34s %7s ms %8s MB/s\n' \
    "berth docker pull" "$m_bp" "$(rate "$m_bp")" \
    "berth docker pull + first run" "$m_br" "$(rate "$m_br")" \
    "skopeo copy to an OCI layout" "$m_sp" "$(rate "$m_sp")" \
    "podman pull (unpacks)" "$m_pp" "$(rate "$m_pp")" \
    "berth docker push" "$m_bu" "$(rate "$m_bu")" \
    "skopeo copy to a new registry" "$m_su" "$(rate "$m_su")"
echo "berth pull vs skopeo (target >= 1):              $(ratio "$m_sp" "$m_bp")"
echo "podman pull vs berth pull + run (target >= 2):   $(ratio "$m_pp" "$m_br")"
echo "berth push vs skopeo push (target >= 1):         $(ratio "$m_su" "$m_bu")"
