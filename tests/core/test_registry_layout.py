"""The registry has one owner: read from the source of its modules.

``dt1d/core/_registry.py``'s ``Registry`` owns the tables; the other registry
modules call its methods, import no private names from one another, never
rewrite ``__module__`` and spell the logger's name once.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dt1d.core.model_registry as mr
from dt1d.core._registry import Registry

CORE = Path(mr.__file__).resolve().parent
REGISTRY_MODULES = sorted([CORE / "model_registry.py", *CORE.glob("_registry*.py")])
TABLES = {"classes", "hidden", "displaced", "builtins"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_the_registry_modules_are_the_owner_and_its_seams():
    names = sorted(p.name for p in REGISTRY_MODULES)
    assert names == [
        "_registry.py",
        "_registry_checks.py",
        "_registry_errors.py",
        "_registry_sources.py",
        "model_registry.py",
    ]


def test_no_private_name_is_imported_from_another_module():
    wrong = [
        f"{path.name}:{node.lineno} imports {alias.name} from {node.module}"
        for path in REGISTRY_MODULES
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dt1d")
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "annotations"
    ]
    assert wrong == []


def test_only_the_registry_object_touches_its_tables():
    wrong = [
        f"{path.name}:{node.lineno} uses .{node.attr}"
        for path in REGISTRY_MODULES
        if path.name != "_registry.py"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute) and node.attr in TABLES
    ]
    assert wrong == []


def test_module_is_never_rewritten_and_public_names_live_where_they_are_documented():
    assignments = [
        f"{path.name}:{node.lineno}"
        for path in REGISTRY_MODULES
        for node in ast.walk(_tree(path))
        if isinstance(node, (ast.Assign, ast.AugAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and target.attr == "__module__"
    ]
    assert assignments == []
    for name in ("RegistryMeta", "register_model", "isolated", "get_model_class"):
        assert getattr(mr, name).__module__ == "dt1d.core.model_registry"


def test_the_logger_name_is_spelled_once():
    calls = [
        (path.name, ast.unparse(node))
        for path in REGISTRY_MODULES
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
    ]
    assert calls == [("model_registry.py", "logging.getLogger(__name__)")]


def test_a_registry_copy_is_independent_of_the_original():
    import logging

    original = Registry({"a": "json:JSONDecoder"}, logging.getLogger("test"))

    class Thing:
        pass

    original.register(Thing, ("thing",), overwrite=False, rekey=False)
    copy = original.copy()
    assert copy.unregister("thing", {}) and copy.unregister("a", {})
    assert original.registered("thing") is Thing and "a" not in original.hidden
    assert copy.registered("thing") is None and copy.names_of(Thing) == ()
    assert "a" in copy.hidden and original.builtin("a") == "json:JSONDecoder"
    assert original.names_of(Thing) == ("thing",)
