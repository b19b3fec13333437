#!/usr/bin/env python3
"""Print import circles between loophttp's modules.

Reads every file under src/, collects the `crate::a::b` and `super::x` paths it
names (in `use` lines and inline), maps each to the file module that defines
it (through re-exports: `super::Head` in http/parse.rs leads to
http/request.rs, not to the `pub use` in http/mod.rs), and prints the strongly connected components of that graph with more than
one member: at file level, and again with files folded into their top-level
module (conn, http, metrics, ...). Unit-test files (`*tests.rs`, `tests/`) are
left out: a test may reach anywhere. Exit status 1 if there is a circle
between top-level modules (CI runs it); circles between the files of one
module (the parts of `impl Conn`) are printed, not failed.

    python3 scripts/module-cycles.py [--files] [src]

--files also counts a file's paths relative to its own module (`use
state::State;` in conn/mod.rs, `self::x`), so a parent and the child files
it uses through them show as a circle when the child uses the parent back:
the `impl Conn` spread over conn/'s files, for instance. Printed, not failed.
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if a != "--files"]
relative = "--files" in sys.argv[1:]
root = args[0] if args else "src"


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
pub_use_re = re.compile(r"\bpub(?:\([\w:]+\))?\s+use\s+([^;]+);")


def absolute(kind, parts, mod):
    """`parts` as a path from the crate root, seen from `mod`; None for a
    path into another crate."""
    parts = [p for p in parts if p]
    if kind == "crate":
        return parts
    if kind == "super":
        base = list(mod[:-1])
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
        return base + parts
    # `self::x`, or a bare path that starts with a child module.
    if parts and parts[0] == "self":
        parts = parts[1:]
    if parts and mod + (parts[0],) in mods:
        return list(mod) + parts
    return None


def leaves(tree):
    """The paths of a use tree: `a::{b, c::{d, e as f}}` gives (path, name)."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^((?:\w+::)*)\{(.*)\}$", tree)
    if not m:
        path = tree.split("as")[0] if "as" in tree.split("::")[-1] else tree
        name = tree.split("as")[-1] if "as" in tree.split("::")[-1] else tree.split("::")[-1]
        return [(path.split("::"), name)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p and p != "self":
            out += [(prefix.rstrip(":").split("::") + path if prefix else path, name) for path, name in leaves(p)]
    return out


def split_kind(path):
    if path and path[0] in ("crate", "super"):
        return path[0], path[1:]
    return "rel", path


# What a module re-exports from another file (`pub use child::Head;` in
# http/mod.rs): a path through the re-export leads to the file that defines it.
reexports = {}
texts = {}
for mod, path in files.items():
    texts[mod] = re.sub(r"//.*", "", strip_test_modules(open(path).read()))
    for m in pub_use_re.finditer(texts[mod]):
        for path_parts, name in leaves(m.group(1)):
            kind, rest = split_kind(path_parts)
            full = absolute(kind, rest, mod)
            target = resolve(full) if full else None
            if target is not None and target != mod:
                reexports[(mod, name)] = target


def resolve_through(parts):
    """The file module a path leads to, following re-exports."""
    target = resolve(parts)
    seen = set()
    while target is not None and len(parts) > len(target) and (target, parts[len(target)]) in reexports:
        if target in seen:
            break
        seen.add(target)
        target = reexports[(target, parts[len(target)])]
    return target


edges = {m: set() for m in mods}
for mod, path in files.items():
    if is_test(mod, path):
        continue
    text = texts[mod]
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
    if relative:
        # `child::x`, `self::child::x`, `use child::{..}`: this module's children.
        for m in re.finditer(r"(?<![\w:])(?:self::)?(\w+)::(\w+|\{[^}]*\})", text):
            if mod + (m.group(1),) in mods:
                first = re.findall(r"\w+", m.group(2))
                refs.append(("rel", [m.group(1)] + first[:1]))
    for kind, parts in refs:
        full = absolute(kind, parts, mod)
        target = resolve_through(full) if full else None
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
