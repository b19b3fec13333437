# shellcheck shell=bash
# The access-log cost scenario of scripts/bench.sh (--logging): CPU per
# request of keep-alive GET /echo/abc with logging on and off, loophttp
# against nginx. Sourced by bench.sh after its options are parsed; uses
# common.sh's helpers and the caller's ROUNDS, DURATION, PIN_* settings.
# PIPELINE=N pipelines the requests, N per write (wrk with pipeline.lua,
# as the echo-pipelined-16 scenario): metrics on against --no-metrics in
# pipelined /echo is #22's "metrics counting costs at most 2%".
#
# Five servers, all started at once (idle ones cost nothing), measured in
# turn, rounds alternating so machine drift hits all alike:
#   loophttp --access-log off --no-metrics   the floor: no logging, no counting
#   loophttp --access-log off                counting for /metrics only
#   loophttp --access-log FILE               Combined log to a file (+ counting)
#   nginx    access_log off
#   nginx    access_log FILE combined buffer=64k   (nginx's buffered file log)
# Each run reads the server's CPU ticks (utime+stime, all its processes)
# before and after; CPU per request = ticks / requests answered. The log
# files are checked afterwards to hold one line per request answered.

logging_cpu_ticks() {
    local total=0 p stat rest
    local -a f
    for p in $(descendants "$1"); do
        stat=$(<"/proc/$p/stat") 2>/dev/null || continue
        rest=${stat##*) }
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# logging_lines FILE: its line count, 0 if it does not exist (yet).
logging_lines() {
    if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}

logging_main() {
    local conns=50 path=/echo/abc depth=${PIPELINE:-0}
    local -a script=(-s "$BENCH_DIR/report.lua")
    local how="keep-alive"
    export LOGGING_CONNS=$conns
    if ((depth > 0)); then
        export PIPELINE_DEPTH=$depth PIPELINE_PATH=$path BENCH_LUA_DIR=$BENCH_DIR
        script=(-s "$BENCH_DIR/pipeline.lua")
        how="pipelined ($depth per write)"
    fi
    build_loophttp
    install_traps
    make_tmp bench-logging
    local T=$WORK_TMP
    mkdir -p "$T/files"
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    echo "# access-log cost: $how GET $path, $conns connections, wrk -t1"
    machine_info
    echo "command:  ROUNDS=$ROUNDS DURATION=$DURATION PIPELINE=$depth $CMDLINE"
    echo "$NOTE"
    local load1 load5
    read -r load1 load5 _ </proc/loadavg
    echo "load:     $load1 (1 min), $load5 (5 min) before the run: other work on the machine inflates CPU per request"
    echo

    local -A PID PORT
    local names=(loophttp-bare loophttp-metrics loophttp-log nginx-off nginx-log)
    local base=18090 used=() name
    for name in "${names[@]}"; do
        PORT[$name]=$(free_port "$base" "${used[@]}")
        used+=("${PORT[$name]}")
        base=$((PORT[$name] + 1))
    done
    local common=(--host 127.0.0.1 --backlog 1024 --max-connections 4096 --log-level warn)
    start_bg "$T/loophttp-bare.out" "${PIN_SERVER[@]}" "$LOOPHTTP" "${common[@]}" --port "${PORT[loophttp-bare]}" \
        --access-log off --no-metrics
    PID[loophttp-bare]=$LAST_PID
    start_bg "$T/loophttp-metrics.out" "${PIN_SERVER[@]}" "$LOOPHTTP" "${common[@]}" --port "${PORT[loophttp-metrics]}" \
        --access-log off
    PID[loophttp-metrics]=$LAST_PID
    start_bg "$T/loophttp-log.out" "${PIN_SERVER[@]}" "$LOOPHTTP" "${common[@]}" --port "${PORT[loophttp-log]}" \
        --access-log "$T/loophttp-access.log"
    PID[loophttp-log]=$LAST_PID

    printf '%s' '{"name":"loophttp"}' >"$T/root.json"
    local n
    for n in off log; do
        render_nginx_conf "$T/nginx-$n" "${PORT[nginx-$n]}" "$T/files" 1 4096 4096 1024 "$T/root.json"
    done
    # nginx's usual setup: the combined format into a file through a 64 KiB buffer.
    sed -i "s|^    access_log off;|    access_log $T/nginx-access.log combined buffer=64k;|" "$T/nginx-log/nginx.conf"
    grep -q "buffer=64k" "$T/nginx-log/nginx.conf" || die "could not turn nginx's access log on"
    for n in off log; do
        start_bg "$T/nginx-$n.out" "${PIN_SERVER[@]}" nginx -p "$T/nginx-$n/" -c "$T/nginx-$n/nginx.conf" \
            -e "$T/nginx-$n/nginx-error.log"
        PID[nginx-$n]=$LAST_PID
    done
    for name in "${names[@]}"; do
        wait_ready "$name" "${PID[$name]}" "http://127.0.0.1:${PORT[$name]}$path" "$T/$name.out" 10
    done
    # wait_ready's requests are logged too: count from here.
    for name in "${names[@]}"; do
        "${PIN_WRK[@]}" timeout 20 wrk -t1 -c"$conns" -d1s "http://127.0.0.1:${PORT[$name]}$path" >/dev/null 2>&1 || true
    done
    sleep 0.3 # let the last warm-up lines reach the files (loophttp flushes within 100 ms)
    local lines0_l lines0_n
    lines0_l=$(logging_lines "$T/loophttp-access.log")
    lines0_n=$(logging_lines "$T/nginx-access.log")

    local results=$T/logging.jsonl round before after out json
    : >"$results"
    for ((round = 1; round <= ROUNDS; round++)); do
        for name in "${names[@]}"; do
            alive "${PID[$name]}" || die "$name died before round $round"
            out=$T/wrk-$name-$round.txt
            before=$(logging_cpu_ticks "${PID[$name]}")
            "${PIN_WRK[@]}" timeout -k 5 $((DURATION + 30)) wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s \
                "${script[@]}" "http://127.0.0.1:${PORT[$name]}$path" >"$out" 2>&1 || true
            after=$(logging_cpu_ticks "${PID[$name]}")
            json=$(sed -n 's/^BENCHJSON //p' "$out" | tail -n 1)
            [[ -n $json ]] || die "wrk failed against $name: $(tail -n 5 "$out")"
            printf '{"round":%d,"server":"%s","cpu_ticks":%d,"clk_tck":%d,"wrk":%s}\n' \
                "$round" "$name" $((after - before)) "$CLK_TCK" "$json" >>"$results"
            log "round $round/$ROUNDS  $(printf '%-18s' "$name") $(awk '/^Requests\/sec:/ {print $2}' "$out") req/s"
        done
    done
    # nginx writes its buffer when it fills or when it stops; stop it so
    # the line count below is complete. loophttp flushes every 100 ms.
    stop_pid "${PID[nginx-log]}"
    sleep 0.3
    local lines_l lines_n
    lines_l=$(($(logging_lines "$T/loophttp-access.log") - lines0_l))
    lines_n=$(($(logging_lines "$T/nginx-access.log") - lines0_n))
    python3 "$BENCH_DIR/logging_report.py" "$results" "$lines_l" "$lines_n"
    echo
    echo "sample lines:"
    tail -n 1 "$T/loophttp-access.log" 2>/dev/null || true
    tail -n 1 "$T/nginx-access.log" 2>/dev/null || true
}
