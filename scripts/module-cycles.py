#!/usr/bin/env python3
"""Print import circles between loophttp's modules.

Reads every file under src/, collects the `crate::a::b` and `super::x` paths it
names (in `use` lines and inline), maps each to the file module that defines
it, and prints the strongly connected components of that graph with more than
one member: at file level, and again with files folded into their top-level
module (conn, http, metrics, ...). Unit-test files (`*tests.rs`, `tests/`) are
left out: a test may reach anywhere. Exit status 1 if there is a circle
between top-level modules (CI runs it); circles between the files of one
module (the parts of `impl Conn`) are printed, not failed.

    python3 scripts/module-cycles.py [src]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


files = {}
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            files[module_of(p)] = p
mods = set(files)


def resolve(parts):
    """The longest known module prefix of a path."""
    for i in range(len(parts), 0, -1):
        if tuple(parts[:i]) in mods:
            return tuple(parts[:i])
    return None


def is_test(mod, path):
    return path.endswith("tests.rs") or "tests" in mod


def strip_test_modules(text):
    """Drop `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;` lines."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


path_re = re.compile(r"\b(crate|super)((?:::\w+)+)")
group_re = re.compile(r"\b(crate|super)((?:::\w+)*)::\{([^;]*?)\};", re.S)

edges = {m: set() for m in mods}
for mod, path in files.items():
    if is_test(mod, path):
        continue
    text = strip_test_modules(open(path).read())
    text = re.sub(r"//.*", "", text)
    refs = []
    for m in group_re.finditer(text):
        head = m.group(2).strip(":").split("::") if m.group(2) else []
        for item in re.split(r"[,\s]+", re.sub(r"\{[^}]*\}", "", m.group(3))):
            item = item.split(" as ")[0].strip()
            if item and item != "self":
                refs.append((m.group(1), head + item.split("::")))
        # nested groups a::{b::{c, d}}: the prefix alone is enough
        for inner in re.finditer(r"(\w+(?:::\w+)*)::\{", m.group(3)):
            refs.append((m.group(1), head + inner.group(1).split("::")))
    for m in path_re.finditer(text):
        refs.append((m.group(1), m.group(2).strip(":").split("::")))
    for kind, parts in refs:
        parts = [p for p in parts if p]
        if kind == "super":
            base = list(mod[:-1])
            while parts and parts[0] == "super":
                base, parts = base[:-1], parts[1:]
            parts = base + parts
        target = resolve(parts)
        if target is not None and target != mod and not is_test(target, files[target]):
            edges[mod].add(target)


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [sorted(c) for c in out if len(c) > 1]


def name(m):
    return "::".join(m) or "crate"


def show(title, graph):
    circles = sccs(graph)
    print(f"{title}: {len(circles)} circle(s)")
    for c in circles:
        members = set(c)
        print("  " + ", ".join(name(m) for m in c))
        for m in c:
            inside = sorted(name(t) for t in graph[m] if t in members)
            print(f"    {name(m)} -> {', '.join(inside)}")
    return len(circles)


top = {}
for m, ts in edges.items():
    if is_test(m, files[m]):
        continue
    k = m[:1]
    top.setdefault(k, set())
    for t in ts:
        if t[:1] != k and t[:1]:
            top[k].add(t[:1])
top = {k: v for k, v in top.items() if k}
for k in list(top):
    top[k] = {t for t in top[k] if t in top}
files_graph = {m: t for m, t in edges.items() if not is_test(m, files[m])}
show("file modules", files_graph)
sys.exit(1 if show("top-level modules", top) else 0)
