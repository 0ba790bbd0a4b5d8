"""dt1d's built-in models, known to the registry by name before their modules are imported.

Asking for one of these names imports its module (``get_model_class``);
listing them imports nothing. An entry whose module does not exist is ignored,
so the table may name models that are still being written.
"""

from __future__ import annotations

#: name -> "module:QualName" of every built-in model (aliases are separate entries).
_BUILTIN_MODELS: dict[str, str] = {
    "persistence": "dt1d.models.baselines:PersistenceModel",
    "linear": "dt1d.models.baselines:LinearModel",
    "lstm": "dt1d.models.lstm._model:LSTMModel",
    "mechanistic_uva_padova": "dt1d.models.mechanistic._model:MechanisticModel",
    "mechanistic": "dt1d.models.mechanistic._model:MechanisticModel",
}
