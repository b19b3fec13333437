#!/usr/bin/env python3
"""Count the file boundaries one request crosses, from callgrind call graphs.

Run a debug (unoptimised, so nothing is inlined away) build of
examples/hotpath under callgrind twice, with N and 2N requests, then:

    python3 scripts/hops.py A.out B.out N

A hop is one call from a function in one file under src/ to a function in
another file under src/. The difference between the two runs, divided by N,
is the count for one request, free of the start-up work. Prints the total, the
hops inside conn/, and the busiest file pairs.
"""
import collections
import re
import sys


def calls(path):
    names = {"fl": {}, "fn": {}}
    count = collections.Counter()
    fl = cfl = None
    fi = None
    pending = None
    for line in open(path, errors="replace"):
        m = re.match(r"(fl|fi|fe|fn|cfl|cfi|cfn)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m:
            kind, ident, name = m.groups()
            table = "fn" if kind.endswith("fn") else "fl"
            if name is not None:
                names[table][ident] = name
            value = names[table].get(ident)
            if kind == "fl":
                fl = fi = value
            elif kind in ("fi", "fe"):
                fi = value
            elif kind in ("cfl", "cfi"):
                cfl = value
            elif kind == "fn":
                fi = fl
            continue
        m = re.match(r"calls=(\d+)", line)
        if m:
            pending = int(m.group(1))
            src = fi or fl
            dst = cfl or fl
            count[(short(src), short(dst))] += pending
            cfl = None
    return count


def short(path):
    if not path:
        return None
    m = re.search(r"(?:^|/)(src/.*\.rs)$", path)
    if not m or "/.cargo/" in path or "/rustc/" in path or "/lib/rustlib/" in path:
        return None
    return m.group(1)


a, b, n = calls(sys.argv[1]), calls(sys.argv[2]), int(sys.argv[3])
hops = collections.Counter()
for key in set(a) | set(b):
    src, dst = key
    if src and dst and src != dst:
        d = (b[key] - a[key]) / n
        if d > 0:
            hops[key] = d
total = sum(hops.values())
inside = sum(v for (s, d), v in hops.items() if s.startswith("src/conn/") and d.startswith("src/conn/"))
print(f"file boundaries crossed per request: {total:.0f} ({inside:.0f} inside conn/)")
for (s, d), v in hops.most_common(int(sys.argv[4]) if len(sys.argv) > 4 else 25):
    print(f"  {v:5.1f}  {s} -> {d}")
