"""The counterfactual validation protocol of issue 18: twin what-ifs against the truth.

For each virtual patient (:mod:`dt1d.validation.cohorts`): simulate a record (random
meals, boluses by the patient's carb ratio from mis-estimated carbs, the steady basal
rate, CGM noise of :class:`dt1d.sim.sensor.CGMSensor`), fit the mechanistic twin
(:class:`~dt1d.models.mechanistic.MechanisticModel`) to it, then replay the record under
each what-if of :data:`WHAT_IFS` through the twin (``MechanisticModel.simulate``) and
through the patient's own model with the same changed inputs. The twin's replay is
compared with the patient's noise-free interstitial glucose (what a perfect CGM would
read) on the record's 5-minute grid.

Measures per patient and what-if (:func:`run_protocol`): mean glucose, time below 70 and
54 mg/dL and above 180 mg/dL [% of time] of both, their changes from each side's
unchanged replay, the MARD [%] of the twin's changed trace against the true one and its
Clarke A+B [%] (the in-silico criterion of Hughes et al., J Diabetes Sci Technol
2021;15:1326: MARD under 10 % and over 95 % A+B). :func:`check_targets` scores the
targets of issue 18.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["WHAT_IFS", "check_targets", "format_report", "make_record", "run_protocol",
           "true_what_if"]

_STEP_MIN = 5
#: What-ifs as keyword arguments of ``MechanisticModel.simulate``.
WHAT_IFS: dict[str, dict[str, float]] = {
    "fasting": {"bolus_scale": 0.0, "carbs_scale": 0.0},
    "bolus x0.8": {"bolus_scale": 0.8},
    "bolus x1.2": {"bolus_scale": 1.2},
    "basal x0.8": {"basal_scale": 0.8},
    "basal x1.2": {"basal_scale": 1.2},
    "carbs x1.2": {"carbs_scale": 1.2},
    "meal +1 h": {"meal_shift_min": 60},
}
#: Meals of a day: (clock hour, mean grams, SD grams, probability).
_MEALS = ((7.0, 50.0, 15.0, 1.0), (12.5, 70.0, 15.0, 1.0), (16.0, 20.0, 5.0, 0.4),
          (19.0, 80.0, 20.0, 1.0))
_CARB_COUNT_LOG_SD = 0.2  # boluses are for mis-estimated carbs (log-normal error)


def _metrics(g: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(g)), "tbr70": 100.0 * float(np.mean(g < 70.0)),
            "tbr54": 100.0 * float(np.mean(g < 54.0)), "tar180": 100.0 * float(np.mean(g > 180.0))}


def make_record(patient: Any, days: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A record of ``patient`` on its basal rate and its noise-free CGM glucose.

    Returns the validated record (5-min rows from 2026-01-01 00:00: ``glucose`` with
    CGM noise, ``carbs``, ``insulin``, ``bolus``, ``basal``) and the true interstitial
    glucose [mg/dL] on the same rows.
    """
    from dt1d.data import validate
    from dt1d.sim.sensor import CGMSensor

    rng = np.random.default_rng(seed)
    n = int(round(days * 1440 / _STEP_MIN))
    carbs, bolus = np.zeros(n), np.zeros(n)
    for day in range(int(math.ceil(days))):
        for hour, grams, sd, prob in _MEALS:
            if rng.random() >= prob:
                continue
            i = int(round((day * 1440 + hour * 60 + rng.normal(0.0, 30.0)) / _STEP_MIN))
            if 0 <= i < n:
                g = float(max(round(rng.normal(grams, sd)), 5.0))
                carbs[i] += g
                counted = g * math.exp(rng.normal(0.0, _CARB_COUNT_LOG_SD))
                bolus[i] += round(counted / patient.carb_ratio_g_per_u / 0.05) * 0.05
    basal = np.full(n, patient.basal_u_per_h * _STEP_MIN / 60.0)
    truth = true_what_if(patient, carbs, bolus, basal)
    noise = CGMSensor().noise(n, float(_STEP_MIN), [rng])[:, 0]
    index = pd.date_range("2026-01-01 00:00", periods=n, freq=f"{_STEP_MIN}min", name="time")
    frame = pd.DataFrame({"glucose": np.clip(truth + noise, 39.0, 400.0), "carbs": carbs,
                          "insulin": bolus + basal, "bolus": bolus, "basal": basal}, index=index)
    return validate(frame), truth


