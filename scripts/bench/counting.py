#!/usr/bin/env python3
"""What metrics counting costs per request: issue 22's "at most 2% of CPU".

  scripts/bench/counting.py [--rounds 15] [--seconds 2] [--depth 16]
                            [--connections 50] [--control]
                            [--build NAME=SERVER[,HOTPATH] ...]

For each build (default: this=target/release/loophttp) two servers run at
once, both with the access log off: NAME-bare (`--no-metrics`) and
NAME-metrics (counting for /metrics). wrk pipelines GET /echo/abc, DEPTH per
write (scripts/bench/pipeline.lua; --depth 1 for plain keep-alive), against
each server in turn; the order changes every round (every permutation in
turn, so each server takes each place in the round as often), so drift on a
shared machine hits all alike. Servers are pinned to core 1, wrk to core 0.

--control adds a third server, NAME-bare2, a second `--no-metrics` one: the
same comparison between two identical servers (bare2/bare) shows what the
method reads when counting costs nothing, its bias and its spread, next to
counting's figure.

CPU per request is the server's CPU time, user and kernel, over the
requests wrk counted. It is read from /proc/PID/task/*/schedstat (run time
in nanoseconds: what `perf stat -e task-clock -p PID` counts), not from
the utime/stime ticks, whose 10 ms steps are ~0.5% of a 3 s run; the
ticks still give the user/kernel split. With the kernel's recv and send
shared by DEPTH requests, user space is most of the CPU when pipelining,
so counting's share of the whole is what this measures.

The measured figure is the median over rounds of each round's ratio
metrics/bare (the two runs of a round are seconds apart, so a slower
minute of the machine cancels out), with the quartiles of those ratios:
on a shared 2-vCPU machine one round's ratio moves by ±15%, so read the
quartiles before the median. The 90% interval printed with the median is
a bootstrap of the rounds (the median of rounds drawn again with
replacement, 2,000 times, seeded): how far the median itself may be off.

This VM has no hardware counters (perf cannot count instructions or
cycles), so a second, deterministic figure is made from the build's
examples/hotpath (HOTPATH, default: next to SERVER in examples/): its
user-space instructions under callgrind, metrics against bare at the same
depth, times the user share of the server's CPU measured above (the
kernel's part, recv, send and epoll, is the same system calls in both
modes). That estimate assumes counting's instructions run at the speed of
the rest.

Only processes it started are signalled.
"""

import argparse
import glob
import json
import itertools
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(BENCH))
PATH = "/echo/abc"


def cpu(pid):
    """(run time ns, user ticks, kernel ticks) of every thread of pid."""
    ns = user = kernel = 0
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            ns += int(open(task + "/schedstat").read().split()[0])
            stat = open(task + "/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(stat[11])
        kernel += int(stat[12])
    return ns, user, kernel


def wait_ready(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            sys.exit("the server on port %d exited at start" % port)
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:%d%s" % (port, PATH)]).returncode == 0:
            return
        time.sleep(0.1)
    sys.exit("no server answered on port %d" % port)


def wrk(port, a, pin, seconds):
    env = dict(os.environ, PIPELINE_DEPTH=str(a.depth), PIPELINE_PATH=PATH, BENCH_LUA_DIR=BENCH)
    script = "pipeline.lua" if a.depth > 1 else "report.lua"
    out = subprocess.run(pin(0) + ["wrk", "-t1", "-c%d" % a.connections, "-d%ds" % seconds, "--timeout", "5s",
                                   "-s", os.path.join(BENCH, script), "http://127.0.0.1:%d%s" % (port, PATH)],
                         env=env, capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"BENCHJSON (.*)", out)
    if not m:
        sys.exit("wrk gave no result:\n" + out)
    j = json.loads(m.group(1))
    errors = j["read"] + j["timeout"] + j["status"] + j["connect"]
    return j["requests"], errors


def instructions(hotpath, mode, depth):
    """User-space instructions of hotpath answering 100,000 /echo/abc at depth."""
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", hotpath, PATH, "100000",
                        mode, str(depth)], capture_output=True, text=True, timeout=600)
    m = re.search(r"(?:Collected|I\s+refs)\s*:\s*([\d,]+)", r.stderr)
    if not m:
        sys.exit("callgrind gave no count:\n" + r.stderr[-2000:])
    return int(m.group(1).replace(",", ""))


def quartiles(xs):
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else xs * 3
    return q[0], statistics.median(xs), q[2]


