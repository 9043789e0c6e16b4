#!/usr/bin/env python3
"""Checks that imports between zonefeed's modules point one way (docs/ARCHITECTURE.md).

Reads every `crate::NAME` a source file names (in `use` lines and in paths) and fails, naming
the file and line, when:
  - a file outside `src/cmd/`, `src/main.rs` and `src/lib.rs` names `crate::cmd` or
    `crate::cli` (the command layer sits on top: the library never reaches up into it);
  - the top-level modules name each other in a cycle.

With --graph it prints the module graph instead (one `from -> to` a line).
Standard library only; run from anywhere: `python3 scripts/check_layers.py`.
"""

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
# `crate::name` anywhere, and the names inside `use crate::{a, b::c}`.
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\buse\s+crate::\{([^}]*)\}", re.S)
TOP = ("cmd", "cli")


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def strip_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def uses(path: Path):
    """(line number, module) for every crate-level module the file names."""
    text = strip_comments(path.read_text(encoding="utf-8"))
    for m in GROUP.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        for item in m.group(1).split(","):
            name = item.strip().split("::")[0].strip()
            if name and name != "self":
                yield line, name
    for n, line in enumerate(text.splitlines(), 1):
        for m in PATH.finditer(line):
            yield n, m.group(1)


def main() -> int:
    modules = {module_of(p) for p in SRC.iterdir() if p.suffix == ".rs" or p.is_dir()}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    errors = []
    for path in sorted(SRC.rglob("*.rs")):
        src = module_of(path)
        for line, dst in uses(path):
            if dst not in modules or dst == src:
                continue
            graph[src].add(dst)
            if dst in TOP and src not in ("cmd", "main", "lib") and not (src == "cli" and dst == "cli"):
                if not (dst == "cli" and src == "cmd"):
                    errors.append(f"{path.relative_to(SRC.parent)}:{line}: `crate::{dst}` outside the command layer")
    if "--graph" in sys.argv:
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print(f"{a} -> {b}")
        return 0
    # Cycles: a depth-first search that reports each back edge's loop once.
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                loop = stack[stack.index(n):]
                key = tuple(sorted(loop))
                if key not in seen:
                    seen.add(key)
                    errors.append("cycle: " + " -> ".join(loop + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state and m not in ("main", "lib"):
            visit(m)
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} import(s) against the layers: see docs/ARCHITECTURE.md")
        return 1
    print(f"layers: {sum(len(v) for v in graph.values())} imports between {len(graph)} modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
