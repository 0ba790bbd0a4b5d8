"""Shared pieces of the cohort tests: small cohorts and test models shipped by value."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd

from dt1d.core.twin import DigitalTwin
from dt1d.models.baselines import LinearModel
from dt1d.testing import make_synthetic_record

#: The record start that marks the patient whose first fit kills its worker.
VICTIM_START = "2026-02-01 00:00"


def cohort(n: int, *, days: float = 2.0, victim: int | None = None) -> pd.DataFrame:
    """``n`` synthetic patients p0..p{n-1} in long format (the victim starts a month later)."""
    frames = [
        make_synthetic_record(
            days=days, seed=i, patient_id=f"p{i}",
            start=VICTIM_START if i == victim else "2026-01-01 00:00",
        )
        for i in range(n)
    ]
    return pd.concat(frames)


def records_by_id(records: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{patient_id: record without the id column}``."""
    return {pid: frame.drop(columns="patient_id") for pid, frame in records.groupby("patient_id", sort=False)}


def direct_predictions(records: pd.DataFrame, model_type: str, params: dict | None = None) -> dict[str, np.ndarray]:
    """Each patient's forecasts from a twin fitted directly, without dt1d.cohort."""
    out = {}
    for pid, record in records_by_id(records).items():
        out[pid] = DigitalTwin(model_type, params or {}).fit(record).predict(record)
    return out


def twin_predictions(table: pd.DataFrame, records: pd.DataFrame) -> dict[str, np.ndarray]:
    """Forecasts of the twins of a fit table (from its ``twin`` column, else its files)."""
    by_id = records_by_id(records)
    out = {}
    for row in table.itertuples():
        twin = row.twin if "twin" in table.columns and row.twin is not None else DigitalTwin.load(row.path)
        out[row.patient_id] = twin.predict(by_id[row.patient_id])
    return out


def make_kill_once_model(name: str) -> type:
    """A linear model that kills its own process the first time it fits the victim.

    The class is defined inside this function, so cloudpickle ships it to
    workers by value, like a class from a user's script. ``marker_dir`` holds
    the file created (exclusively) just before the kill, so the retry succeeds.
    """

    class KillOnceModel(LinearModel, name=name):
        def __init__(self, lags: int = 12, alpha: float = 1.0, marker_dir: str = "") -> None:
            super().__init__(lags=lags, alpha=alpha)
            self.marker_dir = marker_dir

        def fit(self, X, y=None, **kwargs):
            if str(X.index[0]) == str(pd.Timestamp(VICTIM_START)):
                try:
                    with open(Path(self.marker_dir) / "killed", "x") as fh:
                        fh.write(str(os.getpid()))
                except FileExistsError:
                    pass
                else:
                    os.kill(os.getpid(), signal.SIGKILL)
            return super().fit(X, y, **kwargs)

    return KillOnceModel
