"""The package's arrows point one way: data -> models -> training, inference uses models and data,
and no module inside inference/ imports one that (directly or not) imports it back.

Every import counts, at the top of a module or inside a function: a lazy import still ties two
modules together. Read from the sources (ast), so the test runs without importing anything."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"data": "data", "models": "models", "training": "training", "inference": "inference", "tonematch": ""}


def _modules() -> dict[str, Path]:
    """tonematch.<layer>.<...> -> its source file, for every module of the package."""
    out = {}
    for folder, layer in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(["tonematch"] + ([layer] if layer else []) + parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports (a package's `from . import x` names x)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            bases = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            bases = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for b in bases:
            while b and b not in known:  # tonematch.models.chain.TABLE -> tonematch.models.chain
                b = b.rpartition(".")[0]
            if b and b != name:
                found.add(b)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "tonematch"


def test_lower_layers_never_import_the_upper_ones():
    allowed = {
        "data": {"data"},
        "models": {"data", "models"},
        "inference": {"data", "models", "inference"},
        "training": {"data", "models", "inference", "training"},
    }
    wrong = [
        f"{name} imports {dep}"
        for name, deps in _graph().items()
        for dep in deps
        if _layer(name) in allowed and _layer(dep) not in allowed[_layer(name)] and _layer(dep) != "tonematch"
    ]
    assert not wrong, "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circles():
    graph = _graph()
    # a package importing its own submodules (its __init__ re-exporting them) is not a circle
    graph = {name: {d for d in deps if name not in _parents(d)} for name, deps in graph.items()}
    circles = _cycles(graph)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_walk_sees_known_arrows():
    """The walk itself: it finds an import written at the top and one written inside a function."""
    graph = _graph()
    assert "tonematch.data.errors" in graph["tonematch.inference.render"]  # at the top
    assert "tonematch.models.chain.exact" in graph["tonematch.inference.render"]  # inside a function
    assert any(dep.startswith("tonematch.inference") for dep in graph["tonematch.inference.api"])
