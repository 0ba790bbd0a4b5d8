"""Physiological plausibility limits on the amounts of a record, per step and per 24 hours.

`dt1d.data.validate` refuses amounts no person could receive (insulin logged in mU
as U, carbs in mg as g) with a `DataValidationError`, and warns with a
`PlausibilityWarning` about amounts that are possible but unusual. The limits are
documented in ``docs/data_format.md``; pass ``limits=`` to `validate`, or set them
for a block of code with `use_limits`, to override them.

This module imports nothing of dt1d but its exceptions.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import attrs
import numpy as np

from dt1d.exceptions import PlausibilityWarning

__all__ = [
    "DEFAULT_LIMITS",
    "PlausibilityLimits",
    "PlausibilityWarning",
    "current_limits",
    "use_limits",
]

#: A reading this far (minutes) from a neighbour is compared with it for unit mistakes.
NEIGHBOUR_WINDOW_MIN = 30
_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if math.isnan(value) or value <= 0:
        raise ValueError(f"PlausibilityLimits.{attribute.name} = {value!r} must be > 0 "
                         "(math.inf disables the check)")


@attrs.frozen(kw_only=True)
class PlausibilityLimits:
    """Largest plausible amounts: ``*_warn_*`` warn when exceeded, ``*_max_*`` are errors.

    Step limits apply to one row of a record on a grid of at most an hour; day limits to
    the total of any 24 hours (any one row, on a coarser grid, scaled by its length).
    Insulin limits apply to ``insulin``, ``bolus``, ``basal`` and ``long_acting_insulin``.
    Use ``math.inf`` to switch a check off.
    """

    #: A pump's largest bolus is 25-30 U; a pen injection at most 80 U.
    insulin_step_warn_u: float = attrs.field(default=50.0, converter=float, validator=_positive)
    insulin_step_max_u: float = attrs.field(default=250.0, converter=float, validator=_positive)
    #: Total daily doses in type 1 diabetes are about 0.3-1 U/kg, rarely above 200 U.
    insulin_day_warn_u: float = attrs.field(default=300.0, converter=float, validator=_positive)
    insulin_day_max_u: float = attrs.field(default=1500.0, converter=float, validator=_positive)
    #: A large meal has about 150 g of carbohydrate.
    carbs_step_warn_g: float = attrs.field(default=250.0, converter=float, validator=_positive)
    carbs_step_max_g: float = attrs.field(default=1000.0, converter=float, validator=_positive)
    #: Endurance athletes eat up to about 1000 g a day.
    carbs_day_warn_g: float = attrs.field(default=1000.0, converter=float, validator=_positive)
    carbs_day_max_g: float = attrs.field(default=3000.0, converter=float, validator=_positive)

    def __attrs_post_init__(self) -> None:
        for kind, unit in (("insulin", "u"), ("carbs", "g")):
            for span in ("step", "day"):
                warn = getattr(self, f"{kind}_{span}_warn_{unit}")
                most = getattr(self, f"{kind}_{span}_max_{unit}")
                if warn > most:
                    raise ValueError(
                        f"PlausibilityLimits.{kind}_{span}_warn_{unit} = {warn!r} is above "
                        f"{kind}_{span}_max_{unit} = {most!r}"
                    )

    def for_column(self, column: str) -> tuple[str, float, float, float, float]:
        """``(unit, step warn, step max, day warn, day max)`` for an amount column."""
        if column == "carbs":
            return ("g", self.carbs_step_warn_g, self.carbs_step_max_g,
                    self.carbs_day_warn_g, self.carbs_day_max_g)
        return ("U", self.insulin_step_warn_u, self.insulin_step_max_u,
                self.insulin_day_warn_u, self.insulin_day_max_u)


#: The limits `validate` uses unless told otherwise.
DEFAULT_LIMITS = PlausibilityLimits()

_CURRENT: contextvars.ContextVar[PlausibilityLimits] = contextvars.ContextVar(
    "dt1d_plausibility_limits", default=DEFAULT_LIMITS
)


def current_limits() -> PlausibilityLimits:
    """The limits `validate` uses when not passed ``limits=`` (`DEFAULT_LIMITS` outside `use_limits`)."""
    return _CURRENT.get()


@contextlib.contextmanager
def use_limits(limits: PlausibilityLimits) -> Iterator[PlausibilityLimits]:
    """Make ``limits`` the default of every `validate` call in this block (this thread only).

    Models, readers and twins validate their input themselves; this reaches them too.
    Worker processes (``dt1d.cohort``) do not inherit it.
    """
    if not isinstance(limits, PlausibilityLimits):
        raise TypeError(f"use_limits needs a PlausibilityLimits, got {type(limits).__name__}")
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


# Unit mistakes that multiply an amount: (what happened, factor), most likely first.
_UNIT_MISTAKES = {
    "U": (("insulin in mU (milliunits) logged as U", 1000.0),
          ("insulin in pmol logged as U (1 U = 6,000 pmol)", 6000.0)),
    "g": (("carbs in mg logged as g", 1000.0),),
}


def window_rows(step_ns: int | None) -> tuple[int, float]:
    """Rows per 24-hour window on a grid of ``step_ns``, and the day limit's scale factor."""
    if step_ns is None or step_ns <= 0:
        return 1, 1.0
    if step_ns >= _DAY_NS:
        return 1, step_ns / _DAY_NS
    return max(1, int(round(_DAY_NS / step_ns))), 1.0


