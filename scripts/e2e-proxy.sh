#!/usr/bin/env bash
# loophttp behind nginx, end to end, on loopback: two loophttp instances and
# nginx in front running the shipped deploy/nginx/loophttp.conf (only its
# ports rewritten), as a foreground process with its own prefix, pid file,
# logs and temp directories (never the system service).
#
# 1. Every route through the proxy: /, /echo, /user-agent, /healthz,
#    /metrics, HEAD, OPTIONS, 405, 404, gzip, and /files: a 20 MiB upload and download compared by
#    SHA-256, byte ranges, 304s from If-None-Match and If-Modified-Since,
#    PUT replacing, chunked upload, DELETE, and 413 from nginx itself.
# 2. A rolling restart (SIGTERM one instance, start a new one on its port,
#    wait until it answers, then the other), twice, while wrk sends a
#    bounded load through nginx for LOAD_SECONDS: keep-alive GETs and
#    non-idempotent POST / (which nginx does not retry elsewhere).
#
# Prints requests sent, non-2xx responses and socket errors; exits non-zero
# on any failure.
#
# Usage: scripts/e2e-proxy.sh [BINARY]   (default target/release/loophttp)
# Environment: LOAD_SECONDS (default 20).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/target/release/loophttp}"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
LOAD_SECONDS="${LOAD_SECONDS:-20}"
# How long a restarted instance may still be out of nginx's rotation: the
# fail_timeout of deploy/nginx/loophttp.conf (2 s), plus 1 s because nginx
# stamps failures in whole seconds, plus a margin.
NGINX_FAIL_TIMEOUT=3.2
# Upper bound for a SIGTERMed instance to drain and exit.
EXIT_WITHIN=15
READY_WITHIN=10
FAILURES=0

say() { printf '%s\n' "$*"; }
ok() { say "ok - $*"; }
notok() { say "not ok - $*"; FAILURES=$((FAILURES + 1)); }

# ------------------------------------------------------------------ tools
need=()
for tool in nginx wrk curl python3 sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "# installing nginx wrk curl python3 from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk curl python3 >/dev/null
fi
for tool in nginx wrk curl python3 sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || { say "not ok - $tool is missing (apt-get install nginx wrk curl python3)"; exit 1; }
done
if [ ! -x "$BIN" ]; then
    say "# $BIN missing: cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
fi

# ------------------------------------------------------------------ setup
TMP="$(mktemp -d /tmp/e2e-proxy.XXXXXX)"
# nginx started as root runs its workers as `nobody`: they must reach the
# temp directories under $TMP.
chmod 755 "$TMP"
mkdir -p "$TMP/files" "$TMP/nginx" "$TMP/client"
declare -A PID=()
NGINX_PID=""
cleanup() {
    local pid
    for pid in "${PID[@]}" $NGINX_PID; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "$FAILURES" -gt 0 ]; then
        say "# logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
P1="$(free_port)"
P2="$(free_port)"
PN="$(free_port)"
URL="http://127.0.0.1:$PN"

# Waits until `curl URL` succeeds, for at most SECONDS; fails otherwise.
wait_answers() {
    local url="$1" seconds="$2" deadline=$((SECONDS + $2))
    while [ "$SECONDS" -le "$deadline" ]; do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        python3 -c 'import time; time.sleep(0.05)'
    done
    return 1
}

# Starts instance NAME on PORT; retries while the port is still held by the
# instance it replaces. The instance's log goes to $TMP/NAME.log.
start_instance() {
    local name="$1" port="$2" deadline=$((SECONDS + READY_WITHIN)) pid
    while [ "$SECONDS" -le "$deadline" ]; do
        "$BIN" --host 127.0.0.1 --port "$port" --directory "$TMP/files" \
            --trust-proxy 127.0.0.1 --access-log "$TMP/$name.access.log" --log-level info \
            >>"$TMP/$name.log" 2>&1 &
        pid=$!
        if wait_answers "http://127.0.0.1:$port/echo/ready" 2; then
            PID[$name]=$pid
            return 0
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    return 1
}

