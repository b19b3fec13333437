#!/usr/bin/env bash
# Builds the Containerfile image with podman and runs it, on loopback:
#
# 1. A statically linked release binary (glibc, +crt-static), checked to be
#    static and to run, then `podman build` (FROM scratch: nothing pulled).
# 2. The image's configuration: non-root numeric user, EXPOSE 4221, the
#    /data volume, STOPSIGNAL SIGTERM, a HEALTHCHECK in exec form.
# 3. The image running with a host directory as its /data volume: GET /,
#    /healthz, a file from the volume, an upload into it, the HEALTHCHECK
#    command itself, and SIGTERM (the image's STOPSIGNAL) ending in exit 0.
#
# Step 3 runs `podman run` where the machine allows it. Some sandboxes refuse
# the setrlimit calls the OCI runtime makes ("setrlimit RLIMIT_NOFILE:
# Operation not permitted"); there the script exports the image's root
# filesystem and runs its entrypoint under chroot, as the image's user, with
# the image's environment and the volume bind-mounted. It prints which path
# it took. Exits non-zero on any failure.
#
# Usage: scripts/container.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=x86_64-unknown-linux-gnu
STATIC="target/$TARGET/release/loophttp"
IMAGE="localhost/loophttp:check-$$"
NAME="loophttp-check-$$"
READY_WITHIN=20
FAILURES=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILURES=$((FAILURES + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1: expected '$2', got '$3'"; fi; }

for tool in podman curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman curl python3 >/dev/null
    fi
    command -v "$tool" >/dev/null 2>&1 || { echo "not ok - $tool missing (apt-get install podman curl python3)"; exit 1; }
done

TMP="$(mktemp -d /tmp/container-check.XXXXXX)"
CHROOT_PID=""
cleanup() {
    [ -n "$CHROOT_PID" ] && kill "$CHROOT_PID" 2>/dev/null && wait "$CHROOT_PID" 2>/dev/null
    mountpoint -q "$TMP/rootfs/data" 2>/dev/null && umount "$TMP/rootfs/data"
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# ------------------------------------------------------------------ 1. static binary and image
# --target: RUSTFLAGS then apply to loophttp only, not to build scripts and
# proc macros run on the host.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --quiet --target "$TARGET"
LDD="$(ldd "$STATIC" 2>&1 || true)"
case "$LDD" in
*"statically linked"* | *"not a dynamic executable"*) ok "$STATIC is statically linked ($(du -k "$STATIC" | cut -f1) KiB)" ;;
*) notok "$STATIC is not static: $LDD" ;;
esac
check "the static binary runs" "loophttp $(cargo pkgid | sed 's/.*[#@]//')" "$("$STATIC" --version)"

# Inside another container overlayfs may be unavailable: fall back to vfs.
if ! podman build --quiet --format docker -t "$IMAGE" -f Containerfile . >"$TMP/build.log" 2>&1; then
    echo "# podman build failed ($(tail -1 "$TMP/build.log")); retrying with --storage-driver vfs"
    podman() { command podman --storage-driver vfs "$@"; }
    podman build --quiet --format docker -t "$IMAGE" -f Containerfile . >/dev/null
fi
ok "podman build: $IMAGE, $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"

# ------------------------------------------------------------------ 2. image configuration
inspect() { podman image inspect --format "$1" "$IMAGE"; }
check "runs as a numeric non-root user" "10001:10001" "$(inspect '{{.Config.User}}')"
check "exposes 4221 and the metrics port 9464" "map[4221/tcp:{} 9464/tcp:{}]" "$(inspect '{{.Config.ExposedPorts}}')"
check "declares the /data volume" "map[/data:{}]" "$(inspect '{{.Config.Volumes}}')"
check "stops with SIGTERM" "SIGTERM" "$(inspect '{{.Config.StopSignal}}')"
HEALTH="$(inspect '{{json .HealthCheck.Test}}')"
check "HEALTHCHECK runs the binary's probe without a shell" \
    '["CMD","/loophttp","--probe","http://127.0.0.1:4221/healthz","--probe-timeout","3s"]' "$HEALTH"

# What a new volume starts from: /data in the image, owned by the image's user.
DATA_OWNER="$(podman export "$(podman create --no-healthcheck --name "$NAME" "$IMAGE")" | tar -tvf - |
    awk '$NF == "data/" { print $2 }')"
podman rm -f "$NAME" >/dev/null
check "the image's /data belongs to the image's user (so a new volume is writable)" "10001/10001" "$DATA_OWNER"

# ------------------------------------------------------------------ 3. run it
# The volume: a host directory owned by the image's user, with a file in it.
VOLUME="$TMP/data"
mkdir -p "$VOLUME"
echo "from the mounted volume" >"$TMP/data/hello.txt"
chown -R 10001:10001 "$TMP/data"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Where the host reaches the image's metrics listener (LOOPHTTP_METRICS_ADDR).
MPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

wait_answers() {
    local deadline=$((SECONDS + READY_WITHIN))
    while [ "$SECONDS" -le "$deadline" ]; do
        curl -fsS -o /dev/null --max-time 1 "$URL/" 2>/dev/null && return 0
        python3 -c 'import time; time.sleep(0.1)'
    done
    return 1
}

# The HEALTHCHECK command (with the port changed to where this run listens).
healthcheck_cmd() {
    python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])[1:]))' "$HEALTH" |
        sed "s|127.0.0.1:4221|127.0.0.1:$1|"
}

