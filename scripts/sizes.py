#!/usr/bin/env python3
"""The largest source files and functions under src/, in lines of code.

A line of code is one that is neither blank nor only a comment (`//`, `//!`,
`///`, or inside `/* */`). Unit tests are left out: files named `tests.rs`
or `*_tests.rs`, and `#[cfg(test)] mod ... { }` blocks inside a file (the
house rule is "no file over ~400 lines of code, its unit-test module
aside"). A function's size is the code lines from its `fn` line to its
closing brace.

    python3 scripts/sizes.py [--rev REV] [--top N] [--max-file LINES]

--rev reads the files as they were at a commit (git show), for a before and
after. --max-file exits 1 if a file has more code lines than that.
"""
import argparse
import os
import re
import subprocess
import sys


def sources(rev):
    if rev:
        names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "src"],
                               capture_output=True, text=True, check=True).stdout.split()
        for n in names:
            if n.endswith(".rs"):
                yield n, subprocess.run(["git", "show", f"{rev}:{n}"], capture_output=True, text=True,
                                        check=True).stdout
    else:
        for d, _, files in sorted(os.walk("src")):
            for f in sorted(files):
                if f.endswith(".rs"):
                    p = os.path.join(d, f)
                    yield p, open(p).read()


def is_unit_tests(path):
    stem = os.path.basename(path)[:-3]
    return stem == "tests" or stem.endswith("_tests")


def code_mask(lines):
    """For each line: is it code (not blank, not only comment)?"""
    mask, in_block = [], False
    for line in lines:
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
                s = s.split("*/", 1)[1].strip()
            else:
                mask.append(False)
                continue
        if s.startswith("/*"):
            if "*/" not in s:
                in_block = True
            mask.append(False)
            continue
        mask.append(bool(s) and not s.startswith("//"))
    return mask


def block_end(lines, start):
    """The index of the line holding the brace that closes the first `{` at or
    after `start` (strings and chars are skipped roughly, which is enough for
    this code base)."""
    depth, opened = 0, False
    for i in range(start, len(lines)):
        line = re.sub(r'"(\\.|[^"\\])*"', '""', lines[i].split("//")[0] if '"' not in lines[i] else lines[i])
        line = re.sub(r"'(\\.|[^'\\])'", "''", line)
        line = re.sub(r"//.*", "", line)
        for ch in line:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return i
        if not opened and line.rstrip().endswith(";"):
            return i  # a declaration without a body
    return len(lines) - 1


def test_ranges(lines):
    """Line ranges of `#[cfg(test)] mod x { ... }` blocks (and of `mod x;`
    lines naming a unit-test file)."""
    out = []
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]":
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            if j < len(lines) and re.match(r"\s*(pub(\(\w+\))?\s+)?mod\s+\w+\s*[{;]", lines[j]):
                out.append((i, block_end(lines, j)))
    return out


fn_re = re.compile(r"^\s*(pub(\([\w:]+\))?\s+)?(const\s+)?(unsafe\s+)?(extern\s+\"C\"\s+)?fn\s+(\w+)")


def measure(path, text):
    lines = text.split("\n")
    mask = code_mask(lines)
    skip = set()
    for a, b in test_ranges(lines):
        skip.update(range(a, b + 1))
    code = sum(1 for i, m in enumerate(mask) if m and i not in skip)
    fns, impl = [], None
    for i, line in enumerate(lines):
        if i in skip:
            continue
        m = re.match(r"^impl(<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?([\w:]+)", line)
        if m:
            impl = m.group(2)
        elif line and not line[0].isspace() and not line.startswith("}"):
            impl = None if not line.startswith(("#", "//")) else impl
        m = fn_re.match(line)
        if m:
            end = block_end(lines, i)
            n = sum(1 for k in range(i, end + 1) if mask[k])
            name = m.group(6)
            if line[0].isspace() and impl:
                name = f"{impl}::{name}"
            fns.append((n, f"{path}:{i + 1}", name))
    return code, len(lines) - (1 if text.endswith("\n") else 0), fns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--max-file", type=int)
    a = ap.parse_args()
    files, fns = [], []
    for path, text in sources(a.rev):
        if is_unit_tests(path):
            continue
        code, total, f = measure(path, text)
        files.append((code, total, path))
        fns += f
    files.sort(reverse=True)
    fns.sort(reverse=True)
    print(f"{len(files)} files (unit-test files aside), {sum(c for c, _, _ in files)} lines of code")
    print("largest files (code lines, tests aside / all lines):")
    for code, total, path in files[:a.top]:
        print(f"  {code:5d} / {total:4d}  {path}")
    print("largest functions (code lines):")
    for n, where, name in fns[:a.top]:
        print(f"  {n:5d}  {name}  {where}")
    if a.max_file is not None:
        over = [(c, p) for c, _, p in files if c > a.max_file]
        for c, p in over:
            print(f"over {a.max_file}: {p} ({c})", file=sys.stderr)
        sys.exit(1 if over else 0)


main()
