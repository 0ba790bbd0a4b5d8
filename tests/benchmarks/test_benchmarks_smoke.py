"""Run every asv benchmark once at quick size, so a broken benchmark fails CI.

This follows asv's conventions (``setup_cache``, ``setup``, ``params``,
``time_``/``timeraw_``/``track_``/``mem_``/``peakmem_`` prefixes) closely
enough to call each benchmark the way asv does, without asv's process
machinery. Timing figures come from ``asv run`` (see benchmarks/README.md).
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = ("time_", "timeraw_", "track_", "mem_", "peakmem_")


def _benchmark_modules() -> list[str]:
    return sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))


def _collect(module):
    """(owner, attribute name) for every benchmark in ``module``."""
    found = []
    for name, obj in vars(module).items():
        if inspect.isclass(obj) and obj.__module__ == module.__name__:
            for attr in dir(obj):
                if attr.startswith(PREFIXES) and callable(getattr(obj, attr)):
                    found.append((obj, attr))
        elif inspect.isfunction(obj) and name.startswith(PREFIXES) and obj.__module__ == module.__name__:
            found.append((None, name))
    return found


def _param_sets(owner, func):
    params = getattr(func, "params", None) or (getattr(owner, "params", None) if owner else None)
    if not params:
        return [()]
    if not isinstance(params[0], (list, tuple)):
        params = [params]
    return list(itertools.product(*params))


def _run_one(module, owner, attr, caches):
    instance = owner() if owner is not None else None
    func = getattr(instance, attr) if owner is not None else getattr(module, attr)
    raw = getattr(owner, attr) if owner is not None else func
    cache_args = ()
    setup_cache = getattr(owner, "setup_cache", None) if owner is not None else getattr(module, "setup_cache", None)
    if setup_cache is not None:
        key = (module.__name__, owner.__name__ if owner else None)
        if key not in caches:
            caches[key] = setup_cache(instance) if owner is not None else setup_cache()
        cache_args = (caches[key],)
    for combo in _param_sets(owner, raw):
        args = cache_args + tuple(combo)
        setup = getattr(instance, "setup", None) if owner is not None else getattr(module, "setup", None)
        if setup is not None:
            try:
                setup(*args)
            except NotImplementedError:
                continue  # asv's way of skipping a parameter combination
        try:
            if attr.startswith("timeraw_"):
                code = func(*args)
                if isinstance(code, tuple):
                    code, setup_code = code
                else:
                    setup_code = ""
                subprocess.run([sys.executable, "-c", f"{setup_code}\n{code}"], check=True, cwd=ROOT, timeout=300)
            else:
                result = func(*args)
                if attr.startswith("track_"):
                    assert result is not None, f"{attr} returned None"
        finally:
            teardown = getattr(instance, "teardown", None) if owner is not None else getattr(module, "teardown", None)
            if teardown is not None:
                teardown(*args)


@pytest.mark.slow
@pytest.mark.parametrize("module_name", _benchmark_modules())
def test_benchmark_module_runs_once(module_name, monkeypatch):
    monkeypatch.setenv("DT1D_BENCH_QUICK", "1")
    monkeypatch.syspath_prepend(str(ROOT))
    for mod in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        del sys.modules[mod]
    module = importlib.import_module(f"benchmarks.{module_name}")
    benchmarks = _collect(module)
    assert benchmarks, f"benchmarks/{module_name}.py defines no benchmark"
    caches: dict = {}
    for owner, attr in benchmarks:
        _run_one(module, owner, attr, caches)


def test_asv_config_is_valid_json_with_cpu_torch():
    import json

    conf = json.loads((ROOT / "asv.conf.json").read_text())
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["matrix"]["req"]["torch"] == ["2.13.0"]
    assert os.path.isfile(ROOT / "benchmarks" / "__init__.py")
