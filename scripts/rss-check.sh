#!/usr/bin/env bash
# Proof that /files downloads stream from disk: server memory stays flat
# while large files are sent to slow and fast readers.
#
# Usage: scripts/rss-check.sh
# Environment: SIZE (1G) file size for `truncate -s`, SECONDS_UNDER_LOAD (15),
#   CONCURRENT (50) full-speed downloads, GZIP_CONCURRENT (10) full-speed
#   gzip downloads, MAX_GROWTH_MIB (20), LOOPHTTP_BIN (use this binary, skip
#   the build), KEEP_TMP=1 (keep the temp dir).
#
# Creates sparse SIZE files (.bin, and .txt which is gzipped on the fly for
# clients that accept it), starts the release binary with --directory, then
# runs for SECONDS_UNDER_LOAD: one download read at 20 MB/s, one at 1 MB/s
# (the server's writes block on a full socket), CONCURRENT unthrottled
# downloads, and the same for gzip: one at 1 MB/s and GZIP_CONCURRENT
# unthrottled. Samples the server's VmRSS before, every 0.25 s
# during, and after; exits 1 if the peak grew by more than MAX_GROWTH_MIB
# over the baseline. Only processes started here are signalled (EXIT trap);
# the temp dir is removed on exit.
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

SIZE=${SIZE:-1G}
UNDER_LOAD=${SECONDS_UNDER_LOAD:-15}
CONCURRENT=${CONCURRENT:-50}
GZIP_CONCURRENT=${GZIP_CONCURRENT:-10}
MAX_GROWTH_MIB=${MAX_GROWTH_MIB:-20}
case ${1:-} in
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "no arguments expected (use SIZE=..., CONCURRENT=...)" ;;
esac
[[ $UNDER_LOAD =~ ^[1-9][0-9]*$ ]] || die "SECONDS_UNDER_LOAD must be a positive integer"
[[ $CONCURRENT =~ ^[0-9]+$ ]] || die "CONCURRENT must be a non-negative integer"
[[ $GZIP_CONCURRENT =~ ^[0-9]+$ ]] || die "GZIP_CONCURRENT must be a non-negative integer"
[[ $MAX_GROWTH_MIB =~ ^[0-9]+$ ]] || die "MAX_GROWTH_MIB must be a non-negative integer"
need_tools curl python3 truncate

build_loophttp
install_traps
make_tmp rss
mkdir -p "$WORK_TMP/files"
truncate -s "$SIZE" "$WORK_TMP/files/big.bin"
truncate -s "$SIZE" "$WORK_TMP/files/big.txt"
BYTES=$(stat -c %s "$WORK_TMP/files/big.bin")

PORT=$(free_port 18190)
start_bg "$WORK_TMP/loophttp.log" "$LOOPHTTP" --host 127.0.0.1 --port "$PORT" \
    --directory "$WORK_TMP/files" --log-level warn
SERVER=$LAST_PID
BASE=http://127.0.0.1:$PORT
wait_ready loophttp "$SERVER" "$BASE/echo/a" "$WORK_TMP/loophttp.log"
URL=$BASE/files/big.bin
TXT=$BASE/files/big.txt
GZ=(-H 'Accept-Encoding: gzip')

# Warm up every code path once (a range and a short whole download), so the
# baseline includes the buffers any download needs.
curl -sf -o /dev/null -r 0-0 "$URL"
curl -s -o /dev/null --max-time 1 "$URL" || true
curl -s -o /dev/null --max-time 1 "${GZ[@]}" "$TXT" || true
BEFORE=$(rss_kib "$SERVER")

CLIENTS=()
download() { # LOG CURL-ARGS... URL
    local logfile=$1
    shift
    start_bg "$logfile" curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
        --max-time "$UNDER_LOAD" "$@"
    CLIENTS+=("$LAST_PID")
}
download "$WORK_TMP/slow-20M.log" --limit-rate 20M "$URL"
download "$WORK_TMP/slow-1M.log" --limit-rate 1M "$URL"
for ((i = 0; i < CONCURRENT; i++)); do
    download "$WORK_TMP/fast-$i.log" "$URL"
done
download "$WORK_TMP/gzip-slow.log" --limit-rate 1M "${GZ[@]}" "$TXT"
for ((i = 0; i < GZIP_CONCURRENT; i++)); do
    download "$WORK_TMP/gzip-$i.log" "${GZ[@]}" "$TXT"
done

PEAK=$BEFORE
SAMPLES=0
while :; do
    running=0
    for p in "${CLIENTS[@]}"; do
        alive "$p" && running=$((running + 1))
    done
    ((running == 0)) && break
    alive "$SERVER" || die "loophttp died under load; log: $(tail -n 5 "$WORK_TMP/loophttp.log")"
    now=$(rss_kib "$SERVER")
    ((now > PEAK)) && PEAK=$now
    SAMPLES=$((SAMPLES + 1))
    sleep 0.25
done
for p in "${CLIENTS[@]}"; do
    wait "$p" 2>/dev/null || true # curl exits 28 when --max-time ends a download
    forget_pid "$p"
done
alive "$SERVER" || die "loophttp died"
curl -sf -o /dev/null "$BASE/echo/after" || die "loophttp does not answer after the load"
AFTER=$(rss_kib "$SERVER")

# What the clients got: every response must be 200, and bytes must have moved.
CLIENT_COUNT=$((CONCURRENT + 2 + GZIP_CONCURRENT + 1))
read -r OK TOTAL COMPLETE < <(cat "$WORK_TMP"/slow-*.log "$WORK_TMP"/fast-*.log "$WORK_TMP"/gzip-*.log \
    | awk -v size="$BYTES" '$1 == 200 {ok++} {t += $2} $2 == size {c++} END {printf "%d %.0f %d\n", ok, t, c}')
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
slow() { awk '{printf "%.0f MiB", $2 / 1048576}' "$WORK_TMP/slow-$1.log"; }

echo "# /files RSS check: $(mib $((BYTES / 1024))) sparse file, ${UNDER_LOAD}s under load"
echo "downloads:     $CLIENT_COUNT, $((GZIP_CONCURRENT + 1)) of them gzip ($OK answered 200, $COMPLETE complete), $(mib $((TOTAL / 1024))) sent"
echo "slow readers:  20 MB/s got $(slow 20M), 1 MB/s got $(slow 1M)"
echo "RSS before:    $(mib "$BEFORE")"
echo "RSS peak:      $(mib "$PEAK") ($SAMPLES samples during the load)"
echo "RSS after:     $(mib "$AFTER")"
GROWTH=$(((PEAK > AFTER ? PEAK : AFTER) - BEFORE))
echo "growth:        $(mib "$GROWTH") (limit $MAX_GROWTH_MIB MiB)"

if ((GROWTH > MAX_GROWTH_MIB * 1024)); then
    echo "FAIL: server memory grew with the downloads"
    exit 1
fi
((OK == CLIENT_COUNT)) || die "$((CLIENT_COUNT - OK)) downloads did not get 200"
((TOTAL > 0)) || die "no bytes were downloaded"
echo "PASS"
