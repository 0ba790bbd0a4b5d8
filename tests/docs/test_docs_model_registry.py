"""The registry guide and the seed description's examples run, so neither can drift.

(a) docs/model_registry.md: its ```python blocks run in order in one namespace.
    A block whose first line is ``# file: some/path.py`` is a file the later
    blocks import: it is written under a temporary directory on ``sys.path``
    instead of being executed. Blocks flagged ``no-run`` are shown only.
(b) The examples of the original registry description (seed_model_registry.md,
    package ``digital_twin_t1d`` renamed ``dt1d``), copied here verbatim
    otherwise, run unchanged, including its ``MyAwesomeModel`` that assigns
    ``self.is_fitted`` and defines ``get_params(self)`` without ``deep``.

Everything runs inside ``isolated()`` so no example model leaks into other tests.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.core.model_registry import is_model_registered, isolated

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "model_registry.md"
FILE_MARK = re.compile(r"^#\s*file:\s*(?P<path>\S+)\s*$")
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")
EXAMPLE_PACKAGES = ("my_custom_models", "my_plugin_models")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first code line, code) of each runnable ```python block of a markdown text."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        info = match["info"].split()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(match["fence"]):
            end += 1
        if info[:1] == ["python"] and "no-run" not in info:
            blocks.append((i + 2, "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return blocks


@pytest.fixture
def example_dir(tmp_path, monkeypatch) -> Iterator[Path]:
    """A temporary, importable working directory; example packages are forgotten after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with isolated():
        yield tmp_path
    for name in [m for m in sys.modules if m.split(".")[0] in EXAMPLE_PACKAGES]:
        del sys.modules[name]


def _write(base: Path, relative: str, code: str) -> None:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(base).parents:
        init = base / parent / "__init__.py"
        if parent != Path(".") and not init.exists():
            init.write_text("")
    path.write_text(code)
    import importlib

    importlib.invalidate_caches()


def test_parser_finds_files_and_flags():
    text = (
        "```python\n# file: a/b.py\nx = 1\n```\n\n```python no-run\nboom\n```\n```toml\n[x]\n```\n"
    )
    assert python_blocks(text) == [(2, "# file: a/b.py\nx = 1\n")]


