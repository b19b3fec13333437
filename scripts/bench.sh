#!/usr/bin/env bash
# Benchmark loophttp against nginx with wrk, on loopback.
#
# Usage: scripts/bench.sh [--rounds N] [--duration S] [--workers N] [--smoke]
#                         [--scenarios a,b,...] [--floor] [--logging]
#                         [--report DIR] [--log-off]
# The default configuration is what is measured: loophttp with its access
# log to a file (Combined) and metrics counting on, its defaults, against
# nginx with `access_log FILE combined buffer=64k`. The log files are
# emptied after every run, so a long run does not fill the disk.
# Environment (flags win): ROUNDS (3), DURATION seconds per run (5),
#   WORKERS (1; >1 or 0 = unpinned multi-worker run), SMOKE=1 (1 round of 2 s,
#   fails on any error), SCENARIOS (comma list, default all),
#   LOOPHTTP_BIN (use this binary, skip the build), KEEP_TMP=1 (keep temp dir),
#   RESULTS=FILE (copy the raw per-run JSON lines there), FLOOR=1 (also run
#   examples/floor.rs, a bare mio loop answering a fixed response, in the
#   keep-alive /echo scenarios: the practical floor, measured in the same run),
#   FAIR=1 / --fair (instead of the scenarios: a victim's latency while one
#   connection pipelines HEAD/GET with gzip, PUTs or /echo, loophttp vs
#   nginx; see scripts/bench/fair.py),
#   LOGGING=1 / --logging (instead of the scenarios: CPU per request with the
#   access log on and off, loophttp vs nginx; see scripts/bench/logging.sh;
#   with PIPELINE=N the requests are pipelined N per write),
#   NGINX_DEFERRED=1 (nginx listens with `deferred`, TCP_DEFER_ACCEPT, as
#   loophttp does: the fair match for the connection-per-request scenario),
#   REPORT=DIR / --report DIR (also write DIR/index.html, a self-contained
#   report with pictures, its PNGs and the raw results; see
#   scripts/bench/report_html.py), LOG=off / --log-off (the older
#   comparison: both access logs off, loophttp still counting metrics).
#   SMOKE=1 leaves out the scenarios tagged `nosmoke` (10,000 connections,
#   1 GiB files); a scenario needing more open files than the limit allows
#   is skipped with a note.
#
# Both servers get the same content and run on free loopback ports; with
# WORKERS=1 on a machine with >= 2 cores each server is pinned to core 1 and
# wrk to core 0. Scenarios alternate loophttp, nginx, loophttp, nginx ... so
# drift of the machine hits both alike. Only processes this script started
# are ever signalled, and its temp dir is removed on exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

CMDLINE="$0${*:+ $*}"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-1}
SMOKE=${SMOKE:-0}
SCENARIOS=${SCENARIOS:-}
FLOOR=${FLOOR:-0}
LOGGING=${LOGGING:-0}
FAIR=${FAIR:-0}
REPORT=${REPORT:-}
LOG=${LOG:-on}

# The header comment above, up to its first non-comment line.
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }

while (($#)); do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --floor) FLOOR=1; shift ;;
        --logging) LOGGING=1; shift ;;
        --fair) FAIR=1; shift ;;
        --report) REPORT=$2; shift 2 ;;
        --log-off) LOG=off; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
if [[ $SMOKE == 1 ]]; then
    ROUNDS=1
    DURATION=2
fi
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds)"
[[ $WORKERS =~ ^[0-9]+$ ]] || die "WORKERS must be a non-negative integer"
[[ $LOG == on || $LOG == off ]] || die "LOG must be on or off"
if [[ -n $REPORT ]]; then
    mkdir -p "$REPORT" || die "cannot create the report directory $REPORT"
    REPORT=$(cd "$REPORT" && pwd)
fi

need_tools wrk nginx curl python3

