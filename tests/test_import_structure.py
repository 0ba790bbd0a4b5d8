"""The package's import structure: no import circles, imports point downwards, every module imports alone.

The graph is read from the source with :mod:`ast`: the imports a module runs
when it is imported (module level, including ``try``/``if`` blocks, but not
``if TYPE_CHECKING:`` blocks or imports inside functions). Importing
``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``, so it is an
edge to each of them, except to the importing module's own parent packages
(those are already being imported when the module runs).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "dt1d"


# -- reading the graph -----------------------------------------------------------------
def _module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of `package` under `root`."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(name: str, path: Path) -> set[str]:
    """Dotted names that module `name` imports while it is being imported."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = parts[: len(parts) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule pkg.sub if there is one.
                found.update(f"{module}.{alias.name}" for alias in node.names)
                found.add(module)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` its import runs (see the module docstring)."""
    modules = _module_files(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for target in _imported_names(name, path):
            while target and target not in modules:  # `from m import function` -> m
                target = target.rpartition(".")[0]
            # a.b.c also runs a.b and a, except the importer's own parents
            while target and target != name and not name.startswith(target + "."):
                edges.add(target)
                target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(circles)


def _one_path(graph: dict[str, set[str]], circle: list[str]) -> str:
    """A readable loop through `circle`: a -> b -> ... -> a."""
    members = set(circle)
    start = circle[0]
    path, seen = [start], {start}
    node = start
    while True:
        nxt = sorted(m for m in graph[node] if m in members)
        back = [m for m in nxt if m == start]
        if back and len(path) > 1:
            return " -> ".join(path + [start])
        fresh = [m for m in nxt if m not in seen]
        if not fresh:
            return " -> ".join(path + nxt[:1])
        node = fresh[0]
        path.append(node)
        seen.add(node)


# -- the checker itself can fail ---------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_checker_finds_a_circle_and_ignores_lazy_and_type_checking_imports(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from pkg import b\nA = 1\n",
            "pkg/b.py": "from .c import C\n",
            "pkg/c.py": "import pkg.a\nC = 2\n",
            "pkg/lazy.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.other import O\n"
                "def f():\n    from pkg.other import O\n    return O\n"
            ),
            "pkg/other.py": "from pkg.lazy import f\nO = 3\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/d.py": "from pkg.sub import e\n",
            "pkg/sub/e.py": "X = 1\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.b"] == {"pkg.c"}  # relative import resolved; parent package skipped
    assert graph["pkg.other"] == {"pkg.lazy"}
    assert graph["pkg.lazy"] == set()  # TYPE_CHECKING and function-level imports ignored
    assert graph["pkg.sub.d"] == {"pkg.sub.e"}
    circles = import_circles(graph)
    assert circles == [["pkg.a", "pkg.b", "pkg.c"]]
    assert _one_path(graph, circles[0]) == "pkg.a -> pkg.b -> pkg.c -> pkg.a"


# -- dt1d ---------------------------------------------------------------------------------
GRAPH = import_graph(ROOT, PACKAGE)


@pytest.mark.parametrize("subpackage", ["dt1d.core", "dt1d.physiology"])
def test_no_import_circle_inside(subpackage):
    inside = {
        name: {t for t in edges if t == subpackage or t.startswith(subpackage + ".")}
        for name, edges in GRAPH.items()
        if name == subpackage or name.startswith(subpackage + ".")
    }
    assert len(inside) > 3, f"found too few modules in {subpackage}: {sorted(inside)}"
    circles = [_one_path(inside, c) for c in import_circles(inside)]
    assert circles == [], f"import circles inside {subpackage}: {circles}"


def test_no_import_circle_anywhere_in_dt1d():
    circles = [_one_path(GRAPH, c) for c in import_circles(GRAPH)]
    assert circles == [], f"import circles in dt1d: {circles}"


# What each layer may import at module level (besides itself). STYLE.md: imports point
# downwards; `data` and `physiology` import nothing of dt1d above them, `core` no model.
_FOUNDATION = {"dt1d", "dt1d.exceptions", "dt1d._numba", "dt1d._version"}
_LAYERS = {
    "dt1d.data": _FOUNDATION,
    "dt1d.physiology": _FOUNDATION,
    "dt1d.core": _FOUNDATION | {"dt1d.data"},
}


@pytest.mark.parametrize("layer", sorted(_LAYERS))
def test_imports_point_downwards(layer):
    allowed = _LAYERS[layer] | {layer}
    wrong = sorted(
        f"{name} imports {target}"
        for name, edges in GRAPH.items()
        if name == layer or name.startswith(layer + ".")
        for target in edges
        if not any(target == ok or target.startswith(ok + ".") for ok in allowed - {"dt1d"})
        and target != "dt1d"
    )
    assert wrong == []


# -- every module imports on its own ---------------------------------------------------------
# One interpreter imports nothing of dt1d (only the big third-party libraries every
# dt1d module needs, to save time), then forks once per module: each child imports
# one module into a process without dt1d and reports the error, if any.
_FORKING_IMPORTER = r"""
import os, sys, traceback
import numpy, pandas, attrs, numba
assert not any(m == "dt1d" or m.startswith("dt1d.") for m in sys.modules)
failures = []
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
            os._exit(0)
        except BaseException:
            os.write(write, traceback.format_exc(limit=-6).encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failures.append(f"--- import {name} (exit status {status}):\n{error}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"""

_ONE_IMPORT = "import importlib, sys; importlib.import_module(sys.argv[1])"


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    modules = sorted(_module_files(ROOT, PACKAGE))
    assert len(modules) > 50, modules
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if hasattr(os, "fork"):
        run = subprocess.run(
            [sys.executable, "-c", _FORKING_IMPORTER, *modules],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    else:  # pragma: no cover - platforms without fork: one interpreter per module
        failures = []
        for name in modules:
            run = subprocess.run(
                [sys.executable, "-c", _ONE_IMPORT, name],
                capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
            )
            if run.returncode != 0:
                failures.append(f"--- import {name}:\n{run.stderr}")
        assert failures == [], "\n".join(failures)
