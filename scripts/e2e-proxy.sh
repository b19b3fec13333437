#!/usr/bin/env bash
# loophttp behind nginx, end to end, on loopback: two loophttp instances and
# nginx in front running the shipped deploy/nginx/loophttp.conf (only its
# ports rewritten), as a foreground process with its own prefix, pid file,
# logs and temp directories (never the system service).
#
# 1. Every route through the proxy: /, /echo, /user-agent, /healthz,
#    /metrics denied, HEAD, OPTIONS, 405, 404, gzip, and /files: a 20 MiB
#    upload and download compared by SHA-256, byte ranges, 304s from
#    If-None-Match and If-Modified-Since, PUT replacing, chunked upload,
#    DELETE, and 413 from nginx itself.
# 2. In-place upgrades (scripts/rolling-restart.sh --mode upgrade, SIGUSR2),
#    one instance every 1.5 s, alternating, with nginx's DEFAULT upstream
#    failure settings (max_fails=1 fail_timeout=10s: the shipped
#    max_fails/fail_timeout removed), under LOAD_SECONDS of wrk load through
#    nginx: keep-alive GETs and non-idempotent POST / (which nginx does not
#    retry elsewhere). Must give 0 non-2xx.
# 3. Stop-and-start restarts through scripts/rolling-restart.sh --mode
#    restart (SIGTERM, start again, wait for /healthz and nginx's
#    fail_timeout) with the shipped config, twice round, under the same
#    load. Must give 0 non-2xx.
# With NAIVE=1 first (not in CI; the "before" figures): SIGTERM and start
# again 1.5 s apart without waiting for nginx, with the shipped and the
# default settings; prints the 502 counts and fails nothing.
#
# Prints requests sent, non-2xx responses and socket errors; exits non-zero
# on any failure.
#
# Usage: scripts/e2e-proxy.sh [BINARY]   (default target/release/loophttp)
# Environment: LOAD_SECONDS (default 20), NAIVE (default 0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/target/release/loophttp}"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
LOAD_SECONDS="${LOAD_SECONDS:-20}"
NAIVE="${NAIVE:-0}"
# How long a restarted instance may still be out of nginx's rotation: the
# fail_timeout of deploy/nginx/loophttp.conf (2 s), plus 1 s because nginx
# stamps failures in whole seconds, plus a margin.
NGINX_FAIL_TIMEOUT=3.2
# The issue's cadence: one restart or upgrade every 1.5 s.
EVERY=1.5
READY_WITHIN=10
FAILURES=0
ROLL="$ROOT/scripts/rolling-restart.sh"

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
NGINX_PID=""
cleanup() {
    local f
    # The instances' pids change with each upgrade: the pid files say.
    for f in "$TMP"/*.pid; do
        [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    [ -z "$NGINX_PID" ] || kill "$NGINX_PID" 2>/dev/null || true
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

# Writes (uploads, deletes) are opt-in: --allow-upload, --allow-delete.
UPLOAD="--allow-upload --allow-delete"
# The command that starts the instance on port %i (rolling-restart.sh's
# template), in the background, logging to $TMP/%i.log.
START="'$BIN' --host 127.0.0.1 --port %i --directory '$TMP/files' $UPLOAD --pid-file '$TMP/%i.pid' \
    --trust-proxy 127.0.0.1 --access-log '$TMP/%i.access.log' --log-level info >>'$TMP/%i.log' 2>&1 &"
start_instance() {
    local port="$1"
    eval "${START//%i/$port}"
    wait_answers "http://127.0.0.1:$port/healthz" "$READY_WITHIN"
}
roll() { "$ROLL" --pid-file "$TMP/%i.pid" --health 'http://127.0.0.1:%i/healthz' --timeout 20 "$@"; }

start_instance "$P1" || { notok "instance on :$P1 did not start; $(tail -3 "$TMP/$P1.log")"; exit 1; }
start_instance "$P2" || { notok "instance on :$P2 did not start; $(tail -3 "$TMP/$P2.log")"; exit 1; }

# The shipped config with its ports rewritten; each rewrite must apply.
# VARIANT "defaults" also drops max_fails/fail_timeout (nginx's defaults:
# max_fails=1 fail_timeout=10s). Each run gets its own access log.
start_nginx() {
    local variant="$1" conf="$TMP/nginx/loophttp-$1.conf" want
    sed -e "s/server 127\.0\.0\.1:4221 /server 127.0.0.1:$P1 /" \
        -e "s/server 127\.0\.0\.1:4222 /server 127.0.0.1:$P2 /" \
        -e "s/^\( *\)listen 80 default_server;/\1listen 127.0.0.1:$PN default_server;/" \
        -e '/^ *listen \[::\]:80 default_server;/d' \
        "$ROOT/deploy/nginx/loophttp.conf" >"$conf"
    for want in "server 127.0.0.1:$P1 max_fails" "server 127.0.0.1:$P2 max_fails" "listen 127.0.0.1:$PN default_server;"; do
        grep -qF "$want" "$conf" || { notok "templating deploy/nginx/loophttp.conf: no '$want'"; exit 1; }
    done
    if [ "$variant" = defaults ]; then
        sed -i -e 's/ max_fails=1 fail_timeout=2s;/;/' "$conf"
        if grep -q '^ *server .*fail_timeout=' "$conf"; then notok "defaults: fail_timeout still set"; exit 1; fi
    fi
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    log_format upstream '\$status \$request_method \$upstream_addr \$upstream_status';
    access_log $TMP/nginx/access-$variant.log upstream;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    include $conf;
}
EOF
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" -g 'daemon off;' &
    NGINX_PID=$!
    wait_answers "$URL/echo/up" "$READY_WITHIN" || { notok "nginx did not answer; $(tail -3 "$TMP/nginx/error.log")"; exit 1; }
}
stop_nginx() {
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
}
start_nginx shipped
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
check "GET /metrics is denied by nginx" "403" "$(status "$URL/metrics")"

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
check "a PUT from 127.0.0.2 is refused by nginx (403)" "403" \
    "$(status --interface 127.0.0.2 -T - "$URL/files/from-elsewhere" <<<"no")"
check "and nothing was written" "no" "$([ -e "$TMP/files/from-elsewhere" ] && echo yes || echo no)"
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
        peer="$(cat "$TMP"/*.access.log 2>/dev/null | grep -F " $1 " | cut -d' ' -f1)"
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

# wrk's summary: "N requests in", "Socket errors: connect a, read b, write c, timeout d",
# "Non-2xx or 3xx responses: n". STRICT 0 prints without judging.
report() {
    local label="$1" file="$2" strict="$3" requests non2xx errors
    requests=$(grep -Eo '^ *[0-9]+ requests in' "$file" | grep -Eo '[0-9]+' || echo 0)
    non2xx=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' "$file" | grep -Eo '[0-9]+$' || echo 0)
    errors=$(grep -Eo 'Socket errors: .*' "$file" || echo "Socket errors: none")
    say "load: $label: $requests requests, non-2xx $non2xx, $errors"
    [ "$strict" = 1 ] || return 0
    [ "$requests" -gt 0 ] || notok "$label: no requests completed ($(tr '\n' ' ' <"$file"))"
    [ "$non2xx" = 0 ] || notok "$label: $non2xx non-2xx responses"
    if grep -q 'Socket errors' "$file"; then notok "$label: $errors"; fi
    return 0
}

# under_load NAME VARIANT STRICT ACTION: nginx with VARIANT, wrk for
# LOAD_SECONDS (8 keep-alive GET and 8 POST connections), ACTION meanwhile;
# then the counts from wrk and from nginx's log of this run.
ACTIONS=0
under_load() {
    local name="$1" variant="$2" strict="$3" action="$4" log logged failed retried wrk_get wrk_post
    start_nginx "$variant"
    log="$TMP/nginx/access-$variant.log"
    : >"$log"
    wrk -t1 -c8 -d"${LOAD_SECONDS}s" --timeout 10s -s "$TMP/client/get.lua" "$URL/echo/load" >"$TMP/wrk-$name-get.txt" 2>&1 &
    wrk_get=$!
    wrk -t1 -c8 -d"${LOAD_SECONDS}s" --timeout 10s -s "$TMP/client/post.lua" "$URL/" >"$TMP/wrk-$name-post.txt" 2>&1 &
    wrk_post=$!
    wait_answers "$URL/echo/warm" 2 || true
    "$action"
    wait "$wrk_get" "$wrk_post" || true
    stop_nginx
    report "$name: keep-alive GET /echo (8 connections)" "$TMP/wrk-$name-get.txt" "$strict"
    report "$name: POST / (8 connections)" "$TMP/wrk-$name-post.txt" "$strict"
    logged=$(wc -l <"$log")
    failed=$(awk '$1 >= 500' "$log" | wc -l)
    retried=$(grep -c ', ' "$log" || true)
    say "nginx ($variant upstream settings): $logged requests logged, $failed answered 5xx, $retried retried on the other instance; $ACTIONS $name"
    if [ "$strict" = 1 ] && [ "$failed" != 0 ]; then
        notok "$name: nginx answered $failed requests with 5xx: $(awk '$1 >= 500' "$log" | sort | uniq -c | head -5 | tr '\n' ';')"
    fi
    return 0
}

sleep_s() { python3 -c "import time; time.sleep(max(0.0, $1))"; }
other() { if [ "$1" = "$P1" ]; then echo "$P2"; else echo "$P1"; fi; }

# Upgrades one every EVERY seconds, alternating instances, until 2 s before
# the load ends (so the last drain finishes under load).
upgrades() {
    local until=$((SECONDS + LOAD_SECONDS - 2)) port=$P1 t0
    ACTIONS=0
    while [ "$SECONDS" -lt "$until" ]; do
        t0=$(date +%s%N)
        if ! roll --mode upgrade "$port" >>"$TMP/roll.log" 2>&1; then
            notok "upgrade of :$port failed: $(tail -2 "$TMP/roll.log")"
            return 0
        fi
        ACTIONS=$((ACTIONS + 1))
        port=$(other "$port")
        sleep_s "$EVERY - ($(date +%s%N) - $t0) / 1e9"
    done
}

# Stops and starts each instance in turn through rolling-restart.sh, twice.
restarts() {
    local round
    ACTIONS=0
    for round in 1 2; do
        if ! roll --mode restart --settle "$NGINX_FAIL_TIMEOUT" --start "$START" "$P1" "$P2" >>"$TMP/roll.log" 2>&1; then
            notok "restart round $round failed: $(tail -2 "$TMP/roll.log")"
            return 0
        fi
        ACTIONS=$((ACTIONS + 2))
        sleep_s "$NGINX_FAIL_TIMEOUT"
    done
}

# The issue's "before": SIGTERM, start again, and the other instance
# EVERY seconds later, without waiting for nginx to route to it again.
naive() {
    local until=$((SECONDS + LOAD_SECONDS - 2)) port=$P1 pid
    ACTIONS=0
    while [ "$SECONDS" -lt "$until" ]; do
        pid=$(cat "$TMP/$port.pid")
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep_s 0.02; done
        start_instance "$port" || { notok "naive: :$port did not come back"; return 0; }
        ACTIONS=$((ACTIONS + 1))
        port=$(other "$port")
        sleep_s "$EVERY"
    done
}

stop_nginx
if [ "$NAIVE" = 1 ]; then
    under_load "naive-stop-start" shipped 0 naive
    under_load "naive-stop-start" defaults 0 naive
fi
under_load "upgrades" defaults 1 upgrades
[ "$ACTIONS" -ge 4 ] || notok "only $ACTIONS upgrades happened"
under_load "stop-and-start" shipped 1 restarts
[ "$ACTIONS" = 4 ] || notok "only $ACTIONS of 4 restarts happened"

if [ "$FAILURES" -gt 0 ]; then
    say "FAILED: $FAILURES checks"
    exit 1
fi
say "all checks passed"