def checks_steps(step_ns: int | None) -> bool:
    """Whether per-step limits apply (a grid of at most an hour, or a single row)."""
    return step_ns is None or step_ns <= _HOUR_NS


def window_totals(values: np.ndarray, codes: np.ndarray | None, rows: int) -> np.ndarray:
    """The total of each row and the ``rows - 1`` rows before it, within the same patient."""
    n = len(values)
    csum = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    ends = np.arange(1, n + 1)
    starts = np.maximum(ends - rows, 0)
    if codes is not None and n:
        first = np.r_[True, codes[1:] != codes[:-1]]
        patient_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        starts = np.maximum(starts, patient_start)
    return csum[ends] - csum[starts]


def unit_mistake(unit: str, step_max: float, day_max: float, step_warn: float,
                 day_warn: float) -> str:
    """The likeliest unit mistake that makes amounts this large plausible, as a sentence."""
    for what, factor in _UNIT_MISTAKES[unit]:
        if step_max / factor <= step_warn and day_max / factor <= day_warn:
            return f"this looks like {what}: divide by {factor:,.0f}"
    return "no unit mistake explains it: check the column's units and the reader"


def looks_like_mmol(glucose: np.ndarray, times_ns: np.ndarray, codes: np.ndarray | None,
                    threshold_mgdl: float, mgdl_per_mmoll: float) -> np.ndarray:
    """Readings below ``threshold_mgdl`` that a neighbour (within 30 min) says are mmol/L.

    A reading ``v`` is taken for mmol/L when a neighbouring reading of the same patient is
    nearer, by ratio, to ``v * 18.0156`` than to ``v`` (glucose cannot fall or rise that
    many-fold within minutes).
    """
    out = np.zeros(len(glucose), dtype=bool)
    known = np.flatnonzero(~np.isnan(glucose))
    if known.size < 2:
        return out
    values = glucose[known]
    times = times_ns[known].astype("datetime64[ns]").astype(np.int64)
    patient = np.zeros(known.size, dtype=np.int64) if codes is None else codes[known]
    linked = (patient[1:] == patient[:-1]) & (
        np.diff(times) <= NEIGHBOUR_WINDOW_MIN * 60 * 10**9
    )
    neighbour = np.full(known.size, -np.inf)
    neighbour[1:] = np.where(linked, values[:-1], -np.inf)
    neighbour[:-1] = np.maximum(neighbour[:-1], np.where(linked, values[1:], -np.inf))
    suspect = (values < threshold_mgdl) & (neighbour > values * math.sqrt(mgdl_per_mmoll))
    out[known[suspect]] = True
    return out
