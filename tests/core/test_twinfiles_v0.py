"""Twin files saved before the layout of dt1d.models and dt1d.core changed still load.

The files in ``tests/data/twinfiles_v0`` were written by the script beside them
with the code of that time; each must load and forecast what it forecast then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d import DigitalTwin

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "twinfiles_v0"
MODELS = ["persistence", "linear", "mechanistic", "lstm"]


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    data = pd.read_csv(FIXTURES / "record.csv", index_col=0, parse_dates=True)
    data.index.name = None
    return data


@pytest.mark.parametrize("name", MODELS)
def test_old_twin_file_loads_and_forecasts_as_when_saved(name: str, record: pd.DataFrame) -> None:
    twin = DigitalTwin.load(FIXTURES / f"{name}.dt1d")
    assert twin.model.is_fitted
    expected = np.load(FIXTURES / f"expected_{name}.npy")
    np.testing.assert_allclose(twin.predict(record), expected, rtol=1e-9, atol=1e-9)
