"""``dt1d demo``: the main job on built-in data, with no input files.

Simulate one virtual patient for two weeks, fit twins on the first days,
forecast the last days, compare them with the baselines, print a metrics
table, write a PNG report and the AGP report (PDF) of the simulated days.
Part of the command line (it prints).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

#: Models compared by the demo, with settings sized for a 2-minute run on 2 cores.
DEMO_MODELS: dict[str, dict[str, Any]] = {
    "persistence": {},
    "linear": {"lags": 12},
    "mechanistic": {},
    "lstm": {"hidden_size": 32, "num_layers": 1, "epochs": 8, "learning_rate": 3e-3, "seed": 0},
}
DEMO_PATIENT = "adult#001"
HORIZONS = [30, 60]


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _model_params(name: str, patient: Any) -> dict[str, Any]:
    params = dict(DEMO_MODELS[name])
    if name == "mechanistic":
        params["body_weight_kg"] = float(patient.body_weight_kg)
    return params


def run_demo(out_dir: Path, days: int = 14, seed: int = 1, quiet: bool = False) -> int:
    """Run the demo; write ``dt1d_demo_report.png`` and ``dt1d_demo_agp.pdf`` into ``out_dir``; return 0."""
    import pandas as pd

    from dt1d import sim
    from dt1d.core.model_registry import is_model_registered
    from dt1d.core.twin import DigitalTwin

    if days < 4:
        raise ValueError(f"the demo needs at least 4 days (it holds out the last 4); got {days}")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    patient = sim.virtual_patient(DEMO_PATIENT)
    _say(f"simulating {DEMO_PATIENT} for {days} days (random meals, CGM noise, seed {seed})", quiet)
    record = sim.simulate(patient, "random", days=days, seed=seed)
    split = record.index[0] + pd.Timedelta(days=days - 4)
    train, test = record[record.index < split], record[record.index >= split]
    _say(f"training on days 1-{days - 4} ({len(train)} rows), testing on the last 4 days ({len(test)} rows)", quiet)

    rows = []
    forecasts: dict[str, Any] = {}
    for name in DEMO_MODELS:
        if not is_model_registered(name):
            _say(f"  {name}: not available, skipped", quiet)
            continue
        t0 = time.perf_counter()
        twin = DigitalTwin(name, _model_params(name, patient), horizon=HORIZONS).fit(train)
        fit_s = time.perf_counter() - t0
        table = twin.evaluate(test, horizons=HORIZONS)
        table.insert(0, "model", name)
        table["fit_s"] = fit_s
        rows.append(table)
        forecasts[name] = twin.predict(test)[:, 0]
        _say(f"  {name}: fitted in {fit_s:.1f} s", quiet)

    results = pd.concat(rows, ignore_index=True)
    shown = results[["model", "horizon_min", "rmse", "mae", "mard", "clarke_A", "time_lag_min", "fit_s"]]
    with pd.option_context("display.width", 120, "display.precision", 2):
        print(shown.to_string(index=False))

    from dt1d.data.atomic import atomic_path
    from dt1d.plots import plot_forecast

    fig = plot_forecast(test, forecasts, horizon_min=HORIZONS[0], title=f"{DEMO_PATIENT}: 30-minute forecasts")
    report = out_dir / "dt1d_demo_report.png"
    with atomic_path(report) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    _say(f"wrote {report}", quiet)

    from dt1d.report import agp_report

    agp = agp_report(record, out_dir / "dt1d_demo_agp.pdf")
    _say(f"wrote {agp}, the AGP report of the {days} simulated days "
         f"({time.perf_counter() - start:.0f} s in all)", quiet)
    return 0
