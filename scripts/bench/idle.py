#!/usr/bin/env python3
"""Open N idle keep-alive connections to a server and report its RSS.

Usage: idle.py --name NAME --port PORT --pid PID --n N [--host 127.0.0.1]
               [--deadline SECONDS]

Each connection sends one `GET /echo/a HTTP/1.1` request, reads the whole
response (Content-Length), then stays open and idle. RSS (VmRSS from
/proc/PID/status, summed over PID and its descendants) is read before opening,
once all N connections are established and idle, and after closing them all.
Prints one human line and one `IDLEJSON {...}` line. Bounded: every socket
operation has a timeout and the whole run has a deadline; all sockets are
closed before exit.
"""

import argparse
import json
import os
import resource
import socket
import sys
import time

REQUEST = b"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"


def tree(pid):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_bytes(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before response headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split()
    if len(status) < 2 or not status[1].startswith(b"2"):
        raise ConnectionError("bad status line %r" % lines[0])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before response body")
        body += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--deadline", type=float, default=120.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            sys.exit("need %d fds, hard limit is %d: lower N" % (want, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    end = time.monotonic() + a.deadline
    before = rss_bytes(a.pid)
    socks, error = [], None
    t0 = time.monotonic()
    try:
        for i in range(a.n):
            if time.monotonic() > end:
                raise TimeoutError("deadline of %.0fs passed after %d connections"
                                   % (a.deadline, i))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(10)
            s.connect((a.host, a.port))
            s.sendall(REQUEST)
            read_response(s)
    except (OSError, ConnectionError, TimeoutError, ValueError) as e:
        error = "connection %d: %s: %s" % (len(socks), type(e).__name__, e)
    open_secs = time.monotonic() - t0
    established = len(socks) if error is None else len(socks) - 1

    # Let the server finish any lazy work, then check all are still open.
    time.sleep(0.5)
    idle = rss_bytes(a.pid)
    alive = 0
    if error is None:
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    continue  # closed by server
            except BlockingIOError:
                alive += 1  # open, nothing to read: idle as expected
                continue
            except OSError:
                continue
    for s in socks:
        s.close()
    socks.clear()

    # Give the server a moment to process the closes (bounded).
    time.sleep(0.5)
    after_close = rss_bytes(a.pid)
    per_conn = (idle - before) / established if established > 0 else None
    res = dict(name=a.name, n=a.n, established=established, alive=alive,
               open_secs=round(open_secs, 2), rss_before=before, rss_idle=idle,
               rss_after_close=after_close,
               per_conn_bytes=round(per_conn) if per_conn is not None else None,
               error=error)
    print("IDLEJSON " + json.dumps(res))
    sys.stdout.flush()
    if error:
        sys.stderr.write("%s: %s\n" % (a.name, error))
        sys.exit(1)
    if alive != a.n:
        sys.stderr.write("%s: only %d of %d connections were still open when idle\n"
                         % (a.name, alive, a.n))
        sys.exit(1)


if __name__ == "__main__":
    main()