# -- (a) the guide ------------------------------------------------------------------------
def test_guide_examples_run_in_order(example_dir):
    blocks = python_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 12
    module = types.ModuleType("docs_model_registry_example")
    sys.modules[module.__name__] = module
    files = 0
    try:
        for line, code in blocks:
            first = code.splitlines()[0]
            mark = FILE_MARK.match(first)
            if mark:
                _write(example_dir, mark["path"], code)
                files += 1
                continue
            source = "\n" * (line - 1) + code  # tracebacks point at the page's lines
            exec(compile(source, str(GUIDE), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert files == 3
    # The custom model of the guide went through DigitalTwin for real.
    assert type(module.twin.model).__name__ == "MyAwesomeModel"
    assert module.twin.model.is_fitted


def test_guide_covers_the_required_topics():
    text = GUIDE.read_text(encoding="utf-8")
    for topic in (
        "register_model",
        "name=",
        "aliases=",
        "discover_models",
        "list_available_models",
        "dt1d.models",  # the entry-point group
        "DT1D_DISABLE_PLUGIN_AUTOLOAD",
        "unregister_model",
        "isolated()",
        "overwrite=True",
        "importlib.reload",
        "metaclass",
        'DigitalTwin(model_type="awesome_v1"',
    ):
        assert topic in text, topic


# -- (b) the seed's examples ----------------------------------------------------------------
SEED_MODEL = '''
# my_custom_models/my_awesome_model.py
from dt1d.core.model_registry import register_model
from dt1d.core.twin import BaseModel # Assuming your model inherits from BaseModel
import pandas as pd
import numpy as np

@register_model("awesome_v1")
class MyAwesomeModel(BaseModel):
    """
    A custom 'awesome_v1' model.
    This model should implement the BaseModel interface.
    """
    def __init__(self, param1: int = 10, param2: float = 0.5):
        self.param1 = param1
        self.param2 = param2
        self.is_fitted = False
        # ... other initializations

    def fit(self, X: pd.DataFrame, y: pd.Series, **kwargs) -> 'MyAwesomeModel':
        # Your model training logic here
        print(f"Fitting AwesomeModel with X_shape={X.shape}, y_shape={y.shape}, param1={self.param1}, param2={self.param2}")
        self.is_fitted = True
        return self

    def predict(self, X: pd.DataFrame, **kwargs) -> np.ndarray:
        if not self.is_fitted:
            raise RuntimeError("MyAwesomeModel has not been fitted yet.")
        # Your prediction logic here
        print(f"Predicting with AwesomeModel for X_shape={X.shape}")
        # Example: return a dummy prediction based on the number of input rows
        return np.random.rand(len(X))

    def get_params(self) -> dict:
        return {"param1": self.param1, "param2": self.param2}

    def set_params(self, **params) -> 'MyAwesomeModel':
        for key, value in params.items():
            if hasattr(self, key):
                setattr(self, key, value)
        return self

    # Potentially other BaseModel methods like save/load
'''

SEED_BUILTINS = """
# This import ensures models like 'lstm' are registered
import dt1d.models
"""

SEED_MAIN = """
# main_script.py

# 1. Import your custom model's module to register it
import my_custom_models.my_awesome_model

# 2. Now you can import and use DigitalTwin with your registered model
from dt1d.core import DigitalTwin
from dt1d.core.model_registry import list_available_models

# (Optional) Verify it's registered
print("Available models:", list_available_models())
# Expected output might include: {'awesome_v1': 'my_custom_models.my_awesome_model.MyAwesomeModel', ...}

# 3. Instantiate DigitalTwin with your registered model
try:
    twin = DigitalTwin(
        model_type="awesome_v1",  # Use the registered name
        model_params={"param1": 20, "param2": 0.75}
    )
    print("DigitalTwin instantiated with awesome_v1 successfully!")
    # Now you can use the twin, e.g., twin.fit(X_train, y_train), twin.predict(X_test)
except Exception as e:
    print(f"Error instantiating DigitalTwin: {e}")
"""

SEED_DISCOVER = """
from dt1d.core.model_registry import discover_models, list_available_models

discover_models("my_plugin_models")
# This would attempt to import all modules in my_plugin_models, registering them.

print(list_available_models())
"""

SEED_LISTING = """
from dt1d.core.model_registry import list_available_models

# Make sure models are imported/discovered first
import dt1d.models # For built-in models
import my_custom_models.my_awesome_model # For your custom model

available_models = list_available_models()
print(available_models)
"""

SEED_UNREGISTER = """
from dt1d.core.model_registry import unregister_model
unregistered = unregister_model("awesome_v1")
print(f"Model 'awesome_v1' unregistered: {unregistered}")
"""

SEED_IS_REGISTERED = """
from dt1d.core.model_registry import is_model_registered
is_present = is_model_registered("lstm")
print(f"Model 'lstm' is registered: {is_present}")
"""


def _record(rows: int = 30) -> pd.DataFrame:
    time = pd.date_range("2024-05-01", periods=rows, freq="5min", name="time")
    return pd.DataFrame(
        {"glucose": np.linspace(120.0, 150.0, rows), "carbs": 0.0, "insulin": 0.0}, index=time
    )


def test_seed_examples_run_unchanged(example_dir, capsys):
    _write(example_dir, "my_custom_models/my_awesome_model.py", SEED_MODEL)
    _write(example_dir, "my_plugin_models/__init__.py", "")  # the package the seed discovers
    namespace: dict = {"__name__": "seed_main_script"}
    for block in (SEED_BUILTINS, SEED_MAIN):
        exec(block, namespace)
    out = capsys.readouterr().out
    assert "DigitalTwin instantiated with awesome_v1 successfully!" in out
    assert "'awesome_v1': 'my_custom_models.my_awesome_model.MyAwesomeModel'" in out

    twin = namespace["twin"]
    assert (twin.model.param1, twin.model.param2) == (20, 0.75)
    assert twin.model.is_fitted is False  # assigned by the seed's own __init__
    record = _record()
    twin.fit(record)
    prediction = twin.predict(record)
    assert prediction.shape == (len(record),)
    assert np.all((prediction >= 0.0) & (prediction < 1.0))  # the seed's np.random.rand
    out = capsys.readouterr().out
    assert "Fitting AwesomeModel with X_shape=(30," in out and "y_shape=(30,)" in out
    # get_params() without `deep` is enough to rebuild and clone the model.
    copy = twin.model.clone()
    assert copy.get_params() == {"param1": 20, "param2": 0.75} and not copy.is_fitted

    for block in (SEED_DISCOVER, SEED_LISTING):
        exec(block, namespace)
    listed = namespace["available_models"]
    assert listed["awesome_v1"] == "my_custom_models.my_awesome_model.MyAwesomeModel"
    assert listed["mechanistic_uva_padova"] == "dt1d.models.mechanistic._model.MechanisticModel"
    assert listed["lstm"] == "dt1d.models.lstm._model.LSTMModel"

    capsys.readouterr()
    exec(SEED_UNREGISTER, namespace)
    exec(SEED_IS_REGISTERED, namespace)
    out = capsys.readouterr().out
    assert "Model 'awesome_v1' unregistered: True" in out
    assert "Model 'lstm' is registered: True" in out
    assert not is_model_registered("awesome_v1")
