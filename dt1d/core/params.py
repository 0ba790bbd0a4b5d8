"""Old home of :class:`~dt1d.core.base.ParamsMixin` and ``param_names``; import them from
:mod:`dt1d.core.base` (or ``dt1d.ParamsMixin``). Kept so that existing models keep importing.
"""

from dt1d.core.base import ParamsMixin, param_names

__all__ = ["ParamsMixin", "param_names"]
