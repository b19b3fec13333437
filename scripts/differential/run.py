#!/usr/bin/env python3
"""Differential test: loophttp's request parser against Node's llhttp and h11.

Usage: run.py [--binary PATH] [--seed N] [--random N] [--split N] [--jobs N] [--only GLOB] [--verbose]

Sends every case of the corpus (corpus.py) to the three servers on
loopback, compares what each made of it (verdict.py), and prints the
messages tried, the agreements, and the findings by class. A finding is:
loophttp accepts a message both references reject, or loophttp and a
reference both accept it but disagree on its body or on how many requests
the bytes hold. Exits 1 if any finding is not allowed by the table in
docs/CONFORMANCE.md, section "Differential findings"; 2 if the run itself
could not be done.
"""

import argparse
import collections
import fnmatch
import os
import random
import re
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from corpus import escape, generate
from servers import Servers, StartError
from verdict import compare, loophttp_verdict, reference_verdict
from wire import exchange, parse_responses

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFORMANCE = os.path.join(ROOT, "docs", "CONFORMANCE.md")
SECTION = "## Differential findings"
# The whole run takes seconds; past this something hangs, and it is an error.
RUN_DEADLINE = 240.0


def fetch_upload(port, name):
    """The file loophttp stored for `name`, read on a fresh connection."""
    request = f"GET /files/{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    raw, _ = exchange(port, request)
    responses, _ = parse_responses(raw)
    if len(responses) == 1 and responses[0].status == 200:
        return responses[0].body
    return None


def cuts_for(case, pieces, seed):
    """Where to cut the case's bytes to send it in `pieces` writes."""
    if pieces <= 1 or len(case.data) < 2:
        return ()
    rng = random.Random(f"{seed}/split/{case.name}")
    return tuple(sorted(rng.sample(range(1, len(case.data)), min(pieces - 1, len(case.data) - 1))))


def run_case(case, ports, deadline, cuts=()):
    if time.monotonic() > deadline:
        return None
    raw, note = exchange(ports["loophttp"], case.data, cuts=cuts)
    stored = None
    if case.upload:
        stored = fetch_upload(ports["loophttp"], case.upload)
    ours = loophttp_verdict(raw, note, stored)
    node = reference_verdict(*exchange(ports["node"], case.data, cuts=cuts))
    h11 = reference_verdict(*exchange(ports["h11"], case.data, cuts=cuts))
    findings, kind = compare(ours, node, h11)
    return case, ours, node, h11, findings, kind


def load_allow_list(path):
    """Rows `| `class` | `glob` `glob`... | RFC clause | why |` of our section."""
    if not os.path.exists(path):
        return []
    text = open(path, encoding="utf-8").read()
    start = text.find(SECTION)
    if start < 0:
        return []
    section = text[start + len(SECTION) :]
    next_heading = re.search(r"^## ", section, re.M)
    section = section[: next_heading.start()] if next_heading else section
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[1].startswith("`"):
            globs = re.findall(r"`([^`]+)`", cells[1])
            rows.append({"class": cells[0].strip("`"), "globs": globs, "clause": cells[2], "used": 0})
    return rows


def allowed_by(rows, cls, name):
    for row in rows:
        if row["class"] == cls and any(fnmatch.fnmatchcase(name, g) for g in row["globs"]):
            row["used"] += 1
            return row
    return None


def report(results, rows, verbose, elapsed):
    kinds = collections.Counter(r[5] for r in results)
    by_class = collections.Counter()
    unallowed = 0
    lines = []
    for case, ours, node, h11, findings, kind in results:
        if not findings and not (verbose and kind != "agreement"):
            continue
        classes = sorted({cls for cls, _ in findings})
        tags = []
        for cls in classes:
            by_class[cls] += 1
            row = allowed_by(rows, cls, case.name)
            if row:
                tags.append(f"{cls} (allowed: {row['clause']})")
            else:
                unallowed += 1
                tags.append(f"{cls} (NOT ALLOWED)")
        lines.append(f"\n* {case.name}: {', '.join(tags) or kind}")
        lines.append(f"  message:  {escape(case.data)}")
        lines.append(f"  loophttp: {ours.show()}")
        lines.append(f"  node:     {node.show()}")
        lines.append(f"  h11:      {h11.show()}")
    print("\n".join(lines))
    print(f"\n== differential: {len(results)} messages tried in {elapsed:.1f}s")
    print(f"agreements: {kinds['agreement']}")
    for k, n in sorted(kinds.items()):
        if k not in ("agreement", "finding"):
            print(f"differences that are not findings, {k}: {n}")
    where = os.path.relpath(CONFORMANCE, ROOT)
    total = sum(by_class.values())
    print(f"findings: {total} in {kinds['finding']} messages ({unallowed} not allowed by {where}), by class:")
    for cls in ("accepts-what-both-reject", "body-mismatch", "request-count-mismatch"):
        print(f"  {cls}: {by_class[cls]}")
    for row in rows:
        if not row["used"]:
            print(f"# allow-list row matched nothing (stale?): {row['class']} {' '.join(row['globs'])}")
    return unallowed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "loophttp"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--random", type=int, default=300, help="how many seeded random edits (more for exploring)")
    ap.add_argument("--split", type=int, default=1, help="send each message in this many writes (seeded cuts)")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--only", default="*", help="run only the cases whose name matches this glob")
    ap.add_argument("--verbose", action="store_true", help="also print every non-finding difference")
    args = ap.parse_args()

    cases = [c for c in generate(args.seed, args.random) if fnmatch.fnmatchcase(c.name, args.only)]
    rows = load_allow_list(CONFORMANCE)
    # A SIGTERM (the timeout in run.sh) still stops the servers below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    servers = Servers(args.binary)
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    started = time.monotonic()
    deadline = started + RUN_DEADLINE
    try:
        ports = servers.start()
        print(f"# servers on 127.0.0.1: {ports}; {len(cases)} cases, seed {args.seed}, {args.split} write(s) each", flush=True)
        results = list(pool.map(lambda c: run_case(c, ports, deadline, cuts_for(c, args.split, args.seed)), cases))
        servers.check_alive()
    except StartError as e:
        print(f"differential: the servers failed: {e}", file=sys.stderr)
        return 2
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        servers.stop()
    done = [r for r in results if r is not None]
    unallowed = report(done, rows, args.verbose, time.monotonic() - started)
    if len(done) < len(results):
        print(f"differential: only {len(done)} of {len(results)} cases ran within {RUN_DEADLINE:.0f}s", file=sys.stderr)
        return 2
    if not sane(done):
        return 2
    return 1 if unallowed else 0


def sane(results):
    """The valid messages must be accepted alike by all three, or the
    harness itself (a reference, the exchange) is broken and nothing it
    says can be trusted."""
    broken = [
        case.name
        for case, ours, node, h11, _, kind in results
        if case.name.startswith("valid") and not (kind == "agreement" and ours.accepted and node.accepted and h11.accepted)
    ]
    for name in broken:
        print(f"differential: sanity: valid message {name} not accepted alike by all three", file=sys.stderr)
    return not broken


if __name__ == "__main__":
    sys.exit(main())
