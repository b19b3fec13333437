#!/usr/bin/env python3
"""Drives traffic of every kind at loophttp and checks, through a real
Prometheus server's HTTP API, that what loophttp exposes arrives intact.

Called by scripts/prometheus-e2e.sh, which starts both servers. Exits 1 with
a message on the first failed check. Every wait is bounded by a deadline.
"""

import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

# Scrapes and health checks are requests too; the checks leave them out.
NOT_TRAFFIC = 'route!~"/metrics|/healthz"'


def fail(msg):
    print(f"prometheus-e2e: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def query(prom, expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        return {"status": "error", "error": e.read().decode(errors="replace")}
    return body


def scalar(prom, expr):
    """The single value of `expr`, 0 if it has no series yet."""
    body = query(prom, expr)
    if body.get("status") != "success":
        fail(f"{expr}: {body}")
    result = body["data"]["result"]
    if not result:
        return 0.0
    return float(result[0]["value"][1])


def wait_for(what, deadline_s, fn):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = fn()
        if value is not None:
            return value
        time.sleep(0.25)
    fail(f"timed out after {deadline_s}s waiting for {what}")


def raw(addr, data, expect_close=True):
    """Sends `data` on a new connection; returns the status of the answer."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        if expect_close:
            while s.recv(4096):
                pass
    return int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else None


def traffic(addr):
    """Sends requests of every kind; returns how many responses they make
    (each is one line in the access log and one in loophttp_requests_total)."""
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    counts = {}
    n = 0

    def req(method, path, body=None, want=None):
        nonlocal n
        c.request(method, path, body=body, headers={"User-Agent": "prometheus-e2e"})
        r = c.getresponse()
        r.read()
        if want is not None and r.status != want:
            fail(f"{method} {path}: {r.status}, expected {want}")
        counts[r.status] = counts.get(r.status, 0) + 1
        n += 1

    for i in range(100):
        req("GET", f"/echo/e2e-{i}", want=200)
    for _ in range(20):
        req("GET", "/", want=200)
    for i in range(20):
        req("GET", f"/nope-{i}", want=404)
    for i in range(10):
        req("POST", f"/files/up-{i}", body=b"x" * (1000 + i), want=201)
    for i in range(10):
        req("GET", f"/files/up-{i}", want=200)
    for _ in range(5):
        req("DELETE", "/user-agent", want=405)
    c.close()

    # Rule and limit breakers, each on its own connection, which they end.
    for _ in range(5):
        if raw(addr, b"GARBAGE\r\n\r\n") != 400:
            fail("garbage was not answered 400")
        n += 1
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    for _ in range(2):
        if raw(addr, big) != 431:
            fail("a 20 KB header was not answered 431")
        n += 1
    # Header timeouts (the script runs the server with --header-timeout 1s),
    # in parallel so they cost one second.
    results = []
    threads = [threading.Thread(target=lambda: results.append(raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    if results != [408] * 3:
        fail(f"header timeouts answered {results}, expected three 408s")
    n += 3
    # An upload the client abandons: no response, logged as 499.
    h, p = addr.rsplit(":", 1)
    with socket.create_connection((h, int(p)), timeout=10) as s:
        s.sendall(b"POST /files/abandoned HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    n += 1
    print(f"traffic: {n} requests ({dict(sorted(counts.items()))} + 5x400, 2x431, 3x408, 1 abandoned upload)")
    return n


def check_dashboard(prom, path):
    with open(path) as f:
        dash = json.load(f)
    exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        if v.get("type") == "query":
            exprs.append((f"variable {v['name']}", v["definition"]))
    bad = []
    for title, expr in exprs:
        concrete = (
            expr.replace("$__rate_interval", "1m")
            .replace('"$job"', '"loophttp"')
            .replace('"$instance"', '".*"')
        )
        if concrete.startswith("label_values("):
            # Grafana's own function: the series it reads must exist.
            inner = concrete[len("label_values(") : concrete.rindex(",")]
            concrete = f"count({inner})"
        body = query(prom, concrete)
        if body.get("status") != "success":
            bad.append(f"{title}: {concrete}: error {body.get('error')}")
        elif not body["data"]["result"]:
            bad.append(f"{title}: {concrete}: empty")
        else:
            print(f"  ok ({len(body['data']['result'])} series)  {title}: {expr[:90]}")
    if bad:
        fail("dashboard expressions:\n  " + "\n  ".join(bad))
    print(f"dashboard: all {len(exprs)} expressions return data")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--dashboard", required=True)
    a = ap.parse_args()
    prom = a.prometheus

    wait_for("target up", 30, lambda: True if scalar(prom, 'up{job="loophttp"}') == 1 else None)
    print("target up")
    total = f"sum(loophttp_requests_total{{{NOT_TRAFFIC}}})"
    hist = f"sum(loophttp_request_duration_seconds_count{{{NOT_TRAFFIC}}})"
    base, base_h = scalar(prom, total), scalar(prom, hist)

    sent = traffic(a.server)

    want = base + sent
    wait_for(f"{total} == {want}", 30, lambda: True if scalar(prom, total) >= want else None)
    # Two more scrapes: the counter must not run past the requests sent.
    t_end = time.time() + 2.5
    while time.time() < t_end:
        time.sleep(0.25)
    got = scalar(prom, total)
    if got != want:
        fail(f"request counter is {got}, expected {base} + {sent} = {want}")
    print(f"request counter grew by {got - base:.0f} (sent {sent})")
    got_h = scalar(prom, hist)
    if got_h - base_h != sent:
        fail(f"duration histogram count grew by {got_h - base_h}, expected {sent}")
    inf = scalar(prom, f'sum(loophttp_request_duration_seconds_bucket{{le="+Inf",{NOT_TRAFFIC}}})')
    fast = scalar(prom, f'sum(loophttp_request_duration_seconds_bucket{{le="0.1",{NOT_TRAFFIC}}})')
    if inf != got_h or not 0 < fast <= inf:
        fail(f"histogram buckets: +Inf {inf}, le=0.1 {fast}, count {got_h}")
    print(f"duration histogram: {got_h - base_h:.0f} samples, {fast:.0f} of {inf:.0f} under 100 ms")
    for expr, low in [
        (f'sum(loophttp_requests_total{{status="499"}})', 1),
        ('sum(loophttp_rejected_requests_total{status="408"})', 3),
        ('sum(loophttp_connections_closed_total{reason="header_timeout"})', 3),
        ('sum(loophttp_uploads_total{result="committed"})', 10),
        ('sum(loophttp_uploads_total{result="aborted"})', 1),
        ("sum(loophttp_files_served_total)", 10),
    ]:
        v = wait_for(expr, 10, lambda: (lambda v: v if v >= low else None)(scalar(prom, expr)))
        print(f"  {expr} = {v:.0f}")
    targets = json.load(urllib.request.urlopen(f"{prom}/api/v1/targets", timeout=10))
    for t in targets["data"]["activeTargets"]:
        if t.get("lastError"):
            fail(f"scrape error: {t['lastError']}")
    check_dashboard(prom, a.dashboard)


if __name__ == "__main__":
    main()
