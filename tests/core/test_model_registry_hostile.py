"""Hostile plugins and look-alike names: a plugin that exits, interrupts or hangs at import
cannot stop or hang dt1d, and a name that only looks like another is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.core.model_registry import (
    RegistrationError,
    get_model_class,
    isolated,
    register_model,
)

# -- names ------------------------------------------------------------------------------------

INVISIBLE = {
    "zero-width space": "linear\u200b",
    "zero-width joiner": "lin\u200dear",
    "word joiner": "\u2060linear",
    "byte-order mark": "\ufefflinear",
    "soft hyphen": "lin\u00adear",
    "right-to-left override": "\u202elinear",
    "newline": "lin\near",
    "carriage return": "linear\rx",
    "tab": "lin\tear",
    "NUL": "lin\x00ear",
    "DEL": "lin\x7fear",
    "escape": "\x1b[31mlinear",
    "C1 control": "lin\x85ear",
    "line separator": "lin\u2028ear",
    "paragraph separator": "lin\u2029ear",
    "private use": "linear\ue000",
    "unassigned": "linear\U000e0fff",
}
LOOK_ALIKE = {
    "full-width": "\uff4c\uff49\uff4e\uff45\uff41\uff52",
    "full-width capital": "\uff2c\uff29\uff2e\uff25\uff21\uff32",
    "mixed full-width": "lin\uff45ar",
    "full-width persistence": "\uff50ersistence",
    "mathematical bold": "\U0001d425inear",
    "circled": "\u24c1inear",
    "ligature": "\ufb01t_model",  # NFKC reads the ligature as "fi"
    "case and dash": "Fit-Model",
}


def _define(name: str, aliases: tuple[str, ...] = ()) -> type:
    class Candidate(ParamsMixin, BaseModel, name=name, aliases=aliases):
        def fit(self, X, y=None, **kwargs):
            return self

        def predict(self, X, **kwargs):
            return np.zeros(len(X))

    return Candidate


@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_names_with_control_or_invisible_characters_are_refused(name):
    with isolated():
        with pytest.raises(RegistrationError, match="control or invisible characters"):
            _define(name)
        with pytest.raises(RegistrationError, match="control or invisible characters"):
            _define("clean_name_for_alias_test", aliases=(name,))
        with pytest.raises(RegistrationError, match="control or invisible characters"):
            register_model(name)
        with pytest.raises(RegistrationError, match="control or invisible characters"):
            get_model_class(name)


@pytest.mark.parametrize("name", LOOK_ALIKE.values(), ids=LOOK_ALIKE.keys())
def test_a_name_that_normalises_to_a_taken_one_is_refused(name):
    with isolated():
        _define("fit_model")  # the name the ligature and case/dash cases look like
        with pytest.raises(RegistrationError, match=r"Unicode form \(NFKC\)"):
            _define(name)
        with pytest.raises(RegistrationError, match=r"Unicode form \(NFKC\)"):
            _define("unrelated_name_x", aliases=(name,))
        assert get_model_class("linear").__name__ == "LinearModel"


def test_distinct_unicode_names_are_still_allowed():
    with isolated():
        cls = _define("modèle_glycémie")
        assert get_model_class("modèle_glycémie") is cls
        assert _define("модель") is get_model_class("модель")


def test_a_look_alike_lookup_suggests_the_real_name():
    with pytest.raises(KeyError, match="linear"):
        get_model_class("\uff4c\uff49\uff4e\uff45\uff41\uff52")


# -- plugins that misbehave at import (run in a fresh interpreter with them installed) --------

PLUGINS = {
    "exits": "import sys\nsys.exit(3)\n",
    "exits_zero": "raise SystemExit(0)\n",
    "interrupts": "raise KeyboardInterrupt\n",
    "hangs": "import time\ntime.sleep(600)\n",
    "fails": "raise ImportError('missing dependency of the plugin')\n",
}
GOOD = """
import numpy as np
from dt1d.core.base import BaseModel, ParamsMixin


class Fine(ParamsMixin, BaseModel, name="hostile_fine"):
    tags = frozenset({"population"})

    def fit(self, X, y=None, **kwargs):
        return self

    def predict(self, X, **kwargs):
        return np.zeros(len(X))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile_site")
    package = root / "hostile_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text(GOOD)
    for name, body in PLUGINS.items():
        (package / f"{name}.py").write_text(body)
    dist = root / "hostile_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugins\nVersion: 1.0\n")
    lines = ["[dt1d.models]", "hostile_fine = hostile_plugins.fine:Fine"]
    lines += [f"hostile_{n} = hostile_plugins.{n}:Model" for n in PLUGINS]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def _run(site: Path, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "DT1D_PLUGIN_IMPORT_TIMEOUT": "2"}
    env.pop("DT1D_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_misbehaving_plugins_become_load_errors_and_the_rest_works(site):
    code = textwrap.dedent("""
        import json, time
        from dt1d.core.model_registry import RegistrationError, get_model_class, list_available_models
        out = {}
        for name in %r:
            start = time.monotonic()
            try:
                get_model_class("hostile_" + name)
                out[name] = "loaded"
            except RegistrationError as exc:
                out[name] = str(exc)
            out[name + "_s"] = time.monotonic() - start
        start = time.monotonic()
        out["tagged"] = sorted(list_available_models("hostile_*", tags="population"))
        out["tagged_s"] = time.monotonic() - start
        out["fine"] = get_model_class("hostile_fine").__name__
        out["linear"] = get_model_class("linear").__name__
        print(json.dumps(out))
    """) % (list(PLUGINS),)
    proc = _run(site, ["-c", code])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "SystemExit(3)" in out["exits"] and "failed to load" in out["exits"]
    assert "SystemExit(0)" in out["exits_zero"]
    assert "KeyboardInterrupt" in out["interrupts"]
    assert "did not finish within 2 s" in out["hangs"] and out["hangs_s"] < 10
    assert "missing dependency of the plugin" in out["fails"]
    assert out["tagged"] == ["hostile_fine"] and out["tagged_s"] < 5  # the hang is not retried
    assert out["fine"] == "Fine" and out["linear"] == "LinearModel"


def test_dt1d_models_lists_everything_despite_the_plugins(site):
    start = time.monotonic()
    proc = _run(site, ["-c", "import sys; from dt1d.cli import main; sys.exit(main(['models']))"])
    assert time.monotonic() - start < 60
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert "[population]" in lines["hostile_fine"] and "linear" in lines
    for name in PLUGINS:
        assert "unavailable: RegistrationError" in lines[f"hostile_{name}"]
