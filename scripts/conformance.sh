#!/usr/bin/env bash
# Conformance run of loophttp against real third-party clients:
# curl, Python's http.client (scripts/conformance_client.py) and ApacheBench.
#
# Usage: scripts/conformance.sh [BINARY]
#   BINARY defaults to target/release/loophttp (built with `cargo build
#   --release` if missing).  Needs curl, ab (apache2-utils) and python3.
#
# The script starts its own server on a free loopback port with a temporary
# --directory, prints "ok - NAME" / "not ok - NAME: detail" per check, then
# "N passed, M failed", and exits non-zero if anything failed.
# Environment: CONFORMANCE_TIMEOUT (overall seconds for the checks, default 300).

set -u
set -o pipefail

BIN="${1:-target/release/loophttp}"
case "$BIN" in /*) ;; *) [ "$#" -gt 0 ] && BIN="$PWD/$BIN" ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
OVERALL="${CONFORMANCE_TIMEOUT:-300}"
CURL_MAX=10
UA="conformance-curl/1.0"

PASS=0
FAIL=0
ok()    { echo "ok - $1"; PASS=$((PASS + 1)); }
notok() { echo "not ok - $1: $2"; FAIL=$((FAIL + 1)); }
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# ---------------------------------------------------------------- prerequisites
missing=""
for tool in curl ab python3; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    notok "prerequisites" "missing:$missing; install with: apt-get install -y curl apache2-utils python3"
    finish
fi

if [ ! -x "$BIN" ]; then
    if [ "$#" -eq 0 ]; then
        echo "# $BIN missing; running cargo build --release" >&2
        if ! cargo build --release >&2; then
            notok "build" "cargo build --release failed"
            finish
        fi
    fi
    if [ ! -x "$BIN" ]; then
        notok "binary" "$BIN does not exist or is not executable"
        finish
    fi
fi

# ---------------------------------------------------------------- setup/cleanup
TMP="$(mktemp -d "${TMPDIR:-/tmp}/loophttp-conformance.XXXXXX")" || exit 2
DATA="$TMP/files"
WORK="$TMP/work"
LOG="$TMP/server.log"    # server stderr
OUT="$TMP/server.out"    # server stdout
logs() { cat "$LOG" "$OUT" 2>/dev/null; }
mkdir -p "$DATA" "$WORK"
SPID=""
WATCHDOG=""

stop_server() {
    [ -n "$SPID" ] || return 0
    if kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null
        local end=$((SECONDS + 5))
        while kill -0 "$SPID" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
            sleep 0.05
        done
        kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID" 2>/dev/null
    fi
    wait "$SPID" 2>/dev/null
    SPID=""
}

cleanup() {
    stop_server
    if [ -n "$WATCHDOG" ]; then
        kill -TERM "$WATCHDOG" 2>/dev/null
        wait "$WATCHDOG" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "not ok - interrupted"; exit 130' INT
trap 'exit 141' PIPE HUP   # e.g. output piped into head: still clean up
trap 'echo "not ok - overall timeout (${OVERALL}s) or terminated"; echo "$PASS passed, $((FAIL + 1)) failed"; exit 124' TERM

HAVE_V6=0
if python3 - <<'EOF' 2>/dev/null
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.bind(("::1", 0))
s.close()
EOF
then
    HAVE_V6=1
fi

free_port() {
    python3 - "$HAVE_V6" <<'EOF'
import socket, sys
if sys.argv[1] == "1":
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 0))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# start_server PORT: PORT 0 means "parse the real port from the log line".
# Sets SPID and PORT; returns non-zero if the server is not ready in 15s.
start_server() {
    local want="$1" host_args=()
    # The default host (::) is dual-stack, which the IPv4/IPv6 check needs
    # (so the server also listens on non-loopback addresses while the checks
    # run); without IPv6 bind loopback v4 only.
    [ "$HAVE_V6" -eq 1 ] || host_args=(--host 127.0.0.1)
    : >"$LOG"
    : >"$OUT"
    "$BIN" "${host_args[@]}" --port "$want" --directory "$DATA" --allow-upload --allow-delete 2>"$LOG" >"$OUT" </dev/null &
    SPID=$!
    PORT=""
    [ "$want" != 0 ] && PORT="$want"
    local end=$((SECONDS + 15))
    while [ "$SECONDS" -lt "$end" ]; do
        if ! kill -0 "$SPID" 2>/dev/null; then
            wait "$SPID" 2>/dev/null
            SPID=""
            return 1
        fi
        if [ -z "$PORT" ] && logs | grep -qi 'listening on'; then
            # "... listening on http://[::]:43123" -> port(s) of the URL(s);
            # without a URL, the last ":NNNN" on the line.
            local ports
            ports="$(logs | grep -i 'listening on' | grep -oE 'https?://[^ ,/]*:[0-9]+' | sed 's/.*://' | sort -u)"
            [ -n "$ports" ] || ports="$(logs | grep -m1 -i 'listening on' | grep -oE ':[0-9]+' | tail -n 1 | tr -d :)"
            # No port, port 0, or different ports per address family: let
            # the caller fall back to an explicit free port.
            if [ -z "$ports" ] || [ "$ports" = 0 ] || [ "$(wc -l <<<"$ports")" -ne 1 ]; then
                return 1
            fi
            PORT="$ports"
        fi
        if [ -n "$PORT" ] &&
            curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" 2>/dev/null; then
            return 0
        fi
        sleep 0.1   # retry interval of the deadline loop, not synchronisation
    done
    return 1
}

if ! start_server 0; then
    # --port 0 unsupported, or the log line has no usable port: pick one.
    stop_server
    logs >"$TMP/server-port0.log"
    if ! start_server "$(free_port)"; then
        notok "server startup" "$BIN did not become ready (exited or no answer within 15s); output with --port 0: $(tail -n 5 "$TMP/server-port0.log" 2>/dev/null | tr '\n' ' ')| output with --port $PORT: $(logs | tail -n 5 | tr '\n' ' ')"
        finish
    fi
fi
BASE="http://127.0.0.1:$PORT"

# The startup line may be written just after the socket starts accepting.
n="startup line with 'listening on' and the URL(s) is logged to stderr"
end=$((SECONDS + 5))
while ! logs | grep -qi 'listening on' && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
if grep -qi 'listening on' "$LOG"; then
    ok "$n"
elif grep -qi 'listening on' "$OUT"; then
    notok "$n" "it went to stdout instead: $(grep -m1 -i 'listening on' "$OUT" | cut -c1-200)"
else
    notok "$n" "no 'listening on' line within 5s; stderr: $(tail -n 3 "$LOG" | tr '\n' ' ') stdout: $(tail -n 3 "$OUT" | tr '\n' ' ')"
fi
echo "# server pid $SPID on port $PORT; $(logs | grep -m1 -i 'listening on' | cut -c1-200)"

# Overall deadline for the checks (every single client call is bounded too).
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$OVERALL" & sp=$!
    wait "$sp"
    kill -TERM $$ 2>/dev/null
) &
WATCHDOG=$!

# ---------------------------------------------------------------- helpers
C() { curl -sS --max-time "$CURL_MAX" -A "$UA" "$@"; }
oneline() { tr '\r\n' '  ' <"$1" | cut -c1-"${2:-300}"; }
hdr() { # hdr FILE NAME -> value of last header NAME (case-insensitive)
    grep -i "^$2:" "$1" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//; s/ *$//'
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- curl checks
check_curl_keepalive() {
    local n="curl: keep-alive across several URLs in one invocation" d="" code
    code="$(C -v -o "$WORK/ka1" -o "$WORK/ka2" -o "$WORK/ka3" -w '%{http_code} ' \
        "$BASE/echo/one" "$BASE/user-agent" "$BASE/" 2>"$WORK/ka.err")" ||
        d="curl exit $?: $(grep -v '^[<>{}]' "$WORK/ka.err" | tail -n 3 | tr '\n' ' ')"
    local reuse
    reuse="$(grep -cE 'Re-?using existing' "$WORK/ka.err")"
    [ -z "$d" ] && [ "$code" != "200 200 200 " ] && d="status codes: $code"
    [ -z "$d" ] && [ "$reuse" -lt 2 ] &&
        d="connection not reused ($reuse 'Re-using existing connection' lines, want 2); curl: $(grep -E '^\* (Connected|Connection|Closing|Re)' "$WORK/ka.err" | tr '\n' ' ')"
    [ -z "$d" ] && [ "$(cat "$WORK/ka1")" != "one" ] && d="GET /echo/one body: $(oneline "$WORK/ka1")"
    [ -z "$d" ] && [ "$(cat "$WORK/ka2")" != "$UA" ] && d="GET /user-agent body: $(oneline "$WORK/ka2"), want $UA"
    if [ -z "$d" ] && ! python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o == {"message": "Request received successfully", "method": "GET", "path": "/"}, o
' "$WORK/ka3" 2>"$WORK/ka.py"; then
        d="GET / JSON body: $(oneline "$WORK/ka3") ($(tail -n 1 "$WORK/ka.py"))"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

check_curl_http10() {
    # Two URLs in one invocation: after an HTTP/1.0 exchange without
    # keep-alive the second request must go out on a fresh connection.
    local n="curl --http1.0: body received, connection closed" d="" code
    code="$(C -v --http1.0 -D "$WORK/h10.h" -o "$WORK/h10a.b" -o "$WORK/h10b.b" -w '%{http_code} ' \
        "$BASE/echo/hello10" "$BASE/echo/again10" 2>"$WORK/h10.err")" ||
        d="curl exit $?: $(grep '^\*' "$WORK/h10.err" | tail -n 3 | tr '\n' ' ')"
    [ -z "$d" ] && [ "$code" != "200 200 " ] && d="status codes $code; headers: $(oneline "$WORK/h10.h")"
    [ -z "$d" ] && [ "$(cat "$WORK/h10a.b")" != "hello10" ] && d="body: $(oneline "$WORK/h10a.b")"
    [ -z "$d" ] && [ "$(cat "$WORK/h10b.b")" != "again10" ] && d="second body: $(oneline "$WORK/h10b.b")"
    if [ -z "$d" ]; then
        if grep -qE 'Connection died|retrying a fresh connect|seems to be dead' "$WORK/h10.err"; then
            d="server closed the connection but its response did not say so (no 'Connection: close'), so curl tried to reuse it and had to retry; response headers: $(oneline "$WORK/h10.h" 200)"
        elif grep -qE 'Re-?using existing' "$WORK/h10.err"; then
            d="connection stayed open and was reused after an HTTP/1.0 request without keep-alive; headers: $(oneline "$WORK/h10.h" 200)"
        elif [ "$(grep -c '^\* Connected to' "$WORK/h10.err")" -ne 2 ]; then
            d="expected 2 separate connections; curl: $(grep -E '^\* (Connected|Connection|Closing|Re)' "$WORK/h10.err" | tr '\n' ' ')"
        fi
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

check_curl_head() {
    local n d="" path code glen hlen
    for path in /echo/headcheck / "/files/dl.bin"; do
        n="curl -I (HEAD) $path"
        d=""
        C -o "$WORK/get.b" "$BASE$path" 2>"$WORK/get.err" || d="GET curl exit $?: $(tail -n 2 "$WORK/get.err" | tr '\n' ' ')"
        glen="$(stat -c %s "$WORK/get.b" 2>/dev/null || echo 0)"
        if [ -z "$d" ]; then
            # Two HEADs on one connection: a stray body would break the second.
            code="$(C -v -I -o "$WORK/head1.h" -o "$WORK/head2.h" -w '%{http_code} %{size_download} ' \
                "$BASE$path" "$BASE$path" 2>"$WORK/head.err")" ||
                d="curl -I exit $?: $(grep '^\*' "$WORK/head.err" | tail -n 3 | tr '\n' ' ')"
        fi
        if [ -z "$d" ]; then
            hlen="$(hdr "$WORK/head1.h" Content-Length)"
            if [ "$code" != "200 0 200 0 " ]; then
                d="status/size: $code (want '200 0 200 0 '); headers: $(oneline "$WORK/head1.h")"
            elif [ -z "$hlen" ]; then
                d="no Content-Length; headers: $(oneline "$WORK/head1.h")"
            elif [ "$hlen" != "$glen" ]; then
                d="HEAD Content-Length $hlen != GET body length $glen"
            elif grep -qE 'Excess found|Weird server reply|Leftovers' "$WORK/head.err"; then
                d="HEAD response carried data: $(grep -E 'Excess|Weird|Leftovers' "$WORK/head.err" | head -2 | tr '\n' ' ')"
            fi
        fi
        [ -z "$d" ] && ok "$n" || notok "$n" "$d"
    done
}

check_curl_upload() {
    local n d code
    head -c 102400 /dev/urandom >"$WORK/up.bin"
    head -c 98765 /dev/urandom >"$WORK/up2.bin"

    n="curl -T (PUT) upload new file -> 201, download identical"
    d=""
    code="$(C -v -T "$WORK/up.bin" -o "$WORK/put.b" -w '%{http_code}' "$BASE/files/up.bin" 2>"$WORK/put.err")" ||
        d="curl exit $?: $(grep '^\*' "$WORK/put.err" | tail -n 3 | tr '\n' ' ')"
    [ -z "$d" ] && [ "$code" != 201 ] && d="PUT /files/up.bin (102400 bytes) -> $code: $(oneline "$WORK/put.b")"
    grep -q 'Expect: 100-continue' "$WORK/put.err" && ! grep -q 'HTTP/1.1 100' "$WORK/put.err" &&
        echo "# note: server sent no '100 Continue' for 'Expect: 100-continue' (curl waited its 1s expect timeout)"
    if [ -z "$d" ]; then
        code="$(C -o "$WORK/get-up.bin" -w '%{http_code}' "$BASE/files/up.bin" 2>&1)" || d="GET curl exit $?: $code"
        [ -z "$d" ] && [ "$code" != 200 ] && d="GET /files/up.bin -> $code"
        [ -z "$d" ] && ! cmp -s "$WORK/up.bin" "$WORK/get-up.bin" &&
            d="downloaded $(stat -c %s "$WORK/get-up.bin") bytes differ from uploaded 102400 ($(cmp "$WORK/up.bin" "$WORK/get-up.bin" 2>&1 | head -1))"
        [ -z "$d" ] && ! cmp -s "$WORK/up.bin" "$DATA/up.bin" && d="file on disk differs from upload"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"

    n="curl -T (PUT) replace existing file -> 204"
    d=""
    code="$(C -T "$WORK/up2.bin" -o "$WORK/put2.b" -w '%{http_code}' "$BASE/files/up.bin" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 204 ] && d="PUT /files/up.bin over existing -> $code: $(oneline "$WORK/put2.b")"
    if [ -z "$d" ]; then
        C -o "$WORK/get-up2.bin" "$BASE/files/up.bin" 2>/dev/null
        cmp -s "$WORK/up2.bin" "$WORK/get-up2.bin" || d="content after replace differs (got $(stat -c %s "$WORK/get-up2.bin") bytes, want 98765)"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"

    n="curl --data-binary @file -X POST -> 201, download identical"
    d=""
    code="$(C --data-binary @"$WORK/up.bin" -X POST -H 'Content-Type: application/octet-stream' \
        -o "$WORK/post.b" -w '%{http_code}' "$BASE/files/post.bin" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 201 ] && d="POST /files/post.bin (102400 bytes) -> $code: $(oneline "$WORK/post.b")"
    if [ -z "$d" ]; then
        code="$(C -o "$WORK/get-post.bin" -w '%{http_code}' "$BASE/files/post.bin" 2>&1)"
        [ "$code" != 200 ] && d="GET /files/post.bin -> $code"
        [ -z "$d" ] && [ "$(sha "$WORK/up.bin")" != "$(sha "$WORK/get-post.bin")" ] &&
            d="sha256 mismatch: downloaded $(stat -c %s "$WORK/get-post.bin") bytes"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"

    n="curl -X DELETE -> 204, then GET -> 404"
    d=""
    code="$(C -X DELETE -o "$WORK/del.b" -w '%{http_code}' "$BASE/files/post.bin" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 204 ] && d="DELETE /files/post.bin -> $code: $(oneline "$WORK/del.b")"
    if [ -z "$d" ]; then
        code="$(C -o /dev/null -w '%{http_code}' "$BASE/files/post.bin" 2>&1)"
        [ "$code" != 404 ] && d="GET after DELETE -> $code"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

check_curl_compressed() {
    local n="curl --compressed /echo (gzip)" d="" code ce want="hello gzip world"
    code="$(C --compressed -D "$WORK/gz.h" -o "$WORK/gz.b" -w '%{http_code}' \
        "$BASE/echo/hello%20gzip%20world" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 200 ] && d="status $code; headers: $(oneline "$WORK/gz.h")"
    ce="$(hdr "$WORK/gz.h" Content-Encoding)"
    [ -z "$d" ] && [ "${ce,,}" != gzip ] && d="Content-Encoding '$ce', want gzip; headers: $(oneline "$WORK/gz.h")"
    [ -z "$d" ] && [ "$(cat "$WORK/gz.b")" != "$want" ] && d="decoded body '$(oneline "$WORK/gz.b")', want '$want'"
    if [ -z "$d" ]; then
        # Raw bytes must be a gzip stream whose length matches Content-Length.
        C -H 'Accept-Encoding: gzip' -D "$WORK/gzr.h" -o "$WORK/gzr.b" "$BASE/echo/hello%20gzip%20world" 2>/dev/null
        local cl
        cl="$(hdr "$WORK/gzr.h" Content-Length)"
        if ! python3 -c 'import gzip,sys; sys.exit(gzip.decompress(open(sys.argv[1],"rb").read()) != sys.argv[2].encode())' \
            "$WORK/gzr.b" "$want" 2>/dev/null; then
            d="raw body with Accept-Encoding: gzip is not gzip of '$want' ($(stat -c %s "$WORK/gzr.b") bytes)"
        elif [ -n "$cl" ] && [ "$cl" != "$(stat -c %s "$WORK/gzr.b")" ]; then
            d="Content-Length $cl != gzip body length $(stat -c %s "$WORK/gzr.b")"
        fi
    fi
    if [ -z "$d" ]; then
        C -D "$WORK/plain.h" -o "$WORK/plain.b" "$BASE/echo/hello%20gzip%20world" 2>/dev/null
        grep -qi '^Content-Encoding:' "$WORK/plain.h" && d="Content-Encoding sent without Accept-Encoding: $(oneline "$WORK/plain.h")"
        [ -z "$d" ] && [ "$(cat "$WORK/plain.b")" != "$want" ] && d="identity body '$(oneline "$WORK/plain.b")'"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

check_curl_ipv46() {
    local n="curl -4 127.0.0.1 and curl -6 [::1] reach the same server" d="" c4 c6
    if [ "$HAVE_V6" -ne 1 ]; then
        ok "ipv6 skipped (no ::1)"
        return
    fi
    printf 'written over ipv4 %s\n' "$$" >"$WORK/v4.txt"
    c4="$(C -4 -T "$WORK/v4.txt" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/files/v4.txt" 2>&1)" || d="curl -4 PUT exit $?: $c4"
    [ -z "$d" ] && [ "$c4" != 201 ] && d="curl -4 PUT /files/v4.txt -> $c4"
    if [ -z "$d" ]; then
        c6="$(C -6 -g -o "$WORK/v6.txt" -w '%{http_code}' "http://[::1]:$PORT/files/v4.txt" 2>&1)" || d="curl -6 GET exit $?: $c6"
        [ -z "$d" ] && [ "$c6" != 200 ] && d="curl -6 GET http://[::1]:$PORT/files/v4.txt -> $c6"
        [ -z "$d" ] && ! cmp -s "$WORK/v4.txt" "$WORK/v6.txt" && d="file written via IPv4 differs when read via IPv6"
    fi
    if [ -z "$d" ]; then
        c4="$(C -4 -o "$WORK/r4" -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>&1)"
        c6="$(C -6 -g -o "$WORK/r6" -w '%{http_code}' "http://[::1]:$PORT/" 2>&1)"
        { [ "$c4" = 200 ] && [ "$c6" = 200 ] && cmp -s "$WORK/r4" "$WORK/r6"; } ||
            d="GET / via v4 -> $c4, via v6 -> $c6 (bodies $(cmp -s "$WORK/r4" "$WORK/r6" && echo equal || echo differ))"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

check_curl_range() {
    local n="curl -r 0-9 -> 206 with 10 bytes" d="" code cr
    head -c 50000 /dev/urandom >"$WORK/rng.bin"
    cp "$WORK/rng.bin" "$DATA/rng.bin"
    code="$(C -r 0-9 -D "$WORK/r.h" -o "$WORK/r.b" -w '%{http_code}' "$BASE/files/rng.bin" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 206 ] && d="Range: bytes=0-9 -> $code; headers: $(oneline "$WORK/r.h")"
    [ -z "$d" ] && [ "$(stat -c %s "$WORK/r.b")" != 10 ] && d="got $(stat -c %s "$WORK/r.b") bytes, want 10"
    [ -z "$d" ] && ! cmp -s "$WORK/r.b" <(head -c 10 "$WORK/rng.bin") && d="10 bytes differ from file start"
    cr="$(hdr "$WORK/r.h" Content-Range)"
    [ -z "$d" ] && [ "$cr" != "bytes 0-9/50000" ] && d="Content-Range '$cr', want 'bytes 0-9/50000'"
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"

    n="curl -C - resumes a partial download to the identical file"
    d=""
    head -c 20000 "$WORK/rng.bin" >"$WORK/partial.bin"
    code="$(C -C - -D "$WORK/c.h" -o "$WORK/partial.bin" -w '%{http_code}' "$BASE/files/rng.bin" 2>&1)" || d="curl exit $?: $code"
    [ -z "$d" ] && [ "$code" != 206 ] && d="Range: bytes=20000- -> $code; headers: $(oneline "$WORK/c.h")"
    [ -z "$d" ] && ! cmp -s "$WORK/partial.bin" "$WORK/rng.bin" &&
        d="resumed file ($(stat -c %s "$WORK/partial.bin") bytes) differs from original (50000 bytes)"
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

# ---------------------------------------------------------------- python
check_python() {
    local out rc line
    out="$(timeout 120 python3 "$ROOT/scripts/conformance_client.py" --host 127.0.0.1 --port "$PORT" 2>&1)"
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) echo "$line"; PASS=$((PASS + 1)) ;;
            "not ok - "*) echo "$line"; FAIL=$((FAIL + 1)) ;;
            *) [ -n "$line" ] && echo "# $line" ;;
        esac
    done <<<"$out"
    if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' <<<"$out"; then
        notok "python client" "exited with status $rc"
    fi
}

# ---------------------------------------------------------------- ab
ab_field() { # ab_field FILE "Label" -> number after "Label:"
    sed -nE "s/^$2:[[:space:]]+([0-9]+).*/\1/p" "$1" | head -1
}

