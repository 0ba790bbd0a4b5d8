"""Observation layout shared by both environments: which features, their bounds, values."""

from __future__ import annotations

import attrs
import numpy as np

from dt1d.rl._lanes import Lanes

_TWO_PI_PER_DAY = 2.0 * np.pi / 1440.0


@attrs.frozen(kw_only=True)
class ObservationSpec:
    """What an observation holds, in this order: the last ``history`` CGM readings
    (oldest first, mg/dL), then insulin on board [U] (``iob``), carbs on board [g]
    (``cob``), time of day as (sin, cos) (``time_of_day``), carbs announced for the next
    step [g] (``meal``)."""

    history: int = 1
    iob: bool = False
    cob: bool = False
    time_of_day: bool = False
    meal: bool = False

    def __attrs_post_init__(self) -> None:
        if int(self.history) < 1:
            raise ValueError(f"history={self.history} must be >= 1 CGM readings")

    def bounds(self, cgm_lo: float, cgm_hi: float) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) float32 vectors of the observation space."""
        lo = [cgm_lo] * self.history
        hi = [cgm_hi] * self.history
        for on, (a, b) in ((self.iob, (0.0, np.inf)), (self.cob, (0.0, np.inf))):
            if on:
                lo.append(a)
                hi.append(b)
        if self.time_of_day:
            lo += [-1.0, -1.0]
            hi += [1.0, 1.0]
        if self.meal:
            lo.append(0.0)
            hi.append(np.inf)
        return np.array(lo, dtype=np.float32), np.array(hi, dtype=np.float32)

    def values(self, lanes: Lanes) -> np.ndarray:
        """Observations of every lane, (n, dim) float32."""
        parts = [lanes.cgm_hist]
        if self.iob:
            parts.append(np.maximum(lanes.stepper.insulin_on_board_u(), 0.0)[None])
        if self.cob:
            parts.append(np.maximum(lanes.stepper.carbs_on_board_g(), 0.0)[None])
        if self.time_of_day:
            angle = lanes.clock_min() * _TWO_PI_PER_DAY
            parts.append(np.sin(angle)[None])
            parts.append(np.cos(angle)[None])
        if self.meal:
            parts.append(lanes.block.sum(axis=0)[None])
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        return np.ascontiguousarray(out.T, dtype=np.float32)
