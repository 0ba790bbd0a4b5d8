"""Write the twin files of ``tests/data/twinfiles_v0`` (run from the repository root).

These files were saved by dt1d as it was before the model families moved into
subpackages (``dt1d.models.mechanistic``, ``dt1d.models.lstm``) and before the
registry was rewritten. ``tests/core/test_twinfiles_v0.py`` loads each one with
today's code and checks that it forecasts exactly what it forecast when it was
saved (``expected_<model>.npy``, written here in the same run).

    PYTHONPATH=$PWD python tests/data/twinfiles_v0/make_twinfiles.py

Regenerate only if the twin-file format is changed on purpose: these files are
what keeps old twins loadable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Small fits, each a few seconds on one core.
MODELS = {
    "persistence": ({}, 30),
    "linear": ({"lags": 6}, [30, 60]),
    "mechanistic": ({"body_weight_kg": 70.0, "n_starts": 1}, 30),
    "lstm": ({"lookback_min": 60, "hidden_size": 8, "num_layers": 1, "epochs": 2, "seed": 0}, 30),
}


def record():
    """Two simulated days of adult#001 (random meals, seed 3) on a 5-minute grid."""
    from dt1d import sim

    return sim.simulate(sim.virtual_patient("adult#001"), "random", days=2, seed=3)


def main() -> None:
    from dt1d import DigitalTwin

    data = record()
    data.to_csv(HERE / "record.csv")
    for name, (params, horizon) in MODELS.items():
        twin = DigitalTwin(name, params, horizon=horizon).fit(data)
        twin.save(HERE / f"{name}.dt1d")
        np.save(HERE / f"expected_{name}.npy", twin.predict(data))
        print(name, "saved")


if __name__ == "__main__":
    main()