check_ab() {
    local n="$1" want="$2" ka="$3" out rc complete failed kareq non2xx d=""
    shift 3
    out="$WORK/ab.out"
    timeout 120 ab "$@" -s 10 -n "$want" -c 10 "$BASE/echo/abc" >"$out" 2>&1
    rc=$?
    complete="$(ab_field "$out" "Complete requests")"
    failed="$(ab_field "$out" "Failed requests")"
    kareq="$(ab_field "$out" "Keep-Alive requests")"
    non2xx="$(ab_field "$out" "Non-2xx responses")"
    if [ "$rc" -ne 0 ]; then
        d="ab exit $rc after $(grep -oE 'Completed [0-9]+ requests' "$out" | tail -n 1 || echo 'no progress'): $(grep -vE '^(This is|Copyright|Licensed|Benchmarking|Completed|Finished|$)' "$out" | head -4 | tr '\n' ' ')"
        [ "$ka" = 1 ] && d="$d (ab -k waits for the close if a kept-open HTTP/1.0 response lacks 'Connection: keep-alive')"
    elif [ "$complete" != "$want" ]; then
        d="Complete requests: '$complete', want $want"
    elif [ "$failed" != 0 ]; then
        d="Failed requests: $failed ($(grep -A1 '^Failed requests' "$out" | tail -n 1 | sed 's/^ *//'))"
    elif [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
        d="Non-2xx responses: $non2xx"
    elif [ "$ka" = 1 ] && [ "$kareq" != "$want" ]; then
        d="Keep-Alive requests: '$kareq', want $want (HTTP/1.0 + Connection: keep-alive must get Connection: keep-alive back)"
    fi
    [ -z "$d" ] && ok "$n" || notok "$n" "$d"
}

# ---------------------------------------------------------------- run
printf 'file for HEAD check\n%.0s' $(seq 1 50) >"$DATA/dl.bin"

check_curl_keepalive
check_curl_http10
check_curl_head
check_curl_upload
check_curl_compressed
check_curl_ipv46
check_curl_range
check_python
check_ab "ab -k -n 2000 -c 10 (HTTP/1.0 keep-alive)" 2000 1 -k
check_ab "ab -n 500 -c 10 (no keep-alive)" 500 0

n="server still running after all checks"
if kill -0 "$SPID" 2>/dev/null; then ok "$n"; else notok "$n" "log tail: $(logs | tail -n 5 | tr '\n' ' ')"; fi
if logs | grep -qi 'panicked'; then
    notok "no panics in server log" "$(logs | grep -i -m2 'panicked' | tr '\n' ' ')"
fi

finish
