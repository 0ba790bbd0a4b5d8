"""Suite-wide settings: one thread for BLAS/torch, headless matplotlib, hypothesis profile."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# numba compiles on first call (~1 s): no per-example deadline anywhere.
settings.register_profile(
    "dt1d", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("DT1D_HYPOTHESIS_PROFILE", "dt1d"))


@pytest.fixture(autouse=True)
def _torch_single_thread():
    """Keep torch on one thread when a test has imported it."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    yield
