"""Re-definition, reload and class rebuilds: behaviours 14-16 of shared/spec/registry.md."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import attrs
import cloudpickle
import numpy as np
import pytest

from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import (
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
    unregister_model,
)
from dt1d.core.twin import BaseModel

LOGGER = "dt1d.core.model_registry"

MODEL_SOURCE = """
import numpy as np
from dt1d.core.base import ParamsMixin
from dt1d.core.twin import BaseModel


class RerunModel(ParamsMixin, BaseModel, name="{name}"):
    version = {version}

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def fit(self, X, y=None, **kwargs):
        self.fitted_ = True
        return self

    def predict(self, X, **kwargs):
        return np.full(len(X), self.scale * self.version)
"""


@pytest.fixture(autouse=True)
def _isolated_registry():
    with isolated():
        yield


def _level_counts(records: list[logging.LogRecord]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for record in records:
        if record.name == LOGGER:
            counts[record.levelno] = counts.get(record.levelno, 0) + 1
    return counts


# -- b14 ----------------------------------------------------------------------------------
def test_b14_rerunning_a_class_statement_replaces_silently(caplog):
    namespace: dict[str, Any] = {"__name__": "b14_notebook"}
    exec(compile(MODEL_SOURCE.format(name="b14_cell", version=1), "<cell-1>", "exec"), namespace)
    first = namespace["RerunModel"]
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        exec(
            compile(MODEL_SOURCE.format(name="b14_cell", version=2), "<cell-2>", "exec"), namespace
        )
    second = namespace["RerunModel"]
    assert second is not first
    assert get_model_class("b14_cell") is second
    assert list(list_available_models().values()).count("b14_notebook.RerunModel") == 1
    counts = _level_counts(caplog.records)
    assert counts == {logging.DEBUG: 1}, counts  # no WARNING, no ERROR, one DEBUG


def test_b14_importlib_reload_replaces_silently(tmp_path, monkeypatch, caplog):
    module_name = f"b14_reload_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{module_name}.py"
    path.write_text(MODEL_SOURCE.format(name="b14_reloaded", version=1))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module(module_name)
        assert get_model_class("b14_reloaded").version == 1
        path.write_text(MODEL_SOURCE.format(name="b14_reloaded", version=2))
        importlib.invalidate_caches()
        with caplog.at_level(logging.DEBUG, logger=LOGGER):
            module = importlib.reload(module)
        cls = get_model_class("b14_reloaded")
        assert cls is module.RerunModel and cls.version == 2
        assert cls().fit([1]).predict([1, 2]).tolist() == [2.0, 2.0]
        assert _level_counts(caplog.records) == {logging.DEBUG: 1}
    finally:
        sys.modules.pop(module_name, None)


def test_b14_rerun_of_decorated_class_keeps_decorator_name():
    source = textwrap.dedent(
        """
        from dt1d.core.model_registry import register_model
        from dt1d.core.base import ParamsMixin
        from dt1d.core.twin import BaseModel

        @register_model("b14_decorated")
        class Decorated(ParamsMixin, BaseModel):
            def fit(self, X, y=None, **kwargs):
                return self

            def predict(self, X, **kwargs):
                return [0.0] * len(X)
        """
    )
    namespace: dict[str, Any] = {"__name__": "b14_nb2"}
    exec(source, namespace)
    exec(source, namespace)
    assert get_model_class("b14_decorated") is namespace["Decorated"]
    assert not is_model_registered("decorated")


# -- b15 ----------------------------------------------------------------------------------
def test_b15_attrs_slotted_model_registered_once_as_final_class():
    @attrs.define(slots=True)
    class AttrsModel(BaseModel, name="b15_attrs", aliases=("b15_attrs_alias",)):
        alpha: float = 1.0

        def fit(self, X, y=None, **kwargs):
            return self

        def predict(self, X, **kwargs):
            return np.full(len(X), self.alpha)

        def get_params(self, deep=True):
            return {"alpha": self.alpha}

        def set_params(self, **params):
            return attrs.evolve(self, **params)

    assert "__slots__" in vars(AttrsModel)  # attrs built a second, slotted class
    assert get_model_class("b15_attrs") is AttrsModel
    assert get_model_class("b15_attrs_alias") is AttrsModel  # class keywords survived
    listed = list(list_available_models().values())
    assert listed.count(f"{__name__}.{AttrsModel.__qualname__}") == 2  # name + alias, once each
    assert AttrsModel(alpha=2.0).predict([0, 0]).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("decorator_outermost", [True, False])
def test_b15_attrs_with_register_model_in_either_order(decorator_outermost):
    def body(ns: dict[str, Any]) -> None:
        ns["__annotations__"] = {"alpha": float}
        ns["alpha"] = 1.0

    class Methods:
        def fit(self, X, y=None, **kwargs):
            return self

        def predict(self, X, **kwargs):
            return np.zeros(len(X))

    if decorator_outermost:

        @register_model("b15_ordered")
        @attrs.define(slots=True)
        class Ordered(Methods, ParamsMixin, BaseModel):
            alpha: float = 1.0

    else:

        @attrs.define(slots=True)
        @register_model("b15_ordered")
        class Ordered(Methods, ParamsMixin, BaseModel):
            alpha: float = 1.0

    assert get_model_class("b15_ordered") is Ordered
    assert "__slots__" in vars(Ordered)
    assert not is_model_registered("ordered")
    assert list(list_available_models().values()).count(f"{__name__}.{Ordered.__qualname__}") == 1


# -- b16 ----------------------------------------------------------------------------------
def _make_local_model(name: str) -> type:
    class LocalModel(ParamsMixin, BaseModel, name=name):
        def __init__(self, offset: float = 0.0):
            self.offset = offset

        def fit(self, X, y=None, **kwargs):
            self.mean_ = float(np.mean(X))
            return self

        def predict(self, X, **kwargs):
            return np.full(len(X), self.mean_ + self.offset)

    return LocalModel


def test_b16_class_defined_in_function_registers_and_unregisters():
    cls = _make_local_model("b16_local")
    assert get_model_class("b16_local") is cls
    assert "<locals>" in list_available_models()["b16_local"]
    assert unregister_model("b16_local") is True
    assert not is_model_registered("b16_local")


def test_b16_type_call_does_not_break_and_is_not_auto_registered():
    before = list_available_models()
    namespace = {
        "fit": lambda self, X, y=None, **kw: self,
        "predict": lambda self, X, **kw: np.zeros(len(X)),
    }
    Dynamic = type(BaseModel)("Dynamic", (ParamsMixin, BaseModel), namespace)
    Skeleton = type(BaseModel)("Skeleton", (BaseModel,), {})  # incomplete, like a skeleton
    assert list_available_models() == before
    assert Dynamic().fit([1]).predict([1, 2]).tolist() == [0.0, 0.0]
    with pytest.raises(TypeError):
        Skeleton()  # still an abstract class
    register_model("b16_dynamic")(Dynamic)
    assert get_model_class("b16_dynamic") is Dynamic


def test_b16_cloudpickle_round_trip_in_process_keeps_registry():
    cls = _make_local_model("b16_pickled")
    model = cls(offset=1.0).fit([1.0, 3.0])
    before = list_available_models()
    clone = cloudpickle.loads(cloudpickle.dumps(model))
    again = cloudpickle.loads(cloudpickle.dumps(cls))
    assert list_available_models() == before
    assert get_model_class("b16_pickled") is cls is again
    assert clone.predict([0, 0]).tolist() == [3.0, 3.0]


def test_b16_cloudpickle_by_value_reconstruction_in_fresh_process(tmp_path):
    cls = _make_local_model("b16_shipped")
    payload = tmp_path / "model.pkl"
    payload.write_bytes(cloudpickle.dumps(cls(offset=0.5).fit([2.0, 4.0])))
    code = textwrap.dedent(
        f"""
        import pickle, json
        import dt1d
        from dt1d.core.model_registry import list_available_models
        with open({str(payload)!r}, "rb") as fh:
            model = pickle.load(fh)
        print(json.dumps({{
            "prediction": model.predict([0, 0, 0]).tolist(),
            "class": type(model).__qualname__,
            "registered": "b16_shipped" in list_available_models(),
        }}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["prediction"] == [3.5, 3.5, 3.5]
    assert result["class"].endswith("LocalModel")
    # Reconstructed classes are not auto-registered (documented): only class statements are.
    assert result["registered"] is False
