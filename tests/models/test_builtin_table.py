"""The registry's table of built-in models and the models dt1d.models defines agree.

The table lets the registry name built-in models before their modules are
imported; a model added under dt1d/models/ but missing from the table (or a
table entry that points at nothing) would make the two disagree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
import dt1d
from dt1d.core.model_registry import discover_models, list_available_models

table = list_available_models()  # nothing of dt1d.models imported yet
imported_before = sorted(m for m in sys.modules if m.startswith("dt1d.models"))
registered = discover_models("dt1d.models")  # every public module, recursively
print(json.dumps({"table": table, "imported_before": imported_before,
                  "registered": sorted(registered), "after": list_available_models()}))
"""


def test_table_names_exactly_the_models_that_dt1d_models_registers():
    env = dict(os.environ, DT1D_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, env=env
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["imported_before"] == []
    # every model class a dt1d.models module registers is in the table, and no more
    assert result["registered"] == sorted(result["table"])
    # and each table entry points at the class that registered the name
    assert result["after"] == result["table"]