# ------------------------------------------------------------ scenarios
# name | path | connections | kind | tags
# kind: plain, pipeline, close, or bulk (a body too large to finish in a run:
#   throughput counted in bytes, no per-request figures, wrk's timeout
#   beyond the run).
# tags (comma list): nosmoke = left out by SMOKE=1; big = also in the
#   large-file table (MiB/s and CPU per GiB, server and wrk).
ALL_SCENARIOS=(
    "echo-keepalive|/echo/abc|50|plain"
    "echo-keepalive-256|/echo/abc|256|plain"
    "json-root|/|50|plain"
    "file-1KiB|/files/1k.bin|50|plain"
    "file-64KiB|/files/64k.bin|50|plain"
    "file-10MiB|/files/10m.bin|8|plain|big"
    "echo-pipelined-16|/echo/abc|50|pipeline"
    "echo-conn-close|/echo/abc|50|close"
)
# At the limit (issue 12): many keep-alive connections, and large files at
# 1, 8 and 64 connections.
ALL_SCENARIOS+=(
    "echo-keepalive-1k|/echo/abc|1000|plain"
    "echo-keepalive-10k|/echo/abc|10000|plain|nosmoke"
    "file-10MiB-1|/files/10m.bin|1|plain|big"
    "file-10MiB-64|/files/10m.bin|64|plain|big"
    "file-1GiB-1|/files/1g.bin|1|bulk|big,nosmoke"
    "file-1GiB-8|/files/1g.bin|8|bulk|big,nosmoke"
    "file-1GiB-64|/files/1g.bin|64|bulk|big,nosmoke"
)
RUN_SCENARIOS=()
for s in "${ALL_SCENARIOS[@]}"; do
    IFS='|' read -r name _ _ _ tags <<<"$s"
    [[ $SMOKE == 1 && ,$tags, == *,nosmoke,* ]] && continue
    if [[ -z $SCENARIOS || ",$SCENARIOS," == *",$name,"* ]]; then
        RUN_SCENARIOS+=("$s")
    fi
