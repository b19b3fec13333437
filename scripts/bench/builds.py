#!/usr/bin/env python3
"""loophttp builds against each other and nginx on file downloads, alternated.

  scripts/bench/builds.py [--rounds 5] [--seconds 3] --build NAME=BINARY ...
                          [SCENARIO ...]

SCENARIO is PATH:CONNECTIONS (default: /files/10m.bin:1 /files/10m.bin:8
/files/10m.bin:64 /files/64k.bin:50). Every build and nginx run in the
default configuration of scripts/bench.sh (access log to a file, Combined;
nginx `buffer=64k`; loophttp counting metrics), each server pinned to core
1 and wrk to core 0; each round runs every scenario against every server,
in an order reversed every other round. Per run it prints the server's CPU
per request (utime + stime of all its threads), wrk's (on loopback the
kernel runs part of the TCP work of both ends in whichever task sends, so
the split between the two says where the work ran, their sum how much
there was), MB/s, the latency percentiles, and the load average; at the
end the medians and their ratios to nginx's.

Made to compare a change of the send side with the build before it (the
unsent mark: docs/PERFORMANCE.md, large files). Only processes it started
are signalled; its temporary directory is removed at the end.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
CLK = os.sysconf("SC_CLK_TCK")
SIZES = {"1k.bin": 1024, "64k.bin": 64 << 10, "10m.bin": 10 << 20}


def cpu_ticks(pid):
    """utime + stime of every thread of pid and of its children (nginx's workers)."""
    total = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    children = []
    for t in tasks:
        try:
            children += [int(c) for c in open("/proc/%d/task/%s/children" % (pid, t)).read().split()]
        except OSError:
            pass
    stat = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    total += int(stat[11]) + int(stat[12])
    return total + sum(cpu_ticks(c) for c in children)


def wait_ready(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            sys.exit("a server on port %d exited at start" % port)
        r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:%d/files/1k.bin" % port])
        if r.returncode == 0:
            return
        time.sleep(0.1)
    sys.exit("no server answered on port %d" % port)


def start_servers(builds, tmp, pin, servers):
    """Starts nginx and every build, each into `servers` as it starts (so a
    failure later still stops it)."""
    files = os.path.join(tmp, "files")
    os.makedirs(files)
    for name, size in SIZES.items():
        with open(os.path.join(files, name), "wb") as f:
            f.write(os.urandom(size))
    port = 19300
    for name, binary in builds + [("nginx", None)]:
        port += 1
        log = os.path.join(tmp, name + "-access.log")
        if binary is None:
            conf = os.path.join(tmp, "nginx")
            for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                os.makedirs(os.path.join(conf, sub))
            with open(os.path.join(tmp, "root.json"), "w") as f:
                f.write("{}")
            user = "user root root;" if os.geteuid() == 0 else "# not root"
            subprocess.run([sys.executable, os.path.join(BENCH, "benchlib.py"), "render",
                            os.path.join(BENCH, "nginx.conf.template"), conf + "/nginx.conf",
                            "USER_LINE=" + user, "TMP=" + conf, "PORT=%d" % port, "FILES=" + files,
                            "WORKERS=1", "NOFILE=4096", "WORKER_CONNECTIONS=1024", "BACKLOG=4096",
                            "JSON_BODY=@" + os.path.join(tmp, "root.json"), "LISTEN_OPTS=",
                            "ACCESS_LOG=%s combined buffer=64k" % log], check=True)
            args = ["nginx", "-p", conf + "/", "-c", conf + "/nginx.conf", "-e", conf + "/error.log"]
        else:
            args = [binary, "--host", "127.0.0.1", "--port", str(port), "--directory", files, "--workers", "1",
                    "--backlog", "4096", "--log-level", "warn", "--access-log", log]
        out = open(os.path.join(tmp, name + ".out"), "w")
        proc = subprocess.Popen(pin(1) + args, stdout=out, stderr=subprocess.STDOUT)
        servers[name] = (proc, port, log)
        wait_ready(port, proc)


def one_run(proc, port, log, path, conns, secs, pin):
    open(log, "w").close()  # both servers append: each run starts empty
    before = cpu_ticks(proc.pid)
    wrk = subprocess.Popen(pin(0) + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "30s",
                                     "--latency", "-s", os.path.join(BENCH, "report.lua"),
                                     "http://127.0.0.1:%d%s" % (port, path)], stdout=subprocess.PIPE, text=True)
    out = wrk.stdout.read()
    _, _, usage = os.wait4(wrk.pid, 0)
    wrk.returncode = 0
    server_s = (cpu_ticks(proc.pid) - before) / CLK
    m = re.search(r"BENCHJSON (.*)", out)
    if not m:
        sys.exit("wrk gave no result:\n" + out)
    j = json.loads(m.group(1))
    n = max(j["requests"], 1)
    return dict(srv=server_s / n * 1e6, wrk=(usage.ru_utime + usage.ru_stime) / n * 1e6,
                mbs=j["bytes"] / j["duration_us"], p99=j["p99_us"] / 1000,
                pct={k: round(v / 1000, 1) for k, v in j["percentiles_us"].items()},
                errors=j["read"] + j["timeout"] + j["status"] + j["connect"],
                load=float(open("/proc/loadavg").read().split()[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--build", action="append", required=True, metavar="NAME=BINARY")
    ap.add_argument("scenarios", nargs="*",
                    default=["/files/10m.bin:1", "/files/10m.bin:8", "/files/10m.bin:64", "/files/64k.bin:50"])
    a = ap.parse_args()
    builds = [tuple(b.split("=", 1)) for b in a.build]
    if any(len(b) != 2 or b[0] == "nginx" for b in builds):
        sys.exit("--build NAME=BINARY (and not named nginx)")
    pin_ok = os.cpu_count() >= 2 and shutil.which("taskset")

    def pin(core):
        return ["taskset", "-c", str(core)] if pin_ok else []

    print("cpu:", next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
          "| load before:", open("/proc/loadavg").read().strip())
    tmp = tempfile.mkdtemp(prefix="loophttp-builds-")
    servers = {}
    try:
        start_servers(builds, tmp, pin, servers)
        results = {}
        for r in range(a.rounds):
            for sc in a.scenarios:
                path, conns = sc.rsplit(":", 1)
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    row = one_run(*servers[name], path, int(conns), a.seconds, pin)
                    results.setdefault((sc, name), []).append(row)
                    print("round %d %-18s %-8s server %8.1f µs/req  wrk %8.1f  MB/s %6.0f  p50/90/99 %s ms"
                          "  load %.1f%s" % (r + 1, sc, name, row["srv"], row["wrk"], row["mbs"],
                                             "/".join(str(row["pct"][k]) for k in ("50", "90", "99")), row["load"],
                                             "  ERRORS %d" % row["errors"] if row["errors"] else ""), flush=True)
        print("\nmedians of %d rounds of %d s; ratios to nginx's medians" % (a.rounds, a.seconds))
        print("| scenario | server | server µs/req | wrk µs/req | both | MB/s | p99 ms "
              "| server/N | both/N | MB/s/N | p99/N |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for sc in a.scenarios:
            med = {name: {k: statistics.median(x[k] for x in results[(sc, name)]) for k in
                          ("srv", "wrk", "mbs", "p99")} for name in servers}
            n = med["nginx"]
            for name in servers:
                m = med[name]
                print("| %s | %s | %.1f | %.1f | %.1f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |" % (
                    sc, name, m["srv"], m["wrk"], m["srv"] + m["wrk"], m["mbs"], m["p99"], m["srv"] / n["srv"],
                    (m["srv"] + m["wrk"]) / (n["srv"] + n["wrk"]), m["mbs"] / n["mbs"], m["p99"] / n["p99"]))
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
        for proc, _, _ in servers.values():
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