# SIGTERM, then wait (bounded) for the process to exit; its exit status
# goes to EXIT_STATUS (not printed: `wait` works only in this shell).
stop_instance() {
    local name="$1" pid="${PID[$1]}" deadline=$((SECONDS + EXIT_WITHIN))
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -le "$deadline" ]; do
        python3 -c 'import time; time.sleep(0.02)'
    done
    if kill -0 "$pid" 2>/dev/null; then
        notok "$name (pid $pid) still running ${EXIT_WITHIN}s after SIGTERM; killing it"
        kill -KILL "$pid"
    fi
    EXIT_STATUS=0
    wait "$pid" || EXIT_STATUS=$?
    unset "PID[$name]"
}

start_instance a "$P1" || { notok "instance a did not start; $(tail -3 "$TMP/a.log")"; exit 1; }
start_instance b "$P2" || { notok "instance b did not start; $(tail -3 "$TMP/b.log")"; exit 1; }

# The shipped config with its ports rewritten; each rewrite must apply.
CONF="$TMP/nginx/loophttp.conf"
sed -e "s/server 127\.0\.0\.1:4221 /server 127.0.0.1:$P1 /" \
    -e "s/server 127\.0\.0\.1:4222 /server 127.0.0.1:$P2 /" \
    -e "s/^\( *\)listen 80;/\1listen 127.0.0.1:$PN;/" \
    -e '/^ *listen \[::\]:80;/d' \
    "$ROOT/deploy/nginx/loophttp.conf" >"$CONF"
for want in "server 127.0.0.1:$P1 " "server 127.0.0.1:$P2 " "listen 127.0.0.1:$PN;"; do
    grep -qF "$want" "$CONF" || { notok "templating deploy/nginx/loophttp.conf: no '$want'"; exit 1; }
done
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    log_format upstream '\$status \$request_method \$upstream_addr \$upstream_status';
    access_log $TMP/nginx/access.log upstream;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    include $CONF;
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" -g 'daemon off;' &
NGINX_PID=$!
wait_answers "$URL/echo/up" "$READY_WITHIN" || { notok "nginx did not answer; $(tail -3 "$TMP/nginx/error.log")"; exit 1; }
say "# loophttp on 127.0.0.1:$P1 and :$P2, nginx $(nginx -v 2>&1 | cut -d/ -f2) on :$PN, work dir $TMP"

