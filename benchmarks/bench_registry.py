"""Cost of the model registry: register, look up, list, and ``import dt1d`` itself.

The registry runs in one thread (``set_threads`` pins BLAS/torch to
``DT1D_BENCH_THREADS``, default 1, for comparable figures). Each ``time_*``
figure is one call, on a registry holding the built-in names plus 50 extra
models, restored afterwards with ``isolated()``. Lower is better.
``timeraw_import_dt1d`` times ``import dt1d`` in a fresh interpreter: it must
stay fast and must not import torch (tests/test_import_cost.py checks that).
"""

from __future__ import annotations

from ._common import set_threads

N_EXTRA_MODELS = 50


def _model_class(name: str) -> type:
    """A concrete model class made without a class statement (so not auto-registered)."""
    import numpy as np

    from dt1d.core.base import ParamsMixin
    from dt1d.core.twin import BaseModel

    def fit(self, X, y=None, **kwargs):
        return self

    def predict(self, X, **kwargs):
        return np.zeros(len(X))

    namespace = {"fit": fit, "predict": predict, "__module__": __name__}
    return type(BaseModel)(name, (ParamsMixin, BaseModel), namespace)


CLASS_STATEMENT = """
class StatementModel(ParamsMixin, BaseModel, name="bench_statement"):
    def fit(self, X, y=None, **kwargs):
        return self

    def predict(self, X, **kwargs):
        return X
"""


class RegistryOperations:
    """Register/unregister, lookups and listings on a registry of ~55 names."""

    def setup(self) -> None:
        from dt1d.core.base import ParamsMixin
        from dt1d.core.model_registry import get_model_class, isolated, register_model
        from dt1d.core.twin import BaseModel

        self.threads = set_threads()
        self._context = isolated()
        self._context.__enter__()
        for i in range(N_EXTRA_MODELS):
            register_model(f"bench_model_{i}")(_model_class(f"BenchModel{i}"))
        self.spare = _model_class("SpareModel")
        get_model_class("persistence")  # its module is imported once, here
        self.statement = compile(CLASS_STATEMENT, "<bench>", "exec")
        self.namespace = {"ParamsMixin": ParamsMixin, "BaseModel": BaseModel, "__name__": __name__}

    def teardown(self) -> None:
        self._context.__exit__(None, None, None)

    def time_register_unregister(self) -> None:
        from dt1d.core.model_registry import register_model, unregister_model

        register_model("bench_spare")(self.spare)
        unregister_model("bench_spare")

    def time_class_statement(self) -> None:
        # Re-running the same class statement replaces the earlier definition.
        exec(self.statement, self.namespace)

    def time_get_model_class(self) -> None:
        from dt1d.core.model_registry import get_model_class

        get_model_class("bench_model_25")

    def time_get_model_class_builtin(self) -> None:
        from dt1d.core.model_registry import get_model_class

        get_model_class("persistence")

    def time_is_model_registered_unknown(self) -> None:
        from dt1d.core.model_registry import is_model_registered

        is_model_registered("no_such_model")

    def time_list_available_models(self) -> None:
        from dt1d.core.model_registry import list_available_models

        list_available_models()

    def time_list_available_models_pattern(self) -> None:
        from dt1d.core.model_registry import list_available_models

        list_available_models("bench_model_1*")


def timeraw_import_dt1d() -> str:
    """Seconds to ``import dt1d`` in a fresh interpreter (asv runs the code it returns)."""
    return "import dt1d"
