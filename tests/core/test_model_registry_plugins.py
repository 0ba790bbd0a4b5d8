"""Discovery and entry-point plugins: behaviours 22-24 of shared/spec/registry.md.

Plugins are tested for real: the example distribution in ``plugin_fixture/`` is
"installed" into a temporary directory as a package plus a ``*.dist-info``
directory, which importlib.metadata reads exactly as it reads pip's output, and
the checks run in a fresh interpreter with that directory on PYTHONPATH.
"""

from __future__ import annotations

import configparser
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from dt1d.core.model_registry import (
    DiscoveryError,
    discover_models,
    get_model_class,
    isolated,
    list_available_models,
)

FIXTURE = Path(__file__).parent / "plugin_fixture"

GOOD_MODEL = """
import numpy as np
from dt1d.core.base import ParamsMixin
from dt1d.core.twin import BaseModel


class {cls}(ParamsMixin, BaseModel, name="{name}"):
    def fit(self, X, y=None, **kwargs):
        return self

    def predict(self, X, **kwargs):
        return np.zeros(len(X))
"""


@pytest.fixture(autouse=True)
def _isolated_registry():
    with isolated():
        yield


# -- discovery (b22, b23) -------------------------------------------------------------------
@pytest.fixture
def package_tree(tmp_path, monkeypatch):
    """Write a package with public, private, test and nested modules; yield its name."""
    name = f"disc_{uuid.uuid4().hex[:10]}"
    root = tmp_path / name
    files = {
        "__init__.py": "",
        "alpha.py": GOOD_MODEL.format(cls="Alpha", name=f"{name}_alpha"),
        "sub/__init__.py": "",
        "sub/beta.py": GOOD_MODEL.format(cls="Beta", name=f"{name}_beta"),
        "sub/deeper/__init__.py": "",
        "sub/deeper/gamma.py": GOOD_MODEL.format(cls="Gamma", name=f"{name}_gamma"),
        "_private.py": "raise RuntimeError('private modules must not be imported')\n",
        "_hidden/__init__.py": "raise RuntimeError('private packages must not be imported')\n",
        "tests/__init__.py": "raise RuntimeError('tests must not be imported')\n",
        "tests/test_alpha.py": "raise RuntimeError('tests must not be imported')\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_b22_discover_imports_public_submodules_recursively_once(package_tree):
    name = package_tree
    found = discover_models(name)
    assert found == sorted([f"{name}_alpha", f"{name}_beta", f"{name}_gamma"])
    assert get_model_class(f"{name}_gamma").__module__ == f"{name}.sub.deeper.gamma"
    assert discover_models(name) == []  # a second call registers nothing, raises nothing
    assert discover_models(sys.modules[name]) == []  # a module object works too


def test_b23_discover_skips_tests_and_private_modules(package_tree):
    discover_models(package_tree)
    imported = {m for m in sys.modules if m.startswith(package_tree)}
    assert f"{package_tree}._private" not in imported
    assert f"{package_tree}._hidden" not in imported
    assert f"{package_tree}.tests" not in imported


def _add_broken_modules(package: str) -> None:
    root = Path(sys.modules[package].__path__[0]) if package in sys.modules else None
    assert root is not None
    (root / "broken_import.py").write_text("import no_such_dependency_for_dt1d_tests\n")
    (root / "broken_syntax.py").write_text("def oops(:\n")
    (root / "sub" / "broken_runtime.py").write_text("raise ValueError('bad config')\n")
    importlib.invalidate_caches()


def test_b23_discover_reports_all_failures_together(package_tree):
    importlib.import_module(package_tree)
    _add_broken_modules(package_tree)
    with pytest.raises(DiscoveryError) as info:
        discover_models(package_tree)
    error = info.value
    assert sorted(error.failures) == [
        f"{package_tree}.broken_import",
        f"{package_tree}.broken_syntax",
        f"{package_tree}.sub.broken_runtime",
    ]
    message = str(error)
    for fragment in ("no_such_dependency_for_dt1d_tests", "SyntaxError", "bad config", "3 module"):
        assert fragment in message
    # the working modules were still imported and registered
    assert get_model_class(f"{package_tree}_beta").__name__ == "Beta"


def test_b23_discover_warns_and_goes_on(package_tree):
    importlib.import_module(package_tree)
    _add_broken_modules(package_tree)
    with pytest.warns(RuntimeWarning, match="could not import 3 module") as record:
        found = discover_models(package_tree, on_error="warn")
    assert len(record) == 1
    assert found == sorted(
        [f"{package_tree}_alpha", f"{package_tree}_beta", f"{package_tree}_gamma"]
    )


def test_b23_discover_unknown_package_and_bad_arguments():
    with pytest.raises(DiscoveryError, match="no_such_package_for_dt1d"):
        discover_models("no_such_package_for_dt1d")
    with pytest.raises(ValueError, match="on_error"):
        discover_models("dt1d", on_error="ignore")
    with pytest.raises(TypeError):
        discover_models(42)


# -- plugins (b24) --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """A directory holding the example plugin "installed": package + dist-info."""
    site = tmp_path_factory.mktemp("plugin_site")
    config = configparser.ConfigParser()
    config.read(FIXTURE / "setup.cfg")
    name = config["metadata"]["name"]
    version = config["metadata"]["version"]
    package = config["options"]["packages"].strip()
    shutil.copytree(FIXTURE / package, site / package)
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    lines = []
    for group, spec in config["options.entry_points"].items():
        lines.append(f"[{group}]")
        lines.extend(line.strip() for line in spec.strip().splitlines())
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def _run_with_plugin(site: Path, code: str, **env: str) -> dict[str, Any]:
    environment = {**os.environ, **env}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(site), *filter(None, [environment.get("PYTHONPATH")])]
    )
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


