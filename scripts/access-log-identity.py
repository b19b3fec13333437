#!/usr/bin/env python3
"""Two loophttp binaries write the same access log: for a change to the log's
formatting that must not change a byte of its output.

Each binary serves the same hostile and odd requests (quotes, backslashes,
control and non-UTF-8 bytes, bidi characters, over-long targets and headers,
lines that fail to parse, pipelined and keep-alive requests), over IPv4 and
IPv6, in both formats, with and without --trust-proxy; the logs must be
equal once each line's time and duration are masked. Exits 1 if not.

    python3 scripts/access-log-identity.py OLD_BINARY NEW_BINARY

OLD_BINARY is typically a copy of target/release/loophttp kept from before
the change.
"""
import os, re, signal, socket, subprocess, sys, tempfile, time

LONG = b"/" + b"a" * 3000
REQS = [
    b"GET /echo/abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/abc HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.1\r\nReferer: http://e.example/p?q=1\r\n\r\n",
    b"GET /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\" 500 0 \"-\" \"-\" 0.1\\x\r\n\r\n",
    b"GET /user-agent HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\" 500 0 \"-\" \"-\" 0.1\\x\x1b[2J\r\n\r\n",
    "GET /echo/r HTTP/1.1\r\nHost: x\r\nUser-Agent: r\u00e9f \u202e gnp.exe \u2028 \u0085\r\nReferer: \u00e9\r\n\r\n".encode(),
    b"GET /echo/\xff\xfe HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xc3\r\n\r\n",
    b"GET /echo/\"x\\y HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/a%20b?c=d#e HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET " + LONG + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/" + b"b" * 2100 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/v HTTP/1.0\r\nHost: x\r\n\r\n",
    b"HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /echo/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"DELETE /files/x HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: x\r\nUser-Agent:\r\nReferer: \r\n\r\n",
    b"GET /echo/u HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"u" * 600 + b"\r\nReferer: " + b"r" * 513 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/f HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nForwarded: for=\"[2001:db8::7]\"\r\n\r\n",
    b"GET /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /echo/x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET /echo/noh HTTP/1.1\r\n\r\n",
    b"FOO /echo/abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ /echo/abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/abc HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET /echo/abc FOO/1.1\r\nHost: x\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/lf HTTP/1.1\nHost: x\n\n",
    b"\x00\x01hello \"\x1b\xff\r\n\r\n",
    b"GET\r\n\r\n",
    b"G\"E\\T /echo/q HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo/abc HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n",
    b"GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/three HTTP/1.1\r\nHost: x\r\nUser-Agent: p\r\n\r\n",
    b"GET /echo/eofmid HTTP/1.1\r\nHo",
    b"",
]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(binary, fmt, extra, workdir, tag):
    log = os.path.join(workdir, f"{tag}.{fmt}.{len(extra)}.log")
    port = free_port()
    p = subprocess.Popen([binary, "--port", str(port), "--access-log", log, "--access-log-format", fmt,
                          "--log-level", "error", "--header-timeout", "1s", *extra])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
            except OSError:
                time.sleep(0.05)
        for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
            for req in REQS:
                s = socket.socket(fam); s.settimeout(3)
                s.connect((host, port))
                if req: s.sendall(req)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(65536): pass
                except OSError:
                    pass
                s.close()
            # a few keep-alive requests on one connection
            s = socket.create_connection((host, port))
            for i in range(5):
                s.sendall(b"GET /echo/ka%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                s.recv(65536)
            s.close()
    finally:
        p.send_signal(signal.SIGTERM); p.wait(10)
    return open(log, "rb").read()

def mask(text, fmt):
    out = []
    for line in text.splitlines(keepends=True):
        if fmt == "combined":
            line = re.sub(rb"\[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d \+0000\]", b"[T]", line, count=1)
            line = re.sub(rb" \d+\.\d{6}\n$", b" D\n", line)
        else:
            line = re.sub(rb'^\{"time":"[^"]*"', b'{"time":"T"', line)
            line = re.sub(rb'"duration_us":\d+', b'"duration_us":D', line)
        out.append(line)
    return out

old, new = sys.argv[1], sys.argv[2]
bad = 0
with tempfile.TemporaryDirectory() as d:
    for fmt in ("combined", "json"):
        for extra in ([], ["--trust-proxy", "127.0.0.1/32,::1/128"]):
            a, b = mask(run(old, fmt, extra, d, "old"), fmt), mask(run(new, fmt, extra, d, "new"), fmt)
            same = a == b
            print(f"{fmt:8} {' '.join(extra) or '(no proxy)':40} lines {len(a)} / {len(b)}: {'identical' if same else 'DIFFERENT'}")
            if not same:
                bad += 1
                for x, y in zip(a, b):
                    if x != y: print(" old:", x[:300]); print(" new:", y[:300]); break
sys.exit(1 if bad else 0)
