"""``fit_twins``: one digital twin per person of a cohort, in parallel, resumable."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dt1d.cohort import _run, _store
from dt1d.cohort._tasks import ModelSpec, PatientTask, fit_batch, record_fingerprint, twin_path

logger = logging.getLogger(__name__)

Records = pd.DataFrame | Mapping[Any, pd.DataFrame] | Iterable[tuple[Any, pd.DataFrame]]


def fit_twins(
    records: Records,
    model_type: str,
    model_params: Mapping[str, Any] | None = None,
    horizon: int | Sequence[int] = 30,
    *,
    backend: str = "loky",
    n_jobs: int | None = None,
    client: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    batch_size: int | str = "auto",
    keep_twins: bool | None = None,
    retries: int = 2,
    progress: _run.Progress = False,
) -> pd.DataFrame:
    """Fit one :class:`~dt1d.core.twin.DigitalTwin` per person; return one row per patient.

    Parameters
    ----------
    records:
        A cohort in long format (a record with a ``patient_id`` column), a
        mapping ``{patient_id: record}``, or ``(patient_id, record)`` pairs.
    model_type, model_params, horizon:
        As for ``DigitalTwin``; a model defined in your script or notebook
        works on the workers too (its class travels with the task).
    backend:
        ``"serial"`` (this process), ``"loky"`` (local processes, the default)
        or ``"dask"`` (a ``dask.distributed`` cluster, see ``client``).
    n_jobs:
        Parallel tasks (loky: processes; ``None`` or -1: every core).
    client:
        The ``dask.distributed.Client`` to use; default: the current client.
    out_dir:
        Folder receiving one ``<patient_id>.dt1d`` per twin as it finishes and
        ``summary.parquet`` (this table without the twin objects). On a remote
        Dask cluster it must be a folder every worker can write to.
    resume:
        Skip patients whose twin file in ``out_dir`` exists and loads as a
        twin of the same model, parameters and horizon.
    batch_size:
        Patients per task (``"auto"``: about four tasks per worker, at most 32).
    keep_twins:
        Return the fitted twins in a ``twin`` column (default: only when
        ``out_dir`` is None, so large cohorts stay on disk).
    retries:
        Rounds that finish nobody allowed after a worker dies, before the
        remaining patients are marked failed.
    progress:
        ``True`` for a tqdm bar over patients, or a callable ``(done, total)``.

    Returns
    -------
    DataFrame with columns ``patient_id``, ``status`` ("ok"/"failed"),
    ``reason`` (the error of a failed fit), ``fit_seconds`` (wall),
    ``cpu_seconds`` (CPU time of the worker thread), ``rows``,
    ``path``, ``warnings`` (e.g. non-convergence), ``resumed`` and the model's
    ``fit_report_`` fields as ``report_<name>``, in the order of ``records``.
    A person whose fit fails is a ``"failed"`` row; the others are unaffected.
    """
    from dt1d.core.model_registry import get_model_class
    from dt1d.core.twin import DigitalTwin

    _run.check_backend(backend, n_jobs, client)
    params = dict(model_params or {})
    probe = DigitalTwin(model_type, params, horizon=horizon)  # unknown name, bad params: fail here
    cls = get_model_class(model_type)
    spec = ModelSpec(model_type, cls, params, tuple(probe.horizons) if _is_multi(horizon) else probe.horizons[0])
    pairs = split_records(records)
    folder = _prepare_out_dir(out_dir, resume)
    if keep_twins is None:
        keep_twins = folder is None
    paths = _twin_paths(folder, [pid for pid, _ in pairs])

    done: dict[Any, dict[str, Any]] = {}
    if resume and folder is not None:
        done = _resumable(folder, pairs, paths, spec, keep_twins)
    todo = [PatientTask(pid, frame, paths[pid]) for pid, frame in pairs if pid not in done]
    logger.info(
        "fitting %d twins (%d resumed) of model %r with backend %r",
        len(todo), len(done), model_type, backend,
    )
    writer = _store.SummaryWriter(folder, keep_twins)
    for row in done.values():
        writer.rows.append(row)
    size = _batch_size(batch_size, len(todo), backend, n_jobs, client)
    try:
        unfinished, error = _run.run(
            fit_batch, todo, key=lambda task: task.patient_id, extra_args=(spec, keep_twins),
            backend=backend, n_jobs=n_jobs, client=client, batch_size=size, retries=retries,
            on_row=writer.add, progress=progress,
        )
        for task in unfinished:
            writer.rows.append(
                {"patient_id": task.patient_id, "rows": len(task.record), "status": "failed",
                 "reason": f"worker lost: {type(error).__name__}: {error}"}
            )
    finally:
        writer.flush()
    by_id = {row["patient_id"]: row for row in writer.rows}
    return _store.table_from_rows([by_id[pid] for pid, _ in pairs], keep_twins)


def _is_multi(horizon: int | Sequence[int]) -> bool:
    return not isinstance(horizon, (int,)) and not hasattr(horizon, "__index__")


def split_records(records: Records) -> list[tuple[Any, pd.DataFrame]]:
    """``(patient_id, record)`` pairs, in order of first appearance; ids unique and not missing."""
    if isinstance(records, pd.DataFrame):
        if "patient_id" not in records.columns:
            raise ValueError(
                "records has no 'patient_id' column: a cohort needs one (or pass a mapping "
                "{patient_id: record}); fit a single person with DigitalTwin.fit"
            )
        if records["patient_id"].isna().any():
            first = records.index[records["patient_id"].isna().to_numpy()][0]
            raise ValueError(f"column 'patient_id' has missing values (first at {first}); give every row an id")
        pairs = [(_plain(pid), frame) for pid, frame in records.groupby("patient_id", sort=False)]
    else:
        items = records.items() if isinstance(records, Mapping) else records
        pairs = []
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise TypeError(
                    "records must be a long-format DataFrame with 'patient_id', a mapping "
                    f"{{patient_id: record}} or (patient_id, record) pairs; got an item {type(item).__name__}"
                )
            pid, frame = item
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"the record of patient {pid!r} is a {type(frame).__name__}, not a DataFrame")
            pairs.append((_plain(pid), frame))
        ids = [pid for pid, _ in pairs]
        if len(set(ids)) != len(ids):
            dup = next(pid for pid in ids if ids.count(pid) > 1)
            raise ValueError(f"patient id {dup!r} appears more than once in records")
    return pairs


def _plain(pid: Any) -> Any:
    """NumPy scalars as Python values, so ids compare and serialise predictably."""
    return pid.item() if hasattr(pid, "item") and not isinstance(pid, (str, bytes)) else pid


def _prepare_out_dir(out_dir: str | os.PathLike[str] | None, resume: bool) -> Path | None:
    if out_dir is None:
        if resume:
            raise ValueError("resume=True needs out_dir (the folder of the earlier run)")
        return None
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"out_dir {folder} is a file; pass a folder for the twins and summary")
    folder.mkdir(parents=True, exist_ok=True)
    _check_writable(folder)
    return folder


def _check_writable(folder: Path) -> None:
    """Fail before any fit when the summary could not be written at the end."""
    import tempfile

    summary = folder / _store.SUMMARY_NAME
    if summary.is_dir():
        raise IsADirectoryError(f"cohort summary path {summary} is a folder; move it away before fitting")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".dt1d-write-check.", suffix=".tmp")
    except OSError as exc:
        raise PermissionError(f"cannot write into out_dir {folder}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def _twin_paths(folder: Path | None, ids: list[Any]) -> dict[Any, str | None]:
    if folder is None:
        return dict.fromkeys(ids)
    paths = {pid: str(twin_path(folder, pid)) for pid in ids}
    for pid, path in paths.items():
        if Path(path).is_dir():
            raise IsADirectoryError(f"twin path {path} of patient {pid!r} is a folder; move it away before fitting")
    seen: dict[str, Any] = {}
    for pid, path in paths.items():
        if path in seen:
            raise ValueError(
                f"patient ids {seen[path]!r} and {pid!r} map to the same twin file {path}; "
                "make the ids distinct as text"
            )
        seen[path] = pid
    return paths


def _batch_size(batch_size: int | str, n: int, backend: str, n_jobs: int | None, client: Any) -> int:
    if batch_size == "auto":
        return _run.auto_batch_size(n, _run.worker_count(backend, n_jobs, client) if n else 1)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    return batch_size


def _resumable(
    folder: Path, pairs: list[tuple[Any, pd.DataFrame]], paths: Mapping[Any, str | None],
    spec: ModelSpec, keep_twins: bool,
) -> dict[Any, dict[str, Any]]:
    """Rows of patients whose twin file is there and valid (same model, params, horizon)."""
    from dt1d.core.twin import DigitalTwin
    from dt1d.data.twinfile import to_jsonable

    previous = _store.read_summary(folder)
    earlier: dict[Any, dict[str, Any]] = {}
    if previous is not None and "patient_id" in previous.columns:
        for rec in previous.to_dict("records"):
            if rec.get("status") == "ok":
                earlier[_plain(rec["patient_id"])] = rec
    wanted_params = to_jsonable(dict(spec.params))
    wanted_horizon = list(spec.horizon) if isinstance(spec.horizon, tuple) else [spec.horizon]
    rows: dict[Any, dict[str, Any]] = {}
    for pid, frame in pairs:
        path = paths[pid]
        if path is None or not Path(path).exists():
            continue
        try:
            twin = DigitalTwin.load(path)
        except Exception as exc:
            logger.warning("refitting patient %r: twin file %s is unusable (%s)", pid, path, exc)
            continue
        stale = (
            twin.model_type != spec.name
            or twin.horizons != wanted_horizon
            or any(twin.model_params.get(k) != v for k, v in wanted_params.items())
        )
        if stale:
            logger.info("refitting patient %r: %s holds a twin with other settings", pid, path)
            continue
        stored = (twin.data_summary_ or {}).get("fingerprint")
        if stored != record_fingerprint(frame):
            logger.info(
                "refitting patient %r: %s was fitted on %s", pid, path,
                "other data (the record changed)" if stored else "data it did not fingerprint",
            )
            continue
        row = _row_from_summary(earlier.get(pid), pid, len(frame))
        row["rows"] = len(frame)
        row.update(patient_id=pid, status="ok", reason=None, path=path, resumed=True,
                   twin=twin if keep_twins else None)
        rows[pid] = row
    return rows


def _row_from_summary(rec: dict[str, Any] | None, pid: Any, n_rows: int) -> dict[str, Any]:
    """A result row rebuilt from the earlier summary (report fields kept as flat columns)."""
    if rec is None:
        return {"rows": n_rows, "fit_seconds": None, "cpu_seconds": None, "warnings": None, "report": {}}
    report = {k[len("report_"):]: v for k, v in rec.items() if k.startswith("report_") and not _missing(v)}
    return {"rows": rec.get("rows", n_rows), "fit_seconds": rec.get("fit_seconds"),
            "cpu_seconds": rec.get("cpu_seconds"),
            "warnings": rec.get("warnings"), "report": report}


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
