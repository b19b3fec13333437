#!/usr/bin/env bash
# Checks deploy/systemd/loophttp.{socket,service} with systemd's own tools,
# offline (systemd need not be PID 1): `systemd-analyze verify` (syntax,
# unknown keys, the ExecStart binary) and `systemd-analyze security`
# (the hardening's exposure score, which must stay at or below MAX_EXPOSURE).
#
# Usage: scripts/systemd-verify.sh [BINARY]   (default target/release/loophttp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/target/release/loophttp}"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
MAX_EXPOSURE=2.0

if ! command -v systemd-analyze >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
command -v systemd-analyze >/dev/null 2>&1 || { echo "not ok - systemd-analyze missing (apt-get install systemd)"; exit 1; }
[ -x "$BIN" ] || { echo "not ok - $BIN missing (cargo build --release)"; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# verify checks that ExecStart exists: point it at the binary just built.
sed "s|^ExecStart=/usr/local/bin/loophttp|ExecStart=$BIN|" "$ROOT/deploy/systemd/loophttp.service" >"$TMP/loophttp.service"
cp "$ROOT/deploy/systemd/loophttp.socket" "$TMP/"
grep -q "^ExecStart=$BIN" "$TMP/loophttp.service" || { echo "not ok - no ExecStart=/usr/local/bin/loophttp to rewrite"; exit 1; }

# An unknown key is only a warning to systemd (exit 0): any output fails here.
status=0
out="$(cd "$TMP" && systemd-analyze verify ./loophttp.socket ./loophttp.service 2>&1)" || status=$?
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "not ok - systemd-analyze verify (exit $status)"
    exit 1
fi
echo "ok - systemd-analyze verify loophttp.socket loophttp.service: no findings"

score="$(systemd-analyze security --offline=yes --no-pager "$TMP/loophttp.service" 2>&1 | grep -Eo 'Overall exposure level for [^:]*: [0-9.]+' || true)"
echo "# systemd-analyze security: $score (at most $MAX_EXPOSURE allowed; 10 = unprotected)"
# --threshold counts in tenths of the printed level.
threshold="$(awk -v m="$MAX_EXPOSURE" 'BEGIN { print m * 10 }')"
if ! systemd-analyze security --offline=yes --threshold="$threshold" --no-pager "$TMP/loophttp.service" >/dev/null 2>&1; then
    echo "not ok - exposure above $MAX_EXPOSURE"
    exit 1
fi
echo "ok - systemd-analyze security: exposure at most $MAX_EXPOSURE"

# The unit's --metrics-addr is where deploy/prometheus.yml scrapes.
unit_metrics="$(sed -n 's/^Environment=LOOPHTTP_METRICS_ADDR=//p' "$ROOT/deploy/systemd/loophttp.service")"
if [ -z "$unit_metrics" ] || ! grep -qF "\"$unit_metrics\"" "$ROOT/deploy/prometheus.yml"; then
    echo "not ok - the unit's LOOPHTTP_METRICS_ADDR ($unit_metrics) is not a target in deploy/prometheus.yml"
    exit 1
fi
echo "ok - the unit serves /metrics on $unit_metrics, where deploy/prometheus.yml scrapes"
