"""Shared settings of dt1d's asv benchmarks: thread counts and problem sizes.

Benchmarks run with an explicit thread count (``DT1D_BENCH_THREADS``, default
1) because torch and BLAS thread pools slow down badly on a busy 2-core
machine. ``DT1D_BENCH_QUICK=1`` shrinks every problem so that the test suite
can run each benchmark once (``tests/benchmarks``).
"""

from __future__ import annotations

import os

QUICK = os.environ.get("DT1D_BENCH_QUICK", "") == "1"


def threads() -> int:
    """Thread count for BLAS, numba and torch in this benchmark process."""
    return int(os.environ.get("DT1D_BENCH_THREADS", "1"))


def set_threads(n: int | None = None) -> int:
    """Pin BLAS/torch/numba to ``n`` threads (default :func:`threads`); return ``n``."""
    n = threads() if n is None else n
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    import sys

    # numba first: its first set_num_threads starts its OpenMP thread pool, which resets
    # the process's OpenMP thread count (torch's too) to NUMBA_NUM_THREADS.
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return n


def size(full: int, quick: int) -> int:
    """``full`` normally, ``quick`` when the benchmarks run as a smoke test."""
    return quick if QUICK else full
