"""numba kernels: tanh, equilibrium, batch == single bit for bit, properties, cache fallback."""

import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dt1d.physiology import kernels as K
from dt1d.physiology.batch import CHUNK, rk4_batch, rk4_batch_serial
from dt1d.physiology.params import load_patient_params, patient_names


def test_arithmetic_tanh_matches_math_tanh():
    for z in np.concatenate([np.linspace(-30, 30, 6001), [0.0, 1e-12, -1e-12, 19.99, 20.01]]):
        assert abs(K.tanh(z) - math.tanh(z)) < 1e-14


def _run(ps, xs, carbs, insulin, eat_rate=5.0, record_every=1, kernel=rk4_batch_serial):
    n = xs.shape[1]
    p = np.ascontiguousarray(ps)
    x = np.ascontiguousarray(xs.copy())
    meal = np.ascontiguousarray(np.stack([K.new_meal_state(x[:, j]) for j in range(n)], 1))
    m = carbs.shape[0]
    out = np.empty((m // record_every + 1, 13, n))
    eaten = np.empty((m // record_every, n))
    status = np.full(n, -1, dtype=np.int64)
    bad = np.zeros((13, n))
    kernel(p, x, meal, np.ascontiguousarray(carbs), np.ascontiguousarray(insulin), eat_rate,
           1, record_every, out, eaten, status, bad)
    assert (status < 0).all()
    return out, eaten


def test_all_30_patients_stay_at_basal_for_24_hours():
    pts = [load_patient_params(n) for n in patient_names()]
    P = np.stack([p.to_array() for p in pts], 1)
    X = np.stack([p.basal_state() for p in pts], 1)
    insulin = np.tile([p.basal_insulin_u_per_min for p in pts], (1440, 1))
    out, _ = _run(P, X, np.zeros((1440, 30)), insulin, record_every=60, kernel=rk4_batch)
    for j, p in enumerate(pts):
        dx = K.derivatives(X[:, j], P[:, j].copy(), 0.0, p.basal_insulin_u_per_min, 0.0)
        assert np.abs(dx).max() < 1e-9
        drift = np.abs(out[:, :, j] - X[:, j]).max(axis=0) / np.maximum(np.abs(X[:, j]), 1.0)
        assert drift.max() < 1e-9, p.name


def _cohort(n, seed):
    rng = np.random.default_rng(seed)
    names = patient_names()
    pts = [load_patient_params(names[int(i)]) for i in rng.integers(0, 30, n)]
    P = np.stack([p.to_array() for p in pts], 1)
    P *= rng.uniform(0.9, 1.1, P.shape)  # distinct patients in every lane
    P[4:7] = np.minimum(P[4:7], 0.99)  # keep fractions valid
    X = np.stack([p.basal_state() for p in pts], 1)
    carbs = np.zeros((600, n))
    for j in range(n):
        carbs[rng.integers(0, 300), j] = rng.uniform(10, 90)
    insulin = np.tile([p.basal_insulin_u_per_min for p in pts], (600, 1))
    insulin[rng.integers(0, 600, n), np.arange(n)] += rng.uniform(0, 6, n)
    return P, X, carbs, insulin


@settings(deadline=None, max_examples=8)
@given(st.integers(0, 2**32 - 1), st.integers(1, 2 * CHUNK + 5))
@example(seed=9, n=10)  # lane 5 once differed by one ulp (FMA contraction in vector vs tail)
@example(seed=39, n=33)
@example(seed=37, n=69)
def test_batch_kernel_equals_single_patient_runs_bit_for_bit(seed, n):
    """Parallel chunks of vectorised lanes == each patient alone on the serial kernel.

    Guaranteed by compiling the kernels without FMA contraction (``kernels.FASTMATH``):
    every lane, in the vectorised loop body or the scalar remainder, does the same IEEE
    operations, so a patient's result is independent of its lane and of the batch size.
    """
    P, X, carbs, insulin = _cohort(n, seed)
    out, eaten = _run(P, X, carbs, insulin, kernel=rk4_batch)  # parallel chunks
    for j in range(n):
        o1, e1 = _run(P[:, j:j + 1], X[:, j:j + 1], carbs[:, j:j + 1], insulin[:, j:j + 1])
        assert np.array_equal(o1[:, :, 0], out[:, :, j]), j
        assert np.array_equal(e1[:, 0], eaten[:, j])


def test_rk4_step_and_batch_agree():
    P, X, carbs, insulin = _cohort(1, 2)
    out, _ = _run(P, X, carbs, insulin, eat_rate=np.inf)
    x = X[:, 0].copy()
    meal = K.new_meal_state(x)
    p = P[:, 0].copy()
    for k in range(carbs.shape[0]):
        e, dbar = K.meal_minute(meal, carbs[k, 0], x[0] + x[1], np.inf)
        x = K.rk4_step(x, p, e, insulin[k, 0], dbar, 1.0)
    assert np.array_equal(x, out[-1, :, 0])


_meals = st.lists(st.tuples(st.integers(0, 1000), st.floats(0, 150)), max_size=3)


def _inputs(name, meals, bolus_scale):
    p = load_patient_params(name)
    carbs = np.zeros(1440)
    insulin = np.full(1440, p.basal_insulin_u_per_min)
    for minute, grams in meals:
        carbs[minute] += grams
        insulin[minute] += bolus_scale * grams / p.carb_ratio_g_per_u
    return p, carbs, insulin


@settings(deadline=None, max_examples=25)
@given(st.sampled_from(patient_names()), _meals, st.floats(0.0, 1.5))
def test_glucose_stays_finite_and_non_negative(name, meals, bolus_scale):
    p, carbs, insulin = _inputs(name, meals, bolus_scale)
    out, _ = _run(p.to_array()[:, None], p.basal_state()[:, None], carbs[:, None],
                  insulin[:, None])
    g = out[:, [3, 12], 0]
    assert np.isfinite(out).all() and (g >= 0).all()


@settings(deadline=None, max_examples=25)
@given(st.sampled_from(patient_names()), _meals, st.floats(0.0, 1.2),
       st.lists(st.tuples(st.integers(0, 1439), st.floats(0, 5)), min_size=1, max_size=3))
def test_more_insulin_never_gives_higher_glucose(name, meals, bolus_scale, extra):
    p, carbs, insulin = _inputs(name, meals, bolus_scale)
    more = insulin.copy()
    for minute, units in extra:
        more[minute] += units
    P, X = p.to_array()[:, None], p.basal_state()[:, None]
    low, _ = _run(P, X, carbs[:, None], insulin[:, None])
    high, _ = _run(P, X, carbs[:, None], more[:, None])
    for i in (3, 12):  # plasma and subcutaneous glucose
        assert (high[:, i, 0] <= low[:, i, 0] + 1e-6).all()


def test_import_works_without_any_writable_cache_dir(tmp_path):
    """numba refuses cache=True when nothing is writable; the kernels must still load."""
    pkg = tmp_path / "pkg" / "dt1d"
    src = Path(K.__file__).resolve().parent
    shutil.copytree(src, pkg / "physiology", ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "__init__.py").write_text("")
    shutil.copy(src.parent / "_numba.py", pkg / "_numba.py")  # the jit settings
    # a *file* named __pycache__ blocks the in-tree cache even for root
    (pkg / "physiology" / "__pycache__").write_text("")
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "pkg"), PYTHONDONTWRITEBYTECODE="1",
               NUMBA_CACHE_DIR=str(blocker / "numba"), XDG_CACHE_HOME=str(blocker / "xdg"),
               HOME=str(blocker / "home"))
    code = textwrap.dedent(f"""
        import logging
        logging.basicConfig(level=logging.WARNING)
        from dt1d.physiology import kernels
        assert kernels.__file__.startswith({str(tmp_path)!r}), kernels.__file__
        print(repr(kernels.tanh(0.5)))
    """)
    # cwd: not the checkout, whose dt1d/ would shadow the copy
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip()) == pytest.approx(math.tanh(0.5), abs=1e-14)
    assert "numba cache disabled" in res.stderr
