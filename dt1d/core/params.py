"""scikit-learn style parameters: ``get_params``/``set_params`` derived from ``__init__``.

A model's constructor only stores its arguments, unchanged, under the same
names. :class:`ParamsMixin` reads the constructor signature, so
``get_params``, ``set_params``, ``clone`` and
``create_model(name, **model.get_params())`` can never drift from it.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["ParamsMixin", "param_names"]


def param_names(cls: type) -> list[str]:
    """Names of the keyword parameters of ``cls.__init__``, in signature order.

    Raises ``TypeError`` when the constructor takes ``*args``: such a
    signature cannot be rebuilt from named parameters.
    """
    init = cls.__init__
    if init is object.__init__:
        return []
    names = []
    for p in inspect.signature(init).parameters.values():
        if p.name == "self" or p.kind is p.VAR_KEYWORD:
            continue
        if p.kind is p.VAR_POSITIONAL:
            raise TypeError(
                f"{cls.__qualname__}.__init__ takes *{p.name}; dt1d models must take "
                "named parameters only, so that get_params/clone can rebuild them"
            )
        names.append(p.name)
    return names


class ParamsMixin:
    """Implements ``get_params`` and ``set_params`` from the ``__init__`` signature.

    Mix it in before :class:`~dt1d.core.twin.BaseModel`::

        class MyModel(ParamsMixin, BaseModel):
            def __init__(self, alpha: float = 1.0):
                self.alpha = alpha
    """

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        out: dict[str, Any] = {}
        for name in param_names(type(self)):
            try:
                out[name] = getattr(self, name)
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__qualname__}.__init__ takes {name!r} but does not store it "
                    f"as self.{name}; store every constructor argument unchanged"
                ) from None
        return out

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters by name; an unknown name raises ``ValueError``."""
        valid = param_names(type(self))
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"invalid parameter(s) {', '.join(map(repr, unknown))} for "
                f"{type(self).__qualname__}; valid parameters are: {', '.join(valid) or '(none)'}"
            )
        for key, value in params.items():
            setattr(self, key, value)
        return self
