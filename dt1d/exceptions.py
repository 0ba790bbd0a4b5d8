"""Every error and warning type dt1d raises, under one base class.

Catch :class:`Dt1dError` to handle any problem dt1d reports about its input
(a bad record, file, name or parameter); anything else escaping dt1d is a
bug. Each type also derives from the built-in exception it replaced
(``ValueError``, ``KeyError``, ...), so older ``except`` clauses keep working.
The types are re-exported where they were always imported from
(``dt1d.data.DataValidationError``, ``dt1d.sim.SimulationDivergedError``...).

This module imports nothing from dt1d at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CapabilityError",
    "ControllerSettingsError",
    "ConvergenceWarning",
    "DataValidationError",
    "DiscoveryError",
    "ForecastRangeWarning",
    "Dt1dError",
    "Dt1dWarning",
    "ModelNotFoundError",
    "NotFittedError",
    "PlausibilityWarning",
    "PumpLimitError",
    "ReaderError",
    "RegistrationError",
    "ReportError",
    "SimulationDivergedError",
    "TwinFileError",
    "UnknownPatientError",
]


class Dt1dError(Exception):
    """Base class of every error dt1d raises on purpose (bad input, files, names, settings)."""


class Dt1dWarning(Dt1dError, UserWarning):
    """Base class of dt1d's warnings (a ``UserWarning``; also a :class:`Dt1dError` when raised)."""


# -- models and the registry -----------------------------------------------------------
class RegistrationError(Dt1dError):
    """A model class or name cannot be registered (collision, bad name, missing methods)."""


class ModelNotFoundError(KeyError, RegistrationError):
    """No model is known under the requested name; the message says why and how to fix it."""

    def __init__(
        self,
        name: str,
        known: Iterable[str] = (),
        *,
        plugins_disabled: bool = False,
    ) -> None:
        from dt1d.core._registry_errors import not_found_message, suggest_names

        self.name = name
        self.suggestions: list[str] = suggest_names(name, known)
        self.message = not_found_message(name, self.suggestions, plugins_disabled)
        super().__init__(self.message)

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return self.message


class DiscoveryError(RegistrationError):
    """`discover_models` could not import some modules; `failures` maps module name to error."""

    def __init__(self, message: str, failures: dict[str, BaseException]) -> None:
        super().__init__(message)
        self.failures = failures


class NotFittedError(Dt1dError, RuntimeError):
    """A model was asked to predict (or save learned state) before ``fit`` ran."""


class CapabilityError(Dt1dError, NotImplementedError):
    """The chosen model cannot do what was asked (for example ``simulate``)."""


class ConvergenceWarning(Dt1dWarning):
    """An optimiser stopped before converging; see the model's ``fit_report_``."""


# -- data and files ----------------------------------------------------------------------
class DataValidationError(Dt1dError, ValueError):
    """A patient record breaks the data contract; says which column, rows and fix."""

    def __init__(
        self,
        problem: str,
        *,
        code: str,
        column: str | None = None,
        rows: Sequence[Any] = (),
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.code = code
        self.column = column
        self.rows = list(rows)
        self.fix = fix
        parts = []
        if column is not None:
            parts.append(f"column {column!r}: ")
        parts.append(problem)
        if self.rows:
            parts.append(f" (first rows: {', '.join(str(r) for r in self.rows)})")
        if fix:
            parts.append(f". Fix: {fix}")
        super().__init__("".join(parts))


class ReaderError(DataValidationError):
    """A file could not be read into a record; names the file, the record and the field."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        problem: str,
        *,
        record: Any = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(
            problem, code="bad_file", column=field, rows=[] if record is None else [record], fix=fix
        )
        self.path = None if path is None else os.fspath(path)
        self.record = record
        self.field = field
        parts = [f"{self.path}: " if self.path is not None else ""]
        if record is not None:
            parts.append(f"{record}: ")
        if field is not None:
            parts.append(f"field {field!r}: ")
        parts.append(problem)
        if fix:
            parts.append(f". Fix: {fix}")
        self.args = ("".join(parts),)

    def __str__(self) -> str:
        return str(self.args[0])


class ReportError(Dt1dError, ValueError):
    """A glucose report cannot be made: no or too few glucose readings, a bad unit or
    format, or an output path that cannot be written (named in the message)."""


class TwinFileError(Dt1dError, ValueError):
    """A twin file is damaged, foreign, too new, or its contents cannot be stored safely."""


# -- simulation ----------------------------------------------------------------------------
class SimulationDivergedError(Dt1dError, RuntimeError):
    """A state left its physical range (or became NaN/infinite): names patient, time, state.

    Attributes: ``patient`` (name), ``minute`` (after the start), ``state`` (name) and
    ``value``.
    """

    def __init__(self, message: str, *, patient: str | None = None, minute: int | None = None,
                 state: str | None = None, value: float | None = None) -> None:
        super().__init__(message)
        self.patient = patient
        self.minute = minute
        self.state = state
        self.value = value


class ForecastRangeWarning(Dt1dWarning):
    """Forecasts left the physical glucose range (10-1000 mg/dL) and were clipped to it."""


class PlausibilityWarning(Dt1dWarning):
    """Record values that are possible but unusual (a very large bolus or meal, a glucose
    reading below what CGMs report); see ``dt1d.data.limits``."""


class ControllerSettingsError(Dt1dError, ValueError):
    """A controller's or treatment handler's setting that cannot work (named with its value)."""


class PumpLimitError(Dt1dError, ValueError):
    """A requested basal rate or bolus outside what the pump can deliver."""


class UnknownPatientError(Dt1dError, KeyError):
    """A virtual patient name that is not in the cohort (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])
