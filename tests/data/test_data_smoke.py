"""Quick end-to-end checks of the data contract on a small hand-made record."""

import numpy as np
import pandas as pd
import pytest

from dt1d.data import DataValidationError, horizons_of, make_target, validate


def test_validate_then_target_on_small_record():
    idx = pd.date_range("2025-01-01", periods=6, freq="5min")
    df = pd.DataFrame({"glucose": [100.0, 110, 120, np.nan, 140, 150], "carbs": 0.0,
                       "insulin": 0.0}, index=idx)
    rec = validate(df)
    y = make_target(rec, 10)
    np.testing.assert_array_equal(y.to_numpy(), [120.0, np.nan, 140, 150, np.nan, np.nan])
    assert horizons_of(y) == [10]
    with pytest.raises(DataValidationError, match="mmol/L"):
        validate(df.assign(glucose=df["glucose"] / 18))
