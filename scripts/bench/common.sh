# shellcheck shell=bash
# Shared helpers for scripts/bench.sh and scripts/idle-connections.sh.
# Sourced, not executed. Expects `set -euo pipefail` in the caller.
#
# Every process started through start_bg is recorded in STARTED_PIDS and is
# ended (by PID, with its descendants) by cleanup, which the caller installs
# as its EXIT trap. Nothing else is ever signalled.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$ROOT/scripts/bench
STARTED_PIDS=()
WORK_TMP=""

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_tools() {
    local missing=()
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if ((${#missing[@]})); then
        log "missing: ${missing[*]}"
        case " ${missing[*]} " in
            *" wrk "* | *" nginx "*) echo "apt-get install wrk nginx" ;;
        esac
        for t in "${missing[@]}"; do
            case $t in
                wrk | nginx) ;;
                python3) echo "apt-get install python3" ;;
                curl) echo "apt-get install curl" ;;
                *) echo "install $t" ;;
            esac
        done
        exit 1
    fi
}

# need_matplotlib: the report's pictures are drawn with matplotlib; install
# it (for this user, from PyPI) if python3 cannot import it.
need_matplotlib() {
    python3 -c 'import matplotlib' 2>/dev/null && return 0
    log "installing matplotlib for the report (python3 -m pip install --user matplotlib) ..."
    python3 -m pip install --quiet --user matplotlib 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages matplotlib 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages matplotlib \
        || die "matplotlib is missing and pip could not install it (apt-get install python3-matplotlib)"
    python3 -c 'import matplotlib' || die "matplotlib installed but python3 cannot import it"
}

# descendants PID: PID and all its descendants, one per line.
descendants() {
    local p=$1 c
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do
        descendants "$c"
    done
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID: TERM the process (and its descendants), wait up to 5 s, then
# KILL whatever of that tree is left.
stop_pid() {
    local pid=$1 tree p deadline
    if ! alive "$pid"; then
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
        return 0
    fi
    tree=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.05
    done
    for p in $tree; do
        if alive "$p"; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# forget_pid PID: drop PID from STARTED_PIDS (so a reused PID is never hit).
forget_pid() {
    local -a keep=()
    local p
    for p in "${STARTED_PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    STARTED_PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED_PIDS[i]}"
    done
    if [[ -n $WORK_TMP && -d $WORK_TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            log "kept temp dir $WORK_TMP"
        else
            rm -rf -- "$WORK_TMP"
        fi
    fi
    exit "$rc"
}

install_traps() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

make_tmp() {
    WORK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/loophttp-$1.XXXXXX")
}

# start_bg LOGFILE CMD...: start CMD in the background; sets LAST_PID.
start_bg() {
    local logfile=$1
    shift
    "$@" >"$logfile" 2>&1 </dev/null &
    LAST_PID=$!
    STARTED_PIDS+=("$LAST_PID")
}

# wait_ready NAME PID URL LOGFILE [SECONDS]: poll URL until it answers, the
# process dies, or the deadline passes.
wait_ready() {
    local name=$1 pid=$2 url=$3 logfile=$4 limit=${5:-10}
    local deadline=$((SECONDS + limit))
    while :; do
        if ! alive "$pid"; then
            log "$name (pid $pid) exited during startup; log:"
            tail -n 20 "$logfile" >&2 || true
            exit 1
        fi
        if curl -s -o /dev/null --max-time 1 "$url"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log "$name (pid $pid) not ready at $url after ${limit}s; log:"
            tail -n 20 "$logfile" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
}

# wait_file FILE PID SECONDS: wait until FILE exists, PID exits, or the
# deadline passes; succeeds only in the first case.
wait_file() {
    local deadline=$((SECONDS + $3))
    while [[ ! -e $1 ]]; do
        alive "$2" && ((SECONDS < deadline)) || return 1
        sleep 0.01
    done
}

free_port() { python3 "$BENCH_DIR/benchlib.py" free-port "$@"; }

# build_loophttp: sets LOOPHTTP (path to the binary). LOOPHTTP_BIN overrides
# the path and skips the build.
build_loophttp() {
    if [[ -n ${LOOPHTTP_BIN:-} ]]; then
        LOOPHTTP=$LOOPHTTP_BIN
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found"
        log "building loophttp (cargo build --release) ..."
        (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
        LOOPHTTP=$ROOT/target/release/loophttp
    fi
    [[ -x $LOOPHTTP ]] || die "loophttp binary not found at $LOOPHTTP"
}

# render_nginx_conf DIR PORT FILES WORKERS NOFILE CONNECTIONS BACKLOG JSONFILE
# writes DIR/nginx.conf from the template. NGINX_DEFERRED=1 adds `deferred`
# to nginx's listen (TCP_DEFER_ACCEPT, as loophttp's listener has);
# NGINX_ACCESS_LOG sets the access_log directive's value (default off).
render_nginx_conf() {
    local dir=$1 port=$2 files=$3 workers=$4 nofile=$5 conns=$6 backlog=$7 json=$8
    local user_line="# (not root: no user directive)"
    if ((EUID == 0)); then
        # Workers would otherwise switch to "nobody" and could not read the
        # mode-0700 temp dir.
        user_line="user $(id -un) $(id -gn);"
    fi
    mkdir -p "$dir"/client_body "$dir"/proxy "$dir"/fastcgi "$dir"/uwsgi "$dir"/scgi
    python3 "$BENCH_DIR/benchlib.py" render "$BENCH_DIR/nginx.conf.template" "$dir/nginx.conf" \
        "USER_LINE=$user_line" "TMP=$dir" "PORT=$port" "FILES=$files" \
        "WORKERS=$workers" "NOFILE=$nofile" "WORKER_CONNECTIONS=$conns" \
        "BACKLOG=$backlog" "JSON_BODY=@$json" "LISTEN_OPTS=${NGINX_DEFERRED:+ deferred}" \
        "ACCESS_LOG=${NGINX_ACCESS_LOG:-off}"
    nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" \
        || die "nginx -t rejected $dir/nginx.conf"
}

# rss_kib PID: VmRSS summed over PID and its descendants, in KiB.
rss_kib() {
    local total=0 p v
    for p in $(descendants "$1"); do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

machine_info() {
    local cpu
    cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host:     $(uname -srm), nproc $(nproc), CPU ${cpu:-unknown}"
    local wrkv="no wrk"
    command -v wrk >/dev/null 2>&1 && wrkv=$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}' || true)
    echo "tools:    $wrkv, $(nginx -v 2>&1 | sed 's/^nginx version: //')${NGINX_DEFERRED:+ (listen ... deferred)}"
    echo "loophttp: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(cd "$ROOT" && git diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted changes)')"
}
