"""simulate_trial over virtual patients of dt1d.sim (serial backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dt1d.cohort import simulate_trial
from dt1d.sim import Scenario, simulate

MEALS = Scenario.daily([(7, 45), (12, 70), (19, 80)])
BIG_LUNCH = Scenario.daily([(7, 45), (12, 120), (19, 80)])


def _part(trial: pd.DataFrame, pid: str, scenario: str) -> pd.DataFrame:
    mask = (trial["patient_id"] == pid) & (trial["scenario"] == scenario)
    return trial[mask].drop(columns=["patient_id", "scenario"])


def test_noise_free_trial_equals_direct_simulations():
    scenarios = {
        "usual": {"scenario": MEALS, "sensor": None},
        "big lunch": {"scenario": BIG_LUNCH, "sensor": None},
    }
    trial = simulate_trial(["adult#001", "child#002"], scenarios, days=1, backend="serial")
    assert trial.attrs["failures"] == []
    assert trial.columns[:2].tolist() == ["patient_id", "scenario"]
    for pid in ("adult#001", "child#002"):
        for name, kwargs in scenarios.items():
            direct = simulate(pid, kwargs["scenario"], days=1, sensor=None)
            pd.testing.assert_frame_equal(_part(trial, pid, name), direct)
    lunch = trial.between_time("12:00", "16:00")
    means = lunch.groupby(["patient_id", "scenario"])["glucose"].mean().unstack()
    assert (means["big lunch"] > means["usual"]).all()


def test_each_patient_keeps_its_sensor_noise_across_scenarios():
    trial = simulate_trial(["adult#003", "adult#004"], {"a": MEALS, "b": MEALS, "c": BIG_LUNCH},
                           days=1, seed=11, backend="serial")
    noise = trial["glucose"] - trial["glucose_true_sc"]
    a3 = noise[(trial["patient_id"] == "adult#003") & (trial["scenario"] == "a")].to_numpy()
    b3 = noise[(trial["patient_id"] == "adult#003") & (trial["scenario"] == "b")].to_numpy()
    a4 = noise[(trial["patient_id"] == "adult#004") & (trial["scenario"] == "a")].to_numpy()
    np.testing.assert_array_equal(a3, b3)  # same patient, same inputs: same record
    assert not np.allclose(a3, a4)  # another patient: other noise
    other_seed = simulate_trial(["adult#003"], {"a": MEALS}, days=1, seed=12, backend="serial")
    assert not np.array_equal(other_seed["glucose"].to_numpy(), trial["glucose"].to_numpy()[: len(other_seed)])


def test_an_unknown_patient_or_bad_scenario_is_listed_and_the_rest_run():
    trial = simulate_trial(["adult#001", "adult#999"], {"usual": MEALS, "bad": {"days": -1}},
                           days=1, backend="serial")
    assert set(zip(trial["patient_id"], trial["scenario"], strict=True)) == {("adult#001", "usual")}
    failures = {(f["patient_id"], f["scenario"]): f["reason"] for f in trial.attrs["failures"]}
    assert "UnknownPatientError" in failures[("adult#999", None)]
    assert "days" in failures[("adult#001", "bad")]
