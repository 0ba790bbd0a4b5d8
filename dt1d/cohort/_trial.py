"""``simulate_trial``: a what-if trial over a cohort of fitted twins or virtual patients."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from dt1d.cohort import _run
from dt1d.cohort._fit import split_records

logger = logging.getLogger(__name__)


@attrs.frozen(eq=False)
class TrialTask:
    """One subject of a trial: a twin (object or ``.dt1d`` path) with its record, or a virtual patient."""

    patient_id: Any
    subject: Any
    record: pd.DataFrame | None
    seed: int


def simulate_trial(
    subjects: pd.DataFrame | Mapping[Any, Any] | Sequence[Any],
    scenarios: Mapping[str, Any],
    records: pd.DataFrame | Mapping[Any, pd.DataFrame] | None = None,
    *,
    days: float = 1.0,
    seed: int = 0,
    backend: str = "loky",
    n_jobs: int | None = None,
    client: Any = None,
    batch_size: int | str = "auto",
    retries: int = 2,
    progress: _run.Progress = False,
) -> pd.DataFrame:
    """Run every scenario for every subject; return one long-format record.

    Parameters
    ----------
    subjects:
        Fitted twins: the table of :func:`fit_twins` (rows with status "ok",
        using its ``twin`` or ``path`` column) or a mapping
        ``{patient_id: DigitalTwin or .dt1d path}``; their model must simulate
        (tag ``"simulates"``, the mechanistic twin). Or virtual patients: a
        sequence of names such as ``"adult#001"`` or ``dt1d.sim`` patients.
    scenarios:
        ``{name: scenario}``. For twins a scenario is the keyword arguments of
        ``DigitalTwin.simulate`` (``{"bolus_scale": 1.2}``; ``{}`` replays the
        record unchanged). For virtual patients a ``dt1d.sim.Scenario`` (or
        ``"random"``, or None for no meals), or a dict of keyword arguments of
        ``dt1d.sim.simulate`` (``{"scenario": ..., "controller": None}``).
    records:
        For twins, the record each twin replays (long format with
        ``patient_id``, or ``{patient_id: record}``).
    days, seed:
        For virtual patients: simulated days, and the seed from which each
        patient's sensor noise is drawn (the same for all its scenarios, so
        scenarios differ by their inputs, not by noise).
    backend, n_jobs, client, batch_size, retries, progress:
        As for :func:`fit_twins`.

    Returns
    -------
    The simulated records stacked, indexed by ``time``, with ``patient_id``
    and ``scenario`` columns first. A subject or scenario that fails is left
    out, logged, and listed in ``result.attrs["failures"]`` (dicts with
    ``patient_id``, ``scenario`` and ``reason``).
    """
    _run.check_backend(backend, n_jobs, client)
    named = _check_scenarios(scenarios)
    tasks = _trial_tasks(subjects, records, seed)
    size = (
        _run.auto_batch_size(len(tasks), _run.worker_count(backend, n_jobs, client) if tasks else 1)
        if batch_size == "auto" else int(batch_size)
    )
    results: dict[Any, dict[str, Any]] = {}
    unfinished, error = _run.run(
        trial_batch, tasks, key=lambda task: task.patient_id, extra_args=(named, float(days)),
        backend=backend, n_jobs=n_jobs, client=client, batch_size=size, retries=retries,
        on_row=lambda row: results.__setitem__(row["patient_id"], row), progress=progress,
    )
    lost = {task.patient_id for task in unfinished}
    frames: list[pd.DataFrame] = []
    failures: list[dict[str, Any]] = []
    for task in tasks:
        if task.patient_id in lost:
            failures.append({"patient_id": task.patient_id, "scenario": None,
                             "reason": f"worker lost: {type(error).__name__}: {error}"})
            continue
        row = results[task.patient_id]
        frames.extend(row["frames"])
        failures.extend(row["failures"])
    for failure in failures:
        logger.warning("trial: patient %r, scenario %r failed: %s",
                       failure["patient_id"], failure["scenario"], failure["reason"])
    out = pd.concat(frames) if frames else pd.DataFrame(columns=["patient_id", "scenario"])
    out.attrs["failures"] = failures
    return out


def _check_scenarios(scenarios: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise TypeError(
            "scenarios must be a non-empty mapping {name: scenario}, e.g. "
            "{'usual': {}, 'bolus +20%': {'bolus_scale': 1.2}}"
        )
    bad = [name for name in scenarios if not isinstance(name, str)]
    if bad:
        raise TypeError(f"scenario names must be strings, got {bad!r}")
    return dict(scenarios)


def _trial_tasks(subjects: Any, records: Any, seed: int) -> list[TrialTask]:
    """One task per subject, in the given order; twins checked for the 'simulates' tag here."""
    from dt1d.core.twin import DigitalTwin
    from dt1d.exceptions import CapabilityError

    if isinstance(subjects, pd.DataFrame):
        twins = _twins_of_table(subjects)
    elif isinstance(subjects, Mapping):
        twins = dict(subjects)
    elif isinstance(subjects, Sequence) and not isinstance(subjects, (str, bytes)):
        names = [s if isinstance(s, str) else getattr(s, "name", f"patient_{i}") for i, s in enumerate(subjects)]
        if len(set(names)) != len(names):
            raise ValueError(f"virtual patients must have distinct names, got {names}")
        return [TrialTask(name, subject, None, _patient_seed(seed, i))
                for i, (name, subject) in enumerate(zip(names, subjects, strict=True))]
    else:
        raise TypeError(
            "subjects must be a fit_twins table, a mapping {patient_id: twin or path}, or a "
            f"sequence of virtual patients; got {type(subjects).__name__}"
        )
    if records is None:
        raise ValueError("twins replay a record: pass records= (long format with patient_id, or a mapping)")
    by_id = dict(split_records(records))
    tasks = []
    for i, (pid, twin) in enumerate(twins.items()):
        if pid not in by_id:
            raise ValueError(f"records holds no record for patient {pid!r}")
        if isinstance(twin, DigitalTwin):
            if "simulates" not in getattr(twin.model, "tags", ()):
                raise CapabilityError(
                    f"the twin of patient {pid!r} uses model {twin.model_type!r}, which cannot simulate; "
                    "fit twins of a model tagged 'simulates', such as 'mechanistic'"
                )
        elif not isinstance(twin, (str, os.PathLike)):
            raise TypeError(f"patient {pid!r}: expected a DigitalTwin or a .dt1d path, got {type(twin).__name__}")
        tasks.append(TrialTask(pid, twin, by_id[pid], _patient_seed(seed, i)))
    return tasks


def _twins_of_table(table: pd.DataFrame) -> dict[Any, Any]:
    """``{patient_id: twin or path}`` from the rows of a fit_twins table whose fit succeeded."""
    if "patient_id" not in table.columns or not ({"twin", "path"} & set(table.columns)):
        raise ValueError("a subjects table needs 'patient_id' and a 'twin' or 'path' column (fit_twins' output)")
    ok = table[table["status"] == "ok"] if "status" in table.columns else table
    out: dict[Any, Any] = {}
    for _, row in ok.iterrows():
        twin = row["twin"] if "twin" in ok.columns else None
        out[row["patient_id"]] = twin if twin is not None else row.get("path")
    return out


def _patient_seed(seed: int, index: int) -> int:
    """An independent seed for the subject at ``index`` of a trial seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def trial_batch(scenarios: Mapping[str, Any], days: float, tasks: Sequence[TrialTask]) -> list[dict[str, Any]]:
    """Simulate every scenario for each task; one row per subject with its frames and failures."""
    rows = []
    for task in tasks:
        frames, failures = [], []
        try:
            runner = _subject_runner(task, days)
        except Exception as exc:
            failures.append({"patient_id": task.patient_id, "scenario": None, "reason": f"{type(exc).__name__}: {exc}"})
        else:
            for name, scenario in scenarios.items():
                try:
                    frame = runner(scenario)
                except Exception as exc:  # one scenario's failure must not stop the trial
                    failures.append({"patient_id": task.patient_id, "scenario": name,
                                     "reason": f"{type(exc).__name__}: {exc}"})
                    continue
                frame = frame.drop(columns=["patient_id", "scenario"], errors="ignore")
                frame.insert(0, "scenario", name)
                frame.insert(0, "patient_id", task.patient_id)
                frames.append(frame)
        rows.append({"patient_id": task.patient_id, "frames": frames, "failures": failures})
    return rows


def _subject_runner(task: TrialTask, days: float) -> Any:
    """A function ``scenario -> record`` for the task's twin or virtual patient."""
    from dt1d.core.twin import DigitalTwin

    if task.record is not None:  # a twin replaying its record
        twin = task.subject if isinstance(task.subject, DigitalTwin) else DigitalTwin.load(task.subject)
        record = task.record.drop(columns="patient_id", errors="ignore")
        return lambda scenario: twin.simulate(record, **dict(scenario))
    try:
        import dt1d.sim as sim
    except ImportError as exc:
        raise ImportError(f"virtual patients need dt1d.sim, which failed to import: {exc}") from exc
    patient = sim.virtual_patient(task.subject) if isinstance(task.subject, str) else task.subject

    def run(scenario: Any) -> pd.DataFrame:
        if isinstance(scenario, Mapping):  # keyword arguments of dt1d.sim.simulate
            return sim.simulate(patient, **{"days": days, "seed": task.seed, **scenario})
        return sim.simulate(patient, scenario, days=days, seed=task.seed)

    return run
