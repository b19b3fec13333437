#!/usr/bin/env bash
# Differential test of loophttp's request parser against two independent
# parsers: Node.js's http server (llhttp) and Python's h11.
#
# Usage: scripts/differential/run.sh [BINARY] [run.py options...]
#   BINARY defaults to target/release/loophttp (built with `cargo build
#   --release` if missing). Options go to run.py: --verbose prints every
#   difference, --only 'chunk-*' runs a subset, --seed N --random 3000
#   explores with another and larger set of random edits, --split 4 sends
#   each message in 4 writes.
#
# Needs node (apt-get install nodejs) and h11 (pip install h11). Without
# them the run is skipped, except under CI=true, where it fails.
# Exit status: 0 when every finding is allowed in docs/CONFORMANCE.md
# ("Differential findings"), 1 on a finding that is not, 2 when the run
# could not be done.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="target/release/loophttp"
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    BIN="$1"
    shift
fi
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
cd "$ROOT" || exit 2

missing=""
command -v node >/dev/null 2>&1 || missing="$missing node (apt-get install nodejs)"
python3 -c 'import h11' 2>/dev/null || missing="$missing h11 (python3 -m pip install h11)"
if [ -n "$missing" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "differential: FAILED, missing:$missing" >&2
        exit 2
    fi
    echo "differential: skipped, missing:$missing" >&2
    exit 0
fi

if [ ! -x "$BIN" ]; then
    echo "# $BIN missing; running cargo build --release" >&2
    cargo build --release >&2 || exit 2
fi
# The harness's own unit tests first: a broken reader or rule would make
# every verdict meaningless.
python3 -m unittest discover -s scripts/differential -p 'test_*.py' 2>&1 | tail -1 | sed 's/^/# harness unit tests: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2
# Bounded: the run takes seconds; a hang is a failure, not a stuck CI.
exec timeout --kill-after=10 300 python3 scripts/differential/run.py --binary "$BIN" "$@"
