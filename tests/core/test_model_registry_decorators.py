"""``register_model`` kept, applied later, applied twice, in functions and threads (spec 7, 7b, 8).

A class statement registers from what the statement itself says: its class
keywords and its own decorator list. A ``register_model(...)`` result made by
another statement changes nothing until it is applied, and then it re-keys the
class it is applied to.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
import pytest

from dt1d.core import model_registry as mr
from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import (
    ModelNotFoundError,
    RegistrationError,
    RegistryMeta,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
)
from dt1d.core.twin import BaseModel


@pytest.fixture(autouse=True)
def _isolated_registry():
    with isolated():
        yield


class FitPredict:
    """A plain mixin with real fit/predict (not a model class itself)."""

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return np.zeros(len(X))


def names_of(cls: type) -> list[str]:
    target = f"{cls.__module__}.{cls.__qualname__}"
    return sorted(n for n, t in list_available_models().items() if t == target)


def passthrough(cls: type) -> type:
    """A decorator that is not register_model."""
    return cls


# -- stored and never used ------------------------------------------------------------
def test_stored_unused_decorator_leaves_next_class_with_name_keyword():
    deco = register_model("dec_later")
    class Unrelated(FitPredict, ParamsMixin, BaseModel, name="dec_unrelated"):  # noqa: E301
        pass

    assert get_model_class("dec_unrelated") is Unrelated
    assert not is_model_registered("dec_later")
    assert repr(deco).startswith("register_model('dec_later'")


def test_stored_unused_decorator_leaves_next_class_with_default_name():
    register_model("dec_never")  # result dropped
    class DecDefaultModel(FitPredict, ParamsMixin, BaseModel):  # noqa: E301
        pass

    assert get_model_class("dec_default") is DecDefaultModel
    assert not is_model_registered("dec_never")


def test_stored_decorator_does_not_leak_into_later_statements_of_the_frame():
    kept = [register_model(f"dec_kept_{i}") for i in range(3)]
    classes = []
    for i in range(3):
        classes.append(
            RegistryMeta(f"Loop{i}", (FitPredict, ParamsMixin, BaseModel), {}, name=f"dec_loop_{i}")
        )

    class DecAfterLoop(FitPredict, ParamsMixin, BaseModel):
        pass

    assert get_model_class("dec_after_loop") is DecAfterLoop
    assert all(not is_model_registered(f"dec_kept_{i}") for i in range(3))
    assert len(kept) == 3


# -- stored and applied later ---------------------------------------------------------
def test_stored_decorator_applied_later_rekeys_its_class():
    deco = register_model("dec_rekeyed", aliases=("dec_rekeyed_alias",))

    class DecPlainModel(FitPredict, ParamsMixin, BaseModel):
        pass

    assert names_of(DecPlainModel) == ["dec_plain"]
    assert deco(DecPlainModel) is DecPlainModel
    assert names_of(DecPlainModel) == ["dec_rekeyed", "dec_rekeyed_alias"]
    with pytest.raises(ModelNotFoundError):
        get_model_class("dec_plain")


def test_stored_decorator_used_with_at_sign_on_colliding_default_name():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_clash"):
        pass

    deco = register_model("dec_clash_renamed")

    @deco
    class DecClash(FitPredict, ParamsMixin, BaseModel):  # default name "dec_clash" is taken
        pass

    assert get_model_class("dec_clash") is Holder
    assert names_of(DecClash) == ["dec_clash_renamed"]


def test_plain_class_with_colliding_default_name_still_raises():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_taken"):
        pass

    deco = register_model("dec_unused")
    with pytest.raises(RegistrationError, match="dec_taken"):

        @passthrough
        class DecTaken(FitPredict, ParamsMixin, BaseModel):
            pass

    assert get_model_class("dec_taken") is Holder
    assert not is_model_registered("dec_unused")
    assert deco.names == ("dec_unused",)


# -- applied twice ---------------------------------------------------------------------
def test_two_register_model_decorators_outer_one_wins():
    @register_model("dec_outer")
    @register_model("dec_inner")
    class Twice(FitPredict, ParamsMixin, BaseModel):
        pass

    assert names_of(Twice) == ["dec_outer"]


def test_same_decorator_applied_twice_to_one_class_is_idempotent():
    deco = register_model("dec_again")

    @deco
    class Again(FitPredict, ParamsMixin, BaseModel):
        pass

    assert deco(Again) is Again
    assert names_of(Again) == ["dec_again"]


def test_same_decorator_applied_to_two_classes_refuses_the_second():
    deco = register_model("dec_shared")

    @deco
    class One(FitPredict, ParamsMixin, BaseModel):
        pass

    class Two(FitPredict, ParamsMixin, BaseModel, name="dec_two"):
        pass

    with pytest.raises(RegistrationError, match="overwrite=True"):
        deco(Two)
    assert get_model_class("dec_shared") is One
    assert names_of(Two) == ["dec_two"]


def test_register_model_among_other_decorators_and_by_module_attribute():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_mixed"):
        pass

    @passthrough
    @mr.register_model("dec_mixed_new")
    @functools.total_ordering
    class DecMixed(FitPredict, ParamsMixin, BaseModel):  # default name "dec_mixed" is taken
        def __lt__(self, other: Any) -> bool:
            return False

    assert get_model_class("dec_mixed") is Holder
    assert names_of(DecMixed) == ["dec_mixed_new"]


# -- with the class keyword name= -----------------------------------------------------
def test_decorator_name_wins_over_class_keyword_even_when_keyword_collides():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_kw_taken"):
        pass

    @register_model("dec_kw_decorator")
    class Both(FitPredict, ParamsMixin, BaseModel, name="dec_kw_taken"):
        pass

    assert get_model_class("dec_kw_taken") is Holder
    assert names_of(Both) == ["dec_kw_decorator"]


# -- inside functions, class bodies, exec ----------------------------------------------
def _define_in_function(decorator_name: str) -> type:
    deco = register_model(decorator_name)

    @deco
    class DecLocalModel(FitPredict, ParamsMixin, BaseModel):
        pass

    return DecLocalModel


def _unused_in_function() -> type:
    register_model("dec_fn_unused")

    class DecFnPlainModel(FitPredict, ParamsMixin, BaseModel):
        pass

    return DecFnPlainModel


def test_inside_functions():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_local"):
        pass

    local = _define_in_function("dec_local_renamed")
    assert names_of(local) == ["dec_local_renamed"]
    assert get_model_class("dec_local") is Holder
    plain = _unused_in_function()
    assert names_of(plain) == ["dec_fn_plain"]
    assert not is_model_registered("dec_fn_unused")


def test_inside_a_class_body_and_exec():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_nested"):
        pass

    class Outer:
        @register_model("dec_nested_renamed")
        class DecNested(FitPredict, ParamsMixin, BaseModel):
            pass

    assert names_of(Outer.DecNested) == ["dec_nested_renamed"]
    namespace: dict[str, Any] = {"mr": mr, "base": (FitPredict, ParamsMixin, BaseModel)}
    exec(
        "d = mr.register_model('dec_exec_later')\n"
        "class DecExecModel(*base, name='dec_exec'):\n"
        "    pass\n"
        "@mr.register_model('dec_nested_exec')\n"
        "class DecNested(*base):\n"
        "    pass\n",
        namespace,
    )
    assert names_of(namespace["DecExecModel"]) == ["dec_exec"]
    assert names_of(namespace["DecNested"]) == ["dec_nested_exec"]
    assert not is_model_registered("dec_exec_later")


def test_derived_metaclass_keeps_the_decorator_rules():
    class Meta(RegistryMeta):
        def __new__(mcls, name, bases, ns, /, **kwargs):
            return super().__new__(mcls, name, bases, ns, **kwargs)

    class Holder(FitPredict, ParamsMixin, BaseModel, name="dec_meta"):
        pass

    @register_model("dec_meta_renamed")
    class DecMeta(FitPredict, ParamsMixin, BaseModel, metaclass=Meta):
        pass

    register_model("dec_meta_unused")

    class DecMetaPlainModel(FitPredict, ParamsMixin, BaseModel, metaclass=Meta):
        pass

    assert names_of(DecMeta) == ["dec_meta_renamed"]
    assert names_of(DecMetaPlainModel) == ["dec_meta_plain"]


# -- in threads -----------------------------------------------------------------------
def test_in_threads_kept_decorators_do_not_cross_statements():
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []
    made: dict[int, tuple[type, type]] = {}

    def work(i: int) -> None:
        try:
            deco = register_model(f"dec_thread_later_{i}")
            barrier.wait()
            cls_plain = _thread_plain(i)
            barrier.wait()
            made[i] = (cls_plain, deco(_thread_decorated(i)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(n):
        plain, decorated = made[i]
        assert names_of(plain) == [f"dec_thread_plain_{i}"]
        assert names_of(decorated) == [f"dec_thread_later_{i}"]


def _thread_plain(i: int) -> type:
    class Plain(FitPredict, ParamsMixin, BaseModel, name=f"dec_thread_plain_{i}"):
        __qualname__ = f"Plain{i}"

    return Plain


def _thread_decorated(i: int) -> type:
    class Decorated(FitPredict, ParamsMixin, BaseModel, name=f"dec_thread_first_{i}"):
        __qualname__ = f"Decorated{i}"

    return Decorated