done
((${#RUN_SCENARIOS[@]})) || die "no scenario matches SCENARIOS=$SCENARIOS"

# Open files: each server holds one per connection (plus a few), and so
# does wrk; all inherit this shell's limit. Raise it as far as allowed (root
# may lift the hard limit too), then drop the scenarios it cannot carry.
MAX_CONNS=50
for s in "${RUN_SCENARIOS[@]}"; do
    IFS='|' read -r _ _ conns _ _ <<<"$s"
    ((conns > MAX_CONNS)) && MAX_CONNS=$conns
done
FD_MARGIN=256
raise_nofile() {
    local want=$1 hard
    [[ $(ulimit -Sn) == unlimited ]] && return 0
    (($(ulimit -Sn) >= want)) && return 0
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null || true
    fi
    ulimit -Sn "$want" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
}
raise_nofile $((MAX_CONNS + FD_MARGIN))
NOFILE=$(ulimit -Sn)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
KEEP=()
for s in "${RUN_SCENARIOS[@]}"; do
    IFS='|' read -r name _ conns _ _ <<<"$s"
    if ((conns + FD_MARGIN > NOFILE)); then
        log "note: skipping $name: $conns connections need an open-file limit of $((conns + FD_MARGIN)), this shell may have $NOFILE"
        continue
    fi
    KEEP+=("$s")
done
RUN_SCENARIOS=("${KEEP[@]}")
((${#RUN_SCENARIOS[@]})) || die "no scenario fits the open-file limit $NOFILE"
MAX_CONNS=50
for s in "${RUN_SCENARIOS[@]}"; do
    IFS='|' read -r _ _ conns _ _ <<<"$s"
    ((conns > MAX_CONNS)) && MAX_CONNS=$conns
done
# Both servers get room for every connection of the largest scenario; nginx
# twice over: sized at 1,000 + 64 for 1,000, it logged "worker_connections
# are not enough, reusing connections" and wrk saw read errors.
SERVER_CONNS=$((MAX_CONNS + 64))
NGINX_CONNS=$((2 * MAX_CONNS + 64))
NGINX_NOFILE=$((2 * NGINX_CONNS + FD_MARGIN))
# wrk opens its connections inside the timed run; 10,000 of them take
# seconds on a busy machine, so runs with that many last at least this long.
MANY_CONNS=5000
MANY_CONNS_MIN_SECS=10

# ------------------------------------------------------------ machine
NPROC=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
PIN_SERVER=()
PIN_WRK=()
NOTE=""
if [[ $WORKERS == 1 ]]; then
    if ((NPROC >= 2)) && command -v taskset >/dev/null 2>&1; then
        PIN_SERVER=(taskset -c 1)
        PIN_WRK=(taskset -c 0)
        NOTE="pinning: servers on core 1, wrk on core 0"
    else
        NOTE="pinning: none (fewer than 2 cores or no taskset): wrk competes with the server"
    fi
else
    NOTE="pinning: none (WORKERS=$WORKERS): wrk competes with the servers for the same cores"
fi
NGINX_WORKERS=$WORKERS
[[ $WORKERS == 0 ]] && NGINX_WORKERS=auto

if [[ $FAIR == 1 ]]; then
    build_loophttp
    machine_info
    exec python3 "$BENCH_DIR/fair.py" --seconds "$DURATION" --loophttp "$LOOPHTTP"
fi

if [[ $LOGGING == 1 ]]; then
    # shellcheck source-path=SCRIPTDIR source=bench/logging.sh
    source "$BENCH_DIR/logging.sh"
    logging_main
    exit 0
fi

echo "# loophttp vs nginx (wrk)"
machine_info
echo "command:  ROUNDS=$ROUNDS DURATION=$DURATION WORKERS=$WORKERS SMOKE=$SMOKE${SCENARIOS:+ SCENARIOS=$SCENARIOS} $CMDLINE"
echo "$NOTE"
read -r load1 load5 _ </proc/loadavg
echo "load:     $load1 (1 min), $load5 (5 min) before the run (see 'other CPU' in the table for load during the runs)"
echo

build_loophttp
install_traps
make_tmp bench
TMPD=$WORK_TMP
FILES=$TMPD/files
mkdir -p "$FILES"
head -c 1024 /dev/urandom >"$FILES/1k.bin"
head -c $((64 * 1024)) /dev/urandom >"$FILES/64k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$FILES/10m.bin"
if [[ " ${RUN_SCENARIOS[*]} " == */files/1g.bin* ]]; then
    # Sparse-free 1 GiB (the page cache serves it after the warm-up read).
    head -c $((1024 * 1024 * 1024)) /dev/urandom >"$FILES/1g.bin"
fi

PORT_L=$(free_port 18080)
PORT_N=$(free_port 18081 "$PORT_L")

# ------------------------------------------------------------ servers
# The access logs: the Combined format into a file on both sides (nginx
# through its usual 64 KiB buffer; loophttp's writer thread batches), unless
# LOG=off. Metrics counting is loophttp's default, on in both cases.
ACCESS_L=off
NGINX_ACCESS_LOG=off
if [[ $LOG == on ]]; then
    ACCESS_L=$TMPD/loophttp-access.log
    NGINX_ACCESS_LOG="$TMPD/nginx-access.log combined buffer=64k"
fi
start_bg "$TMPD/loophttp.log" "${PIN_SERVER[@]}" "$LOOPHTTP" \
    --host 127.0.0.1 --port "$PORT_L" --directory "$FILES" --workers "$WORKERS" \
    --backlog 4096 --max-connections "$SERVER_CONNS" --log-level "${LOOPHTTP_LOG_LEVEL:-warn}" \
    --access-log "$ACCESS_L"
PID_L=$LAST_PID
wait_ready loophttp "$PID_L" "http://127.0.0.1:$PORT_L/echo/abc" "$TMPD/loophttp.log"

# nginx answers GET / with exactly loophttp's JSON body when it can be quoted.
curl -s --max-time 5 "http://127.0.0.1:$PORT_L/" >"$TMPD/root.body" || true
if python3 "$BENCH_DIR/benchlib.py" nginx-quote "$TMPD/root.body" >"$TMPD/root.quoted" 2>/dev/null; then
    :
else
    log "note: loophttp's GET / body cannot be copied into nginx.conf; nginx serves a stand-in JSON"
    printf '%s' '{"name":"loophttp","status":"ok"}' >"$TMPD/root.quoted"
fi
NGINX_ACCESS_LOG=$NGINX_ACCESS_LOG render_nginx_conf "$TMPD/nginx" "$PORT_N" "$FILES" "$NGINX_WORKERS" \
    "$NGINX_NOFILE" "$NGINX_CONNS" 4096 "$TMPD/root.quoted"
start_bg "$TMPD/nginx.log" "${PIN_SERVER[@]}" nginx -p "$TMPD/nginx/" -c "$TMPD/nginx/nginx.conf" \
    -e "$TMPD/nginx/nginx-error.log"
PID_N=$LAST_PID
wait_ready nginx "$PID_N" "http://127.0.0.1:$PORT_N/echo/abc" "$TMPD/nginx/nginx-error.log"

PID_F="" PORT_F=""
if [[ $FLOOR == 1 ]]; then
    log "building examples/floor.rs ..."
    (cd "$ROOT" && cargo build --release --quiet --example floor) || die "cargo build --example floor failed"
    PORT_F=$(free_port 18082 "$PORT_L" "$PORT_N")
    start_bg "$TMPD/floor.log" "${PIN_SERVER[@]}" "$ROOT/target/release/examples/floor" --host 127.0.0.1 --port "$PORT_F"
    PID_F=$LAST_PID
    wait_ready floor "$PID_F" "http://127.0.0.1:$PORT_F/echo/abc" "$TMPD/floor.log"
fi

# Same content from both?
for path in /echo/abc / /files/1k.bin /files/10m.bin; do
    a=$(curl -s --max-time 5 "http://127.0.0.1:$PORT_L$path" | cksum)
    b=$(curl -s --max-time 5 "http://127.0.0.1:$PORT_N$path" | cksum)
    [[ $a == "$b" ]] || log "note: bodies of $path differ between loophttp and nginx ($a vs $b)"
done

echo "loophttp pid $PID_L on 127.0.0.1:$PORT_L (--workers $WORKERS); nginx pid $PID_N on 127.0.0.1:$PORT_N (worker_processes $NGINX_WORKERS, master + workers measured)"
echo "rounds $ROUNDS x ${DURATION}s per run, wrk -t1, ${#RUN_SCENARIOS[@]} scenarios; open-file limit $NOFILE, servers sized for $SERVER_CONNS connections"
if [[ $LOG == on ]]; then
    echo "access logs: on (loophttp --access-log FILE, Combined; nginx access_log FILE combined buffer=64k); metrics counting on"
else
    echo "access logs: off on both (LOG=off); loophttp's metrics counting on"
fi
echo

# ------------------------------------------------------------ runs
# cpu_ticks PID: utime+stime (/proc/PID/stat fields 14+15) of PID and its
# descendants, in clock ticks.
cpu_ticks() {
    local total=0 p stat rest
    local -a f
    for p in $(descendants "$1"); do
        stat=$(<"/proc/$p/stat") 2>/dev/null || continue
        rest=${stat##*) }     # fields from 3 (state) on
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

RESULTS_FILE=$TMPD/results.jsonl
: >"$RESULTS_FILE"
export BENCH_LUA_DIR=$BENCH_DIR

# sys_busy_ticks: busy time of all CPUs (user+nice+system+irq+softirq+steal
# from /proc/stat), in clock ticks.
sys_busy_ticks() {
    local user nice system irq softirq steal
    read -r _ user nice system _ _ irq softirq steal _ </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# run_wrk OUTFILE SECONDS CONNS KIND URL [TIMEOUT [SERIES]]: runs wrk
# (bounded by -d and by timeout), its output in OUTFILE and its user+sys CPU
# seconds in OUTFILE.cpu. TIMEOUT (default 5 s) is how long a response may
# take. With SERIES, the bytes wrk has read are sampled every 100 ms into
# that file (throughput over time).
run_wrk() {
    local out=$1 secs=$2 conns=$3 kind=$4 url=$5 series=${7:-} rc=0 sampler=""
    local -a args=(-t1 -c"$conns" -d"${secs}s" --timeout "${6:-5}s" --latency)
    case $kind in
        plain) args+=(-s "$BENCH_DIR/report.lua") ;;
        # A 1 GiB body outlasts the run: no timeout while it streams.
        bulk) args+=(-s "$BENCH_DIR/report.lua" --timeout $((secs + 60))s) ;;
        pipeline) args+=(-s "$BENCH_DIR/pipeline.lua") ;;
        close) args+=(-s "$BENCH_DIR/report.lua" -H "Connection: close") ;;
    esac
    local -a exec_wrk=(wrk)
    if [[ -n $series ]]; then
        # The sampler starts first (Python takes a while to start); wrk's
        # shell writes its PID, which wrk keeps by exec, the moment it starts.
        start_bg "$series.log" "${PIN_WRK[@]}" python3 "$BENCH_DIR/benchlib.py" sample-rx "$series.pid" "$series" $((secs + 40))
        sampler=$LAST_PID
        wait_file "$series.ready" "$sampler" 10 || log "note: the throughput sampler did not start"
        # shellcheck disable=SC2016 # $$ and $0 are the inner shell's
        exec_wrk=(sh -c 'echo $$ >"$0" && exec wrk "$@"' "$series.pid")
    fi
    local TIMEFORMAT='%3R %3U %3S'
    { time "${PIN_WRK[@]}" timeout -k 5 $((secs + 30)) "${exec_wrk[@]}" "${args[@]}" "$url" >"$out" 2>&1 || rc=$?; } 2>"$out.cpu"
    if [[ -n $sampler ]]; then
        wait "$sampler" || log "note: the throughput sampler failed: $(tail -n 3 "$series.log")"
        forget_pid "$sampler"
    fi
    return "$rc"
}

# log_bytes SERVER: the size of SERVER's access log file (0 with LOG=off).
log_bytes() {
    local f=$TMPD/$1-access.log
    if [[ $LOG == on && -f $f ]]; then stat -c %s "$f"; else echo 0; fi
}

# empty_logs: both access logs back to zero bytes. Both servers append
# (O_APPEND), so they carry on at the new end; a long run cannot fill the
# disk.
empty_logs() {
    [[ $LOG == on ]] || return 0
    local f
    for f in "$TMPD/loophttp-access.log" "$TMPD/nginx-access.log"; do
        [[ -f $f ]] && : >"$f"
    done
    return 0
}

# Warm-up (not recorded): page cache, server caches, TCP.
for target in "loophttp $PORT_L" "nginx $PORT_N"; do
    read -r server port <<<"$target"
    run_wrk "$TMPD/warmup-$server.txt" 1 50 plain "http://127.0.0.1:$port/echo/abc" \
        || log "warning: warm-up against $server failed: $(tail -n 3 "$TMPD/warmup-$server.txt")"
    run_wrk "$TMPD/warmup2-$server.txt" 1 8 plain "http://127.0.0.1:$port/files/10m.bin" || true
done

for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${RUN_SCENARIOS[@]}"; do
        IFS='|' read -r name path conns kind tags <<<"$s"
        secs=$DURATION
        ((conns >= MANY_CONNS && secs < MANY_CONNS_MIN_SECS)) && secs=$MANY_CONNS_MIN_SECS
        servers=(loophttp nginx)
        # The floor answers only keep-alive /echo requests correctly.
        [[ -n $PID_F && $path == /echo/* && $kind != close ]] && servers+=(floor)
        for server in "${servers[@]}"; do
            case $server in
                loophttp) pid=$PID_L port=$PORT_L ;;
                nginx) pid=$PID_N port=$PORT_N ;;
                floor) pid=$PID_F port=$PORT_F ;;
            esac
            alive "$pid" || die "$server (pid $pid) died before $name round $round"
            out=$TMPD/wrk-$name-$server-$round.txt
            empty_logs
            before=$(cpu_ticks "$pid")
            sys_before=$(sys_busy_ticks)
            rc=0
            # 64 downloads of 10 MiB share the link: one may take longer than 5 s.
            wrk_timeout=5
            [[ ,$tags, == *,big,* ]] && wrk_timeout=$((secs + 30))
            series=""
            [[ ,$tags, == *,big,* ]] && series=$out.series
            run_wrk "$out" "$secs" "$conns" "$kind" "http://127.0.0.1:$port$path" "$wrk_timeout" "$series" || rc=$?
            after=$(cpu_ticks "$pid")
            sys_after=$(sys_busy_ticks)
            logged=$(log_bytes "$server")
            samples='[]'
            [[ -n $series && -s $series ]] && samples=$(<"$series")
            read -r wall wrk_user wrk_sys <"$out.cpu" || { wall=0 wrk_user=0 wrk_sys=0; }
            json=$(sed -n 's/^BENCHJSON //p' "$out" | tail -n 1)
            if [[ $rc != 0 || -z $json ]]; then
                log "wrk failed (rc $rc) for $name against $server:"
                tail -n 20 "$out" >&2 || true
                json='{"requests":0,"duration_us":0,"bytes":0,"connect":0,"read":0,"write":0,"timeout":0,"status":0,"p50_us":null,"p99_us":null,"max_us":null}'
            fi
            printf '{"round":%d,"scenario":"%s","conns":%d,"kind":"%s","big":%s,"server":"%s","cpu_ticks":%d,"clk_tck":%d,"nproc":%d,"sys_busy_ticks":%d,"wall_s":%s,"wrk_cpu_s":%s,"access_log":"%s","log_bytes":%d,"wrk":%s,"rx_series":%s}\n' \
                "$round" "$name" "$conns" "$kind" "$([[ ,$tags, == *,big,* ]] && echo true || echo false)" \
                "$server" $((after - before)) "$CLK_TCK" "$NPROC" \
                $((sys_after - sys_before)) "$wall" "$(awk -v a="$wrk_user" -v b="$wrk_sys" 'BEGIN {print a + b}')" \
                "$([[ $server == floor ]] && echo off || echo "$LOG")" "$logged" "$json" "$samples" >>"$RESULTS_FILE"
            rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
            errs=$(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';' || true)
            log "round $round/$ROUNDS  $(printf '%-20s %-8s' "$name" "$server") ${rps:-?} req/s${errs:+  $errs}"
        done
    done
done

alive "$PID_L" || die "loophttp died during the benchmark; log: $(tail -n 5 "$TMPD/loophttp.log")"
alive "$PID_N" || die "nginx died during the benchmark"
if [[ -n ${RESULTS:-} ]]; then
    cp "$RESULTS_FILE" "$RESULTS"
fi
if [[ -s $TMPD/loophttp.log ]]; then
    log "loophttp log (last lines):"
    tail -n 5 "$TMPD/loophttp.log" >&2
fi

echo
smoke_flag=()
[[ $SMOKE == 1 ]] && smoke_flag=(--smoke)
rc=0
python3 "$BENCH_DIR/benchlib.py" report "$RESULTS_FILE" "${smoke_flag[@]}" | tee "$TMPD/table.md" || rc=$?
if [[ -n $REPORT ]]; then
    # The header lines printed at the start, for the report's first section.
    {
        machine_info
        echo "command:  ROUNDS=$ROUNDS DURATION=$DURATION WORKERS=$WORKERS SMOKE=$SMOKE LOG=$LOG FLOOR=$FLOOR${SCENARIOS:+ SCENARIOS=$SCENARIOS} $CMDLINE"
        echo "$NOTE"
        echo "load:     $load1 (1 min), $load5 (5 min) before the run"
    } >"$TMPD/header.txt"
    cp "$RESULTS_FILE" "$REPORT/results.jsonl"
    cp "$TMPD/table.md" "$REPORT/table.md"
    need_matplotlib
    python3 "$BENCH_DIR/report_html.py" "$REPORT" "$REPORT/results.jsonl" "$TMPD/header.txt" "$REPORT/table.md" \
        || die "the HTML report could not be written"
    python3 "$BENCH_DIR/report_html.py" --check "$REPORT/index.html" || die "the HTML report is incomplete"
    echo "report:   $REPORT/index.html"
fi
exit "$rc"