# ------------------------------------------------------------------ routes
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else notok "$1: expected '$2', got '$3'"; fi
}
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@"; }
header() { curl -s -o /dev/null -D - --max-time 30 "${@:2}" | tr -d '\r' | grep -i "^$1:" | head -1 | cut -d' ' -f2-; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

check "GET / is the JSON description" '{"message": "Request received successfully", "method": "GET", "path": "/"}' \
    "$(curl -s "$URL/")"
check "GET /echo decodes once" "hello world" "$(curl -s "$URL/echo/hello%20world")"
check "GET /user-agent" "e2e-proxy/1.0" "$(curl -s -A e2e-proxy/1.0 "$URL/user-agent")"
check "HEAD /echo has GET's length" "5" "$(header content-length -I "$URL/echo/12345")"
check "OPTIONS / lists the methods" "GET, HEAD, POST, OPTIONS" "$(header allow -X OPTIONS "$URL/")"
check "DELETE / is 405" "405" "$(status -X DELETE "$URL/")"
check "unknown path is 404" "404" "$(status "$URL/nowhere")"
check "gzip through the proxy" "gzip" "$(header content-encoding -H 'Accept-Encoding: gzip' "$URL/echo/zzzzzzzz")"
check "POST / (non-idempotent) answers" "200" "$(status -X POST --data-binary 'hello' "$URL/")"
check "GET /healthz" "ok" "$(curl -s "$URL/healthz" | tr -d '\n')"
# Each instance counts its own requests; whichever answers has served some.
check "GET /metrics is Prometheus text with request counts" "yes" \
    "$(curl -s "$URL/metrics" | grep -c '^loophttp_requests_total{' | sed -n 's/^[1-9][0-9]*$/yes/p')"

BIG="$TMP/client/big"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$BIG"
check "POST /files/big (20 MiB) is 201" "201" "$(status --data-binary @"$BIG" "$URL/files/big")"
check "the stored file has the upload's SHA-256" "$(sha "$BIG")" "$(sha "$TMP/files/big")"
curl -s -o "$TMP/client/down" "$URL/files/big"
check "GET /files/big (20 MiB) has the same SHA-256" "$(sha "$BIG")" "$(sha "$TMP/client/down")"
curl -s -o "$TMP/client/range" -r 1000-1999 "$URL/files/big"
check "Range 1000-1999 is 206" "206" "$(status -r 1000-1999 "$URL/files/big")"
check "Range 1000-1999 is those bytes" "$(tail -c +1001 "$BIG" | head -c 1000 | sha256sum | cut -d' ' -f1)" \
    "$(sha "$TMP/client/range")"
curl -s -o "$TMP/client/suffix" -r -500 "$URL/files/big"
check "suffix Range -500 is the last 500 bytes" "$(tail -c 500 "$BIG" | sha256sum | cut -d' ' -f1)" \
    "$(sha "$TMP/client/suffix")"
ETAG="$(header etag "$URL/files/big")"
MODIFIED="$(header last-modified "$URL/files/big")"
check "If-None-Match with the ETag is 304" "304" "$(status -H "If-None-Match: $ETAG" "$URL/files/big")"
check "If-Modified-Since Last-Modified is 304" "304" "$(status -H "If-Modified-Since: $MODIFIED" "$URL/files/big")"
check "PUT replacing a file is 204" "204" "$(status -T - "$URL/files/big" <<<"replaced")"
check "the replaced file reads back" "replaced" "$(curl -s "$URL/files/big")"
check "a chunked upload is 201" "201" \
    "$(status -H 'Transfer-Encoding: chunked' --data-binary @"$ROOT/README.md" "$URL/files/readme")"
check "the chunked upload arrived whole" "$(sha "$ROOT/README.md")" "$(sha "$TMP/files/readme")"
check "DELETE /files/readme is 204" "204" "$(status -X DELETE "$URL/files/readme")"
check "a deleted file is 404" "404" "$(status "$URL/files/readme")"
check "a body over 64 MiB is refused by nginx (413)" "413" \
    "$(status -H 'Content-Length: 70000000' -H 'Expect:' --data-binary x "$URL/files/huge")"
rm -f "$BIG" "$TMP/client/down"

# --trust-proxy 127.0.0.1 (nginx): the access log names the client nginx saw,
# here 127.0.0.2, and not what the client claims in its own X-Forwarded-For;
# a client reaching an instance directly is not trusted at all.
logged_peer() {
    local deadline=$((SECONDS + 5)) peer=""
    while [ -z "$peer" ] && [ "$SECONDS" -le "$deadline" ]; do
        peer="$(cat "$TMP"/a.access.log "$TMP"/b.access.log 2>/dev/null | grep -F " $1 " | cut -d' ' -f1)"
        [ -n "$peer" ] || python3 -c 'import time; time.sleep(0.1)'
    done
    echo "$peer"
}
curl -s -o /dev/null --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.66' "$URL/echo/xff-$$"
check "the access log names the client behind nginx, not its spoofed X-Forwarded-For" "127.0.0.2" \
    "$(logged_peer "/echo/xff-$$")"
curl -s -o /dev/null --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.66' "http://127.0.0.1:$P1/echo/direct-$$"
check "X-Forwarded-For from an untrusted peer is ignored" "127.0.0.2" "$(logged_peer "/echo/direct-$$")"

# ------------------------------------------------------------------ load + rolling restarts
cat >"$TMP/client/get.lua" <<'EOF'
-- A bounded rate: each connection waits 10 ms between requests, so the
-- load stays far below what two shared cores can serve.
function delay() return 10 end
EOF
cat >"$TMP/client/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "a non-idempotent request body"
wrk.headers["Content-Type"] = "text/plain"
function delay() return 10 end
EOF
wrk -t1 -c8 -d"${LOAD_SECONDS}s" --timeout 10s -s "$TMP/client/get.lua" "$URL/echo/load" >"$TMP/wrk-get.txt" 2>&1 &
WRK_GET=$!
wrk -t1 -c4 -d"${LOAD_SECONDS}s" --timeout 10s -s "$TMP/client/post.lua" "$URL/" >"$TMP/wrk-post.txt" 2>&1 &
WRK_POST=$!
wait_answers "$URL/echo/warm" 2 || true

RESTARTS=0
for round in 1 2; do
    for name in a b; do
        port=$([ "$name" = a ] && echo "$P1" || echo "$P2")
        t0=$(date +%s%N)
        stop_instance "$name"
        code=$EXIT_STATUS
        t1=$(date +%s%N)
        if ! start_instance "$name" "$port"; then
            notok "round $round: instance $name did not come back on :$port"
            break 2
        fi
        t2=$(date +%s%N)
        say "# round $round: $name exited $code after $(((t1 - t0) / 1000000)) ms, answering again after $(((t2 - t1) / 1000000)) ms"
        [ "$code" = 0 ] || notok "round $round: $name exited with status $code after SIGTERM (not a graceful drain)"
        RESTARTS=$((RESTARTS + 1))
        # Let nginx's fail_timeout expire, so the restarted instance is back in
        # rotation before the other one goes down.
        python3 -c "import time; time.sleep($NGINX_FAIL_TIMEOUT)"
    done
done
wait "$WRK_GET" "$WRK_POST" || true

# wrk's summary: "N requests in", "Socket errors: connect a, read b, write c, timeout d",
# "Non-2xx or 3xx responses: n".
report() {
    local label="$1" file="$2" requests non2xx errors
    requests=$(grep -Eo '^ *[0-9]+ requests in' "$file" | grep -Eo '[0-9]+' || echo 0)
    non2xx=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' "$file" | grep -Eo '[0-9]+$' || echo 0)
    errors=$(grep -Eo 'Socket errors: .*' "$file" || echo "Socket errors: none")
    say "load: $label: $requests requests, non-2xx $non2xx, $errors"
    [ "$requests" -gt 0 ] || notok "$label: no requests completed ($(tr '\n' ' ' <"$file"))"
    [ "$non2xx" = 0 ] || notok "$label: $non2xx non-2xx responses"
    grep -q 'Socket errors' "$file" && notok "$label: $errors"
    return 0
}
report "keep-alive GET /echo (8 connections)" "$TMP/wrk-get.txt"
report "POST / (4 connections)" "$TMP/wrk-post.txt"
LOGGED=$(wc -l <"$TMP/nginx/access.log")
FAILED_5XX=$(awk '$1 >= 500' "$TMP/nginx/access.log" | wc -l)
RETRIED=$(grep -c ', ' "$TMP/nginx/access.log" || true)
say "nginx: $LOGGED requests logged, $FAILED_5XX answered 5xx, $RETRIED retried on the other instance; $RESTARTS restarts"
[ "$RESTARTS" = 4 ] || notok "only $RESTARTS of 4 restarts happened"
[ "$FAILED_5XX" = 0 ] || notok "nginx answered $FAILED_5XX requests with 5xx: $(awk '$1 >= 500' "$TMP/nginx/access.log" | sort | uniq -c | head -5 | tr '\n' ';')"

if [ "$FAILURES" -gt 0 ]; then
    say "FAILED: $FAILURES checks"
    exit 1
fi
say "all checks passed"
