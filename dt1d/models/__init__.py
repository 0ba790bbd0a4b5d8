"""Built-in models. Importing this package registers every built-in model.

The registry also knows the built-in names before this package is imported
(its table of built-in models, ``_BUILTIN_MODELS`` in
``dt1d/core/model_registry.py``) and imports the right module on first
lookup, so ``DigitalTwin("linear")`` works without importing ``dt1d.models``
first. ``tests/models/test_builtin_table.py`` checks that the table and the
classes this package registers agree. No module here imports torch at import
time.
"""

from dt1d.models import baselines, lstm, mechanistic

__all__ = ["baselines", "lstm", "mechanistic"]
