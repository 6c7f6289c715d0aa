"""The house rules of ``docs/architecture.md``, checked on the source: imports run one way
through the layers, no two modules import each other (directly or in a circle), and no module
grows past the size where it should be split by its story."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1]
NAME = "majors_alts_monitor"

# Layers, lowest first: a module may import from its own layer or a lower one.
LAYERS: list[set[str]] = [
    {
        "config",
        "errors",
        "arrays",
        "interrupts",
        "scipy_blas",
        "clock",
        "labels",
        "publish",
        "shell",
    },
    {"lake"},
    {"market"},
    {"stats"},
    {"backtest.engine", "backtest.folds"},  # the regime search prices trades with the engine
    {"regime"},
    {"backtest"},
    {"report", "dashboard"},
    {"pipeline"},
    {"api", "cli", "sweep", "morning", "run", "signals", "__main__", "__init__"},
]
# Known exceptions, each with its reason; remove a line when its reason goes.
EXCEPTIONS: set[tuple[str, str]] = set()
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG)
        if rel.parts[0] == "tests":
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(mod: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The package's modules that ``mod`` imports (a name imported from a package counts as its
    submodule when it is one)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                if mod == "__init__":
                    base = []
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith(NAME):
                target = (node.module or "")[len(NAME) + 1 :]
            else:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}" if target else a.name
                if sub in mods:
                    found.add(sub)
                elif target in mods:
                    found.add(target)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(NAME + "."):
                    found.add(a.name[len(NAME) + 1 :])
    found.discard(mod)
    return {m for m in found if m in mods}


def _layer(mod: str) -> int:
    for i in range(len(LAYERS) - 1, -1, -1):
        for prefix in LAYERS[i]:
            if mod == prefix or mod.startswith(prefix + "."):
                best = i
                # a more specific prefix of a lower layer wins (backtest.engine vs backtest)
                for j, layer in enumerate(LAYERS):
                    for p in layer:
                        if (mod == p or mod.startswith(p + ".")) and len(p) > len(prefix):
                            best = j
                return best
    raise AssertionError(f"module {mod} is in no layer of docs/architecture.md")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def test_every_module_is_in_a_layer(graph: dict[str, set[str]]) -> None:
    for m in graph:
        _layer(m)


def test_imports_run_one_way(graph: dict[str, set[str]]) -> None:
    bad = []
    for m, deps in graph.items():
        for d in deps:
            if m.split(".")[0] == d.split(".")[0] and _layer(m) == _layer(d):
                continue
            if _layer(d) > _layer(m) and (m, d) not in EXCEPTIONS:
                bad.append(f"{m} (layer {_layer(m)}) imports {d} (layer {_layer(d)})")
    assert not bad, "\n".join(sorted(bad))


def test_exceptions_are_still_needed(graph: dict[str, set[str]]) -> None:
    for m, d in EXCEPTIONS:
        assert d in graph.get(m, set()), f"{m} no longer imports {d}: drop the exception"


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    edges = {
        m: {d for d in deps if not _modules()[d].name == "__init__.py"} for m, deps in graph.items()
    }
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for d in edges[m]:
            if seen.get(d) == 1:
                cycle = stack[stack.index(d) :] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in seen:
                visit(d)
        stack.pop()
        seen[m] = 2

    for m in sorted(edges):
        if m not in seen:
            visit(m)


def test_no_module_is_too_long() -> None:
    long = {
        m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by the story they tell: {long}"
