#!/usr/bin/env python3
"""Victim and attacker: one client's latency while another pipelines.

For loophttp and for nginx on the same content, in turn: an attacker
process keeps one connection busy pipelining a long run of one kind of
request (and reading every answer as fast as it comes), while the victim
sends `GET /healthz` on its own keep-alive connection, one request after
the other, and times each from its own side. Reported per attack and
server: the victim's requests, median, p99 and max, and the attacker's
requests answered. Without an attack, the same victim gives the floor.

Attacks (issue #17): 4,000 HEAD with gzip of a 128 KiB text file, 4,000
GET with gzip of it, 1,000 one-byte PUT, 20,000 GET /echo/x.

Usage: scripts/bench/fair.py [--seconds S] [--loophttp BIN] [--nginx BIN]
Run by scripts/bench.sh --fair. Servers are pinned to core 1 and the
clients to core 0 when there are two cores; only processes this script
started are signalled; its temp dir is removed on exit.
"""
import argparse
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ATTACKS = {
    "none": None,
    "head-gzip": (4000, lambda i: b"HEAD /files/t128.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n"),
    "get-gzip": (4000, lambda i: b"GET /files/t128.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n"),
    "put": (1000, lambda i: b"PUT /files/up%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx" % i),
    "echo": (20000, lambda i: b"GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n"),
}
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    types {{ text/plain txt; }}
    server {{
        listen 127.0.0.1:{port};
        location = /healthz {{ default_type text/plain; return 200 "ok"; }}
        location /echo/ {{ default_type text/plain; return 200 "x"; }}
        location /files/ {{
            alias {files}/;
            # As loophttp: gzip on the fly, fastest level, any size.
            gzip on; gzip_comp_level 1; gzip_min_length 0; gzip_types text/plain;
            dav_methods PUT; create_full_put_path off;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def pin(core):
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


def start(kind, binary, tmp, files):
    port = free_port()
    if kind == "loophttp":
        cmd = pin(1) + [binary, "--host", "127.0.0.1", "--port", str(port), "--directory", files,
                        "--access-log", "off", "--log-level", "warn"]
        # Writes are opt-in since issue #18; older builds (to compare) had no flag.
        if "--allow-upload" in subprocess.run([binary, "--help"], capture_output=True, text=True).stdout:
            cmd.append("--allow-upload")
    else:
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=port, files=files))
        user = ["-g", "user root;"] if os.geteuid() == 0 else []
        cmd = pin(1) + [binary, "-p", tmp, "-c", conf] + user
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, kind)
    return proc, port


def attacker(port, name, stop, answered):
    """Pipelines the attack's run again and again until `stop`."""
    n, make = ATTACKS[name]
    batch = b"".join(make(i) for i in range(n))
    while not stop.is_set():
        with socket.create_connection(("127.0.0.1", port)) as s:
            # The reader must run while the writer is still writing.
            done = []

            def read():
                got = 0
                while True:
                    b = s.recv(1 << 18)
                    if not b:
                        break
                    got += b.count(b"HTTP/1.1 ")
                done.append(got)

            import threading
            t = threading.Thread(target=read)
            t.start()
            s.sendall(batch + b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            t.join()
            answered.value += done[0]


def victim(port, seconds):
    """GET /healthz one after the other for `seconds`: each wait, in ms."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"GET /healthz HTTP/1.1\r\nHost: v\r\n\r\n"
    waits, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"ok"):
            b = s.recv(4096)
            if not b:
                sys.exit("victim connection closed")
            buf += b
        waits.append((time.monotonic() - t0) * 1000)
        time.sleep(0.002)  # a client asking every few ms, not a flood
    s.close()
    return waits


def run(kind, binary, attack, seconds, tmp, files):
    proc, port = start(kind, binary, tmp, files)
    try:
        stop, answered = mp.Event(), mp.Value("q", 0)
        att = None
        if ATTACKS[attack]:
            att = mp.Process(target=attacker, args=(port, attack, stop, answered))
            att.start()
            time.sleep(0.3)  # the attack is under way
        waits = victim(port, seconds)
        stop.set()
        if att:
            att.join(30)
            if att.is_alive():
                att.kill()
        waits.sort()
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        return len(waits), statistics.median(waits), p99, waits[-1], answered.value
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--loophttp", default=os.environ.get("LOOPHTTP_BIN", "target/release/loophttp"))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    a = ap.parse_args()
    if pin(0):
        os.sched_setaffinity(0, {0})
    tmp = tempfile.mkdtemp(prefix="fair-bench-")
    try:
        files = os.path.join(tmp, "files")
        os.mkdir(files)
        line = [b"%08d a line of some text that compresses\n" % i for i in range(4000)]
        with open(os.path.join(files, "t128.txt"), "wb") as f:
            f.write(b"".join(line)[: 128 << 10])
        print(f"# victim GET /healthz while one connection pipelines ({a.seconds:g} s each; ms)")
        print("| attack | server | victim requests | median | p99 | max | attack answers |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for attack in a.attacks.split(","):
            for kind, binary in (("loophttp", a.loophttp), ("nginx", a.nginx)):
                for f in os.listdir(files):
                    if f.startswith("up"):
                        os.unlink(os.path.join(files, f))
                n, med, p99, worst, answered = run(kind, binary, attack, a.seconds, tmp, files)
                print(f"| {attack} | {kind} | {n} | {med:.2f} | {p99:.2f} | {worst:.2f} | {answered} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
