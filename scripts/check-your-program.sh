#!/usr/bin/env bash
# Checks the README's first command the way a newcomer runs it: from another
# working directory, with a relative --directory that must mean the caller's.
# Starts ./your_program.sh on a free loopback port, fetches a file through it,
# then walks the tutorial's routes, uploads included, and stops only the
# process it started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/loophttp-run.XXXXXX")"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/public"
echo "hello from $TMP" >"$TMP/public/note.txt"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$TMP"
"$ROOT/your_program.sh" --port "$PORT" --directory ./public --log-level warn 2>"$TMP/log" &
PID=$!
deadline=$((SECONDS + 120)) # the first run may build
until got=$(curl -sf --max-time 2 "http://127.0.0.1:$PORT/files/note.txt"); do
    kill -0 "$PID" 2>/dev/null || { echo "not ok - your_program.sh exited: $(cat "$TMP/log")"; exit 1; }
    ((SECONDS < deadline)) || { echo "not ok - no answer on port $PORT"; exit 1; }
    sleep 0.2
done
if [ "$got" = "hello from $TMP" ]; then
    echo "ok - ./your_program.sh from another directory serves ./public relative to the caller"
else
    echo "not ok - got '$got'"
    exit 1
fi
# The tutorial's stages upload and delete: your_program.sh turns writes on
# (loophttp itself is read-only unless told).
B="http://127.0.0.1:$PORT"
fail=0
check() { if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: want '$2', got '$3'"; fail=1; fi; }
check "GET /echo/abc" "abc" "$(curl -s "$B/echo/abc")"
check "GET /user-agent" "tutorial/1.0" "$(curl -s -A tutorial/1.0 "$B/user-agent")"
check "POST /files/up.txt is 201" "201" "$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'uploaded' "$B/files/up.txt")"
check "the upload is in ./public" "uploaded" "$(cat "$TMP/public/up.txt" 2>/dev/null)"
check "DELETE /files/up.txt is 204" "204" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$B/files/up.txt")"
exit "$fail"
