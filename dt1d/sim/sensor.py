"""CGM sensor model: Johnson-SU distributed, autocorrelated noise (Breton & Kovatchev 2008).

The noise is driven by a standard-normal AR(1) process sampled every 15 minutes,
transformed to the Johnson SU distribution ``xi + lambda * sinh((e - gamma) / delta)`` and
interpolated to the sensor's sampling times by a cubic spline; readings are
``clip(G_sub + noise, min, max)`` (the sensor's reporting range). Parameters: simglucose's
``sensor_params.csv`` (Dexcom, GuardianRT, Navigator share the same noise parameters).

Difference from simglucose 0.2.11 (see docs/simulation.md): simglucose's driver is
``e_k = PACF * (e_{k-1} + w_k)``, whose stationary variance is PACF^2 / (1 - PACF^2) = 0.96
rather than 1, and it interpolates blocks of 10 knots with separate splines. The default
here is the standard AR(1) ``e_k = PACF * e_{k-1} + sqrt(1 - PACF^2) * w_k`` and one spline;
``simglucose_compat=True`` reproduces simglucose's recursion, block splines and
``RandomState`` stream.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy.interpolate import CubicSpline

from dt1d.physiology.params import read_parameter_table

__all__ = ["CGMSensor", "list_sensors"]

_KNOT_MIN = 15.0  # the noise driver's sampling period [min]
_COMPAT_BLOCK = 10  # simglucose's PRECOMPUTE


def _finite(instance, attribute, value) -> None:
    if not math.isfinite(value):
        raise ValueError(f"CGMSensor.{attribute.name} = {value!r} must be finite")


def _sensor_rows() -> dict[str, dict[str, str]]:
    return {row["Name"]: row for row in read_parameter_table("sensor_params.csv")}


def list_sensors() -> list[str]:
    """Names of the shipped CGM sensor parameter sets."""
    return list(_sensor_rows())


@attrs.frozen(kw_only=True)
class CGMSensor:
    """A CGM: noise parameters (Johnson SU, Breton & Kovatchev 2008) and reporting range."""

    name: str = "GuardianRT"
    pacf: float = attrs.field(default=0.7, converter=float, validator=_finite)
    gamma: float = attrs.field(default=-0.5444, converter=float, validator=_finite)
    lambda_: float = attrs.field(default=15.9574, converter=float, validator=_finite)
    delta: float = attrs.field(default=1.6898, converter=float, validator=_finite)
    xi: float = attrs.field(default=-5.47, converter=float, validator=_finite)
    min_mg_dl: float = attrs.field(default=39.0, converter=float, validator=_finite)
    max_mg_dl: float = attrs.field(default=600.0, converter=float, validator=_finite)
    simglucose_compat: bool = False

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.pacf < 1.0:
            raise ValueError(f"CGMSensor.pacf = {self.pacf} must be in [0, 1)")
        if self.delta <= 0 or self.lambda_ <= 0:
            raise ValueError("CGMSensor.delta and CGMSensor.lambda_ must be > 0")
        if not self.min_mg_dl < self.max_mg_dl:
            raise ValueError(f"CGMSensor range [{self.min_mg_dl}, {self.max_mg_dl}] is empty")

    @classmethod
    def from_name(cls, name: str, **overrides) -> CGMSensor:
        """A shipped sensor (``"Dexcom"``, ``"GuardianRT"``, ``"Navigator"``) with overrides."""
        rows = _sensor_rows()
        if name not in rows:
            raise ValueError(f"unknown CGM sensor {name!r}; known: {', '.join(rows)}")
        r = rows[name]
        values = dict(name=name, pacf=r["PACF"], gamma=r["gamma"], lambda_=r["lambda"],
                      delta=r["delta"], xi=r["xi"], min_mg_dl=r["min"], max_mg_dl=r["max"])
        values.update(overrides)
        return cls(**values)

    def noise(self, n_samples: int, step_min: float, rngs: list) -> np.ndarray:
        """Noise [mg/dL] at t = 0, step, 2 step, ... for each generator: (n_samples, len(rngs)).

        ``rngs`` holds one ``numpy.random.Generator`` per patient (``RandomState`` in
        simglucose-compatible mode).
        """
        if n_samples == 0 or not rngs:
            return np.zeros((n_samples, len(rngs)))
        if self.simglucose_compat:
            return np.stack([self._compat_noise(n_samples, step_min, r) for r in rngs], axis=1)
        n = len(rngs)
        times = np.arange(n_samples) * float(step_min)
        n_knots = int(math.ceil(times[-1] / _KNOT_MIN)) + 2
        w = np.stack([r.standard_normal(n_knots) for r in rngs], axis=1)
        e = np.empty((n_knots, n))
        e[0] = w[0]
        scale = math.sqrt(1.0 - self.pacf**2)
        for k in range(1, n_knots):
            e[k] = self.pacf * e[k - 1] + scale * w[k]
        eps = self._johnson(e)
        spline = CubicSpline(np.arange(n_knots) * _KNOT_MIN, eps, axis=0)
        return spline(times)

    def measure(self, glucose_sc_mg_dl: np.ndarray, noise_mg_dl: np.ndarray) -> np.ndarray:
        """Readings: subcutaneous glucose plus noise, clipped to the sensor's range [mg/dL]."""
        return np.clip(glucose_sc_mg_dl + noise_mg_dl, self.min_mg_dl, self.max_mg_dl)

    def _johnson(self, e: np.ndarray) -> np.ndarray:
        return self.xi + self.lambda_ * np.sinh((e - self.gamma) / self.delta)

    def _compat_noise(self, n_samples: int, step_min: float, rs) -> np.ndarray:
        """simglucose 0.2.11's generator: its recursion, 10-knot block splines and stream."""
        per_block = int(10 * _KNOT_MIN // step_min)
        e = rs.randn()
        last = self._johnson(e)
        out: list[float] = []
        t_block = np.arange(_COMPAT_BLOCK + 1) * _KNOT_MIN
        t_eval = np.arange(1, per_block + 1) * float(step_min)
        while len(out) < n_samples:
            knots = [last]
            for _ in range(_COMPAT_BLOCK):
                e = self.pacf * (e + rs.randn())
                knots.append(self._johnson(e))
            out.extend(CubicSpline(t_block, np.array(knots))(t_eval).tolist())
            last = knots[-1]
        return np.array(out[:n_samples])
