#!/usr/bin/env bash
# Site mode against nginx with the same site config (root, index, sendfile,
# no logging, one worker each, each pinned to core 1 and wrk to core 0):
#   random: 1,000 files of 1-16 KiB, a random one per request (wrk Lua, keep-alive)
#   index:  GET / of a 4 KiB index.html at 50 connections
# Reports requests/s and each server's CPU per request (utime+stime of its
# processes over the run, from /proc), and loophttp's over nginx's.
#
#   scripts/site-bench.sh [path/to/loophttp]     # DURATION=5 CONNS=10 by default
#   SMOKE=1 scripts/site-bench.sh                # 1 s runs: checks the harness only
#
# Loopback only. Figures on a shared or loaded machine are noisy: the CPU
# per request is the steadier one; run it on a quiet machine to quote it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/loophttp}
DURATION=${DURATION:-5}
CONNS=${CONNS:-10}
[[ ${SMOKE:-} == 1 ]] && DURATION=1
[[ -x $BIN ]] || cargo build --release --locked --quiet
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { echo "site-bench: needs $tool" >&2; exit 1; }
done

TMPD=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMPD"
}
trap cleanup EXIT

# ------------------------------------------------------------ the site
SITE=$TMPD/site
mkdir -p "$SITE"
python3 - "$SITE" <<'PY'
import os, random, sys
site = sys.argv[1]
rng = random.Random(19)
for i in range(1000):
    size = rng.randint(1024, 16 * 1024)
    with open(os.path.join(site, f"f{i:04d}.html"), "wb") as f:
        f.write(bytes(rng.choice(b"abcdefghij <>/\n") for _ in range(size)))
with open(os.path.join(site, "index.html"), "wb") as f:
    f.write(b"<!DOCTYPE html><title>bench</title>" + b"x" * (4096 - 35))
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIN_SERVER=(); PIN_WRK=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then PIN_SERVER=(taskset -c 1); PIN_WRK=(taskset -c 0); fi

PORT_L=$(free_port)
"${PIN_SERVER[@]}" "$BIN" "$SITE" --host 127.0.0.1 -p "$PORT_L" --access-log off --log-level warn --no-metrics &
PIDS+=($!); PID_L=$!

PORT_N=$(free_port)
cat >"$TMPD/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 1; worker_rlimit_nofile 4096;
pid $TMPD/nginx.pid; error_log $TMPD/nginx-error.log warn;
$( [[ $(id -u) == 0 ]] && echo "user root;" )
events { worker_connections 1024; }
http {
    access_log off; server_tokens off;
    include /etc/nginx/mime.types; default_type application/octet-stream;
    charset utf-8; sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000; keepalive_timeout 65;
    client_body_temp_path $TMPD/cb; proxy_temp_path $TMPD/p; fastcgi_temp_path $TMPD/f;
    uwsgi_temp_path $TMPD/u; scgi_temp_path $TMPD/s;
    server { listen 127.0.0.1:$PORT_N; root $SITE; index index.html; }
}
CONF
"${PIN_SERVER[@]}" nginx -p "$TMPD" -c "$TMPD/nginx.conf" &
PIDS+=($!); PID_N=$!

for port in "$PORT_L" "$PORT_N"; do
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    curl -fs -o /dev/null "http://127.0.0.1:$port/f0000.html" || { echo "site-bench: no answer on $port" >&2; exit 1; }
done

# ticks PID: utime+stime of PID and its children (nginx's workers), in clock ticks.
ticks() {
    local total=0 p rest
    local -a f
    # Children from /proc (no procps needed); nginx's worker is one.
    for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        rest=$(<"/proc/$p/stat") 2>/dev/null || continue
        read -r -a f <<<"${rest##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

CLK=$(getconf CLK_TCK)
# run NAME PID PORT CONNS [LUA] PATH -> prints "requests rps us_per_request"
run() {
    local pid=$1 port=$2 conns=$3 lua=$4 path=$5 before after out
    local -a args=(-t1 -c"$conns" -d"${DURATION}s" --latency)
    [[ -n $lua ]] && args+=(-s "$lua")
    before=$(ticks "$pid")
    out=$("${PIN_WRK[@]}" wrk "${args[@]}" "http://127.0.0.1:$port$path")
    after=$(ticks "$pid")
    local reqs rps
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then echo "site-bench: errors on $port: $out" >&2; exit 1; fi
    awk -v r="$reqs" -v rps="$rps" -v t=$((after - before)) -v clk="$CLK" \
        'BEGIN { printf "%d %.0f %.2f\n", r, rps, (r > 0 ? t / clk * 1e6 / r : 0) }'
}

read -r load1 _ </proc/loadavg
echo "site-bench: $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), nproc $(nproc), load average $load1 at start"
echo "runs of ${DURATION}s, wrk -t1; servers pinned to ${PIN_SERVER[*]:-nothing}, wrk to ${PIN_WRK[*]:-nothing}"
printf '%-34s %-9s %10s %12s %14s\n' scenario server requests "requests/s" "CPU us/req"
for scenario in "random 1,000 files 1-16 KiB, -c$CONNS|$CONNS|scripts/site-bench.lua|/" "GET / index.html 4 KiB, -c50|50||/"; do
    IFS='|' read -r name conns lua path <<<"$scenario"
    read -r rl pl cl < <(run "$PID_L" "$PORT_L" "$conns" "$lua" "$path")
    read -r rn pn cn < <(run "$PID_N" "$PORT_N" "$conns" "$lua" "$path")
    printf '%-34s %-9s %10d %12d %14s\n' "$name" loophttp "$rl" "$pl" "$cl" "" nginx "$rn" "$pn" "$cn"
    awk -v a="$cl" -v b="$cn" -v n="$name" 'BEGIN { printf "%-34s %-9s %39s\n", "", "ratio", (b > 0 ? sprintf("loophttp/nginx CPU per request %.2f", a / b) : "n/a") }'
done
