"""Suite-wide settings: one thread for BLAS/torch, headless matplotlib, hypothesis profile."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from pathlib import Path  # noqa: E402

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


#: One real person's two-day record (ReplayBG's example data, GPL-3, test data only).
REAL_RECORD_DIR = Path(__file__).resolve().parent / "data" / "real"


@pytest.fixture(scope="session")
def real_record_dir() -> Path:
    """The folder of the vendored real two-day record (``tests/data/real``, see its README)."""
    missing = [n for n in ("data_day_1.csv", "data_day_2.csv", "patient_info.csv")
               if not (REAL_RECORD_DIR / n).is_file()]
    if missing:
        pytest.fail(f"test data missing from the repository: {REAL_RECORD_DIR} lacks {missing}")
    return REAL_RECORD_DIR
