#!/usr/bin/env python3
"""Table for the access-log cost scenario (scripts/bench/logging.sh).

Usage: logging_report.py RESULTS.jsonl LOOPHTTP_LOG_LINES NGINX_LOG_LINES
"""

import json
import os
import statistics
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    lines = {"loophttp-log": int(sys.argv[2]), "nginx-log": int(sys.argv[3])}
    order = ["loophttp-bare", "loophttp-metrics", "loophttp-log", "nginx-off", "nginx-log"]
    label = {
        "loophttp-bare": "loophttp, no log, no metrics",
        "loophttp-metrics": "loophttp, metrics counting",
        "loophttp-log": "loophttp, metrics + access log to a file",
        "nginx-off": "nginx, access_log off",
        "nginx-log": "nginx, access_log file buffer=64k",
    }
    cpu, rps, reqs, nruns = {}, {}, {}, {}
    for name in order:
        runs = [r for r in rows if r["server"] == name]
        cpu[name] = statistics.median(
            r["cpu_ticks"] / r["clk_tck"] / r["wrk"]["requests"] * 1e6 for r in runs if r["wrk"]["requests"]
        )
        rps[name] = statistics.median(r["wrk"]["requests"] / (r["wrk"]["duration_us"] / 1e6) for r in runs)
        reqs[name] = sum(r["wrk"]["requests"] for r in runs)
        nruns[name] = len(runs)
        errs = sum(r["wrk"][k] for r in runs for k in ("connect", "read", "write", "timeout", "status"))
        if errs:
            print(f"warning: {name}: {errs} wrk errors")
    print("| server | req/s (median) | CPU µs/req (median) | vs its no-log run |")
    print("|---|---:|---:|---:|")
    for name in order:
        ref = "nginx-off" if name.startswith("nginx") else "loophttp-bare"
        print(f"| {label[name]} | {rps[name]:,.0f} | {cpu[name]:.2f} | {cpu[name] / cpu[ref]:.3f} |")
    print()
    print(f"CPU per request with the access log on, loophttp / nginx: {cpu['loophttp-log'] / cpu['nginx-log']:.2f}")
    print(f"metrics counting costs {100 * (cpu['loophttp-metrics'] / cpu['loophttp-bare'] - 1):+.1f}% CPU per request")
    print(f"access log (on top of counting) costs {100 * (cpu['loophttp-log'] / cpu['loophttp-metrics'] - 1):+.1f}% CPU per request")
    bad = False
    for name in ("loophttp-log", "nginx-log"):
        # wrk counts requests whose responses it read; a few more may be in
        # flight when a run ends, and nginx's 64 KiB buffer may still hold
        # warm-up lines when counting starts, so allow a small excess. When
        # pipelined, each connection can have a whole batch in flight at the
        # end of every run: up to conns x depth answered but not counted.
        depth = int(os.environ.get("PIPELINE_DEPTH") or 1)
        conns = int(os.environ.get("LOGGING_CONNS") or 50)
        ok = reqs[name] <= lines[name] <= reqs[name] + 2000 + nruns[name] * conns * depth
        bad |= not ok
        print(f"{name}: {lines[name]:,} log lines for {reqs[name]:,} requests wrk counted {'(ok)' if ok else '(MISMATCH)'}")
    if bad:
        sys.exit("the access logs do not hold one line per request")


if __name__ == "__main__":
    main()
