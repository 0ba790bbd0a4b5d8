"""Virtual cohorts and the counterfactual validation protocol at a small size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dt1d.validation import (
    WHAT_IFS,
    bergman_cohort,
    check_targets,
    format_report,
    hovorka_cohort,
    run_protocol,
)
from dt1d.validation.protocol import make_record, true_what_if


@pytest.fixture(scope="module")
def cohorts():
    return {"hovorka": hovorka_cohort(3, seed=1), "bergman": bergman_cohort(3, seed=1)}


@pytest.mark.parametrize("model", ["hovorka", "bergman"])
def test_cohort_patients_are_plausible_and_at_steady_state(cohorts, model):
    patients = cohorts[model]
    assert len({p.name for p in patients}) == 3
    for p in patients:
        assert 110.0 <= p.fasting_mg_dl <= 130.0
        assert p.steady_glucose_mg_dl() == pytest.approx(p.fasting_mg_dl, abs=1e-6)
        assert 0.3 <= p.basal_u_per_h <= 3.0 and 3.0 <= p.carb_ratio_g_per_u <= 40.0
        assert 50.0 <= p.body_weight_kg <= 110.0
    assert len({round(p.basal_u_per_h, 6) for p in patients}) == 3  # people differ


def test_cohorts_are_seeded():
    a, b = hovorka_cohort(2, seed=5), hovorka_cohort(2, seed=5)
    assert [p.params for p in a] == [p.params for p in b]
    assert hovorka_cohort(2, seed=6)[0].params != a[0].params
    with pytest.raises(ValueError, match="n must be >= 1"):
        bergman_cohort(0)


@pytest.mark.parametrize("model", ["hovorka", "bergman"])
def test_meals_raise_glucose_like_a_person_with_t1d(cohorts, model):
    """A 60 g meal: without insulin a rise of 40+ mg/dL within 3 h; with its bolus a
    moderate excursion (under 150 mg/dL either way); the bolus alone lowers glucose."""
    for p in cohorts[model]:
        n = 360
        carbs, bolus = np.zeros(n), np.zeros(n)
        carbs[0] = 60.0
        bare = p.simulate(carbs, bolus, p.basal_u_per_h)["interstitial"]
        assert bare[:180].max() - p.fasting_mg_dl > 40.0, p.name
        bolus[0] = 60.0 / p.carb_ratio_g_per_u
        g = p.simulate(carbs, bolus, p.basal_u_per_h)["interstitial"]
        assert np.abs(g - p.fasting_mg_dl).max() < 150.0, p.name
        assert np.all(g <= bare + 1e-9)
        carbs[0] = 0.0
        assert p.simulate(carbs, bolus, p.basal_u_per_h)["interstitial"].min() < p.fasting_mg_dl - 10


def test_record_and_true_what_ifs(cohorts):
    patient = cohorts["bergman"][0]
    record, truth = make_record(patient, 1.0, seed=3)
    assert len(record) == 288 and record["carbs"].sum() > 100.0
    assert np.allclose(record["insulin"], record["bolus"] + record["basal"])
    np.testing.assert_allclose(record["basal"], patient.basal_u_per_h * 5 / 60)
    noise = record["glucose"].to_numpy() - truth
    assert 3.0 < np.std(noise) < 30.0  # CGM noise is on
    inputs = [record[c].to_numpy() for c in ("carbs", "bolus", "basal")]
    np.testing.assert_allclose(true_what_if(patient, *inputs), truth)
    # fasting on the steady basal: the truth stays at the fasting glucose
    fasting = true_what_if(patient, *inputs, WHAT_IFS["fasting"])
    np.testing.assert_allclose(fasting, patient.fasting_mg_dl, atol=1e-6)
    later = true_what_if(patient, *inputs, WHAT_IFS["meal +1 h"])
    first = int(np.flatnonzero(inputs[0])[0])
    assert later[first + 6] < truth[first + 6]  # bolus acts, meal not yet there
    with pytest.raises(ValueError, match="multiple of 5"):
        true_what_if(patient, *inputs, {"meal_shift_min": 7})


def test_the_protocol_runs_and_scores_at_a_small_size(cohorts):
    patients = {m: c[:1] for m, c in cohorts.items()}
    results = pd.concat([run_protocol(p, days=1.0, seed=2, n_starts=1, model=m,
                                      what_ifs=["fasting", "bolus x1.2"])
                         for m, p in patients.items()], ignore_index=True)
    assert len(results) == 4 and results.select_dtypes("number").notna().all().all()
    bolus = results[results["what_if"] == "bolus x1.2"]
    assert (bolus["d_mean_true"] < 0).all() and (bolus["d_mean_twin"] < 0).all()
    assert (results["mard"] < 40).all()
    targets = check_targets(results)
    assert {t["model"] for t in targets} == {"hovorka", "bergman"}
    assert all(isinstance(t["passed"], bool) for t in targets)
    text = format_report(results)
    assert "## bolus x1.2" in text and "## Targets (issue 18)" in text
    assert text.count("| hovorka | hovorka#") == 3  # the fit row and one row per what-if
    with pytest.raises(ValueError, match="unknown what-ifs"):
        run_protocol(patients["hovorka"], what_ifs=["skip lunch"])


def test_check_targets_can_fail():
    rows = []
    for k in range(8):
        rows.append({"model": "m", "patient": k, "what_if": "fasting", "mean_twin": 150.0,
                     "mean_true": 120.0, "d_mean_twin": 0.0, "d_mean_true": 0.0,
                     "d_tbr70_true": 0.0, "d_tbr70_twin": 0.0, "mard": 20.0})
        rows.append({"model": "m", "patient": k, "what_if": "basal x1.2", "mean_twin": 100.0,
                     "mean_true": 100.0, "d_mean_twin": -10.0 if k < 2 else -20.0,
                     "d_mean_true": -20.0, "d_tbr70_true": 6.0, "d_tbr70_twin": 1.0,
                     "mard": 5.0})
    got = {t["target"]: t["passed"] for t in check_targets(pd.DataFrame(rows))}
    assert got["fasting: mean abs. error <= 10 mg/dL"] is False
    assert got["basal x1.2: change in mean within 25 % + 3"] is False  # 6 of 8
    assert got["hypo: true gain >= 3 points -> twin >= half"] is False
    assert got["hypo: true gain < 1 point -> twin < 5"] is True
    assert got["MARD < 10 % in every what-if (cohort mean)"] is False
