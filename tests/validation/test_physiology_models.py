"""The Hovorka and Bergman simulators against closed forms and published facts.

References that do not come from the simulators themselves: the steady state solved
from the model equations, the closed-form response of the linear insulin and gut
subsystems (a gamma-shaped absorption convolved with first-order elimination, or
``scipy.linalg.expm`` of the linear system), the glucose mass balance of a meal, and the
published times to peak (Hovorka et al. 2004: s.c. insulin absorption peaks at
``tmaxI`` = 55 min, gut absorption at ``tmaxG`` = 40 min; Kanderian et al. 2009: plasma
insulin peaks near tau1 ~ tau2 ~ 48 min).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from dt1d.validation.bergman import BERGMAN_NOMINAL, BergmanPatient
from dt1d.validation.hovorka import HOVORKA_NOMINAL, MG_DL_PER_MMOL_L, HovorkaPatient

DAY = 1440


def _inputs(n: int, meal_at: int | None = None, grams: float = 0.0, bolus_at: int | None = None,
            units: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    carbs, bolus = np.zeros(n), np.zeros(n)
    if meal_at is not None:
        carbs[meal_at] = grams
    if bolus_at is not None:
        bolus[bolus_at] = units
    return carbs, bolus


@pytest.mark.parametrize("cls", [HovorkaPatient, BergmanPatient])
@pytest.mark.parametrize("target", [110.0, 125.0])
def test_the_solved_basal_rate_holds_the_target_glucose_for_a_day(cls, target):
    patient = cls(name="p", body_weight_kg=70.0).at_fasting_glucose(target)
    assert 0.1 < patient.basal_u_per_h < 3.0
    assert patient.steady_glucose_mg_dl() == pytest.approx(target, abs=1e-6)
    carbs, bolus = _inputs(DAY)
    out = patient.simulate(carbs, bolus, patient.basal_u_per_h)
    for trace in ("plasma", "interstitial"):
        assert np.max(np.abs(out[trace] - target)) < 1e-6
    # less basal insulin: a higher fasting level, reached by the simulation too
    lower = patient.steady_glucose_mg_dl(0.8 * patient.basal_u_per_h)
    assert lower > target
    long = patient.simulate(np.zeros(2 * DAY), np.zeros(2 * DAY), 0.8 * patient.basal_u_per_h)
    assert long["plasma"][-1] == pytest.approx(lower, rel=0.02)


def test_bergman_steady_state_is_the_closed_form():
    p = BERGMAN_NOMINAL
    patient = BergmanPatient(name="p", body_weight_kg=70.0).at_fasting_glucose(120.0)
    ip = patient.basal_u_per_h * 1e6 / 60.0 / p["ci"]  # uU/mL
    assert p["egp"] / (p["gezi"] + p["si"] * ip) == pytest.approx(120.0)
    # Kanderian et al. (2009): the nominal person needs about 1.3 U/h at 120 mg/dL
    assert 1.0 < patient.basal_u_per_h < 1.7


def test_hovorka_plasma_insulin_after_a_bolus_is_the_closed_form():
    """I(t) - Ib = (B a^2 / VI) e^{-ke t} (1 - e^{-ct}(1 + ct)) / c^2, a = 1/tmaxI, c = a - ke."""
    patient = HovorkaPatient(name="p", body_weight_kg=70.0).at_fasting_glucose(120.0)
    p = HOVORKA_NOMINAL
    n = 600
    carbs, bolus = _inputs(n, bolus_at=0, units=5.0)
    out = patient.simulate(carbs, bolus, patient.basal_u_per_h)["insulin_mu_l"]
    t = np.arange(n, dtype=float)
    a, ke = 1.0 / p["tmax_i"], p["ke"]
    c = a - ke
    dose = 5.0 * 1000.0 / 70.0  # mU/kg
    expected = out[0] + dose * a**2 / p["vi"] * np.exp(-ke * t) * (
        1.0 - np.exp(-c * t) * (1.0 + c * t)) / c**2
    np.testing.assert_allclose(out, expected, rtol=2e-3, atol=0.02)
    # the absorption rate peaks at tmaxI = 55 min; plasma insulin a little later
    assert 55 < int(np.argmax(out)) < 75


def test_bergman_insulin_chain_is_the_matrix_exponential():
    patient = BergmanPatient(name="p", body_weight_kg=70.0).at_fasting_glucose(120.0)
    p = BERGMAN_NOMINAL
    n = 480
    carbs, bolus = _inputs(n, bolus_at=0, units=4.0)
    out = patient.simulate(carbs, bolus, patient.basal_u_per_h)["insulin_mu_l"]
    # Isc, Ip above basal are linear: d/dt [Isc, Ip, Ieff] = A [Isc, Ip, Ieff]
    a = np.array([[-1 / p["tau1"], 0.0, 0.0], [1 / p["tau2"], -1 / p["tau2"], 0.0],
                  [0.0, p["p2"] * p["si"], -p["p2"]]])
    x0 = np.array([4.0 * 1e6 / (p["tau1"] * p["ci"]), 0.0, 0.0])
    expected = np.array([(expm(a * t) @ x0)[1] for t in range(n)]) + out[0]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    peak = math.log(p["tau1"] / p["tau2"]) * p["tau1"] * p["tau2"] / (p["tau1"] - p["tau2"])
    assert abs(int(np.argmax(out)) - peak) <= 1  # about 48 min (Kanderian et al. 2009)


def test_hovorka_meal_mass_balance_and_absorption_shape():
    """Without insulin action, uptake or production, Q1 collects A_G D along the gamma curve."""
    params = dict(HOVORKA_NOMINAL, sit=0.0, sid=0.0, sie=0.0, egp0=0.0, f01=0.0)
    patient = HovorkaPatient(name="p", body_weight_kg=70.0, params=params, basal_u_per_h=1.0)
    n = 600
    carbs, bolus = _inputs(n, meal_at=0, grams=10.0)
    g = patient.simulate(carbs, bolus, 1.0)["plasma"]
    t = np.arange(n, dtype=float)
    tm = params["tmax_g"]
    total = params["ag"] * 10.0 * 1000.0 / 180.16 / 70.0 / params["vg"] * MG_DL_PER_MMOL_L
    expected = g[0] + total * (1.0 - np.exp(-t / tm) * (1.0 + t / tm))
    np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-3)
    # the rate of appearance peaks at tmaxG = 40 min
    assert int(np.argmax(np.diff(g))) in (39, 40)


def test_dalla_man_gut_delivers_f_times_the_meal():
    """Glucose with no uptake and no production integrates Ra / VG: f D / VG in the end."""
    params = dict(BERGMAN_NOMINAL, si=0.0, egp=0.0, gezi=1e-12)
    patient = BergmanPatient(name="p", body_weight_kg=70.0, params=params, basal_u_per_h=1.0)
    n = 900
    carbs, bolus = _inputs(n, meal_at=0, grams=50.0)
    g = patient.simulate(carbs, bolus, 1.0)["plasma"]
    assert g[-1] - g[0] == pytest.approx(0.9 * 50e3 / 70.0 / params["vg"], rel=1e-3)
    # Dalla Man et al. 2006: the rate of appearance of a mixed meal peaks in its first hour
    assert 10 <= int(np.argmax(np.diff(g))) <= 60


@pytest.mark.parametrize("cls", [HovorkaPatient, BergmanPatient])
def test_a_bolus_lowers_glucose_most_steeply_one_to_three_hours_after(cls):
    """Rapid-acting insulin's glucose-lowering effect peaks about 1-3 h after the dose."""
    patient = cls(name="p", body_weight_kg=70.0).at_fasting_glucose(150.0)
    n = 480
    carbs, bolus = _inputs(n, bolus_at=0, units=1.0)
    g = patient.simulate(carbs, bolus, patient.basal_u_per_h)["plasma"]
    assert 50 <= int(np.argmin(np.diff(g))) <= 180
    assert g[-1] < 150.0


def test_simulators_name_a_bad_input_shape():
    patient = HovorkaPatient(name="p", body_weight_kg=70.0)
    with pytest.raises(ValueError, match="bolus_u has shape"):
        patient.simulate(np.zeros(10), np.zeros(9), 1.0)
    with pytest.raises(ValueError, match="EGP / GEZI"):
        BergmanPatient(name="p", body_weight_kg=70.0).at_fasting_glucose(700.0)
