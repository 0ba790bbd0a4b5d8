"""Property tests of the registry: a state machine against a plain dict, and name validation."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dt1d.core._registry_errors import normalize_name
from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import (
    ModelNotFoundError,
    RegistrationError,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
    unregister_model,
)
from dt1d.core.twin import BaseModel


class _Base(ParamsMixin, BaseModel, abstract=True):
    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return np.zeros(len(X))


def _make_classes(n: int) -> list[type]:
    classes = []
    for i in range(n):
        cls = type(BaseModel)(f"Machine{i}", (_Base,), {"__module__": __name__})
        cls.__qualname__ = f"Machine{i}"
        classes.append(cls)
    return classes


CLASSES = _make_classes(4)
# Includes names that differ only in case or '-'/'_' to exercise that rule too.
NAME_LIST = ["sm_a", "sm_b", "sm_c", "SM_A", "sm-b", "sm_d"]
NAMES = st.sampled_from(NAME_LIST)


class RegistryMachine(RuleBasedStateMachine):
    """Register / overwrite / unregister / look up, mirrored on a dict name -> class."""

    def __init__(self) -> None:
        super().__init__()
        self._context = isolated()
        self._context.__enter__()
        self.model: dict[str, type] = {}

    def teardown(self) -> None:
        self._context.__exit__(None, None, None)

    def _expected_register(self, name: str, cls: type, overwrite: bool) -> str:
        """'ok' or 'error', and the model's new state when 'ok'."""
        holder = self.model.get(name)
        if holder is not None and holder is not cls and not overwrite:
            return "error"
        for other, other_cls in self.model.items():
            if other_cls is cls:
                continue  # re-keying releases the class's own names
            if other != name and normalize_name(other) == normalize_name(name):
                return "error"
        return "ok"

    @rule(name=NAMES, index=st.integers(0, len(CLASSES) - 1), overwrite=st.booleans())
    def register(self, name: str, index: int, overwrite: bool) -> None:
        cls = CLASSES[index]
        expected = self._expected_register(name, cls, overwrite)
        if expected == "error":
            before = list_available_models()
            with pytest.raises(RegistrationError):
                register_model(name, overwrite=overwrite)(cls)
            assert list_available_models() == before
            return
        assert register_model(name, overwrite=overwrite)(cls) is cls
        self.model = {n: c for n, c in self.model.items() if c is not cls}
        self.model[name] = cls

    @rule(name=NAMES)
    def unregister(self, name: str) -> None:
        assert unregister_model(name) is (name in self.model)
        self.model.pop(name, None)

    @rule(name=NAMES)
    def lookup(self, name: str) -> None:
        assert is_model_registered(name) is (name in self.model)
        if name in self.model:
            assert get_model_class(name) is self.model[name]
        else:
            with pytest.raises(ModelNotFoundError):
                get_model_class(name)

    @invariant()
    def listing_matches(self) -> None:
        listed = {n: t for n, t in list_available_models().items() if n in NAME_LIST}
        assert listed == {n: f"{__name__}.{c.__qualname__}" for n, c in sorted(self.model.items())}


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


# -- name validation -----------------------------------------------------------------------
NON_STRINGS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(),
    st.tuples(st.text(max_size=3)),
    st.lists(st.text(max_size=3), max_size=2),
)


@given(NON_STRINGS)
def test_b12_property_non_string_names_raise_type_error(value):
    with pytest.raises(TypeError):
        register_model(value)
    with pytest.raises(TypeError):
        get_model_class(value)
    with pytest.raises(TypeError):
        unregister_model(value)


WHITESPACE = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003"])


@given(st.text(max_size=10), WHITESPACE, st.booleans())
def test_b12_property_padded_or_blank_names_raise_registration_error(core, pad, left):
    name = pad + core if left else core + pad
    with pytest.raises(RegistrationError):
        register_model(name)


@given(
    st.text(min_size=1, max_size=20).filter(
        lambda s: (
            s.strip() == s
            # control, format and other invisible characters are refused (issue 12)
            and not any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")
                        for c in s)
            and normalize_name(s) not in {normalize_name(k) for k in list_available_models()}
        )
    )
)
@settings(max_examples=60)
def test_b12_property_valid_names_round_trip(name):
    with isolated():
        cls = CLASSES[0]
        register_model(name)(cls)
        assert is_model_registered(name)
        assert get_model_class(name) is cls
        assert list_available_models()[name] == f"{__name__}.{cls.__qualname__}"
        assert unregister_model(name) is True
    assert not is_model_registered(name)
