"""Validation of the insulin controllers (issue 17): run ``python -m benchmarks.controller_validation``.

The 30 virtual patients (10 adults, 10 adolescents, 10 children) for 14 days each, random
meals (``scenario="random"``), the default CGM (GuardianRT noise) and pump (Insulet), seed
fixed, under each controller with its default settings (derived from each patient):
basal-bolus, PID, OpenAPS (oref0) and MPC. Outcomes on the CGM readings, per patient and
then averaged over the patients: time in range 70-180 mg/dL, time below 70 and below 54,
LBGI and HBGI; and how many patients have more than 4 % of their time below 70 (the
international consensus target, Battelino et al., Diabetes Care 2019: time in range above
70 %, below 70 under 4 %, below 54 under 1 %). A second table repeats the run with a hypo
treatment (15 g of rescue carbs below 70 mg/dL, at most every 15 min) on every controller.

Prints a Markdown report (``--out`` writes it to a file too); docs/controllers.md quotes
it. ``--days`` and ``--seed`` change the study, ``--quick`` runs 2 days. Threads: 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SEED = 17
DAYS = 14
#: The consensus targets (Battelino et al. 2019) checked in the report.
TARGETS = {"tir_pct": (">", 70.0), "below_70_pct": ("<", 4.0), "below_54_pct": ("<", 1.0)}


def controllers() -> dict[str, object]:
    """The controllers compared, each with its default settings."""
    from dt1d.sim import BasalBolusController, OpenAPSController, PIDController

    out: dict[str, object] = {"basal-bolus": BasalBolusController(), "PID": PIDController(),
                              "OpenAPS": OpenAPSController()}
    try:
        from dt1d.sim import MPCController
    except ImportError:  # before the MPC controller existed
        return out
    out["MPC"] = MPCController()
    return out


def outcomes(glucose: np.ndarray) -> dict[str, float]:
    """The outcomes of one patient's CGM trace [mg/dL]."""
    from dt1d.metrics import hbgi, lbgi, time_in_range

    g = np.asarray(glucose, dtype=float)
    return {"tir_pct": time_in_range(g, 70.0, 180.0),
            "below_70_pct": 100.0 * float(np.mean(g < 70.0)),
            "below_54_pct": 100.0 * float(np.mean(g < 54.0)),
            "above_250_pct": 100.0 * float(np.mean(g > 250.0)),
            "mean_mg_dl": float(np.mean(g)), "lbgi": lbgi(g), "hbgi": hbgi(g)}


def run(name: str, controller: object, days: int, seed: int,
        handlers: list | None = None) -> tuple[pd.DataFrame, float]:
    """Per-patient outcomes of one controller, and the wall time of the simulation [s]."""
    from dt1d.sim import list_virtual_patients, simulate_cohort

    patients = list_virtual_patients()
    t0 = time.perf_counter()
    frame = simulate_cohort(patients, "random", days=days, seed=seed, controller=controller,
                            handlers=handlers)
    wall = time.perf_counter() - t0
    rows = {pid: outcomes(g["glucose"].to_numpy())
            for pid, g in frame.groupby("patient_id", observed=True)}
    if handlers:
        rescue = frame.groupby("patient_id", observed=True)["rescue_carbs"].sum() / days
        for pid in rows:
            rows[pid]["rescue_g_per_day"] = float(rescue[pid])
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = name
    return table, wall


def summary(per_patient: dict[str, pd.DataFrame], walls: dict[str, float]) -> pd.DataFrame:
    """One row per controller: the mean over patients, and the patients over 4 % below 70."""
    rows = {}
    for name, t in per_patient.items():
        row = t.mean().to_dict()
        row["patients_below_70_over_4pct"] = int((t["below_70_pct"] > 4.0).sum())
        row["sim_s"] = walls[name]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _markdown(table: pd.DataFrame) -> str:
    cols = ["tir_pct", "below_70_pct", "below_54_pct", "above_250_pct", "mean_mg_dl", "lbgi",
            "hbgi", "patients_below_70_over_4pct"]
    if "rescue_g_per_day" in table:
        cols.append("rescue_g_per_day")
    cols.append("sim_s")
    head = ["controller", "TIR 70-180 %", "<70 %", "<54 %", ">250 %", "mean mg/dL", "LBGI",
            "HBGI", "patients <70 > 4 %"]
    if "rescue_g_per_day" in table:
        head.append("rescue g/day")
    head.append("simulation s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in table.iterrows():
        cells = [name]
        for c in cols:
            v = row[c]
            cells.append(f"{int(v)}" if c == "patients_below_70_over_4pct" else f"{v:.2f}"
                         if c in ("lbgi", "hbgi", "sim_s") else f"{v:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(table: pd.DataFrame) -> list[str]:
    base = table.loc["basal-bolus", "tir_pct"]
    out = []
    for name, row in table.iterrows():
        failed = [f"{k} {row[k]:.1f} (target {op} {v:g})" for k, (op, v) in TARGETS.items()
                  if not (row[k] > v if op == ">" else row[k] < v)]
        gain = "" if name == "basal-bolus" else f"; TIR {row['tir_pct'] - base:+.1f} points " \
                                                 "over basal-bolus"
        out.append(f"- {name}: " + ("meets the consensus targets on the mean" if not failed
                                    else "misses " + ", ".join(failed)) + gain)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the study and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="2 days instead of 14")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    days = 2 if args.quick else args.days
    from dt1d.sim.handlers import HypoTreatment

    report = [f"# Controller validation: 30 virtual patients x {days} days, seed {args.seed}",
              "", "Outcomes on the CGM readings, mean over the 30 patients.", ""]
    for title, handlers in (("Controllers alone", None),
                            ("With a hypo treatment (15 g below 70 mg/dL, every 15 min at most)",
                             [HypoTreatment()])):
        per, walls = {}, {}
        for name, ctl in controllers().items():
            per[name], walls[name] = run(name, ctl, days, args.seed, handlers)
        table = summary(per, walls)
        report += [f"## {title}", "", _markdown(table), "", *_verdict(table), ""]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
