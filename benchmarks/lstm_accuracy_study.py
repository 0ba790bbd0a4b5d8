"""Accuracy study of the LSTM against the baselines on simulated cohorts (run by hand).

    .venv/bin/python benchmarks/lstm_accuracy_study.py [--threads 2] [--out results.json]

Design (issue 5):
- training cohort: 20 virtual patients x 14 days; held-out cohort: the 10
  *other* virtual patients (every third of the 30, so adolescents, adults and
  children are on both sides) x 7 days; random meals, the default basal-bolus
  controller and CGM sensor noise on (``dt1d.sim``); the two cohorts use
  different seeds;
- population models (``linear``, ``lstm``) are fitted on the training cohort only;
  the LSTM's early stopping uses the last 20 % of each training patient's time;
- each held-out patient's first ``--tune-days`` days are used only to fine-tune
  the LSTM (and to fit a personal ``linear`` for reference), with targets that
  end inside those days; every model is scored on the remaining days of the
  held-out patients (earlier days serve only as input history), on the same
  rows (rows where every model has a forecast), so no patient, day or target
  is both learned from and scored;
- 30- and 60-minute RMSE (mg/dL) and MARD (%) against the CGM reading at
  ``t + horizon``.

This is not an asv benchmark (it takes minutes); its results go into
``docs/lstm.md``. ``--source synthetic`` swaps the simulator for
``dt1d.testing.make_synthetic_record`` to check the script itself; those
figures are not the study's.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import pandas as pd

HORIZONS = [30, 60]


def _held_out(names: list[str]) -> list[str]:
    """Every third virtual patient (a mix of adolescents, adults and children) is held out."""
    return names[2::3]


def _simulated(n_patients: int, days: int, held_out: bool, seed: int) -> pd.DataFrame:
    """A cohort from ``dt1d.sim`` with random meals, the default controller and CGM noise."""
    from dt1d.sim import list_virtual_patients, simulate_cohort

    names = list(list_virtual_patients())
    test_names = _held_out(names)
    pool = test_names if held_out else [n for n in names if n not in test_names]
    if len(pool) < n_patients:
        raise SystemExit(f"only {len(pool)} virtual patients for this cohort, {n_patients} asked")
    cohort = simulate_cohort(pool[:n_patients], "random", days=days, seed=seed)
    keep = [c for c in ("glucose", "carbs", "insulin", "bolus", "basal", "patient_id") if c in cohort.columns]
    return cohort[keep]


def _synthetic(n_patients: int, days: int, held_out: bool, seed: int) -> pd.DataFrame:
    from dt1d.testing import make_synthetic_record

    offset = 1000 if held_out else 0
    parts = []
    for p in range(n_patients):
        rec = make_synthetic_record(days=days, seed=seed + offset + p)
        rec["patient_id"] = f"synthetic#{offset + p:03d}"
        parts.append(rec)
    return pd.concat(parts)


def _split_days(record: pd.DataFrame, days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first ``days`` days of one patient's record, and the rest."""
    cut = record.index[0] + pd.Timedelta(days=days)
    return record[record.index < cut], record[record.index >= cut]


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from dt1d.metrics import mard, rmse

    return {"rmse": float(rmse(y, pred)), "mard": float(mard(y, pred))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["sim", "synthetic"], default="sim")
    parser.add_argument("--train-patients", type=int, default=20)
    parser.add_argument("--train-days", type=int, default=14)
    parser.add_argument("--test-patients", type=int, default=10)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--tune-days", type=float, default=3.0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--tune-epochs", type=int, default=15)
    parser.add_argument("--lookback-min", type=int, default=120)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from dt1d.data import make_target, validate
    from dt1d.models.baselines import LinearModel, PersistenceModel
    from dt1d.models.lstm import LSTMModel

    make = _simulated if args.source == "sim" else _synthetic
    t0 = time.perf_counter()
    train = validate(make(args.train_patients, args.train_days, False, args.seed))
    test = validate(make(args.test_patients, args.test_days, True, args.seed + 1))
    train_ids, test_ids = set(train["patient_id"]), set(test["patient_id"])
    assert not train_ids & test_ids, "a patient is in both cohorts"
    print(f"cohorts: train {len(train_ids)} patients, {len(train)} rows; "
          f"held out {len(test_ids)} patients, {len(test)} rows ({time.perf_counter() - t0:.0f} s)")

    y_train = make_target(train, HORIZONS)
    lstm_params = dict(lookback_min=args.lookback_min, hidden_size=args.hidden_size, num_layers=args.num_layers, epochs=args.epochs, patience=5,
                       learning_rate=1e-3, batch_size=256, num_threads=args.threads, seed=0)
    t0 = time.perf_counter()
    population = LSTMModel(**lstm_params).fit(train, y_train)
    lstm_fit_s = time.perf_counter() - t0
    print(f"lstm population fit: {len(population.history_)} epochs, {lstm_fit_s:.0f} s")
    linear = LinearModel().fit(train, y_train)
    persistence = PersistenceModel().fit(train, y_train)

    preds: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("persistence", "linear", "linear (personal)",
                                           "lstm (population)", "lstm (fine-tuned)")}
    truth: list[np.ndarray] = []
    for pid, person in test.groupby("patient_id", sort=False):
        tune, _ = _split_days(person, args.tune_days)
        # forecasts for the whole record (the tuning days serve as history), scored after them
        scored = (person.index >= tune.index[-1] + pd.Timedelta(minutes=5))
        truth.append(make_target(person, HORIZONS).to_numpy()[scored])
        tuned = population.fine_tune(tune, epochs=args.tune_epochs)
        personal_linear = LinearModel().fit(tune, make_target(tune, HORIZONS))
        for name, model in (("persistence", persistence), ("linear", linear),
                            ("linear (personal)", personal_linear),
                            ("lstm (population)", population), ("lstm (fine-tuned)", tuned)):
            preds[name].append(model.predict(person)[scored])
        print(f"  {pid}: fine-tuned in {len(tuned.history_)} epochs")

    y = np.concatenate(truth)
    stacked = {k: np.concatenate(v) for k, v in preds.items()}
    common = np.isfinite(y).all(axis=1)
    for p in stacked.values():
        common &= np.isfinite(p).all(axis=1)
    results = {
        name: {f"{h}min": _scores(y[common, j], p[common, j]) for j, h in enumerate(HORIZONS)}
        for name, p in stacked.items()
    }
    print(f"\nscored rows: {int(common.sum())} (held-out patients, after the first "
          f"{args.tune_days:g} days)\n")
    print("| model | RMSE 30 min | MARD 30 min | RMSE 60 min | MARD 60 min |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['30min']['rmse']:.1f} | {r['30min']['mard']:.1f} % "
              f"| {r['60min']['rmse']:.1f} | {r['60min']['mard']:.1f} % |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"args": vars(args), "scored_rows": int(common.sum()),
                       "lstm_fit_seconds": lstm_fit_s, "lstm_epochs": len(population.history_),
                       "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
