# Shared by the benchmarks that run berth beside podman: tools, a work directory removed
# on exit (with whatever the peers left mounted in it), a release berthd on a bridge of
# its own, podman with its own store, and a median. Source it after `set -euo pipefail`;
# name the bridge's address with BENCH_BIP first.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Installs the Debian packages of the commands given, when missing.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool"
    done
}

work=$(mktemp -d)
bridge=bbench$$
docker=(docker -H "unix://$work/berth.sock")
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)

cleanup() {
    if [ -n "${berthd_pid:-}" ]; then
        "${docker[@]}" rm -f $("${docker[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
        kill "$berthd_pid" 2>/dev/null || true
    fi
    if [ -d "$work/podman" ]; then
        "${podman[@]}" rm -f -a -t 0 >/dev/null 2>&1 || true
        # netavark's default bridge, when this run brought it up.
        if [ "${podman0_was_there:-yes}" = no ]; then ip link del podman0 2>/dev/null || true; fi
    fi
    wait 2>/dev/null || true
    # podman leaves its storage mounted; unmount everything below the work dir.
    grep -F "$work" /proc/mounts | awk '{ print $2 }' | sort -r | xargs -r umount -l 2>/dev/null || true
    rm -rf "$work" || true
    bench/remove-bridge.sh "$bridge"
}
trap cleanup EXIT

# Builds berthd and the busybox image, starts berthd and loads the image into it.
start_berthd() {
    cargo build --release -q -p berthd -p berth-runner
    cargo build --release -q -p berth-testkit --example busybox-image
    ./target/release/examples/busybox-image "$work/busybox.tar" busybox:latest >/dev/null
    ./target/release/berthd --data-root "$work/berth" -H "unix://$work/berth.sock" \
        --bridge "$bridge" --bip "$BENCH_BIP" 2>"$work/berthd.log" &
    berthd_pid=$!
    until grep -q "berthd is ready" "$work/berthd.log"; do
        kill -0 "$berthd_pid" || { cat "$work/berthd.log"; exit 1; }
        sleep 0.02
    done
    "${docker[@]}" load -q -i "$work/busybox.tar" >/dev/null
}

# podman with runc and its own store, the same busybox image loaded. nofile and nproc:
# podman's defaults exceed the hard limits root may set on these machines (no
# CAP_SYS_RESOURCE), and runc then fails every container.
start_podman() {
    need podman
    mkdir -p "$work/podman-conf"
    cat >"$work/podman-conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
    export CONTAINERS_CONF="$work/podman-conf/containers.conf"
    podman0_was_there=$(ip link show podman0 >/dev/null 2>&1 && echo yes || echo no)
    "${podman[@]}" load -q -i "$work/busybox.tar" >/dev/null 2>&1
}

# Milliseconds of a command. A run that fails is no measurement: stop with its error
# rather than time it.
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

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
