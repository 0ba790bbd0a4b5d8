"""Insulin pump model: dose quantisation and the pump's limits (simglucose's pump table)."""

from __future__ import annotations

import math

import attrs
import numpy as np

from dt1d.exceptions import PumpLimitError
from dt1d.physiology.params import read_parameter_table

__all__ = ["InsulinPump", "PumpLimitError", "list_pumps"]


def _pump_rows() -> dict[str, dict[str, str]]:
    return {row["Name"]: row for row in read_parameter_table("pump_params.csv")}


def list_pumps() -> list[str]:
    """Names of the shipped insulin pump parameter sets."""
    return list(_pump_rows())


def _positive(instance, attribute, value) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"InsulinPump.{attribute.name} = {value!r} must be finite and > 0")


@attrs.frozen(kw_only=True)
class InsulinPump:
    """A pump: basal rates in steps of ``basal_increment_u_per_h`` up to ``max_basal_u_per_h``,
    boluses in steps of ``bolus_increment_u`` up to ``max_bolus_u``.

    simglucose 0.2.11 applies the 0.05 increment to the rate in pmol/min (so it never
    quantises) and compares the limits with rates in U/min; ``simglucose_compat=True``
    reproduces that, clipping instead of refusing. By default doses are rounded to the
    increments and a request beyond a limit raises :class:`PumpLimitError`.
    """

    name: str = "Insulet"
    max_basal_u_per_h: float = attrs.field(default=30.0, converter=float, validator=_positive)
    max_bolus_u: float = attrs.field(default=30.0, converter=float, validator=_positive)
    basal_increment_u_per_h: float = attrs.field(default=0.05, converter=float,
                                                 validator=_positive)
    bolus_increment_u: float = attrs.field(default=0.05, converter=float, validator=_positive)
    simglucose_compat: bool = False

    @classmethod
    def from_name(cls, name: str, **overrides) -> InsulinPump:
        """A shipped pump (``"Insulet"``, ``"Cozmo"``) with optional field overrides."""
        rows = _pump_rows()
        if name not in rows:
            raise ValueError(f"unknown insulin pump {name!r}; known: {', '.join(rows)}")
        r = rows[name]
        values = dict(name=name, max_basal_u_per_h=r["max_basal"], max_bolus_u=r["max_bolus"],
                      basal_increment_u_per_h=r["inc_basal"], bolus_increment_u=r["inc_bolus"])
        values.update(overrides)
        return cls(**values)

    def deliver(self, basal_u_per_h: np.ndarray, bolus_u: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """What the pump delivers for requested basal rates [U/h] and boluses [U] (arrays)."""
        basal = np.asarray(basal_u_per_h, dtype=np.float64)
        bolus = np.asarray(bolus_u, dtype=np.float64)
        for label, value in (("basal rate [U/h]", basal), ("bolus [U]", bolus)):
            bad = ~np.isfinite(value) | (value < 0)
            if bad.any():
                raise PumpLimitError(
                    f"the controller asked the pump for a {label} of {value[bad][0]!r}; "
                    "doses must be finite and >= 0")
        if self.simglucose_compat:
            # simglucose: increments applied in pmol/min, limits compared with U/min rates
            rate = np.round(basal / 60.0 * 6000.0 / self.basal_increment_u_per_h)
            rate = np.clip(rate * self.basal_increment_u_per_h / 6000.0, 0.0,
                           self.max_basal_u_per_h)
            bol = np.round(bolus * 6000.0 / self.bolus_increment_u) * self.bolus_increment_u
            bol = np.clip(bol / 6000.0, 0.0, self.max_bolus_u)
            return rate * 60.0, bol
        if (basal > self.max_basal_u_per_h).any():
            raise PumpLimitError(
                f"basal rate {basal.max():g} U/h is beyond the {self.name} pump's limit of "
                f"{self.max_basal_u_per_h:g} U/h")
        if (bolus > self.max_bolus_u).any():
            raise PumpLimitError(
                f"bolus {bolus.max():g} U is beyond the {self.name} pump's limit of "
                f"{self.max_bolus_u:g} U; split it or raise max_bolus_u")
        basal = np.round(basal / self.basal_increment_u_per_h) * self.basal_increment_u_per_h
        bolus = np.round(bolus / self.bolus_increment_u) * self.bolus_increment_u
        return basal, bolus
