#!/usr/bin/env bash
# End to end with a real Prometheus: loophttp and a Prometheus server on
# loopback (own config and TSDB in a temp dir, scrape interval 1 s), traffic
# of every kind, then checks through Prometheus's HTTP API:
#   - the target is up;
#   - the request counter grew by exactly the number of requests sent;
#   - the duration histogram has those samples;
#   - every PromQL expression in deploy/grafana/loophttp.json evaluates
#     without error and returns data;
# and `promtool check metrics` on /metrics after that traffic.
#
# Usage: scripts/prometheus-e2e.sh   (LOOPHTTP_BIN=path skips the build;
#        KEEP_TMP=1 keeps the temp dir with both logs and the TSDB)
# Needs: prometheus and promtool (Debian: apt-get install prometheus; its
# service is never started), curl, python3.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

need_tools prometheus promtool curl python3
build_loophttp
install_traps
make_tmp prom-e2e
TMPD=$WORK_TMP
mkdir -p "$TMPD/files" "$TMPD/tsdb"

PORT_L=$(free_port 18480)
PORT_M=$(free_port 18481 "$PORT_L")
PORT_P=$(free_port 18482 "$PORT_L" "$PORT_M")

# A short header timeout so the traffic can include 408s quickly.
start_bg "$TMPD/loophttp.log" "$LOOPHTTP" --host 127.0.0.1 --port "$PORT_L" \
    --metrics-addr "127.0.0.1:$PORT_M" --directory "$TMPD/files" --allow-upload \
    --access-log "$TMPD/access.log" --header-timeout 1s --log-level info
PID_L=$LAST_PID
wait_ready loophttp "$PID_L" "http://127.0.0.1:$PORT_M/healthz" "$TMPD/loophttp.log"

cat >"$TMPD/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: loophttp
    static_configs:
      - targets: ["127.0.0.1:$PORT_M"]
YAML
promtool check config "$TMPD/prometheus.yml" >/dev/null
start_bg "$TMPD/prometheus.log" prometheus --config.file "$TMPD/prometheus.yml" \
    --storage.tsdb.path "$TMPD/tsdb" --web.listen-address "127.0.0.1:$PORT_P" \
    --storage.tsdb.retention.time 1h
PID_P=$LAST_PID
wait_ready prometheus "$PID_P" "http://127.0.0.1:$PORT_P/-/ready" "$TMPD/prometheus.log" 60

python3 "$ROOT/scripts/observe/prometheus_e2e.py" \
    --prometheus "http://127.0.0.1:$PORT_P" --server "127.0.0.1:$PORT_L" \
    --metrics "127.0.0.1:$PORT_M" --dashboard "$ROOT/deploy/grafana/loophttp.json"

curl -sf --max-time 5 "http://127.0.0.1:$PORT_M/metrics" >"$TMPD/metrics.txt"
promtool check metrics <"$TMPD/metrics.txt" || die "promtool check metrics failed"
echo "promtool check metrics: clean ($(grep -vc '^#' "$TMPD/metrics.txt") samples)"
alive "$PID_L" || die "loophttp died"
echo "prometheus-e2e: all checks passed"
