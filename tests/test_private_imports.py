"""No module of ``dt1d.core`` or ``dt1d.physiology`` imports another module's private names.

A name starting with ``_`` is a helper of its own module; one that another
module needs is part of its module's interface and is named without ``_``.
Private *modules* (``dt1d.core._persistence``) may be imported: their names
are that package's interface. Read from the source with :mod:`ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dt1d

ROOT = Path(dt1d.__file__).resolve().parent.parent


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def private_imports(package: str, root: Path = ROOT) -> list[str]:
    """'file:line imports name from module' for each private non-module name imported."""
    top = package.split(".")[0]
    found = []
    for path in sorted(root.joinpath(*package.split(".")).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module is None or module.split(".")[0] != top:
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not _is_module(root, f"{module}.{name}"):
                    found.append(
                        f"{path.relative_to(root).as_posix()}:{node.lineno} imports {name} "
                        f"from {module}"
                    )
    return found


@pytest.mark.parametrize("package", ["dt1d.core", "dt1d.physiology"])
def test_no_private_name_is_imported_from_another_module(package):
    assert private_imports(package) == []


def test_the_check_sees_private_names_but_not_private_modules(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helpers.py").write_text("def _secret():\n    pass\n")
    (package / "user.py").write_text(
        "from pkg import _helpers\nfrom pkg._helpers import _secret\n"
    )
    assert private_imports("pkg", tmp_path) == ["pkg/user.py:2 imports _secret from pkg._helpers"]
