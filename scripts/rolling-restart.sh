#!/usr/bin/env bash
# Restart loophttp instances behind a proxy one at a time, so the proxy
# always has one to send requests to.
#
#   scripts/rolling-restart.sh [options] NAME...
#
# Each NAME is an instance; the templates below turn it into its pid file,
# its /healthz URL and (to stop and start) its start command, with %i
# standing for the name. Naming instances by port keeps that simple:
#
#   scripts/rolling-restart.sh --pid-file '/run/loophttp-%i.pid' \
#       --health 'http://127.0.0.1:%i/healthz' 4221 4222
#
# Modes:
#   --mode upgrade  (default) SIGUSR2 to the pid in the pid file: the
#                   instance starts the binary at its own path with its
#                   listening sockets, and drains once the new process
#                   serves. Nothing is refused, so a proxy never marks the
#                   instance down. Done when the pid file names a new
#                   process that answers /healthz and the old one has
#                   exited. A failed upgrade (the old process logs why and
#                   serves on) stops the script with an error.
#   --mode restart  SIGTERM, wait for the drain to end, run the start
#                   command (--start, a shell command with %i), wait for
#                   /healthz. Connections are refused meanwhile: the proxy
#                   retries them elsewhere and marks the instance down for
#                   its fail_timeout, so before the next instance the
#                   script waits --settle seconds more (the shipped nginx
#                   config: fail_timeout 2 s, plus 1 s because nginx counts
#                   whole seconds, plus a margin: 3.2). Otherwise the proxy
#                   could find every instance down and answer 502.
#
# Other options:
#   --settle SECONDS    wait after an instance serves again (restart: 3.2,
#                       upgrade: 0; raise it to space upgrades out)
#   --timeout SECONDS   longest wait for each step (default 30; a drain
#                       takes at most the instances' --shutdown-timeout)
#
# Exits 0 when every instance was restarted and answers; non-zero with a
# message at the first one that did not (the rest are left alone). (An
# instance's own exit status, 3 when its drain cut requests at
# --shutdown-timeout, goes to whatever started it: its log says it too.)
set -euo pipefail

MODE=upgrade
PID_TEMPLATE=""
HEALTH_TEMPLATE=""
START_TEMPLATE=""
SETTLE=""
TIMEOUT=30

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }
die() { printf 'rolling-restart: %s\n' "$*" >&2; exit 1; }
say() { printf 'rolling-restart: %s\n' "$*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --mode) MODE="$2"; shift 2 ;;
        --pid-file) PID_TEMPLATE="$2"; shift 2 ;;
        --health) HEALTH_TEMPLATE="$2"; shift 2 ;;
        --start) START_TEMPLATE="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --timeout) TIMEOUT="$2"; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) die "unknown option $1 (--help)" ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || usage
[ -n "$PID_TEMPLATE" ] || die "--pid-file TEMPLATE is required (the instances run with --pid-file)"
[ -n "$HEALTH_TEMPLATE" ] || die "--health URL-TEMPLATE is required"
case "$MODE" in
    upgrade) SETTLE="${SETTLE:-0}" ;;
    restart) SETTLE="${SETTLE:-3.2}"; [ -n "$START_TEMPLATE" ] || die "--mode restart needs --start COMMAND-TEMPLATE" ;;
    *) die "--mode must be upgrade or restart" ;;
esac
command -v curl >/dev/null || die "curl is needed"

fill() { printf '%s' "${1//%i/$2}"; }
# Sleeps a fraction of a second without needing GNU sleep.
nap() { sleep "$1" 2>/dev/null || python3 -c "import time; time.sleep($1)"; }
read_pid() { tr -dc '0-9' <"$1" 2>/dev/null || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
answers() { curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; }

# until_true SECONDS COMMAND...: retries every 50 ms; fails after SECONDS.
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        nap 0.05
    done
}

upgrade_one() {
    local name="$1" pid_file health old new
    pid_file="$(fill "$PID_TEMPLATE" "$name")"
    health="$(fill "$HEALTH_TEMPLATE" "$name")"
    old="$(read_pid "$pid_file")"
    alive "$old" || die "$name: no running process in $pid_file"
    kill -USR2 "$old"
    new_pid() { new="$(read_pid "$pid_file")"; [ -n "$new" ] && [ "$new" != "$old" ] && alive "$new"; }
    until_true "$TIMEOUT" new_pid \
        || die "$name: no new process after SIGUSR2 within ${TIMEOUT}s (the upgrade failed: see pid $old's log)"
    until_true "$TIMEOUT" answers "$health" || die "$name: new process $new does not answer $health"
    until_true "$TIMEOUT" eval '! alive "$old"' || die "$name: old process $old still running after ${TIMEOUT}s"
    say "$name: pid $old -> $new, answering"
}

restart_one() {
    local name="$1" pid_file health old status=0
    pid_file="$(fill "$PID_TEMPLATE" "$name")"
    health="$(fill "$HEALTH_TEMPLATE" "$name")"
    old="$(read_pid "$pid_file")"
    alive "$old" || die "$name: no running process in $pid_file"
    kill -TERM "$old"
    until_true "$TIMEOUT" eval '! alive "$old"' || die "$name: pid $old still draining after ${TIMEOUT}s"
    (eval "$(fill "$START_TEMPLATE" "$name")") || status=$?
    [ "$status" = 0 ] || die "$name: the start command failed ($status)"
    until_true "$TIMEOUT" answers "$health" || die "$name: does not answer $health after starting"
    say "$name: pid $old stopped, $(read_pid "$pid_file") answering"
}

left=$#
for name in "$@"; do
    "${MODE}_one" "$name"
    left=$((left - 1))
    if [ "$left" -gt 0 ] && [ "$SETTLE" != 0 ]; then
        nap "$SETTLE"
    fi
done
say "$# instance(s) restarted by $MODE"