PATH_TAKEN=""
# --no-healthcheck: podman schedules health checks with systemd timers,
# absent here; the check command is run below by hand instead.
RUN_OK=0
# Writes are off in the image; the upload check below turns them on.
RUN_ERR="$(podman run -d --name "$NAME" --no-healthcheck -p "127.0.0.1:$PORT:4221" -p "127.0.0.1:$MPORT:9464" \
    -e LOOPHTTP_ALLOW_UPLOAD=1 -v "$TMP/data:/data" "$IMAGE" 2>&1)" && RUN_OK=1
if [ "$RUN_OK" = 1 ] && wait_answers; then
    PATH_TAKEN="podman run"
    mapfile -t HC < <(healthcheck_cmd 4221)
    run_healthcheck() { podman exec "$NAME" "${HC[@]}"; }
else
    REASON="$(printf '%s' "$RUN_ERR" | grep -v 'level=' | tail -1)"
    [ "$RUN_OK" = 1 ] && REASON="started, but no answer on 127.0.0.1:$PORT within ${READY_WITHIN}s: $(podman logs "$NAME" 2>&1 | tail -1)"
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    PATH_TAKEN="chroot (podman run refused: $REASON)"
    # The image's root filesystem, as a container of it would see it.
    mkdir -p "$TMP/rootfs"
    podman export "$(podman create --no-healthcheck --name "$NAME" "$IMAGE")" | tar -x -C "$TMP/rootfs"
    podman rm -f "$NAME" >/dev/null
    mkdir -p "$TMP/rootfs/data"
    # Where even a bind mount is refused, the volume's files are copied in
    # (and the upload is looked for there).
    if ! mount --bind "$TMP/data" "$TMP/rootfs/data" 2>"$TMP/mount.err"; then
        PATH_TAKEN="$PATH_TAKEN, volume copied in (bind mount refused: $(tail -1 "$TMP/mount.err"))"
        cp -a "$TMP/data/." "$TMP/rootfs/data/"
        VOLUME="$TMP/rootfs/data"
    fi
    mapfile -t ENVS < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | grep .)
    USERSPEC="$(inspect '{{.Config.User}}')"
    ENTRY="$(inspect '{{index .Config.Entrypoint 0}}')"
    CHROOT="$(command -v chroot)"
    # The host's network: the metrics listener moves to a free loopback port.
    env -i "${ENVS[@]}" LOOPHTTP_PORT="$PORT" LOOPHTTP_ALLOW_UPLOAD=1 LOOPHTTP_METRICS_ADDR="127.0.0.1:$MPORT" "$CHROOT" --userspec="$USERSPEC" "$TMP/rootfs" "$ENTRY" \
        >"$TMP/server.log" 2>&1 &
    CHROOT_PID=$!
    wait_answers || { notok "the image's entrypoint under chroot did not answer: $(tail -3 "$TMP/server.log")"; exit 1; }
    mapfile -t HC < <(healthcheck_cmd "$PORT")
    run_healthcheck() { env -i "$CHROOT" --userspec="$USERSPEC" "$TMP/rootfs" "${HC[@]}"; }
fi
echo "# path: $PATH_TAKEN"

check "GET / through the container" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")"
check "GET /healthz" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
check "a file from the mounted volume" "from the mounted volume" "$(curl -s "$URL/files/hello.txt")"
check "/metrics is not on the public port" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")"
# On a failure, say what the scrape got (curl's status, the HTTP status,
# the requests' lines) and the server's last words: once in CI the line was
# missing and nothing said why.
SCRAPE_CODE="$(curl -sS --max-time 10 -o "$TMP/scrape.txt" -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics" 2>"$TMP/scrape.err")" ||
    SCRAPE_CODE="$SCRAPE_CODE curl exit $?: $(tail -1 "$TMP/scrape.err")"
if grep -q '^loophttp_requests_total' "$TMP/scrape.txt" 2>/dev/null; then
    ok "/metrics on the metrics listener (LOOPHTTP_METRICS_ADDR)"
else
    notok "/metrics on the metrics listener (LOOPHTTP_METRICS_ADDR): no loophttp_requests_total line; HTTP $SCRAPE_CODE, $(wc -c <"$TMP/scrape.txt" 2>/dev/null || echo 0) bytes: $(grep -m3 'requests_total' "$TMP/scrape.txt" 2>/dev/null | tr '\n' '|'); server: $( { [ -n "${CHROOT_PID:-}" ] && tail -3 "$TMP/server.log"; } || podman logs "$NAME" 2>&1 | tail -3)"
fi
check "an upload lands in the volume" "201" "$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'uploaded' "$URL/files/new.txt")"
check "the upload is on the host, owned by the image's user" "10001 uploaded" \
    "$(stat -c %u "$VOLUME/new.txt" 2>/dev/null) $(cat "$VOLUME/new.txt" 2>/dev/null)"
if HC_OUT="$(run_healthcheck 2>&1)"; then ok "HEALTHCHECK command: $HC_OUT"; else notok "HEALTHCHECK command: $HC_OUT"; fi

# SIGTERM, as `podman stop` sends it (STOPSIGNAL), and the exit status.
if [ "$PATH_TAKEN" = "podman run" ]; then
    podman stop -t 15 "$NAME" >/dev/null
    STOPPED="$(podman inspect --format '{{.State.ExitCode}}' "$NAME")"
else
    kill -TERM "$CHROOT_PID"
    STOPPED=0
    wait "$CHROOT_PID" || STOPPED=$?
    CHROOT_PID=""
fi
check "SIGTERM (the image's STOPSIGNAL) drains and exits 0" "0" "$STOPPED"

echo "# path: $PATH_TAKEN"
if [ "$FAILURES" -gt 0 ]; then
    echo "FAILED: $FAILURES checks"
    exit 1
fi
echo "all checks passed"
