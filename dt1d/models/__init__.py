"""Built-in models. Importing this package registers every built-in model.

The registry also knows the built-in names before this package is imported
and imports the right module on first lookup, so ``DigitalTwin("linear")``
works without importing ``dt1d.models`` first. No module here imports torch
at import time.
"""

import importlib
import importlib.util

_BUILTIN_MODULES = ("baselines", "mechanistic", "lstm")

for _name in _BUILTIN_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")

del _name
