#!/usr/bin/env python3
"""Helpers for scripts/bench.sh and scripts/idle-connections.sh.

Subcommands:
  free-port BASE [EXCLUDE...]   print the first port >= BASE that can be bound
                                on 127.0.0.1 (and is not in EXCLUDE)
  render TEMPLATE OUT KEY=VAL.. substitute @KEY@ placeholders; a value written
                                as KEY=@FILE reads the value from FILE
  nginx-quote FILE              print FILE's content escaped for an nginx
                                single-quoted string (exit 1 if it cannot be
                                expressed, e.g. it contains '$')
  report RESULTS.jsonl [--smoke] print the markdown result table; with
                                --smoke exit 1 if any run had errors
  sample-rx PIDFILE OUT SECS    create OUT.ready, wait for wrk's PID in
                                PIDFILE, then every 100 ms note the bytes it
                                has read so far (/proc/PID/io rchar) until
                                it exits or SECS pass; OUT gets a JSON list
                                of [seconds, bytes] (the report's throughput
                                over time)
"""

import json
import re
import socket
import statistics
import sys
import time


def free_port(base, exclude):
    for port in range(base, min(base + 2000, 65536)):
        if port in exclude:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # As the servers do: TIME_WAIT leftovers don't block the port, a
        # listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    sys.exit("no free port found from %d" % base)


def render(template, out, pairs):
    text = open(template).read()
    for pair in pairs:
        key, _, val = pair.partition("=")
        if val.startswith("@"):
            val = open(val[1:]).read()
        text = text.replace("@%s@" % key, val)
    left = sorted({m for l in text.splitlines() if not l.lstrip().startswith("#")
                   for m in re.findall(r"@[A-Z_]+@", l)})
    if left:
        sys.exit("unsubstituted placeholders: %s" % " ".join(left))
    with open(out, "w") as f:
        f.write(text)


def nginx_quote(path):
    body = open(path, "rb").read().decode("utf-8")
    if "$" in body or not body:
        sys.exit(1)
    sys.stdout.write(body.replace("\\", "\\\\").replace("'", "\\'"))


# ---------------------------------------------------------------- report

def fmt_rate(x):
    if x >= 100:
        return "{:,.0f}".format(x)
    return "{:.1f}".format(x)


def fmt_lat(us):
    if us is None:
        return "-"
    if us < 1000:
        return "%dµs" % round(us)
    if us < 1_000_000:
        return "%.2fms" % (us / 1000)
    return "%.2fs" % (us / 1e6)


def fmt_cpu(x):
    if x is None:
        return "-"
    return "%.2f" % x if x < 10 else "%.1f" % x if x < 100 else "%.0f" % x


def fmt_pct(x):
    return "-" if x is None else "%.0f%%" % x


def cpu_ratio(a, b):
    """CPU µs/req of a over b, formatted; '-' when either is missing."""
    if not a or not b or not a["cpu_us"] or not b["cpu_us"]:
        return "-"
    return "%.2f" % (a["cpu_us"] / b["cpu_us"])


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


GIB = 1024 ** 3


def summarise(runs, clk_tck):
    """Aggregate the rounds of one (scenario, server)."""
    rps, mbs, p50, p99 = [], [], [], []
    reqs = ticks = nbytes = 0
    wrk_s = 0.0
    bulk = any(r.get("kind") == "bulk" for r in runs)
    errs = dict(connect=0, read=0, write=0, timeout=0, status=0)
    for r in runs:
        w = r["wrk"]
        secs = w["duration_us"] / 1e6 if w["duration_us"] else None
        rps.append(w["requests"] / secs if secs else 0.0)
        mbs.append(w["bytes"] / secs / (1024 * 1024) if secs else 0.0)
        p50.append(w["p50_us"])
        p99.append(w["p99_us"])
        reqs += w["requests"]
        nbytes += w["bytes"]
        wrk_s += r["wrk_cpu_s"]
        ticks += r["cpu_ticks"]
        for k in errs:
            errs[k] += w[k]
    # A bulk body outlasts the run: per request means nothing there.
    cpu_us = ticks * 1e6 / clk_tck / reqs if reqs and not bulk else None
    if bulk:
        p50, p99 = [None], [None]
    wrk_pct, other_pct = [], []
    for r in runs:
        wall = r.get("wall_s") or 0
        if wall <= 0:
            continue
        wrk_pct.append(100 * r["wrk_cpu_s"] / wall)
        other = (r["sys_busy_ticks"] - r["cpu_ticks"]) / clk_tck - r["wrk_cpu_s"]
        other_pct.append(max(0.0, 100 * other / (r["nproc"] * wall)))
    return dict(rps=rps, rps_med=med(rps), mbs=mbs, mbs_med=med(mbs), p50=med(p50),
                p99=med(p99), cpu_us=cpu_us, errs=errs, reqs=reqs,
                zero=any(x == 0 for x in (mbs if bulk else rps)),
                cpu_s_gib=ticks / clk_tck / (nbytes / GIB) if nbytes else None,
                wrk_s_gib=wrk_s / (nbytes / GIB) if nbytes else None,
                wrk_pct=med(wrk_pct), other_max=max(other_pct) if other_pct else None,
                others=other_pct)


