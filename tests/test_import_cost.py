"""``import dt1d`` stays light: no torch, matplotlib or numba, and nothing registered for BaseModel."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import dt1d
from dt1d.core.model_registry import list_available_models
models = list_available_models()
print(json.dumps({"heavy": sorted(m for m in ("torch", "matplotlib", "numba") if m in sys.modules),
                  "models": models}))
"""


def test_import_dt1d_and_listing_do_not_import_heavy_libraries():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert "BaseModel" not in " ".join(result["models"].values())
    assert result["models"]["persistence"] == "dt1d.models.baselines.PersistenceModel"
    assert result["models"]["linear"] == "dt1d.models.baselines.LinearModel"
