"""PatientParams: validation, layouts, and the CSV identities of simglucose's cohort."""

from pathlib import Path

import attrs
import numpy as np
import pytest

from dt1d.physiology import kernels as K
from dt1d.physiology.params import (
    N_PARAMS,
    P_BW,
    P_U2SS,
    P_VG,
    PARAM_FIELDS,
    PatientParams,
    load_patient_params,
    patient_names,
    reference_initial_state,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "physiology_parameters.md"


def test_cohort_has_30_named_patients():
    names = patient_names()
    assert len(names) == 30
    assert names[0] == "adolescent#001" and names[-1] == "child#010"


def test_parameter_vector_layout_round_trips():
    p = load_patient_params("adult#001")
    v = p.to_array()
    assert v.shape == (N_PARAMS,) and v.dtype == np.float64
    assert v[P_BW] == p.body_weight_kg and v[P_VG] == p.vg_dl_per_kg
    assert v[P_U2SS] == p.u2ss_pmol_per_kg_min
    back = PatientParams.from_array(v, name=p.name, carb_ratio_g_per_u=p.carb_ratio_g_per_u,
                                    correction_factor_mg_dl_per_u=p.correction_factor_mg_dl_per_u,
                                    age_years=p.age_years,
                                    total_daily_insulin_u=p.total_daily_insulin_u)
    assert back == p


def test_quest_therapy_values_are_loaded():
    p = load_patient_params("child#001")
    assert p.carb_ratio_g_per_u == 25 and p.correction_factor_mg_dl_per_u == pytest.approx(42.72,
                                                                                           abs=0.01)


def test_bad_value_names_the_field_and_unit():
    p = load_patient_params("adult#001")
    with pytest.raises(ValueError, match=r"kabs_per_min.*1/min"):
        attrs.evolve(p, kabs_per_min=-1.0)
    with pytest.raises(ValueError, match="b_frac"):
        attrs.evolve(p, b_frac=1.5)
    with pytest.raises(ValueError, match="vg_dl_per_kg"):
        attrs.evolve(p, vg_dl_per_kg=float("nan"))


def test_evolve_makes_a_variant_without_touching_the_original():
    p = load_patient_params("adult#001")
    q = attrs.evolve(p, vmx_mg_per_kg_min_per_pmol_per_l=2 * p.vmx_mg_per_kg_min_per_pmol_per_l)
    assert q != p and p == load_patient_params("adult#001")


@pytest.mark.parametrize("name", patient_names())
def test_basal_steady_state_matches_the_csv_initial_state(name):
    # simglucose's CSV x0 is the basal equilibrium (MODEL_NOTES section 6 identities)
    p = load_patient_params(name)
    ref = reference_initial_state(name)
    x = p.basal_state()
    np.testing.assert_allclose(x, ref, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", ["adolescent#001", "adult#005", "child#010"])
def test_steady_state_from_glucose_is_an_equilibrium_and_inverts_basal(name):
    p = load_patient_params(name)
    v = p.to_array()
    ref = reference_initial_state(name)
    x, ins = K.steady_state_from_glucose(v, ref[3] / p.vg_dl_per_kg)
    assert ins == pytest.approx(p.basal_insulin_u_per_min, rel=1e-9)
    np.testing.assert_allclose(x, ref, rtol=1e-8, atol=1e-8)
    for glucose in (90.0, 120.0, 180.0):
        x, ins = K.steady_state_from_glucose(v, glucose)
        assert x[3] / p.vg_dl_per_kg == pytest.approx(glucose)
        dx = K.derivatives(x, v, 0.0, ins, 0.0)
        assert np.abs(dx).max() < 1e-9
        # and the insulin-driven steady state at that rate lands on the same glucose
        y = K.steady_state_from_insulin(v, ins)
        assert y[3] / p.vg_dl_per_kg == pytest.approx(glucose, rel=1e-9)


def test_impossible_steady_state_gives_nan():
    v = load_patient_params("adult#001").to_array()
    # renal excretion caps glucose: even without insulin it cannot stay at 2000 mg/dL
    for glucose in (2000.0, 0.0, -10.0):
        x, ins = K.steady_state_from_glucose(v, glucose)
        assert np.isnan(x).all() and np.isnan(ins)


def test_every_parameter_is_documented_with_unit_and_source():
    text = DOCS.read_text()
    for a in attrs.fields(PatientParams):
        if "unit" in a.metadata:
            assert a.metadata["meaning"] and a.metadata["source"]
            assert f"`{a.name}`" in text, a.name
    assert len(PARAM_FIELDS) == N_PARAMS