def _changed_inputs(carbs: np.ndarray, bolus: np.ndarray, basal: np.ndarray,
                    spec: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows' inputs under a what-if, with ``MechanisticModel.simulate``'s meaning."""
    unknown = set(spec) - {"bolus_scale", "basal_scale", "carbs_scale", "meal_shift_min"}
    if unknown:
        raise ValueError(f"unknown what-if arguments {sorted(unknown)}")
    carbs = carbs * spec.get("carbs_scale", 1.0)
    shift = int(spec.get("meal_shift_min", 0))
    if shift % _STEP_MIN:
        raise ValueError(f"meal_shift_min must be a multiple of {_STEP_MIN} min, got {shift}")
    shift //= _STEP_MIN
    if shift:
        moved = np.zeros_like(carbs)
        if shift > 0:
            moved[shift:] = carbs[:-shift]
        else:
            moved[:shift] = carbs[-shift:]
        carbs = moved
    return carbs, bolus * spec.get("bolus_scale", 1.0), basal * spec.get("basal_scale", 1.0)


def true_what_if(patient: Any, carbs: np.ndarray, bolus: np.ndarray, basal: np.ndarray,
                 spec: Mapping[str, float] | None = None) -> np.ndarray:
    """The patient's noise-free interstitial glucose [mg/dL] per 5-min row under a what-if.

    ``carbs`` [g], ``bolus`` and ``basal`` [U] are per row; within a row the meal and
    bolus are taken at its first minute and the basal is spread evenly.
    """
    c, b, s = _changed_inputs(np.asarray(carbs, float), np.asarray(bolus, float),
                              np.asarray(basal, float), spec or {})
    n = len(c)
    carbs_min = np.zeros(n * _STEP_MIN)
    bolus_min = np.zeros(n * _STEP_MIN)
    carbs_min[::_STEP_MIN], bolus_min[::_STEP_MIN] = c, b
    basal_rate = np.repeat(s * 60.0 / _STEP_MIN, _STEP_MIN)
    return patient.simulate(carbs_min, bolus_min, basal_rate)["interstitial"][::_STEP_MIN]


def _compare(twin: np.ndarray, true: np.ndarray, twin_base: np.ndarray,
             true_base: np.ndarray) -> dict[str, float]:
    from dt1d.metrics.error_grids import clarke_zone_fractions

    out: dict[str, float] = {}
    for side, g, base in (("twin", twin, twin_base), ("true", true, true_base)):
        now, before = _metrics(g), _metrics(base)
        for key, value in now.items():
            out[f"{key}_{side}"] = value
            out[f"d_{key}_{side}"] = value - before[key]
    out["mard"] = 100.0 * float(np.mean(np.abs(twin - true) / true))
    zones = clarke_zone_fractions(true, twin)
    out["clarke_ab"] = 100.0 * (zones.get("A", 0.0) + zones.get("B", 0.0))
    return out


def run_protocol(patients: Sequence[Any], *, days: float = 4.0, seed: int = 0,
                 what_ifs: Iterable[str] | None = None, n_starts: int = 3,
                 model: str = "", twin_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Fit a twin to each patient's record and score every what-if; one row per pair.

    ``patients`` are :class:`~dt1d.validation.hovorka.HovorkaPatient` or
    :class:`~dt1d.validation.bergman.BergmanPatient` (anything with ``name``,
    ``body_weight_kg``, ``basal_u_per_h``, ``carb_ratio_g_per_u``, ``fasting_mg_dl`` and
    ``simulate``); patient ``k``'s record is seeded ``seed + k``. The twin gets the true
    body weight and the record's basal rate, no learned error correction (it does not
    act on what-ifs); ``twin_options`` are further ``MechanisticModel`` arguments (e.g.
    ``{"time_of_day": False}``). Columns: ``model``, ``patient``, ``what_if``, the
    measures (``mean_twin``, ``mean_true``, their changes ``d_mean_twin``,
    ``d_mean_true``, the same for ``tbr70``, ``tbr54``, ``tar180``, then ``mard`` and
    ``clarke_ab``), the twin's fitted basal glucose, the true fasting glucose, the fit's
    replay RMSE against the CGM and its CPU seconds.
    """
    from dt1d.models.mechanistic import MechanisticModel

    names = list(WHAT_IFS) if what_ifs is None else list(what_ifs)
    unknown = [w for w in names if w not in WHAT_IFS]
    if unknown:
        raise ValueError(f"unknown what-ifs {unknown}; known: {list(WHAT_IFS)}")
    rows = []
    for k, patient in enumerate(patients):
        record, truth = make_record(patient, days, seed + k)
        started = time.process_time()
        options = {"n_starts": n_starts, "error_correction": False, **(twin_options or {})}
        twin = MechanisticModel(body_weight_kg=patient.body_weight_kg, **options).fit(record)
        seconds = time.process_time() - started
        twin_base = twin.simulate(record)["glucose"].to_numpy()
        inputs = [record[c].to_numpy() for c in ("carbs", "bolus", "basal")]
        common = {"model": model, "patient": patient.name,
                  "basal_glucose_twin": float(twin.params_["basal_glucose_mg_dl"]),
                  "basal_glucose_true": float(patient.fasting_mg_dl),
                  "fit_rmse": float(twin.fit_report_["rmse_mg_dl"]), "fit_seconds": seconds}
        for name in names:
            spec = WHAT_IFS[name]
            true = true_what_if(patient, *inputs, spec)
            changed = twin.simulate(record, **spec)["glucose"].to_numpy()
            rows.append({**common, "what_if": name,
                         **_compare(changed, true, twin_base, truth)})
    return pd.DataFrame(rows)


def _dose_ok(row: pd.Series) -> bool:
    return abs(row["d_mean_twin"] - row["d_mean_true"]) <= 0.25 * abs(row["d_mean_true"]) + 3.0


def check_targets(results: pd.DataFrame) -> list[dict[str, Any]]:
    """The targets of issue 18 per model: ``[{"model", "target", "passed", "detail"}]``.

    * fasting on basal: mean glucose within 10 mg/dL of the truth on average (of the
      absolute errors) and within 20 mg/dL for every patient;
    * dose changes (every what-if but fasting): the change in mean glucose within
      25 % (+3 mg/dL) of the true change for at least 7 of 8 patients (the same share of
      a cohort of another size);
    * hypoglycaemia: where the truth gains >= 3 points of time below 70 mg/dL the twin
      gains at least half of it; where the truth gains < 1 point the twin gains < 5;
    * MARD of the changed trace under 10 % on average per what-if (Hughes et al. 2021).
    """
    out = []
    for model, part in results.groupby("model", sort=False):
        fast = part[part["what_if"] == "fasting"]
        if len(fast):
            err = (fast["mean_twin"] - fast["mean_true"]).abs()
            out.append({"model": model, "target": "fasting: mean abs. error <= 10 mg/dL",
                        "passed": bool(err.mean() <= 10.0),
                        "detail": f"mean abs. error {err.mean():.1f} mg/dL"})
            out.append({"model": model, "target": "fasting: every abs. error <= 20 mg/dL",
                        "passed": bool(err.max() <= 20.0),
                        "detail": f"max abs. error {err.max():.1f} mg/dL, "
                                  f"{int((err <= 20).sum())}/{len(err)} within"})
        for name, rows in part[part["what_if"] != "fasting"].groupby("what_if", sort=False):
            ok = rows.apply(_dose_ok, axis=1)
            need = math.ceil(7 / 8 * len(rows))
            out.append({"model": model, "target": f"{name}: change in mean within 25 % + 3",
                        "passed": bool(ok.sum() >= need),
                        "detail": f"{int(ok.sum())}/{len(rows)} patients (need {need})"})
        big = part[part["d_tbr70_true"] >= 3.0]
        small = part[part["d_tbr70_true"] < 1.0]
        big_ok = big["d_tbr70_twin"] >= 0.5 * big["d_tbr70_true"]
        small_ok = small["d_tbr70_twin"] < 5.0
        out.append({"model": model, "target": "hypo: true gain >= 3 points -> twin >= half",
                    "passed": bool(big_ok.all()),
                    "detail": f"{int(big_ok.sum())}/{len(big)} cases"})
        out.append({"model": model, "target": "hypo: true gain < 1 point -> twin < 5",
                    "passed": bool(small_ok.all()),
                    "detail": f"{int(small_ok.sum())}/{len(small)} cases"})
        mard = part.groupby("what_if", sort=False)["mard"].mean()
        out.append({"model": model, "target": "MARD < 10 % in every what-if (cohort mean)",
                    "passed": bool((mard < 10.0).all()),
                    "detail": ", ".join(f"{k} {v:.1f}" for k, v in mard.items())})
    return out


_REPORT_COLUMNS = (("mean_true", "mean true", 1), ("mean_twin", "mean twin", 1),
            ("d_mean_true", "change true", 1), ("d_mean_twin", "change twin", 1),
            ("d_tbr70_true", "TBR70 change true", 1), ("d_tbr70_twin", "TBR70 change twin", 1),
            ("d_tbr54_true", "TBR54 change true", 1), ("d_tbr54_twin", "TBR54 change twin", 1),
            ("d_tar180_true", "TAR180 change true", 1), ("d_tar180_twin", "TAR180 change twin", 1),
            ("mard", "MARD %", 1), ("clarke_ab", "Clarke A+B %", 1))


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def format_report(results: pd.DataFrame) -> str:
    """The Markdown report of :func:`run_protocol` results: fits, what-ifs, targets."""
    lines = ["## Fits", "",
             "| model | patient | fitted basal glucose | true fasting glucose | "
             "replay RMSE vs CGM | fit CPU s |", "|---|---|---|---|---|---|"]
    fits = results.drop_duplicates(["model", "patient"])
    for _, r in fits.iterrows():
        lines.append(f"| {r['model']} | {r['patient']} | {r['basal_glucose_twin']:.1f} | "
                     f"{r['basal_glucose_true']:.1f} | {r['fit_rmse']:.1f} | "
                     f"{r['fit_seconds']:.1f} |")
    head = " | ".join(label for _, label, _ in _REPORT_COLUMNS)
    for what_if, part in results.groupby("what_if", sort=False):
        lines += ["", f"## {what_if}", "",
                  "mg/dL and points of % time; changes from each side's unchanged replay.", "",
                  f"| model | patient | {head} |", "|---|---|" + "---|" * len(_REPORT_COLUMNS)]
        for _, r in part.iterrows():
            cells = " | ".join(_fmt(r[c], d) for c, _, d in _REPORT_COLUMNS)
            lines.append(f"| {r['model']} | {r['patient']} | {cells} |")
        for model, rows in part.groupby("model", sort=False):
            cells = " | ".join(_fmt(rows[c].mean(), d) for c, _, d in _REPORT_COLUMNS)
            lines.append(f"| **{model} mean** | | {cells} |")
    lines += ["", "## Targets (issue 18)", "", "| model | target | passed | detail |",
              "|---|---|---|---|"]
    for t in check_targets(results):
        lines.append(f"| {t['model']} | {t['target']} | {'yes' if t['passed'] else 'NO'} | "
                     f"{t['detail']} |")
    return "\n".join(lines) + "\n"
