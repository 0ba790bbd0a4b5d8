"""Observation layout shared by both environments: which features, their bounds, values."""

from __future__ import annotations

import attrs
import numpy as np

from dt1d.rl import _fast


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

    @property
    def features(self) -> int:
        """The optional features as the bit mask of the jitted observation filler."""
        return ((_fast.OBS_IOB if self.iob else 0) | (_fast.OBS_COB if self.cob else 0)
                | (_fast.OBS_TIME if self.time_of_day else 0)
                | (_fast.OBS_MEAL if self.meal else 0))

    @property
    def dim(self) -> int:
        """Length of an observation."""
        return (int(self.history) + int(self.iob) + int(self.cob) + 2 * int(self.time_of_day)
                + int(self.meal))
