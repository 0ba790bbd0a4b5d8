"""Threads, logging and import cost: behaviours 25-28 of shared/spec/registry.md."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest

from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import (
    RegistrationError,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
    unregister_model,
)
from dt1d.core.twin import BaseModel

LOGGER = "dt1d.core.model_registry"
N_THREADS = 16


@pytest.fixture(autouse=True)
def _isolated_registry():
    with isolated():
        yield


class Base(ParamsMixin, BaseModel, abstract=True):
    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return np.zeros(len(X))


def _distinct_classes(prefix: str, n: int) -> list[type]:
    """n model classes with distinct qualified names (not auto-registered: made by type())."""
    classes = []
    for i in range(n):
        cls = type(BaseModel)(f"{prefix}{i}", (Base,), {"__module__": __name__})
        cls.__qualname__ = f"{prefix}{i}"
        classes.append(cls)
    return classes


def _run_threads(target, args_list) -> list[Any]:
    barrier = threading.Barrier(len(args_list))
    results: list[Any] = [None] * len(args_list)

    def worker(i: int, *args: Any) -> None:
        barrier.wait()
        try:
            results[i] = target(*args)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, *a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


# -- b25 ----------------------------------------------------------------------------------
def test_b25_threads_registering_distinct_names_lose_none():
    classes = _distinct_classes("Distinct", N_THREADS)
    args = [(f"b25_distinct_{i}", cls) for i, cls in enumerate(classes)]
    results = _run_threads(lambda name, cls: register_model(name)(cls), args)
    assert results == classes
    listed = list_available_models("b25_distinct_*")
    assert len(listed) == N_THREADS
    for name, cls in args:
        assert get_model_class(name) is cls


def test_b25_threads_registering_same_name_give_exactly_one_success():
    classes = _distinct_classes("Same", N_THREADS)
    results = _run_threads(lambda cls: register_model("b25_same")(cls), [(c,) for c in classes])
    winners = [r for r in results if isinstance(r, type)]
    losers = [r for r in results if isinstance(r, RegistrationError)]
    assert len(winners) == 1 and len(losers) == N_THREADS - 1
    assert get_model_class("b25_same") is winners[0]


def test_b25_threads_running_class_statements_lose_none():
    def define(i: int) -> type:
        namespace: dict[str, Any] = {"Base": Base, "__name__": f"b25_module_{i}"}
        exec(f"class Stmt(Base, name='b25_stmt_{i}'):\n    pass\n", namespace)
        return namespace["Stmt"]

    results = _run_threads(define, [(i,) for i in range(N_THREADS)])
    assert all(isinstance(r, type) for r in results), results
    assert sorted(list_available_models("b25_stmt_*")) == sorted(
        f"b25_stmt_{i}" for i in range(N_THREADS)
    )


# -- b26 ----------------------------------------------------------------------------------
def test_b26_reading_while_another_thread_writes_never_raises():
    classes = _distinct_classes("Churn", 8)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _round in range(60):
                for i, cls in enumerate(classes):
                    register_model(f"b26_churn_{i}", overwrite=True)(cls)
                for i in range(len(classes)):
                    unregister_model(f"b26_churn_{i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                listed = list_available_models()
                assert list(listed) == sorted(listed)
                for i in range(len(classes)):
                    name = f"b26_churn_{i}"
                    if is_model_registered(name):
                        try:
                            get_model_class(name)
                        except KeyError:  # removed between the two calls: allowed
                            pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []


# -- b27 ----------------------------------------------------------------------------------
def test_b27_logger_has_null_handler():
    logger = logging.getLogger(LOGGER)
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)


def test_b27_registration_logs_one_debug_record(caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):

        class Logged(Base, name="b27_logged"):
            pass

    records = [r for r in caplog.records if r.name == LOGGER]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "b27_logged" in records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):

        @register_model("b27_decorated", aliases=("b27_alias",))
        class Decorated(Base):
            pass

    assert [r.levelno for r in caplog.records if r.name == LOGGER] == [logging.DEBUG]


def test_b27_overwrite_logs_one_warning_naming_old_and_new(caplog):
    class Old(Base, name="b27_slot"):
        pass

    class New(Base, name="b27_new"):
        pass

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        register_model("b27_slot", overwrite=True)(New)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert Old.__qualname__ in message and New.__qualname__ in message


def test_b27_registry_never_prints(capsys):
    class Quiet(Base, name="b27_quiet"):
        pass

    register_model("b27_quiet2", overwrite=True)(Quiet)
    list_available_models()
    is_model_registered("b27_quiet2")
    unregister_model("b27_quiet2")
    with pytest.raises(KeyError):
        get_model_class("b27_missing")
    with pytest.raises(RegistrationError):
        register_model("persistence")(Quiet)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# -- b28 ----------------------------------------------------------------------------------
def test_b28_import_and_listing_do_not_import_torch():
    code = (
        "import json, sys, dt1d\n"
        "after_import = 'torch' in sys.modules\n"
        "listed = dt1d.list_available_models()\n"
        "known = dt1d.is_model_registered('lstm')\n"
        "print(json.dumps({'after_import': after_import, 'after_listing': 'torch' in sys.modules,\n"
        "                  'models': sorted(m for m in sys.modules if m.startswith('dt1d.models'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"after_import": False, "after_listing": False, "models": []}
