#!/usr/bin/env python3
"""Fails if a crate's modules import each other in a cycle.

Reads the `use` paths (`crate::`, `super::`, `self::`) of every .rs file under each given
`src` directory, outside `#[cfg(test)] mod tests`. An edge from module a to module b is lifted
to the two siblings under their deepest common parent (`control::engine_slot` ->
`control::controller`, `history::row` -> `pipeline` is `history` -> `pipeline`), and any cycle
among siblings is an error. A child using what its own parent declares or re-exports is
containment, not a cycle, and is allowed.

Usage: python3 .ci/module_cycles.py crates/voxdeck-core/src [more src dirs...]
"""

import os
import re
import sys

USE = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", re.S)


def module_of(root, path):
    parts = os.path.relpath(path, root)[: -len(".rs")].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def edges_of(root):
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".rs")]
    modules = {module_of(root, f) for f in files}
    edges = {}
    for path in files:
        here = module_of(root, path)
        with open(path, encoding="utf-8") as f:
            text = TESTS.sub("", f.read())
        targets = set()
        for base, rest in USE.findall(text):
            names = rest.strip(":").split("::")
            if base == "crate":
                at = ()
            elif base == "self":
                at = here
            else:
                at = here[:-1]
                while names and names[0] == "super":
                    at, names = at[:-1], names[1:]
            for name in names:
                if at + (name,) not in modules:
                    break
                at = at + (name,)
            if at not in (here, ()):
                targets.add(at)
        edges[here] = targets
    return edges


def sibling_edge(a, b):
    """The edge a -> b between the siblings under their common parent; None for containment."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n >= len(a) or n >= len(b):
        return None
    return a[: n + 1], b[: n + 1]


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def main(roots):
    sys.setrecursionlimit(10_000)
    bad = 0
    for root in roots:
        edges = edges_of(root)
        graph, why = {}, {}
        for a, targets in edges.items():
            for b in targets:
                lifted = sibling_edge(a, b)
                if lifted:
                    graph.setdefault(lifted[0], set()).add(lifted[1])
                    why.setdefault(lifted, []).append(f"{'::'.join(a)} -> {'::'.join(b)}")
        found = cycles(graph)
        bad += len(found)
        for component in found:
            names = ", ".join("::".join(m) for m in component)
            print(f"error: {root}: modules import each other in a cycle: {names}")
            for (a, b), uses in sorted(why.items()):
                if a in component and b in component:
                    print(f"    {'; '.join(uses)}")
        print(f"module cycles: {root}: {len(edges)} modules, {len(found)} cycles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["crates/voxdeck-core/src"]))
