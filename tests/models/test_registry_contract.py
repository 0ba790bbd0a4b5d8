"""Every model dt1d registers keeps the model contract, one test per rule.

The models come from the registry, not from a hand-written list, so a new
built-in model cannot skip the contract: adding it to the registry adds its
checks here. Models registered by other tests (their classes live outside
dt1d) are left out.
"""

from __future__ import annotations

from typing import Any

from dt1d.core.model_registry import get_model_class, list_available_models
from dt1d.testing import parametrize_with_checks

#: Settings that keep a slow model's checks short, by any of its registered names.
#: A model not listed here is checked with its defaults.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "lstm": {"hidden_size": 8, "num_layers": 1, "epochs": 2, "num_threads": 1},
    "mechanistic_uva_padova": {"body_weight_kg": 70.0, "n_starts": 1},
}


def _dt1d_models() -> dict[type, list[str]]:
    """Each model class registered by dt1d itself -> its registered names (aliases included)."""
    names: dict[type, list[str]] = {}
    for name, target in list_available_models().items():
        if target.startswith("dt1d."):
            names.setdefault(get_model_class(name), []).append(name)
    return names


MODELS = _dt1d_models()


def _params(cls: type) -> dict[str, Any]:
    found = [FAST_PARAMS[n] for n in MODELS[cls] if n in FAST_PARAMS]
    assert len(found) <= 1, f"FAST_PARAMS names {cls.__qualname__} twice"
    return found[0] if found else {}


def test_the_registry_offers_the_built_in_models():
    names = {n for model_names in MODELS.values() for n in model_names}
    assert {"persistence", "linear", "lstm", "mechanistic_uva_padova"} <= names
    assert set(FAST_PARAMS) <= names, "FAST_PARAMS names a model that is not registered"


@parametrize_with_checks([(cls, _params(cls)) for cls in MODELS])
def test_registered_model_keeps_the_contract(model_class, check):
    check()
