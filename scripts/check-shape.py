#!/usr/bin/env python3
"""The code's shape, checked on every CI run (ARCHITECTURE.md says why it matters):

- every Rust file under 500 lines;
- every function under 80 lines (from its `fn` line to its closing brace);
- no module cycle: no module uses a sibling (through `crate::` paths) that uses it back,
  at any depth, in the four crates;
- nothing `pub` in a library that no other crate names: each `pub` item of `tuf-core`,
  `client` (the `updater` library), `repo-tool`'s and `fleet`'s libraries must be named somewhere in
  another crate (binaries, tests, fuzz targets, doc examples count), or in the public
  interface of its own crate (a type a public function returns must be public too). A
  name-based check: it can miss an item whose name another crate happens to use.

Prints each violation and exits 1 if there is any.
"""
import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(ROOT)

MAX_FILE_LINES = 500
MAX_FN_LINES = 80


def rust_files(*patterns):
    out = []
    for pattern in patterns:
        out += [f for f in glob.glob(pattern, recursive=True) if "/target/" not in f]
    return sorted(set(out))


ALL = rust_files("client/**/*.rs", "repo-tool/**/*.rs", "tuf-core/**/*.rs", "fleet/**/*.rs",
                 "tests/**/*.rs", "fuzz/fuzz_targets/*.rs")


def long_files():
    for f in ALL:
        n = len(open(f).read().split("\n")) - 1
        if n >= MAX_FILE_LINES:
            yield f"{f}: {n} lines (at most {MAX_FILE_LINES - 1})"


