"""Validation of the mechanistic twin on simulated people, where the truth is known.

Small versions of ``benchmarks/mechanistic_validation.py``: parameter recovery on a
patient built from the twin's own structure, and held-out forecasts on shipped virtual
patients simulated by dt1d.physiology (random meals, AR(1) CGM noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _mech_testdata import ar1_noise, meal_plan, simulate_virtual

from dt1d.data import make_target, validate
from dt1d.metrics import rmse
from dt1d.models.baselines import LinearModel, PersistenceModel
from dt1d.models.mechanistic import MechanisticModel
from dt1d.models.mechanistic import _fit as _mech_fit
from dt1d.models.mechanistic import _kernels as K
from dt1d.models.mechanistic import _priors as _mech_priors

NOISE_SD = 8.0


def test_recovers_known_parameters_within_their_uncertainty() -> None:
    layout = _mech_fit.make_layout("adult", 3)
    base = _mech_priors.base_vector("adult")
    rng = np.random.default_rng(11)
    # a plausible person, in prior SDs: basal glucose, Vmx, kp3, kabs, kmax, p2u, ksc, kp2,
    # Vm0, meal delay, three window deviations
    z_true = np.array([0.3, 0.3, -0.3, 0.4, -0.3, 0.3, -0.3, 0.2, -0.2, 0.3, 0.5, -0.4, 0.2])
    assert layout.size == len(z_true)
    weight, basal_u_per_min = 80.0, 0.022
    pw, x0 = _mech_fit.model_from_z(z_true, layout, base, weight, basal_u_per_min)
    days = 4
    carbs, bolus = meal_plan(days, rng, 10.0)
    index = pd.date_range("2026-03-02", periods=days * 288, freq="5min", name="time")
    win = MechanisticModel._windows(index, 0, 5)
    truth = np.empty(len(index))
    insulin = bolus + basal_u_per_min * 5
    delay = _mech_fit.meal_delay_of(z_true, layout)
    # the truth at 1-minute RK4 steps, the fit at 2.5 minutes
    K.replay(pw, win, x0, _mech_fit.delay_rows(carbs, delay, 5), insulin, 5, 5, truth)
    assert 70 < truth.min() and truth.max() < 250  # a plausible person
    glucose = truth + ar1_noise(len(index), rng, NOISE_SD, 0.8)
    record = validate(pd.DataFrame({"glucose": glucose, "carbs": carbs, "insulin": insulin},
                                   index=index))
    model = MechanisticModel(body_weight_kg=weight, basal_u_per_h=basal_u_per_min * 60).fit(record)
    sd = np.sqrt(np.diag(model.theta_cov_))
    inside = np.abs(model.theta_ - z_true) <= 1.96 * sd
    assert inside.mean() >= 0.75, (layout.names, model.theta_, z_true, sd)
    assert 0.8 * NOISE_SD <= model.fit_report_["rmse_mg_dl"] <= 1.2 * NOISE_SD
    # the replay is close to the noise-free truth
    assert rmse(truth, model.fitted_glucose_) < 0.6 * NOISE_SD


@pytest.mark.parametrize("patient", ["adult#003", "adolescent#007"])
def test_held_out_forecasts_beat_persistence_and_linear(patient: str) -> None:
    record, _, params = simulate_virtual(patient, days=6, seed=5)
    train, test = record.iloc[: 4 * 288], record.iloc[4 * 288 :]
    y = make_target(train, [30, 60])
    truth = make_target(test, [30, 60]).to_numpy()
    twin = MechanisticModel(body_weight_kg=params.body_weight_kg,
                            age_group=patient.split("#")[0], n_starts=2).fit(train, y)
    scores = {}
    for name, model in (("twin", twin), ("persistence", PersistenceModel().fit(train, y)),
                        ("linear", LinearModel().fit(train, y))):
        pred = model.predict(test)
        scores[name] = np.array([rmse(truth[:, j], pred[:, j]) for j in range(2)])
    assert (scores["twin"] < scores["persistence"]).all(), scores
    assert (scores["twin"] < scores["linear"]).all(), scores
