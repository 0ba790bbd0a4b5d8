"""What runs on a worker: fit one batch of patients, each failure kept to its patient.

A task carries the model class itself (cloudpickle ships a class defined in
``__main__`` or a notebook by value), so the worker never depends on finding
the user's class statement: it makes sure the name resolves to that class in
its own registry before building the twin.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pandas as pd

logger = logging.getLogger(__name__)

# One lock per process: checking and (re)registering a shipped class is one step.
_REGISTRY_GUARD = threading.Lock()


@attrs.frozen
class ModelSpec:
    """Everything a worker needs to build a twin: name, the class, parameters, horizon."""

    name: str
    cls: type
    params: Mapping[str, Any]
    horizon: int | tuple[int, ...]


@attrs.frozen(eq=False)
class PatientTask:
    """One patient of a batch: its id, its record and where its twin goes (or None)."""

    patient_id: Any
    record: pd.DataFrame
    path: str | None


def ensure_model_class(name: str, cls: type) -> None:
    """Make ``name`` resolve to ``cls`` in this process's registry.

    In the parent process (serial backend) and for built-in or importable
    models this is a no-op. A class rebuilt by cloudpickle on a worker is not
    registered (only class statements are), so it is registered here under
    its name; a different class holding the name in this worker is replaced.
    """
    from dt1d.core.model_registry import (
        ModelNotFoundError,
        RegistrationError,
        get_model_class,
        register_model,
        unregister_model,
    )

    with _REGISTRY_GUARD:
        try:
            if get_model_class(name) is cls:
                return
        except (ModelNotFoundError, RegistrationError):
            pass
        # unregister first: register_model(overwrite=True) keeps a user's earlier
        # override of a built-in name, and here the shipped class must win.
        unregister_model(name)
        register_model(name, overwrite=True)(cls)
        if get_model_class(name) is not cls:  # pragma: no cover - registry invariant
            raise RuntimeError(f"could not make model name {name!r} resolve to {cls!r} on this worker")
        logger.debug("registered shipped model class %r as %r on this worker", cls, name)


def fit_batch(spec: ModelSpec, keep_twins: bool, tasks: Sequence[PatientTask]) -> list[dict[str, Any]]:
    """Fit one twin per task; return one result row per patient (never raises for a patient)."""
    ensure_model_class(spec.name, spec.cls)
    return [_fit_one(spec, task, keep_twins) for task in tasks]


def _fit_one(spec: ModelSpec, task: PatientTask, keep_twins: bool) -> dict[str, Any]:
    from dt1d.core.twin import DigitalTwin

    row: dict[str, Any] = {"patient_id": task.patient_id, "rows": int(len(task.record))}
    start, cpu_start = time.perf_counter(), time.thread_time()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = task.record.drop(columns="patient_id", errors="ignore")
            horizon = list(spec.horizon) if isinstance(spec.horizon, tuple) else spec.horizon
            twin = DigitalTwin(spec.name, dict(spec.params), horizon=horizon).fit(record)
            if twin.data_summary_ is not None:
                twin.data_summary_["fingerprint"] = record_fingerprint(record)
            if task.path is not None:
                twin.save(task.path)
    except Exception as exc:  # one person's failure must not stop the cohort
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc}", twin=None)
        logger.info("twin of patient %r failed: %s", task.patient_id, row["reason"])
    else:
        row.update(status="ok", reason=None, twin=twin if keep_twins else None)
        row["report"] = _report_of(twin.model)
    row["fit_seconds"] = time.perf_counter() - start
    row["cpu_seconds"] = time.thread_time() - cpu_start
    row["path"] = task.path if row["status"] == "ok" else None
    row["warnings"] = _warning_text(caught)
    return row


def record_fingerprint(record: pd.DataFrame) -> str:
    """A SHA-256 of a patient's record (column names, times and values), to tell on resume
    whether the twin on disk was fitted on the same data. Any change, including a
    change of dtype, gives another fingerprint (and so a refit, the safe side)."""
    import hashlib
    import json

    frame = record.drop(columns="patient_id", errors="ignore")
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    digest.update(str(len(frame)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _report_of(model: Any) -> dict[str, Any]:
    """The model's ``fit_report_`` as a flat dict (empty when the model has none)."""
    report = getattr(model, "fit_report_", None)
    return dict(report) if isinstance(report, Mapping) else {}


def _warning_text(caught: Sequence[warnings.WarningMessage]) -> str | None:
    """Distinct warnings raised during a fit, joined with ' | ' (None for none)."""
    texts: list[str] = []
    for item in caught:
        text = f"{item.category.__name__}: {item.message}"
        if text not in texts:
            texts.append(text)
    return " | ".join(texts) if texts else None


def twin_path(out_dir: Path, patient_id: Any) -> Path:
    """The ``.dt1d`` file of a patient: its id when that is a safe file name, else id + hash."""
    import hashlib
    import re

    text = str(patient_id)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,100}", text) and not text.endswith("."):
        return out_dir / f"{text}.dt1d"
    digest = hashlib.sha1(repr((type(patient_id).__name__, text)).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)[:60].strip("._") or "patient"
    return out_dir / f"{slug}-{digest}.dt1d"