def both_ratio(L, N):
    """(server + wrk) CPU per GiB, loophttp's over nginx's, or "-"."""
    parts = [L["cpu_s_gib"], L["wrk_s_gib"], N["cpu_s_gib"], N["wrk_s_gib"]]
    if any(x is None for x in parts) or not parts[2] + parts[3]:
        return "-"
    return "%.2f" % ((parts[0] + parts[1]) / (parts[2] + parts[3]))


def print_big(big_rows):
    """The large-file table: bytes per second and CPU per GiB on each side."""
    print("Large files (CPU seconds per GiB delivered: the server's, and wrk's "
          "own, which on loopback includes whatever TCP work runs in its context; "
          "both L/N: server + wrk, loophttp's over nginx's, the whole machine's "
          "work per byte, which does not depend on which core the kernel sends from):")
    print()
    head = ["scenario", "conns", "MiB/s L", "MiB/s N", "ratio L/N",
            "server s/GiB L", "server s/GiB N", "wrk s/GiB L", "wrk s/GiB N",
            "both L/N", "p99 L", "p99 N"]
    out = [head]
    for s, n, L, N, ratio in big_rows:
        def g(x, k, f):
            return f(x[k]) if x[k] is not None else "-"
        out.append([s, str(n), g(L, "mbs_med", fmt_rate), g(N, "mbs_med", fmt_rate),
                    "%.2f" % ratio if ratio is not None else "-",
                    g(L, "cpu_s_gib", fmt_cpu), g(N, "cpu_s_gib", fmt_cpu),
                    g(L, "wrk_s_gib", fmt_cpu), g(N, "wrk_s_gib", fmt_cpu),
                    both_ratio(L, N), g(L, "p99", fmt_lat), g(N, "p99", fmt_lat)])
    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    for i, r in enumerate(out):
        print("| " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                for j, (c, w) in enumerate(zip(r, widths))) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) if j == 0 else "-" * (w + 1) + ":"
                                 for j, w in enumerate(widths)) + "|")
    print()


