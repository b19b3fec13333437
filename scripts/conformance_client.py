#!/usr/bin/env python3
"""Conformance checks for loophttp using only the Python standard library.

Usage: conformance_client.py --port PORT [--host 127.0.0.1]

Prints one line per check, "ok - NAME" or "not ok - NAME: detail", and exits
non-zero if any check failed.  scripts/conformance.sh runs this and counts the
lines; it can also be run by hand against an already running server.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import time

TIMEOUT = 10.0
RESULTS = {"passed": 0, "failed": 0}


class CheckFailed(Exception):
    pass


def expect(cond, detail):
    if not cond:
        raise CheckFailed(detail)


def run(name, fn, *args):
    try:
        fn(*args)
    except CheckFailed as e:
        print(f"not ok - {name}: {e}", flush=True)
        RESULTS["failed"] += 1
    except Exception as e:  # connection reset, timeout, protocol error, ...
        print(f"not ok - {name}: {type(e).__name__}: {e}", flush=True)
        RESULTS["failed"] += 1
    else:
        print(f"ok - {name}", flush=True)
        RESULTS["passed"] += 1


def short(data, n=200):
    r = repr(data)
    return r if len(r) <= n else r[:n] + "..."


def resp_desc(resp, body):
    hdrs = "; ".join(f"{k}: {v}" for k, v in resp.getheaders())
    return f"status={resp.status} headers=[{hdrs}] body={short(body)}"


def sock_alive(sock):
    return sock is not None and sock.fileno() != -1


# --------------------------------------------------------------------------
# http.client checks


def check_keepalive_reuse(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 200, "GET / -> " + resp_desc(r, body))
        try:
            obj = json.loads(body)
        except ValueError:
            raise CheckFailed("GET / body is not JSON: " + short(body))
        expect(obj.get("method") == "GET" and obj.get("path") == "/",
               "GET / JSON unexpected: " + short(body))
        sock1 = conn.sock
        expect(sock_alive(sock1), "connection closed after GET / (" + resp_desc(r, body) + ")")

        steps = [
            ("GET", "/echo/abc", {}, b"abc"),
            ("GET", "/user-agent", {"User-Agent": "conformance-client/1.0"},
             b"conformance-client/1.0"),
            ("GET", "/echo/hello%20world", {}, b"hello world"),
            ("GET", "/", {}, None),
        ]
        for i, (method, path, headers, want) in enumerate(steps, start=2):
            conn.request(method, path, headers=headers)
            expect(conn.sock is sock1,
                   f"request #{i} ({method} {path}) opened a new socket")
            r = conn.getresponse()
            body = r.read()
            expect(r.status == 200, f"{method} {path} -> " + resp_desc(r, body))
            if want is not None:
                expect(body == want, f"{method} {path}: want {want!r}, got {short(body)}")
            expect(conn.sock is sock1 and sock_alive(sock1),
                   f"socket not kept open after request #{i} ({method} {path}): "
                   + resp_desc(r, body))
    finally:
        conn.close()


def check_chunked_upload(host, port):
    data = os.urandom(150_000)
    sizes = [1, 7, 100, 4096, 8191, 65536]
    chunks = []
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        chunks.append(data[pos:pos + n])
        pos += n
        i += 1

    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        name = "/files/chunked-%d.bin" % os.getpid()
        conn.request("POST", name, body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 201,
               f"chunked POST {name} ({len(data)} bytes, {len(chunks)} chunks) -> "
               + resp_desc(r, body))
        # Same connection: the chunked body must have been consumed exactly.
        conn.request("GET", name)
        r = conn.getresponse()
        got = r.read()
        expect(r.status == 200, f"GET {name} after chunked upload -> "
               + resp_desc(r, got[:64]))
        expect(got == data, f"GET {name}: {len(got)} bytes back, want {len(data)} identical bytes"
               + ("" if len(got) != len(data) else " (same length, content differs)"))

        # A chunked PUT replacing it (small chunks + empty string items that
        # http.client must skip) and read it back on a fresh connection.
        data2 = b"replaced via chunked PUT\n" * 100
        conn.request("PUT", name, body=iter([data2[:10], b"", data2[10:]]),
                     encode_chunked=True)
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 204, f"chunked PUT {name} (replace existing, want 204) -> " + resp_desc(r, body))
    finally:
        conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("GET", name)
        r = conn.getresponse()
        got = r.read()
        expect(r.status == 200 and got == data2,
               f"GET {name} after chunked PUT -> status={r.status}, {len(got)} bytes, "
               f"want {len(data2)}")
        conn.request("DELETE", name)
        r = conn.getresponse()
        r.read()
    finally:
        conn.close()


def check_head(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        for path in ("/echo/headcheck", "/"):
            conn.request("GET", path)
            r = conn.getresponse()
            gbody = r.read()
            expect(r.status == 200, f"GET {path} -> " + resp_desc(r, gbody))
            conn.request("HEAD", path)
            r = conn.getresponse()
            hbody = r.read()  # http.client never reads a body for HEAD
            expect(r.status == 200, f"HEAD {path} -> " + resp_desc(r, hbody))
            cl = r.getheader("Content-Length")
            expect(cl is not None, f"HEAD {path}: no Content-Length (" + resp_desc(r, hbody) + ")")
            expect(cl.strip() == str(len(gbody)),
                   f"HEAD {path}: Content-Length {cl}, GET body is {len(gbody)} bytes")
            expect(r.getheader("Content-Type") is not None,
                   f"HEAD {path}: no Content-Type (" + resp_desc(r, hbody) + ")")
        # If HEAD had sent body bytes they would now be parsed as the next
        # status line and this request would fail.
        conn.request("GET", "/echo/after-head")
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 200 and body == b"after-head",
               "GET after HEAD on same connection -> " + resp_desc(r, body)
               + " (HEAD response probably carried a body)")
    finally:
        conn.close()


def check_404(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        for path in ("/definitely/not/here", "/files/no-such-file-%d.txt" % os.getpid()):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            expect(r.status == 404, f"GET {path} -> " + resp_desc(r, body))
    finally:
        conn.close()


def check_405(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/echo/x", body=b"payload",
                     headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 405, "POST /echo/x -> " + resp_desc(r, body))
        allow = r.getheader("Allow")
        expect(allow is not None, "POST /echo/x: 405 without Allow header (" + resp_desc(r, body) + ")")
        methods = {m.strip().upper() for m in allow.split(",")}
        expect("GET" in methods, f"POST /echo/x: Allow: {allow!r} does not list GET")
        expect("POST" not in methods, f"POST /echo/x: Allow: {allow!r} lists POST")
        # The request body must have been consumed: connection still usable.
        if r.will_close:
            return
        conn.request("GET", "/echo/after-405")
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 200 and body == b"after-405",
               "GET after 405 on same connection -> " + resp_desc(r, body))
    finally:
        conn.close()


# --------------------------------------------------------------------------
# raw-socket checks (connection management as seen on the wire)


def raw_exchange(host, port, payload, until_eof=True, timeout=5.0):
    """Send payload, read until EOF (or timeout). Returns (bytes, got_eof)."""
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        s.sendall(payload)
        s.settimeout(timeout)
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                return buf, False
            except ConnectionResetError:
                return buf, True
            if not d:
                return buf, True
            buf += d
        return buf, False
    finally:
        s.close()


def check_http10_close(host, port):
    data, eof = raw_exchange(host, port, b"GET /echo/ten HTTP/1.0\r\n\r\n", timeout=3.0)
    expect(data.startswith(b"HTTP/1."), "GET /echo/ten HTTP/1.0 -> " + short(data))
    expect(data.endswith(b"\r\n\r\nten"), "GET /echo/ten HTTP/1.0: body not 'ten': " + short(data))
    expect(eof, "HTTP/1.0 request without keep-alive: server did not close the connection "
           "within 3s; got " + short(data))


def check_http10_keepalive(host, port):
    # What ApacheBench -k sends: HTTP/1.0 plus "Connection: Keep-Alive".  An
    # HTTP/1.0 client only keeps the connection if the response says
    # "Connection: keep-alive" (RFC 9112 section 9.3 / RFC 2068 19.7.1).
    req = b"GET /echo/ka HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: x\r\n\r\n"
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            expect(d, "HTTP/1.0 keep-alive request: connection closed before a full response head: " + short(buf))
            buf += d
        head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        conn_hdr = [l.split(":", 1)[1].strip().lower() for l in head.split("\r\n")[1:]
                    if l.lower().startswith("connection:")]
        expect("keep-alive" in ",".join(conn_hdr),
               f"request {req!r} -> response without 'Connection: keep-alive' "
               f"(head: {head!r}); HTTP/1.0 clients such as ab -k then wait for a close")
        # Second request on the same connection must work.
        s.sendall(req)
        s.settimeout(3.0)
        more = b""
        try:
            while more.count(b"\r\n\r\nka") < 1:
                d = s.recv(65536)
                if not d:
                    break
                more += d
        except socket.timeout:
            pass
        expect(b"\r\n\r\nka" in more, "second HTTP/1.0 keep-alive request on the same connection -> " + short(more))
    finally:
        s.close()


def check_connection_close(host, port):
    req = b"GET /echo/bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, eof = raw_exchange(host, port, req, timeout=3.0)
    expect(data.startswith(b"HTTP/1.1 200"), "GET with Connection: close -> " + short(data))
    expect(data.endswith(b"\r\n\r\nbye"), "GET with Connection: close: body not 'bye': " + short(data))
    expect(eof, "Connection: close not honoured: connection still open after 3s; got " + short(data))


def check_pipelining(host, port):
    req = (b"GET /echo/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /echo/p2 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /echo/p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, eof = raw_exchange(host, port, req, timeout=3.0)
    n = data.count(b"HTTP/1.1 200")
    expect(n == 3, f"3 pipelined GETs in one write -> {n} 200 responses; got " + short(data, 600))
    i1, i2, i3 = data.find(b"\r\n\r\np1"), data.find(b"\r\n\r\np2"), data.find(b"\r\n\r\np3")
    expect(0 <= i1 < i2 < i3, "pipelined responses missing or out of order: " + short(data, 600))
    expect(eof, "pipelined: connection not closed after final 'Connection: close' request")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    h, p = a.host, a.port
    run("python http.client: keep-alive reuses one socket", check_keepalive_reuse, h, p)
    run("python http.client: chunked upload then GET compare", check_chunked_upload, h, p)
    run("python http.client: HEAD", check_head, h, p)
    run("python http.client: 404 on unknown path", check_404, h, p)
    run("python http.client: 405 with Allow on POST /echo/x", check_405, h, p)
    run("python raw: HTTP/1.0 request closes connection", check_http10_close, h, p)
    run("python raw: HTTP/1.0 + Connection: keep-alive is answered with keep-alive", check_http10_keepalive, h, p)
    run("python raw: Connection: close honoured", check_connection_close, h, p)
    run("python raw: pipelined requests answered in order", check_pipelining, h, p)
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