def median_interval(xs, draws=2000):
    """5th and 95th percentiles of the median of xs resampled with replacement."""
    rng = random.Random(22)
    medians = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(draws))
    return medians[draws // 20], medians[draws - 1 - draws // 20]


def ratios(base, other):
    """Each round's other/base - 1."""
    return [o["ns"] / b["ns"] - 1 for b, o in zip(base, other)]


def describe(xs):
    q1, med, q3 = quartiles(xs)
    lo, hi = median_interval(xs)
    return "%+.1f%% / **%+.1f%%** / %+.1f%% (%+.1f%% to %+.1f%%)" % tuple(100 * x for x in (q1, med, q3, lo, hi))


def one_run(proc, port, a, pin):
    before = cpu(proc.pid)
    n, errors = wrk(port, a, pin, a.seconds)
    after = cpu(proc.pid)
    ns, user, kernel = (y - x for x, y in zip(before, after))
    return dict(ns=ns / max(n, 1), user=user / max(user + kernel, 1), errors=errors,
                load=float(open("/proc/loadavg").read().split()[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--control", action="store_true", help="a second --no-metrics server per build (bare2/bare)")
    ap.add_argument("--build", action="append", metavar="NAME=SERVER[,HOTPATH]")
    a = ap.parse_args()
    builds, hotpaths = [], {}
    for b in a.build or ["this=" + os.path.join(ROOT, "target/release/loophttp")]:
        name, _, paths = b.partition("=")
        server, _, hotpath = paths.partition(",")
        hotpath = hotpath or os.path.join(os.path.dirname(server), "examples", "hotpath")
        if not name or not os.access(server, os.X_OK):
            sys.exit("--build NAME=SERVER[,HOTPATH], SERVER an executable: " + b)
        builds.append((name, server))
        if os.access(hotpath, os.X_OK) and shutil.which("valgrind"):
            hotpaths[name] = hotpath
    pin_ok = os.cpu_count() >= 2 and shutil.which("taskset")

    def pin(core):
        return ["taskset", "-c", str(core)] if pin_ok else []

    print("cpu:", next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
          "| load before:", open("/proc/loadavg").read().strip())
    print("command: scripts/bench/counting.py --rounds %d --seconds %d --depth %d --connections %d%s %s" % (
        a.rounds, a.seconds, a.depth, a.connections, " --control" if a.control else "",
        " ".join("--build " + b for b in a.build or [])))
    tmp = tempfile.mkdtemp(prefix="loophttp-counting-")
    servers = {}
    try:
        port = 19400
        for name, binary in builds:
            modes = [("bare", ["--no-metrics"]), ("metrics", [])] + ([("bare2", ["--no-metrics"])] if a.control else [])
            for mode, extra in modes:
                port += 1
                out = open(os.path.join(tmp, "%s-%s.out" % (name, mode)), "w")
                proc = subprocess.Popen(pin(1) + [binary, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                                  "--backlog", "1024", "--log-level", "warn", "--access-log", "off"]
                                        + extra, stdout=out, stderr=subprocess.STDOUT)
                servers[(name, mode)] = (proc, port)
                wait_ready(port, proc)
        for proc, port in servers.values():
            wrk(port, a, pin, 1)  # warm-up
        runs = {}
        orders = list(itertools.permutations(servers))
        for r in range(a.rounds):
            order = orders[r % len(orders)]
            for key in order:
                row = one_run(*servers[key], a, pin)
                runs.setdefault(key, []).append(row)
                print("round %d %-10s %-7s %7.0f ns/req  user %2.0f%%  load %.1f%s" % (
                    r + 1, key[0], key[1], row["ns"], 100 * row["user"], row["load"],
                    "  ERRORS %d" % row["errors"] if row["errors"] else ""), flush=True)
        print("\nserver CPU (user + kernel) per request, medians of %d rounds of %d s, depth %d;" % (
            a.rounds, a.seconds, a.depth))
        print("counting = metrics/bare - 1, per round (q1 / median / q3, and the median's 90% interval),")
        print("and estimated from callgrind%s:" % ("; control = bare2/bare - 1, two servers alike" if a.control else ""))
        print("| build | bare ns/req | metrics ns/req | user share | counting, measured "
              "| user instructions bare / metrics (M) | counting, estimated |%s" % (" control |" if a.control else ""))
        print("|---|---:|---:|---:|---|---|---:|%s" % ("---|" if a.control else ""))
        for name, _ in builds:
            bare, met = runs[(name, "bare")], runs[(name, "metrics")]
            measured = describe(ratios(bare, met))
            control = " %s |" % describe(ratios(bare, runs[(name, "bare2")])) if a.control else ""
            user = statistics.median(x["user"] for x in bare + met)
            est = ("", "")
            if name in hotpaths:
                ib, im = (instructions(hotpaths[name], mode, a.depth) for mode in ("bare", "metrics"))
                est = ("%.2f / %.2f (%+.1f%%)" % (ib / 1e6, im / 1e6, 100 * (im / ib - 1)),
                       "%+.1f%%" % (100 * (im / ib - 1) * user))
            print("| %s | %.0f | %.0f | %.0f%% | %s | %s | %s |%s" % (
                name, statistics.median(x["ns"] for x in bare), statistics.median(x["ns"] for x in met),
                100 * user, measured, est[0], est[1], control))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
