"""Run batches of patients through joblib (serial, loky or Dask), streaming rows as they finish.

No scheduler of our own: joblib dispatches, loky or Dask run. What this module
adds is the cohort's view: results arrive unordered as batches finish, a
progress bar counts patients, and when a worker dies (loky raises
``TerminatedWorkerError``, Dask ``KilledWorker`` after its own retries) the
patients not yet finished are run again, one per task, instead of the whole
cohort being lost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

BACKENDS = ("serial", "loky", "dask")

_T = TypeVar("_T")
Progress = bool | Callable[[int, int], None]


def check_backend(backend: str, n_jobs: int | None, client: Any) -> None:
    """Raise a clear error for an unknown backend or a client given to a local backend."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if client is not None and backend != "dask":
        raise ValueError(f"client= is only used with backend='dask', not {backend!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0):
        raise ValueError(f"n_jobs must be a non-zero integer (-1: all cores) or None, got {n_jobs!r}")


def auto_batch_size(n_items: int, workers: int) -> int:
    """Patients per task: about four tasks per worker, at most 32 patients each."""
    if n_items == 0:
        return 1
    return max(1, min(32, math.ceil(n_items / (4 * max(workers, 1)))))


def worker_count(backend: str, n_jobs: int | None, client: Any) -> int:
    """How many tasks run at once: 1 (serial), loky's effective n_jobs, or the Dask cluster's threads."""
    if backend == "serial":
        return 1
    if backend == "dask":
        return max(1, sum(_dask_client(client).nthreads().values()))
    import joblib

    return max(1, joblib.effective_n_jobs(-1 if n_jobs is None else n_jobs))


def _dask_client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "backend='dask' needs dask.distributed: pip install 'dask[distributed]'"
        ) from exc
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "backend='dask' needs a dask.distributed Client: pass client=Client(...) or create one "
            "first (Client() starts a local cluster)"
        ) from None


@contextmanager
def _joblib_config(backend: str, n_jobs: int | None, client: Any) -> Iterator[int]:
    """joblib's configuration for ``backend``; yields the n_jobs to give ``Parallel``."""
    import joblib

    if backend == "serial":
        with joblib.parallel_config(backend="sequential"):
            yield 1
    elif backend == "loky":
        with joblib.parallel_config(backend="loky"):
            yield -1 if n_jobs is None else n_jobs
    else:
        with joblib.parallel_config(backend="dask", client=_dask_client(client)):
            yield -1 if n_jobs is None else n_jobs


def chunk(items: Sequence[_T], size: int) -> list[list[_T]]:
    """``items`` in consecutive lists of ``size`` (the last may be shorter)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run(
    func: Callable[..., list[dict[str, Any]]],
    items: Sequence[_T],
    *,
    key: Callable[[_T], Any],
    extra_args: tuple[Any, ...],
    backend: str,
    n_jobs: int | None,
    client: Any,
    batch_size: int,
    retries: int,
    on_row: Callable[[dict[str, Any]], None],
    progress: Progress,
    unit: str = "patient",
) -> tuple[list[_T], BaseException | None]:
    """Call ``func(*extra_args, batch)`` over batches of ``items``; hand each row to ``on_row``.

    ``func`` returns one row (a dict with the item's key under ``"patient_id"``)
    per item and never raises for one item. An exception out of joblib means a
    worker or the transport failed: the unfinished items run again one per
    task, up to ``retries`` rounds that finish nothing. Returns the items still
    unfinished (empty when all ran) and the last such exception; when no item
    ever finished, that exception is raised instead (a systematic error, such as
    a task that cannot be pickled). Errors of ``on_row`` and ``progress`` propagate.
    """
    from joblib import Parallel, delayed

    pending = list(items)
    bar, tick = _progress(progress, len(items), unit)
    done_count = 0
    stale_rounds = 0
    size = batch_size
    last_error: BaseException | None = None
    try:
        while pending:
            finished: set[Any] = set()
            try:
                with _joblib_config(backend, n_jobs, client) as jobs:
                    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=1)
                    results = parallel(delayed(func)(*extra_args, batch) for batch in chunk(pending, size))
                    try:
                        for rows in _failures_marked(results):
                            for row in rows:  # errors here (on_row, progress) are the caller's
                                finished.add(row["patient_id"])
                                on_row(row)
                                done_count += 1
                                tick(done_count)
                    finally:
                        results.close()
                pending = []
            except _WorkerFailure as failure:  # a dead worker or a broken transport, not a patient
                exc = failure.__cause__
                last_error = exc
                pending = [item for item in pending if key(item) not in finished]
                stale_rounds = 0 if finished else stale_rounds + 1
                if stale_rounds > retries:
                    if done_count == 0:  # nothing ever ran: a systematic error, not a lost worker
                        raise exc from None
                    logger.error(
                        "giving up on %d %s(s) after %d rounds without progress: %s: %s",
                        len(pending), unit, stale_rounds, type(exc).__name__, exc,
                    )
                    return pending, exc
                logger.warning(
                    "%s: %s; running the %d unfinished %s(s) again, one per task",
                    type(exc).__name__, exc, len(pending), unit,
                )
                size = 1
    finally:
        if bar is not None:
            bar.close()
    return [], last_error


class _WorkerFailure(Exception):
    """Raised from the results stream when joblib reports a failure of the machinery."""


def _failures_marked(results: Iterator[_T]) -> Iterator[_T]:
    """``results`` with joblib's errors (not those of the consumer) wrapped in ``_WorkerFailure``."""
    while True:
        try:
            item = next(results)
        except StopIteration:
            return
        except Exception as exc:
            raise _WorkerFailure(str(exc)) from exc
        yield item


def _progress(progress: Progress, total: int, unit: str) -> tuple[Any, Callable[[int], None]]:
    """A tqdm bar (``progress=True``), a user callback ``(done, total)``, or nothing."""
    if callable(progress):
        return None, lambda done: progress(done, total)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit=unit)
        return bar, lambda done: bar.update(done - bar.n)
    return None, lambda done: None
