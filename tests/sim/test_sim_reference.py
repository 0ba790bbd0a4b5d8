"""simulate_inputs against simglucose 0.2.11's reference trajectories (tests/sim/reference)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.physiology.params import STATE_NAMES, reference_initial_state
from dt1d.sim import simulate_inputs, virtual_patient

REF = Path(__file__).parent / "reference"
CASES = [(name, rate) for name in ("adolescent#001", "adult#001", "child#001")
         for rate in (None, 5.0)]


def _reference(name: str, rate: float | None) -> pd.DataFrame:
    suffix = "" if rate is None else "_eatrate5"
    return pd.read_csv(REF / f"ref_{name}{suffix}.csv")


def _replay(name, rate, **kw):
    ref = _reference(name, rate)
    sim = simulate_inputs(virtual_patient(name), ref["cho_announced_g"].to_numpy()[:-1],
                          ref["insulin_U_per_min"].to_numpy()[:-1], eat_rate_g_per_min=rate,
                          initial_state=reference_initial_state(name), **kw)
    return ref, sim


def _state_errors(ref, sim):
    """Max |error| of each state relative to that state's range over the day."""
    r = ref[[f"x{i}" for i in range(13)]].to_numpy()
    s = sim[list(STATE_NAMES)].to_numpy()
    span = r.max(axis=0) - r.min(axis=0)
    err = np.abs(s - r).max(axis=0)
    return np.where(span > 0, err / np.where(span > 0, span, 1.0), err)


@pytest.mark.parametrize(("name", "rate"), CASES)
def test_rk4_one_minute_matches_simglucose(name, rate):
    ref, sim = _replay(name, rate)
    assert len(sim) == len(ref) == 1441
    # the meal logic reproduces what entered the ODE, minute by minute
    np.testing.assert_array_equal(sim["carbs_eaten_g"].to_numpy(), ref["cho_g_per_min"])
    assert np.abs(sim["glucose_sc_mg_dl"] - ref["Gsub_mg_dL"]).max() <= 0.02
    assert np.abs(sim["glucose_plasma_mg_dl"] - ref["BG_plasma_mg_dL"]).max() <= 0.02
    assert _state_errors(ref, sim).max() <= 1e-3


@pytest.mark.parametrize(("name", "rate"), CASES)
def test_adaptive_dopri_at_tight_tolerance_matches_simglucose(name, rate):
    ref, sim = _replay(name, rate, method="adaptive", rtol=1e-10, atol=1e-12)
    assert np.abs(sim["glucose_sc_mg_dl"] - ref["Gsub_mg_dL"]).max() <= 0.005
    assert np.abs(sim["glucose_plasma_mg_dl"] - ref["BG_plasma_mg_dL"]).max() <= 0.005
    assert _state_errors(ref, sim).max() <= 1e-4


def test_finer_rk4_steps_get_closer_to_the_reference():
    ref, coarse = _replay("child#001", None)
    _, fine = _replay("child#001", None, rk4_step_min=0.25)
    e_coarse = np.abs(coarse["glucose_sc_mg_dl"] - ref["Gsub_mg_dL"]).max()
    e_fine = np.abs(fine["glucose_sc_mg_dl"] - ref["Gsub_mg_dL"]).max()
    assert e_fine < e_coarse
