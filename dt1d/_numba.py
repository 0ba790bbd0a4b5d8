"""dt1d's numba settings, for every kernel: ``jit``, the on-disk cache and the fastmath flag sets.

Every jitted kernel in dt1d is decorated with :func:`jit` from here and takes
its fastmath flags from one of the sets below; no package reaches into
another's jit helpers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numba

logger = logging.getLogger(__name__)

#: Set ``DT1D_NUMBA_CACHE=0`` to switch the on-disk cache off (e.g. on a read-only install).
CACHE_ENV_VAR = "DT1D_NUMBA_CACHE"

#: fastmath flags of the physiology kernels and everything built on them (the simulator,
#: the mechanistic twin): none. With FMA contraction ("contract") LLVM fuses multiply-adds
#: differently in the vectorised body and the scalar remainder of a loop over patients, so
#: a patient's trajectory depended (by an ulp or so) on its lane and on the batch size.
#: Without it every lane computes the same IEEE operations: a patient simulated in any batch
#: equals the same patient simulated alone, bit for bit (about 15 % slower).
PHYSIOLOGY_FASTMATH: frozenset[str] = frozenset()

#: fastmath flags of the LSTM inference engine (float32 matrix work): everything except
#: "nnan"/"ninf", so the activation clamps still send +-inf to +-1.
LSTM_FASTMATH: frozenset[str] = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

_warned = False


def cache_enabled() -> bool:
    """Whether kernels ask numba for an on-disk cache (``DT1D_NUMBA_CACHE`` not set to 0)."""
    return os.environ.get(CACHE_ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def jit(**options: Any) -> Callable[[Callable], Callable]:
    """Decorate a kernel with ``numba.njit(cache=True, error_model="numpy", **options)``.

    Falls back to no cache: numba refuses ``cache=True`` at decoration time (``RuntimeError: no locator available``)
    when neither the package's ``__pycache__``, ``NUMBA_CACHE_DIR`` nor the user cache
    directory is writable; the kernel is then compiled on every start instead of failing
    the import.
    """

    # numpy's error model: a float division by zero gives inf/NaN (caught by the divergence
    # checks) instead of a Python exception branch that stops loops from vectorising.
    options.setdefault("error_model", "numpy")

    def decorate(func: Callable) -> Callable:
        global _warned
        if cache_enabled():
            try:
                return numba.njit(cache=True, **options)(func)
            except RuntimeError as exc:  # no writable cache locator
                if not _warned:
                    logger.warning(
                        "numba cache disabled (%s); dt1d kernels will be compiled on every start",
                        exc,
                    )
                    _warned = True
        return numba.njit(cache=False, **options)(func)

    return decorate
