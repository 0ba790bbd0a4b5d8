"""Counterfactual validation of the mechanistic twin (issue 18): run by hand.

    python -m benchmarks.whatif_validation [--patients 8] [--days 4] [--out report.md]

For each patient of a Hovorka (2004) cohort and of a Bergman minimal-model cohort with a
Dalla Man gut (``dt1d.validation``, implemented from the papers; neither is the
UVA/Padova model the twin is built on): simulate ``--days`` days of record (random
meals, boluses by the carb ratio from mis-estimated carbs, the steady basal rate, CGM
noise), fit the twin, and compare its what-ifs (fasting on basal, bolus and basal x0.8
and x1.2, carbs x1.2, every meal 1 h later) with the patient's true ones. Prints a
Markdown report: the patient-by-patient table per what-if and the targets of issue 18
(pass or fail). ``--csv`` writes every figure. Threads: 1. This is not an asv
benchmark; its results go into ``docs/mechanistic.md`` ("Counterfactual validation").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import pandas as pd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=8, help="patients per model")
    parser.add_argument("--days", type=float, default=4.0, help="days of record")
    parser.add_argument("--seed", type=int, default=0, help="cohort and record seed")
    parser.add_argument("--n-starts", type=int, default=3, help="the twin's optimiser starts")
    parser.add_argument("--what-if", action="append", help="only these what-ifs (repeatable)")
    parser.add_argument("--no-time-of-day", action="store_true",
                        help="fit the twin without its time-of-day sensitivity windows")
    parser.add_argument("--out", type=Path, help="also write the report here")
    parser.add_argument("--csv", type=Path, help="write every figure here")
    args = parser.parse_args(argv)

    from dt1d.validation import bergman_cohort, format_report, hovorka_cohort, run_protocol

    started = time.time()
    parts = []
    for model, make in (("hovorka", hovorka_cohort), ("bergman", bergman_cohort)):
        patients = make(args.patients, seed=args.seed)
        parts.append(run_protocol(patients, days=args.days, seed=args.seed,
                                  what_ifs=args.what_if, n_starts=args.n_starts, model=model,
                                  twin_options={"time_of_day": not args.no_time_of_day}))
    results = pd.concat(parts, ignore_index=True)
    text = (f"# Counterfactual validation: {args.patients} patients per model, "
            f"{args.days:g} days, seed {args.seed}"
            f"{', no time-of-day windows' if args.no_time_of_day else ''}\n\n" + format_report(results)
            + f"\n({time.time() - started:.0f} s wall)\n")
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.csv:
        results.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