FN = re.compile(r"\s*(pub(\([\w:]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def without_literals(code):
    """`code` with its string and char literals emptied: a brace inside one is not a block."""
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    return re.sub(r"'(\\.|[^\\'])'", "''", code)


def long_functions():
    for f in ALL:
        lines = open(f).read().split("\n")
        i = 0
        while i < len(lines):
            m = FN.match(lines[i])
            if not m or lines[i].rstrip().endswith(";"):
                i += 1
                continue
            depth, seen, j = 0, False, i
            while j < len(lines):
                code = without_literals(re.sub(r"//.*", "", lines[j]))
                depth += code.count("{") - code.count("}")
                seen = seen or "{" in code
                if seen and depth <= 0:
                    break
                j += 1
            n = j - i + 1
            if n >= MAX_FN_LINES:
                yield f"{f}:{i + 1}: fn {m.group(6)} is {n} lines (at most {MAX_FN_LINES - 1})"
            i = j + 1 if seen else i + 1


def module_path(src, f):
    parts = os.path.relpath(f, src)[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def crate_refs(text):
    text = re.sub(r"//.*", "", text)
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    refs = {tuple(m.group(1).split("::")) for m in re.finditer(r"crate::((?:\w+::)*\w+)", text)}
    for m in re.finditer(r"use crate::\{([^;]*)\};", text, flags=re.S):
        for part in re.split(r",\s*(?![^{]*\})", m.group(1)):
            seg = [s.strip("{} \n") for s in part.strip().split("::")]
            if seg and seg[0]:
                refs.add(tuple(seg))
    return refs


def cycles():
    for src in ("client/src", "repo-tool/src", "tuf-core/src", "fleet/src"):
        files = [f for f in rust_files(src + "/**/*.rs")
                 if "/bin/" not in f and not f.endswith("tests.rs") and "/tests/" not in f]
        for depth in (1, 2, 3):
            graph = {}
            for f in files:
                me = module_path(src, f)
                if len(me) < depth:
                    continue
                for r in crate_refs(open(f).read()):
                    if len(r) < depth:
                        continue
                    a, b = me[:depth], r[:depth]
                    if a[:-1] == b[:-1] and a != b:
                        graph.setdefault(a, set()).add(b)
            reported = set()
            for start in graph:
                stack = [(start, [start])]
                while stack:
                    node, path = stack.pop()
                    for nxt in graph.get(node, ()):
                        if nxt == start:
                            cycle = path + [start]
                            key = frozenset(cycle)
                            if key not in reported:
                                reported.add(key)
                                yield f"{src}: module cycle " + " -> ".join("::".join(c) for c in cycle)
                        elif nxt not in path:
                            stack.append((nxt, path + [nxt]))


PUB = re.compile(r"^\s*pub (?:fn|struct|enum|const|static|type|trait|mod) (\w+)")
PUB_FIELD = re.compile(r"^\s+pub (\w+):")


def interface_words(files):
    """Names that appear in the public interface of these files: `pub fn` signatures, `pub`
    fields and type aliases, and whole bodies of `pub enum` and `pub trait` (their variants'
    fields and methods are public). A type named there must be `pub` for the item to be."""
    words = set()
    for f in files:
        lines = open(f).read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            if re.match(r"^\s*pub (?:const |async |unsafe )*fn ", line):
                j = i
                while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                    j += 1
                words.update(re.findall(r"\w+", " ".join(lines[i:j + 1]).split("{")[0]))
                i = j + 1
                continue
            if re.match(r"^\s*pub (?:enum|trait) ", line):
                depth, j = 0, i
                while j < len(lines):
                    depth += lines[j].count("{") - lines[j].count("}")
                    if depth <= 0 and "{" in "".join(lines[i:j + 1]):
                        break
                    j += 1
                body = " ".join(lines[i + 1:j + 1])
                words.update(re.findall(r"\w+", body))
                i = j + 1
                continue
            if PUB_FIELD.match(line) or re.match(r"^\s*pub type ", line):
                words.update(re.findall(r"\w+", line.split(":", 1)[-1].split("=", 1)[-1]))
            i += 1
    return words


def unused_pub():
    libraries = {
        "tuf-core": (rust_files("tuf-core/src/**/*.rs"),
                     rust_files("tuf-core/tests/*.rs", "client/**/*.rs", "repo-tool/**/*.rs",
                                "tests/**/*.rs", "fuzz/fuzz_targets/*.rs")),
        "client": ([f for f in rust_files("client/src/**/*.rs") if "/bin/" not in f],
                   rust_files("client/src/bin/**/*.rs", "client/tests/*.rs", "repo-tool/**/*.rs",
                              "fleet/**/*.rs", "tests/**/*.rs", "fuzz/fuzz_targets/*.rs")),
        "repo-tool": ([f for f in rust_files("repo-tool/src/**/*.rs")
                       if "/commands/" not in f and not f.endswith("main.rs")],
                      rust_files("repo-tool/src/main.rs", "repo-tool/src/commands/**/*.rs",
                                 "repo-tool/tests/*.rs", "tests/**/*.rs", "fuzz/fuzz_targets/*.rs")),
        "fleet": ([f for f in rust_files("fleet/src/**/*.rs")
                   if "/commands/" not in f and not f.endswith("main.rs")],
                  rust_files("fleet/src/main.rs", "fleet/src/commands/**/*.rs", "fleet/tests/*.rs",
                             "tests/**/*.rs")),
    }
    for crate, (own, others) in libraries.items():
        words = set()
        for f in others:
            words.update(re.findall(r"\w+", open(f).read()))
        for f in own:
            for line in open(f).read().split("\n"):
                if line.strip().startswith(("///", "//!")):  # doc examples are other crates
                    words.update(re.findall(r"\w+", line))
        words |= interface_words(own)
        for f in own:
            for n, line in enumerate(open(f).read().split("\n"), 1):
                m = PUB.match(line) or PUB_FIELD.match(line)
                if m and m.group(1) not in words:
                    yield f"{f}:{n}: `{m.group(1)}` is pub but no other crate names it"


def main():
    problems = [*long_files(), *long_functions(), *cycles(), *unused_pub()]
    for p in problems:
        print(p)
    print(f"check-shape: {len(ALL)} files; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