def report(path, smoke):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    if not rows:
        sys.exit("no results")
    clk_tck = rows[0].get("clk_tck", 100)
    scenarios, conns, kinds, big = [], {}, {}, {}
    for r in rows:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
            conns[r["scenario"]] = r["conns"]
            kinds[r["scenario"]] = r.get("kind", "plain")
            big[r["scenario"]] = r.get("big", False)
    big_rows = []

    with_floor = any(r["server"] == "floor" for r in rows)
    head = ["scenario", "conns",
            "loophttp req/s", "loophttp MiB/s", "nginx req/s", "nginx MiB/s",
            "ratio L/N (median)",
            "CPU µs/req L", "CPU µs/req N", "CPU L/N"]
    if with_floor:
        head += ["CPU µs/req floor", "CPU L/floor"]
    head += [
            "p50 L", "p50 N", "p99 L", "p99 N", "wrk CPU L/N", "other CPU",
            "errors L / N"]
    out = [head]
    problems = []
    all_other = []
    for s in scenarios:
        S = {}
        for srv in ("loophttp", "nginx", "floor"):
            runs = sorted((r for r in rows if r["scenario"] == s and r["server"] == srv),
                          key=lambda r: r["round"])
            S[srv] = summarise(runs, clk_tck) if runs else None
        L, N, F = S["loophttp"], S["nginx"], S["floor"]
        ratio = None
        if L and N:
            # Bytes for bulk bodies (few or no requests finish in a run).
            key = "mbs" if kinds[s] == "bulk" else "rps"
            ratios = [a / b for a, b in zip(L[key], N[key]) if b]
            ratio = med(ratios)
        if big[s] and L and N:
            big_rows.append((s, conns[s], L, N, ratio))

        def errstr(x):
            if not x:
                return "-"
            e = x["errs"]
            parts = ["%s %d" % (k, v) for k, v in e.items() if v]
            return ", ".join(parts) if parts else "0"

        for srv, x in S.items():
            if not x:
                continue
            e = x["errs"]
            sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
            if sock or e["status"] or x["zero"]:
                problems.append("%s/%s: socket errors %d (connect %d, read %d, "
                                "write %d, timeout %d), non-2xx/3xx %d, "
                                "zero-request runs %s"
                                % (s, srv, sock, e["connect"], e["read"],
                                   e["write"], e["timeout"], e["status"],
                                   "yes" if x["zero"] else "no"))

        def g(x, k, f):
            return f(x[k]) if x and x[k] is not None else "-"

        row = [s, str(conns[s]),
               g(L, "rps_med", fmt_rate), g(L, "mbs_med", fmt_rate),
               g(N, "rps_med", fmt_rate), g(N, "mbs_med", fmt_rate),
               "%.2f" % ratio if ratio is not None else "-",
               g(L, "cpu_us", fmt_cpu), g(N, "cpu_us", fmt_cpu), cpu_ratio(L, N)]
        if with_floor:
            row += [g(F, "cpu_us", fmt_cpu), cpu_ratio(L, F)]
        row += [g(L, "p50", fmt_lat), g(N, "p50", fmt_lat),
                g(L, "p99", fmt_lat), g(N, "p99", fmt_lat),
                "%s/%s" % (g(L, "wrk_pct", fmt_pct), g(N, "wrk_pct", fmt_pct)),
                fmt_pct(max([x["other_max"] for x in (L, N, F)
                             if x and x["other_max"] is not None], default=None)),
                "%s / %s" % (errstr(L), errstr(N))]
        out.append(row)
        for x in (L, N, F):
            if x:
                all_other.extend(x["others"])

    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    right = set(range(1, len(head) - 1))

    def line(r):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        return "| " + " | ".join(cells) + " |"

    print(line(out[0]))
    print("|" + "|".join((("-" * (w + 1)) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|")
    for r in out[1:]:
        print(line(r))
    print()
    if big_rows:
        print_big(big_rows)
    print("req/s, MiB/s, p50, p99: median over rounds; ratio: median of the per-round "
          "loophttp/nginx req/s ratios; CPU µs/req: server utime+stime (all its "
          "processes) summed over rounds / requests completed.")
    print("CPU L/N: loophttp's CPU µs/req over nginx's (issue 22's target: <= 0.85 in the "
          "keep-alive, pipelined, 10,000-connection, 64 KiB and 10 MiB scenarios; for "
          "large files on loopback read it with the large-file table's both L/N, "
          "docs/PERFORMANCE.md, large files).")
    if with_floor:
        print("floor: examples/floor.rs, a bare mio loop answering a fixed response of the "
              "same size without parsing; CPU L/floor is how far above that floor loophttp is.")
    print("wrk CPU: median share of one core used by wrk (near 100% = the client, "
          "not the server, is the bottleneck); other CPU: worst share of all cores "
          "used by other processes during the scenario's runs.")
    if all_other and max(all_other) > 10:
        print()
        print("WARNING: other processes used up to %.0f%% of the machine during the runs "
              "(median %.0f%%): req/s and latency are unreliable; CPU µs/req is "
              "less affected." % (max(all_other), med(all_other)))
    if problems:
        print()
        print("PROBLEMS:")
        for p in problems:
            print("  " + p)
    if smoke:
        if problems:
            print("bench smoke: FAILED (%d problem(s) above)" % len(problems))
            sys.exit(1)
        print("bench smoke: all %d scenarios completed" % len(scenarios))


# ---------------------------------------------------------------- samples

SAMPLE_INTERVAL_S = 0.1
PID_POLL_S = 0.001


def rchar(pid):
    """Bytes the process has read so far (all its read calls: for wrk, the
    responses); None once it is gone."""
    try:
        for line in open("/proc/%d/io" % pid):
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def sample_rx(pidfile, out, secs):
    """Says it is ready (OUT.ready), waits for wrk's PID in PIDFILE (written
    by the shell that then execs wrk), and samples from that moment."""
    open(out + ".ready", "w").close()
    deadline = time.monotonic() + secs
    pid = None
    while pid is None and time.monotonic() < deadline:
        try:
            pid = int(open(pidfile).read().strip() or "x")
        except (OSError, ValueError):
            time.sleep(PID_POLL_S)
    samples = []
    if pid is not None:
        start = tick = time.monotonic()
        while time.monotonic() < deadline:
            got = rchar(pid)
            if got is None:
                break
            samples.append([round(time.monotonic() - start, 3), got])
            tick += SAMPLE_INTERVAL_S
            time.sleep(max(0.0, tick - time.monotonic()))
    with open(out, "w") as f:
        json.dump(samples, f, separators=(",", ":"))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "free-port":
        print(free_port(int(argv[2]), {int(x) for x in argv[3:]}))
    elif cmd == "render":
        render(argv[2], argv[3], argv[4:])
    elif cmd == "nginx-quote":
        nginx_quote(argv[2])
    elif cmd == "report":
        report(argv[2], "--smoke" in argv[3:])
    elif cmd == "sample-rx":
        sample_rx(argv[2], argv[3], float(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
