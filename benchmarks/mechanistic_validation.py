"""Validation report of the mechanistic twin (issue 4): run ``python -m benchmarks.mechanistic_validation``.

Sections: (1) sensitivity and identifiability of the candidate parameters, (2) recovery
of known parameters on patients built from the twin's own structure, (3) held-out
forecasts on dt1d.sim virtual patients (fit 7 days, forecast 3; the twin with and
without its learned model-error correction, beside persistence and ``linear``), and the
same on the tuning patients, (4) the real ReplayBG record (fit day 1, forecast day 2),
(5) speed, (6) people on injections (MDI: the same patients on a pump and on glargine).

Figures of the last full run (mean RMSE vs CGM over the 7 held-out patients, 30 / 60 min):
twin 11.7 / 21.4 mg/dL, physics-only twin 13.4 / 24.0, linear 13.7 / 23.9, persistence
25.2 / 38.3; the twin beats linear and persistence for every held-out patient at both
horizons. Tuning patients: 10.7 / 18.1, 12.3 / 20.9, 12.2 / 19.9, 21.1 / 32.2. Real
record: day-1 replay 14.1 mg/dL, MARD 5.7 %; day 2 twin 21.6 / 35.6, persistence
23.2 / 37.5, linear 23.5 / 41.0 (no correction: one day was too little). Speed: 1-day fit
0.26 s, 14-day fit 3.9 s CPU, 71,000 30-min forecasts per CPU second. Injections (9
patients, 3 days, seed 7): replay RMSE 0.96-1.17x the pump's, long-acting doses read as
boluses 1.07-1.92x worse. Prints a Markdown report (``--out`` writes
it to a file too). ``--quick`` shrinks every study. Threads: 1 (numba, BLAS).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
#: Patients of the held-out study (records seeded 100, 101, ...): none of them was used to
#: tune the Kalman filter or to design the model-error correction.
HELD_OUT = ("adult#001", "adult#005", "adult#009", "adolescent#001", "adolescent#006",
            "child#001", "child#008")
#: Tuning patients and their record seeds: the Kalman filter was tuned on the first four,
#: the model-error correction designed (features, penalty grid) on all eight.
TUNING = (("adult#002", 200), ("adolescent#004", 201), ("child#003", 202), ("adult#007", 203),
          ("child#005", 204), ("adolescent#009", 205), ("child#010", 206), ("adult#004", 207))
#: Candidate parameters screened by the sensitivity analysis: kernel-vector field names.
CANDIDATES = ("vmx_mg_per_kg_min_per_pmol_per_l", "kp3_mg_per_kg_min_per_pmol_per_l",
              "kabs_per_min", "kmax_per_min", "f_frac", "p2u_per_min", "ksc_per_min",
              "kp2_per_min", "vm0_mg_per_kg_min", "ki_per_min", "kd_per_min", "ka2_per_min",
              "kmin_per_min", "b_frac", "d_frac", "k1_per_min", "k2_per_min")


def _standard_day(days: int = 1):
    """Carbs and insulin per 5-min row of a plain day: 50/70/80 g meals with boluses."""
    n = 288 * days
    carbs = np.zeros(n)
    for d in range(days):
        for hour, grams in ((7.5, 50.0), (12.5, 70.0), (19.0, 80.0)):
            carbs[d * 288 + int(hour * 12)] = grams
    return carbs, carbs / 10.0


def sensitivity_table(age_group: str = "adult") -> pd.DataFrame:
    """Glucose sensitivity to each candidate, per prior SD, and its collinearity with the rest."""
    from dt1d.models.mechanistic import _fit as _mech_fit
    from dt1d.models.mechanistic import _kernels as K
    from dt1d.models.mechanistic import _priors as _mech_priors
    from dt1d.physiology.params import PARAM_FIELDS

    base = _mech_priors.base_vector(age_group)
    group = _mech_priors._group_matrix(age_group)
    carbs, bolus = _standard_day()
    basal = 0.02
    insulin = bolus + basal * 5
    n = len(carbs)
    win = np.zeros(n, np.int64)

    def run(p: np.ndarray, gb: float = 140.0) -> np.ndarray:
        p = p.copy()
        p[0] = 75.0
        x0 = _mech_fit.equilibrate(p, basal, gb)
        out = np.empty(n)
        K.replay(np.ascontiguousarray(p[None, :]), win, x0, carbs, insulin, 5, 2, out)
        return out

    ref = run(base)
    cols: dict[str, np.ndarray] = {}
    eps = 0.05
    for field in CANDIDATES:
        i = PARAM_FIELDS.index(field)
        sd = float(np.log(group[:, i]).std(ddof=1)) or 0.1  # f is 0.9 for everyone
        p = base.copy()
        p[i] *= np.exp(eps * sd)
        cols[field] = (run(p) - ref) / eps  # mg/dL per prior SD
    cols["basal_glucose (EGP_b)"] = (run(base, 140.0 * np.exp(eps * 0.4)) - ref) / eps
    S = pd.DataFrame(cols)
    chosen = ["vmx_mg_per_kg_min_per_pmol_per_l", "kp3_mg_per_kg_min_per_pmol_per_l",
              "kabs_per_min", "kmax_per_min", "p2u_per_min", "ksc_per_min", "kp2_per_min",
              "vm0_mg_per_kg_min", "basal_glucose (EGP_b)"]

    def gamma(names: list[str]) -> float:
        A = S[names].to_numpy()
        norms = np.linalg.norm(A, axis=0)
        if (norms == 0).any():
            return float("inf")  # a parameter without any effect is not identifiable
        A = A / norms
        return float(1.0 / np.sqrt(max(np.linalg.eigvalsh(A.T @ A).min(), 1e-300)))

    rows = []
    for name in S.columns:
        others = [c for c in chosen if c != name]
        rows.append({
            "parameter": name,
            "rms_sensitivity_mg_dl_per_sd": float(np.sqrt(np.mean(S[name] ** 2))),
            "chosen": name in chosen,
            "collinearity_with_chosen": gamma(others + [name]),
        })
    table = pd.DataFrame(rows).sort_values("rms_sensitivity_mg_dl_per_sd", ascending=False)
    table.attrs["gamma_chosen"] = gamma(chosen)
    return table


def recovery_study(n_people: int, days: int, seed: int = 0) -> pd.DataFrame:
    """Fit people built from the twin's structure with known parameters (AR(1) noise, 8 mg/dL)."""
    from dt1d.data import validate
    from dt1d.metrics import rmse
    from dt1d.models.mechanistic import MechanisticModel
    from dt1d.models.mechanistic import _fit as _mech_fit
    from dt1d.models.mechanistic import _kernels as K
    from dt1d.models.mechanistic import _priors as _mech_priors

    layout = _mech_fit.make_layout("adult", 3)
    base = _mech_priors.base_vector("adult")
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n_people:
        z_true = np.clip(rng.normal(0.0, 0.4, layout.size), -1.0, 1.0)
        pw, x0 = _mech_fit.model_from_z(z_true, layout, base, 80.0, 0.022)
        carbs = np.zeros(days * 288)
        for d in range(days):
            for hour, grams in ((7.5, 45.0), (12.5, 70.0), (19.0, 80.0)):
                carbs[d * 288 + int((hour * 60 + rng.normal(0, 30)) // 5)] = grams + rng.normal(0, 10)
        insulin = carbs / 10.0 * rng.uniform(0.8, 1.2, len(carbs)) + 0.022 * 5
        index = pd.date_range("2026-03-02", periods=len(carbs), freq="5min", name="time")
        win = MechanisticModel._windows(index, 0, 5)
        truth = np.empty(len(carbs))
        delay = _mech_fit.meal_delay_of(z_true, layout)
        K.replay(pw, win, x0, _mech_fit.delay_rows(carbs, delay, 5), insulin, 5, 5, truth)
        if not (60 < truth.min() and truth.max() < 300):
            continue  # not a plausible person on this meal plan
        e = np.zeros(len(carbs))
        for k in range(1, len(e)):
            e[k] = 0.8 * e[k - 1] + rng.normal(0, 8.0 * 0.6)
        record = validate(pd.DataFrame({"glucose": truth + e, "carbs": carbs, "insulin": insulin},
                                       index=index))
        model = MechanisticModel(body_weight_kg=80.0, basal_u_per_h=0.022 * 60).fit(record)
        sd = np.sqrt(np.diag(model.theta_cov_))
        rows.append({
            "person": len(rows) + 1,
            "inside_95pct": float(np.mean(np.abs(model.theta_ - z_true) <= 1.96 * sd)),
            "fit_rmse_mg_dl": model.fit_report_["rmse_mg_dl"],
            "noise_sd_mg_dl": float(np.std(e)),
            "replay_vs_truth_rmse": rmse(truth, model.fitted_glucose_),
            "fit_s": model.fit_report_["seconds"],
        })
    return pd.DataFrame(rows)


def held_out_study(patients: tuple[str, ...], train_days: int, test_days: int,
                   seeds: tuple[int, ...] | None = None) -> pd.DataFrame:
    """dt1d.sim patients: fit ``train_days``, forecast ``test_days`` beside the baselines.

    Seeds of the simulated records: ``seeds``, by default 100, 101, ... (the held-out set).
    """
    from dt1d import sim
    from dt1d.data import make_target
    from dt1d.metrics import rmse
    from dt1d.models.baselines import LinearModel, PersistenceModel
    from dt1d.models.mechanistic import MechanisticModel

    rows = []
    for i, name in enumerate(patients):
        p = sim.virtual_patient(name)
        seed = 100 + i if seeds is None else seeds[i]
        rec = sim.simulate(p, "random", days=train_days + test_days, seed=seed)
        train, test = rec.iloc[: train_days * 288], rec.iloc[train_days * 288 :]
        y = make_target(train, [30, 60])
        y_cgm = make_target(test, [30, 60]).to_numpy()
        y_true = make_target(test.assign(glucose=test["glucose_true_sc"]), [30, 60]).to_numpy()
        twin = MechanisticModel(body_weight_kg=p.body_weight_kg, age_group=name.split("#")[0])
        start = time.process_time()
        twin.fit(train, y)
        fit_s = time.process_time() - start
        twin.set_params(error_correction=False)
        physics = twin.predict(test)  # the same fit without the learned correction
        twin.set_params(error_correction=True)
        for label, model in (("mechanistic", twin), ("mechanistic_physics_only", physics),
                             ("persistence", PersistenceModel().fit(train, y)),
                             ("linear", LinearModel().fit(train, y))):
            pred = model if isinstance(model, np.ndarray) else model.predict(test)
            rows.append({"patient": name, "model": label,
                         "rmse30_cgm": rmse(y_cgm[:, 0], pred[:, 0]),
                         "rmse60_cgm": rmse(y_cgm[:, 1], pred[:, 1]),
                         "rmse30_true": rmse(y_true[:, 0], pred[:, 0]),
                         "rmse60_true": rmse(y_true[:, 1], pred[:, 1]),
                         "fit_cpu_s": fit_s if label == "mechanistic" else np.nan})
    return pd.DataFrame(rows)


def real_study() -> dict[str, float]:
    """Fit day 1 of the real record, replay it, forecast day 2 beside the baselines."""
    from dt1d.data import make_target, read_replaybg
    from dt1d.metrics import mard, rmse
    from dt1d.models.baselines import LinearModel, PersistenceModel
    from dt1d.models.mechanistic import MechanisticModel

    day1 = read_replaybg(REAL / "data_day_1.csv")
    day2 = read_replaybg(REAL / "data_day_2.csv")
    y1 = make_target(day1, [30, 60])
    twin = MechanisticModel(body_weight_kg=100.0, basal_u_per_h=0.2440484700275897 * 6.0)
    start, cpu = time.perf_counter(), time.process_time()
    twin.fit(day1, y1)
    out = {"fit_wall_s": time.perf_counter() - start, "fit_cpu_s": time.process_time() - cpu}
    replay = twin.simulate(day1)
    out["replay_rmse"] = rmse(day1["glucose"], replay["glucose"])
    out["replay_mard"] = mard(day1["glucose"], replay["glucose"])
    both = pd.concat([day1, day2])
    y = make_target(both, [30, 60]).to_numpy()
    on2 = np.arange(len(both)) >= len(day1)
    for label, model in (("mechanistic", twin), ("persistence", PersistenceModel().fit(day1, y1)),
                         ("linear", LinearModel().fit(day1, y1))):
        pred = model.predict(both)
        out[f"{label}_rmse30"] = rmse(y[on2, 0], pred[on2, 0])
        out[f"{label}_rmse60"] = rmse(y[on2, 1], pred[on2, 1])
    twin.set_params(error_correction=False)
    pred = twin.predict(both)  # the same fit without the learned correction
    twin.set_params(error_correction=True)
    out["mechanistic_physics_only_rmse30"] = rmse(y[on2, 0], pred[on2, 0])
    out["mechanistic_physics_only_rmse60"] = rmse(y[on2, 1], pred[on2, 1])
    out["horizons_corrected"] = float(sum(a is not None for a in twin.fit_report_["correction"]["alpha"]))
    out.update({f"param_{k}": v for k, v in twin.params_.items()})
    return out


def speed_study() -> dict[str, float]:
    """CPU seconds of MAP fits (1 and 14 days) and 30-minute forecasts per CPU second."""
    from dt1d.data import make_target
    from dt1d.models.mechanistic import MechanisticModel
    from dt1d.testing import make_synthetic_record

    record = make_synthetic_record(days=14, seed=2)
    kw = {"body_weight_kg": 70.0, "basal_u_per_h": 1.0}
    MechanisticModel(**kw, n_starts=1).fit(record.iloc[:144]).predict(record.iloc[:24])
    out = {}
    for days in (1, 14):
        cpu = []
        for _ in range(3):
            start = time.process_time()
            MechanisticModel(**kw).fit(record.iloc[: days * 288])
            cpu.append(time.process_time() - start)
        out[f"fit_{days}d_cpu_s"] = min(cpu)
    model = MechanisticModel(**kw, n_starts=1).fit(record.iloc[:288], make_target(record.iloc[:288], 30))
    model.predict(record.iloc[:12])
    cpu = []
    for _ in range(3):
        start = time.process_time()
        model.predict(record)
        cpu.append(time.process_time() - start)
    out["forecasts_30min_per_cpu_s"] = len(record) / min(cpu)
    return out


#: Patients of the injections study (records seeded 7).
MDI_PATIENTS = ("adult#001", "adult#002", "adult#003", "adolescent#001", "adolescent#002",
                "adolescent#003", "child#001", "child#002", "child#003")


def mdi_study(patients: tuple[str, ...] = MDI_PATIENTS, days: int = 3,
              seed: int = 7) -> pd.DataFrame:
    """Replay RMSE of twins of the same patients on a pump, on injections, and doses as boluses.

    Each patient is simulated twice with the same meals and sensor noise: on a pump, and on
    injections (its daily basal need as one glargine dose at 22:00). "as boluses" fits the
    injections record with the long-acting doses moved into ``insulin`` (``long_acting=None``,
    ``basal_u_per_h`` = daily dose / 24). One start, no error correction, true body weight.
    """
    import warnings

    from dt1d import sim
    from dt1d.metrics import rmse
    from dt1d.models.mechanistic import MechanisticModel

    truth = ["glucose_true_sc", "glucose_true_plasma"]
    rows = []
    for name in patients:
        p = sim.virtual_patient(name)
        mdi = sim.simulate(p, "random", days=days, seed=seed, long_acting="glargine")
        pump = sim.simulate(p, "random", days=days, seed=seed)
        daily = float(mdi["long_acting_insulin"].sum()) / days
        bolus = mdi.drop(columns="long_acting_insulin")
        bolus["insulin"] = bolus["bolus"] = mdi["insulin"] + mdi["long_acting_insulin"]
        row: dict[str, object] = {"patient": name}
        for label, rec, kw in (("pump", pump, {}), ("injections", mdi, {}),
                               ("as_boluses", bolus,
                                {"long_acting": None, "basal_u_per_h": daily / 24.0})):
            twin = MechanisticModel(body_weight_kg=p.body_weight_kg, age_group=name.split("#")[0],
                                    n_starts=1, error_correction=False, **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                twin.fit(rec.drop(columns=truth))
            replay = twin.simulate(rec.drop(columns=truth))["glucose"].to_numpy()
            row[f"{label}_rmse_cgm"] = rmse(rec["glucose"].to_numpy(), replay)
            row[f"{label}_rmse_true"] = rmse(rec["glucose_true_sc"].to_numpy(), replay)
        row["injections_over_pump"] = row["injections_rmse_cgm"] / row["pump_rmse_cgm"]
        row["boluses_over_injections"] = row["as_boluses_rmse_cgm"] / row["injections_rmse_cgm"]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Run every study and print the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small studies (a smoke run)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    import numba

    numba.set_num_threads(1)
    parts = ["# Mechanistic twin: validation report\n"]
    sens = sensitivity_table()
    parts += ["## 1. Sensitivity and identifiability (adult base patient, standard day)\n",
              sens.to_markdown(index=False, floatfmt=".3g"),
              f"\nCollinearity index of the chosen set: {sens.attrs['gamma_chosen']:.3g}\n"]
    rec = recovery_study(2 if args.quick else 6, 3 if args.quick else 4)
    parts += ["## 2. Recovery of known parameters\n", rec.to_markdown(index=False, floatfmt=".3g"),
              f"\nMean fraction inside the 95 % interval: {rec['inside_95pct'].mean():.2f}\n"]
    patients = HELD_OUT[:2] if args.quick else HELD_OUT
    held = held_out_study(patients, 3 if args.quick else 7, 1 if args.quick else 3)
    metrics = ["rmse30_cgm", "rmse60_cgm", "rmse30_true", "rmse60_true"]
    summary = held.groupby("model")[metrics].mean()
    parts += ["## 3. Held-out forecasts on dt1d.sim patients\n", held.to_markdown(index=False, floatfmt=".3g"),
              "\nMean over patients:\n", summary.to_markdown(floatfmt=".3g"), ""]
    tuning = TUNING[:2] if args.quick else TUNING
    tuned = held_out_study(tuple(t[0] for t in tuning), 3 if args.quick else 7,
                           1 if args.quick else 3, tuple(t[1] for t in tuning))
    parts += ["## 3b. The same on the tuning patients (not held out)\n",
              tuned.to_markdown(index=False, floatfmt=".3g"), "\nMean over patients:\n",
              tuned.groupby("model")[metrics].mean().to_markdown(floatfmt=".3g"), ""]
    if REAL.is_dir():
        real = real_study()
        parts += ["## 4. Real record (ReplayBG example)\n",
                  pd.Series(real).to_frame("value").to_markdown(floatfmt=".4g"), ""]
    parts += ["## 5. Speed (one thread)\n",
              pd.Series(speed_study()).to_frame("value").to_markdown(floatfmt=".4g"), ""]
    mdi = mdi_study(MDI_PATIENTS[:2] if args.quick else MDI_PATIENTS)
    parts += ["## 6. People on injections (replay RMSE, mg/dL)\n",
              mdi.to_markdown(index=False, floatfmt=".3g")]
    report = "\n".join(parts) + "\n"
    sys.stdout.write(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
