"""The kernels index states, meal slots and output rows by name, never by a raw number.

``dt1d.physiology.layout`` names every slot (``X_GP``, ``M_PLANNED_G``); a raw
``x[3]`` in a kernel silently means something else once the layout changes.
Read from the source: an integer literal may index only an array's ``shape``
or the RK stages ``k`` of the adaptive integrator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dt1d

ROOT = Path(dt1d.__file__).resolve().parent
KERNEL_FILES = ["physiology/kernels.py", "physiology/batch.py", "models/mechanistic/_kernels.py"]


def _raw_indices(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Subscript):
            continue
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not any(isinstance(p, ast.Constant) and isinstance(p.value, int) for p in parts):
            continue
        base = node.value
        if isinstance(base, ast.Attribute) and base.attr == "shape":
            continue
        if isinstance(base, ast.Name) and base.id == "k":  # Dormand-Prince stages
            continue
        found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("relative", KERNEL_FILES)
def test_no_raw_index_in_kernels(relative):
    assert _raw_indices(ROOT / relative) == []


def test_the_check_finds_a_raw_index(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(x, k):\n    return x[3] + x[X_GP] + k[0] + x.shape[0]\n")
    assert _raw_indices(sample) == ["sample.py:2: x[3]"]
