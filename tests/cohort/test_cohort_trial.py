"""simulate_trial over fitted mechanistic twins (serial backend)."""

from __future__ import annotations

import pandas as pd
import pytest
from _cohort_helpers import cohort, records_by_id

from dt1d.cohort import fit_twins, simulate_trial
from dt1d.core.twin import CapabilityError

SCENARIOS = {"usual": {}, "bolus +30%": {"bolus_scale": 1.3}, "late dinner": {"meal_shift_min": 60}}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    records = cohort(2, days=1)
    out = tmp_path_factory.mktemp("twins")
    table = fit_twins(records, "mechanistic", {"body_weight_kg": 70.0, "n_starts": 1},
                      backend="serial", out_dir=out, keep_twins=True)
    assert (table["status"] == "ok").all(), table["reason"].tolist()
    return records, table


def test_trial_stacks_each_twins_what_if_replays(fitted):
    records, table = fitted
    trial = simulate_trial(table, SCENARIOS, records, backend="serial")
    assert trial.attrs["failures"] == []
    assert trial.columns[:2].tolist() == ["patient_id", "scenario"]
    assert trial.index.name == "time"
    by_id = records_by_id(records)
    for row in table.itertuples():
        for name, kwargs in SCENARIOS.items():
            part = trial[(trial["patient_id"] == row.patient_id) & (trial["scenario"] == name)]
            direct = row.twin.simulate(by_id[row.patient_id], **kwargs)
            pd.testing.assert_frame_equal(part.drop(columns=["patient_id", "scenario"]), direct)
    # more bolus insulin lowers the mean simulated glucose of every twin
    means = trial.groupby(["patient_id", "scenario"])["glucose"].mean().unstack()
    assert (means["bolus +30%"] < means["usual"]).all()


def test_trial_from_twin_files_equals_trial_from_objects(fitted):
    records, table = fitted
    from_objects = simulate_trial(table, SCENARIOS, records, backend="serial")
    from_files = simulate_trial(dict(zip(table["patient_id"], table["path"], strict=True)),
                                SCENARIOS, records, backend="serial")
    pd.testing.assert_frame_equal(from_files, from_objects)


def test_a_failing_scenario_is_listed_and_the_others_run(fitted):
    records, table = fitted
    trial = simulate_trial(table, {"usual": {}, "bad": {"bolus_scale": -1.0}}, records, backend="serial")
    assert set(trial["scenario"]) == {"usual"}
    failures = trial.attrs["failures"]
    assert [(f["patient_id"], f["scenario"]) for f in failures] == [("p0", "bad"), ("p1", "bad")]
    assert "bolus_scale" in failures[0]["reason"]


def test_trial_refuses_twins_that_cannot_simulate_and_bad_arguments(fitted):
    records, _ = fitted
    linear = fit_twins(records, "linear", backend="serial")
    with pytest.raises(CapabilityError, match="cannot simulate"):
        simulate_trial(linear, SCENARIOS, records, backend="serial")
    _, table = fitted
    with pytest.raises(ValueError, match="pass records="):
        simulate_trial(table, SCENARIOS, backend="serial")
    with pytest.raises(TypeError, match="non-empty mapping"):
        simulate_trial(table, [{}], records, backend="serial")
    with pytest.raises(ValueError, match="no record for patient 'p1'"):
        simulate_trial(table, SCENARIOS, records[records["patient_id"] == "p0"], backend="serial")
    with pytest.raises(TypeError, match="DigitalTwin or a .dt1d path"):
        simulate_trial({"p0": 3}, SCENARIOS, records, backend="serial")
