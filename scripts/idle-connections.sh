#!/usr/bin/env bash
# Memory per idle keep-alive connection: loophttp vs nginx.
#
# Usage: N=10000 scripts/idle-connections.sh
# Environment: N (10000) connections, WORKERS (1), LOOPHTTP_BIN (use this
#   binary, skip the build), KEEP_TMP=1 (keep the temp dir).
#
# For each server in turn (loophttp, then nginx): start it on a free loopback
# port, open N connections that each send one `GET /echo/a` and read the
# response, then stay idle; report VmRSS (summed over the server's processes)
# before, with all N idle, and after closing them, plus bytes per connection
# ((idle - before) / N). Only processes started here are signalled; the temp
# dir is removed on exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

CMDLINE="$0${*:+ $*}"
N=${N:-10000}
WORKERS=${WORKERS:-1}
case ${1:-} in
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "no arguments expected (use N=... and WORKERS=...)" ;;
esac
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
[[ $WORKERS =~ ^[0-9]+$ ]] || die "WORKERS must be a non-negative integer"

need_tools nginx curl python3

# Each side (client and server) needs N descriptors plus a few.
HARD=$(ulimit -Hn)
if [[ $HARD != unlimited ]] && ((HARD < N + 256)); then
    die "N=$N needs an fd limit of at least $((N + 256)); hard limit is $HARD"
fi
ulimit -n "$HARD"
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=$((N + 4096))

echo "# idle keep-alive connections: loophttp vs nginx"
machine_info
echo "command:  N=$N WORKERS=$WORKERS $CMDLINE"
echo "fd limit: $NOFILE"
echo

build_loophttp
install_traps
make_tmp idle
TMPD=$WORK_TMP
mkdir -p "$TMPD/files"
printf '{"loophttp":"idle test"}' >"$TMPD/root.quoted"

RESULTS=()

run_one() {
    local name=$1 port=$2 pid=$3 out rc=0
    out=$TMPD/idle-$name.txt
    log "$name: opening $N idle connections ..."
    python3 "$BENCH_DIR/idle.py" --name "$name" --port "$port" --pid "$pid" --n "$N" \
        --deadline 300 >"$out" || rc=$?
    RESULTS+=("$(sed -n 's/^IDLEJSON //p' "$out")")
    if ((rc != 0)); then
        log "$name: idle run failed (rc $rc)"
        cat "$out" >&2
    fi
    alive "$pid" || die "$name (pid $pid) died during the idle test"
    stop_pid "$pid"
    return "$rc"
}

status=0

# loophttp
PORT=$(free_port 18090)
start_bg "$TMPD/loophttp.log" "$LOOPHTTP" --host 127.0.0.1 --port "$PORT" \
    --directory "$TMPD/files" --workers "$WORKERS" --backlog 1024 \
    --max-connections $((N + 1024)) --log-level "${LOOPHTTP_LOG_LEVEL:-warn}"
PID=$LAST_PID
wait_ready loophttp "$PID" "http://127.0.0.1:$PORT/echo/a" "$TMPD/loophttp.log"
run_one loophttp "$PORT" "$PID" || status=1

# nginx
NGINX_WORKERS=$WORKERS
[[ $WORKERS == 0 ]] && NGINX_WORKERS=auto
PORT=$(free_port 18091)
render_nginx_conf "$TMPD/nginx" "$PORT" "$TMPD/files" "$NGINX_WORKERS" "$NOFILE" \
    $((N + 1024)) 1024 "$TMPD/root.quoted"
start_bg "$TMPD/nginx.log" nginx -p "$TMPD/nginx/" -c "$TMPD/nginx/nginx.conf" \
    -e "$TMPD/nginx/nginx-error.log"
PID=$LAST_PID
wait_ready nginx "$PID" "http://127.0.0.1:$PORT/echo/a" "$TMPD/nginx/nginx-error.log"
run_one nginx "$PORT" "$PID" || status=1

echo
python3 - "${RESULTS[@]}" <<'EOF'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:] if a.strip()]
def mib(b):
    return "%.1f MiB" % (b / 1048576)
head = ["server", "connections", "open time", "RSS before", "RSS idle", "RSS after close", "per connection"]
out = [head]
for r in rows:
    per = r["per_conn_bytes"]
    out.append([r["name"], "%d/%d" % (r["alive"], r["n"]), "%.1fs" % r["open_secs"],
                mib(r["rss_before"]), mib(r["rss_idle"]), mib(r["rss_after_close"]),
                "%d B" % per if per is not None else "-"])
w = [max(len(r[i]) for r in out) for i in range(len(head))]
def line(r):
    return "| " + " | ".join(c.ljust(x) if i == 0 else c.rjust(x) for i, (c, x) in enumerate(zip(r, w))) + " |"
print(line(out[0]))
print("|" + "|".join("-" * (x + 2) if i == 0 else "-" * (x + 1) + ":" for i, x in enumerate(w)) + "|")
for r in out[1:]:
    print(line(r))
print()
print("RSS = VmRSS summed over the server's processes (nginx: master + workers); "
      "per connection = (RSS idle - RSS before) / connections established.")
print("nginx preallocates its connection table (worker_connections = N + 1024) at "
      "start, so part of its per-connection cost is already in 'RSS before'.")
for r in rows:
    if r.get("error"):
        print("%s: ERROR %s" % (r["name"], r["error"]))
EOF
exit "$status"
