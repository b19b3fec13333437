#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time and fails on any crash,
# hang (an input over 10 s) or OOM (over 2 GiB).
#
#   scripts/fuzz.sh [SECONDS]        SECONDS per target, else $FUZZ_SECONDS, else 60
#   FUZZ_TARGETS="conn chunked" ...  only these targets
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets it use the nightly-only sanitizer flags. The corpus
# (fuzz/corpus/TARGET) is kept between runs and seeded here when new; a crash
# is saved under fuzz/artifacts/TARGET/ with the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-${FUZZ_SECONDS:-60}}"
read -r -a targets <<<"${FUZZ_TARGETS:-parse_head chunked sanitize conn forwarded}"
logs=target/fuzz-logs
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# seed TARGET NAME BYTES: one starting input (BYTES as printf %b). The first
# bytes of each target's input are settings; see the target's doc comment.
seed() {
    mkdir -p "corpus/$1"
    printf '%b' "$3" >"corpus/$1/seed-$2"
}
get='GET / HTTP/1.1\r\nHost: x\r\n\r\n'
echo_req='GET /echo/abc%20d HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n'
post='POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
chunked='POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n'
ua='HEAD /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n'
# parse_head: byte 0x4a = the default limits; byte 0x80 = check the first half.
seed parse_head 1 "\x4a\x80$get"
seed parse_head 2 "\x4a\x80$post"
seed parse_head 3 "\x4a\x80$chunked"
seed parse_head 4 '\x4a\x80GET http://x/a?b HTTP/1.0\r\nConnection: keep-alive\r\nRange: bytes=0-1\r\n\r\n'
seed parse_head 5 '\x4a\x80OPTIONS * HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nIf-None-Match: "a"\r\n\r\n'
# chunked: byte 0 = no piece sizes (one byte at a time).
seed chunked 1 '\x005;a=b\r\nhello\r\n7\r\n, world\r\n0\r\nT: v\r\n\r\nNEXT'
seed chunked 2 '\x02\x03\x10A\r\n0123456789\r\n0\r\n\r\n'
seed sanitize 1 'a.txt'
seed sanitize 2 '%2e%2e%2Fetc'
seed sanitize 3 'a%5Cb%00'
# conn: flags (EOF, exact events, max_write) and piece count, then the stream.
seed conn 1 "\x00\x00$get$echo_req$ua"
seed conn 2 "\xe9\x03\x05\x85\x2a$post$chunked$get"
seed conn 3 "\x27\x00GET /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n$get"
seed conn 4 "\x17\x01\x41GET / HTTP/1.1\r\nHo"
# forwarded: a client's own X-Forwarded-For / Forwarded value.
seed forwarded 1 '203.0.113.9, unknown, [2001:db8::1]:80'
seed forwarded 2 'for=203.0.113.9;x="a,b";by=_p, for="[::ffff:10.0.0.1]:_x"'

echo "== building fuzz targets"
cargo fuzz build
mkdir -p "$logs"

failed=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    status=ok
    cargo fuzz run "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -dict=http.dict -print_final_stats=1 >"$log" 2>&1 || status=FAILED
    # libFuzzer's last status line: "#N DONE cov: C ft: F corp: K/B ...".
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
        sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/.*/\1 execs, cov \2, ft \3, corpus \4/') || true
    if [ "$status" = ok ]; then
        echo "fuzz $t: ok, ${stats:-no stats} in ${seconds}s"
    else
        failed=1
        echo "fuzz $t: FAILED (${stats:-no stats}); log: fuzz/$log"
        grep -E -A3 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | head -n 12 || true
        grep -E -A2 'Test unit written|^Base64:|Reproduce with' "$log" || true
    fi
done
exit "$failed"