PLUGIN_CHECK = """
    import json, sys
    import dt1d  # must not break although one plugin is broken
    from dt1d.core.model_registry import (
        RegistrationError, create_model, get_model_class, is_model_registered,
        list_available_models)

    def plugin_modules():
        return sorted(m for m in sys.modules if m.startswith("dt1d_fixture_plugin"))

    r = {"after_import": plugin_modules()}
    r["listed"] = list_available_models("fixture_*")
    r["known"] = [is_model_registered(n) for n in ("fixture_good", "fixture_alias", "fixture_broken")]
    r["after_listing"] = plugin_modules()
    errors = []
    for _ in range(2):
        try:
            get_model_class("fixture_broken")
        except RegistrationError as exc:
            errors.append(str(exc))
    r["broken_errors"] = errors
    cls = get_model_class("fixture_good")
    r["good"] = cls.__module__ + "." + cls.__qualname__
    r["alias_same_class"] = get_model_class("fixture_alias") is cls
    model = create_model("fixture_good", offset_mg_dl=2.0).fit([0, 0], [100.0, 120.0])
    r["prediction"] = model.predict([0, 0, 0]).tolist()
    r["persistence"] = get_model_class("persistence").__name__
    r["after_lookup"] = plugin_modules()
    r["tagged"] = list_available_models("fixture_*", tags="population")  # skips the broken one
    print(json.dumps(r))
"""


def test_b24_plugins_known_by_name_loaded_on_demand_broken_one_isolated(plugin_site):
    r = _run_with_plugin(plugin_site, PLUGIN_CHECK)
    assert r["after_import"] == [] and r["after_listing"] == []
    assert r["listed"] == {
        "fixture_alias": "dt1d_fixture_plugin.models.GoodPluginModel",
        "fixture_broken": "dt1d_fixture_plugin.broken.BrokenPluginModel",
        "fixture_good": "dt1d_fixture_plugin.models.GoodPluginModel",
    }
    assert r["known"] == [True, True, True]
    assert len(r["broken_errors"]) == 2  # asking again fails the same way
    for message in r["broken_errors"]:
        assert "fixture_broken" in message and "dt1d-fixture-plugin" in message
        assert "dt1d_fixture_missing_dependency" in message  # the load error itself
        assert "DT1D_DISABLE_PLUGIN_AUTOLOAD" in message
    assert r["good"] == "dt1d_fixture_plugin.models.GoodPluginModel"
    assert r["alias_same_class"] is True
    assert r["prediction"] == [112.0, 112.0, 112.0]
    assert r["persistence"] == "PersistenceModel"
    assert r["after_lookup"] == ["dt1d_fixture_plugin", "dt1d_fixture_plugin.models"]
    assert r["tagged"] == {
        "fixture_alias": "dt1d_fixture_plugin.models.GoodPluginModel",
        "fixture_good": "dt1d_fixture_plugin.models.GoodPluginModel",
    }


def test_b24_env_var_turns_plugin_loading_off(plugin_site):
    code = """
        import json, sys
        import dt1d
        from dt1d.core.model_registry import (
            ModelNotFoundError, get_model_class, is_model_registered, list_available_models)

        r = {"listed": list_available_models("fixture_*"),
             "known": is_model_registered("fixture_good")}
        try:
            get_model_class("fixture_good")
        except ModelNotFoundError as exc:
            r["error"] = str(exc)
        r["imported"] = sorted(m for m in sys.modules if m.startswith("dt1d_fixture_plugin"))
        import dt1d_fixture_plugin.models  # importing the module by hand still registers it
        r["by_hand"] = get_model_class("fixture_good").__name__
        print(json.dumps(r))
    """
    r = _run_with_plugin(plugin_site, code, DT1D_DISABLE_PLUGIN_AUTOLOAD="1")
    assert r["listed"] == {} and r["known"] is False
    assert "DT1D_DISABLE_PLUGIN_AUTOLOAD" in r["error"]
    assert r["imported"] == []
    assert r["by_hand"] == "GoodPluginModel"


def test_b24_no_plugin_names_without_the_distribution():
    assert "fixture_good" not in list_available_models()
