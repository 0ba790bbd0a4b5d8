"""Clarke and Parkes (consensus) error grids: the clinical risk zone of each forecast.

Both grids take the reference glucose on the x axis and the forecast (or the
meter) on the y axis and return one zone letter per pair, 'A' (no effect on
treatment) to 'E' (dangerous). Pairs with a NaN get the empty string ''.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.metrics._arrays import _same_shape, _to_mgdl

__all__ = [
    "ZONES",
    "PARKES_BOUNDARIES",
    "clarke_zones",
    "parkes_zones",
    "zone_fractions",
    "clarke_zone_fractions",
    "parkes_zone_fractions",
]

ZONES = ("A", "B", "C", "D", "E")


def _pair_arrays(reference: Any, prediction: Any, units: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (reference, prediction) in mg/dL, same shape, or raise ValueError."""
    ref, pred = _same_shape(reference, prediction)
    return _to_mgdl(ref, units), _to_mgdl(pred, units)


def clarke_zones(reference: Any, prediction: Any, *, units: str = "mg/dL") -> np.ndarray:
    """Clarke error grid zone ('A'..'E') of each (reference, prediction) pair.

    Clarke WL, Cox D, Gonder-Frederick LA, Carter W, Pohl SL. Evaluating
    clinical accuracy of systems for self-monitoring of blood glucose.
    Diabetes Care 1987;10(5):622-8. With r the reference and p the
    prediction in mg/dL, tested in this order (boundaries are closed):

    - A: p within 20 % of r (0.8 r <= p <= 1.2 r), or both r <= 70 and p <= 70;
    - E: (r <= 70 and p >= 180) or (r >= 180 and p <= 70);
    - C: (70 <= r <= 290 and p >= r + 110) or (130 <= r <= 180 and p <= 1.4 r - 182);
    - D: (r >= 240 and 70 <= p <= 180) or (r <= 175/3 and 70 <= p <= 180)
      or (175/3 <= r <= 70 and p >= 1.2 r);
    - B: everything else.

    Returns a string array of the inputs' shape; NaN pairs give ''.
    """
    r, p = _pair_arrays(reference, prediction, units)
    zones = np.full(r.shape, "", dtype="<U1")
    valid = ~(np.isnan(r) | np.isnan(p))
    with np.errstate(invalid="ignore"):
        zone_a = ((p >= 0.8 * r) & (p <= 1.2 * r)) | ((r <= 70) & (p <= 70))
        zone_e = ((r <= 70) & (p >= 180)) | ((r >= 180) & (p <= 70))
        zone_c = ((r >= 70) & (r <= 290) & (p >= r + 110)) | (
            (r >= 130) & (r <= 180) & (p <= 1.4 * r - 182)
        )
        zone_d = (
            ((r >= 240) & (p >= 70) & (p <= 180))
            | ((r <= 175 / 3) & (p >= 70) & (p <= 180))
            | ((r >= 175 / 3) & (r <= 70) & (p >= 1.2 * r))
        )
    zones[valid] = "B"
    # assign from the lowest priority up, so A beats E beats C beats D beats B
    for letter, mask in (("D", zone_d), ("C", zone_c), ("E", zone_e), ("A", zone_a)):
        zones[valid & mask] = letter
    return zones


# Parkes consensus error grid boundaries: vertex coordinates (reference, measured)
# in mg/dL, Table 1 of Pfützner A, Klonoff DC, Pardo S, Parkes JL. Technical aspects
# of the Parkes error grid. J Diabetes Sci Technol 2013;7(5):1275-81, for the grids of
# Parkes JL, Slatin SL, Pardo S, Ginsberg BH. A new consensus error grid to evaluate
# the clinical significance of inaccuracies in the measurement of blood glucose.
# Diabetes Care 2000;23(8):1143-8.
# "upper" lines lie above the diagonal (measured too high), "lower" below it. The
# last vertex of each line sits on the edge of the published 550 mg/dL plot; beyond
# it the last segment is extended.
PARKES_BOUNDARIES: dict[int, dict[str, tuple[tuple[float, float], ...]]] = {
    1: {
        "B_upper": ((0, 50), (30, 50), (140, 170), (280, 380), (430, 550)),
        "B_lower": ((50, 0), (50, 30), (170, 145), (385, 300), (550, 450)),
        "C_upper": ((0, 60), (30, 60), (50, 80), (70, 110), (260, 550)),
        "C_lower": ((120, 0), (120, 30), (260, 130), (550, 250)),
        "D_upper": ((0, 100), (25, 100), (50, 125), (80, 215), (125, 550)),
        "D_lower": ((250, 0), (250, 40), (550, 150)),
        "E_upper": ((0, 150), (35, 155), (50, 550)),
    },
    2: {
        "B_upper": ((0, 50), (30, 50), (230, 330), (440, 550)),
        "B_lower": ((50, 0), (50, 30), (90, 80), (330, 230), (550, 450)),
        "C_upper": ((0, 60), (30, 60), (280, 550)),
        "C_lower": ((90, 0), (260, 130), (550, 250)),
        "D_upper": ((0, 80), (25, 80), (35, 90), (125, 550)),
        "D_lower": ((250, 0), (250, 40), (410, 110), (550, 160)),
        "E_upper": ((0, 200), (35, 200), (50, 550)),
    },
}


def _polyline(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Piecewise-linear y(x) through the vertices, extending the end segments."""
    y = np.interp(x, xs, ys)
    hi = x > xs[-1]
    if hi.any():
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        y[hi] = ys[-1] + slope * (x[hi] - xs[-1])
    lo = x < xs[0]
    if lo.any():
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        y[lo] = ys[0] + slope * (x[lo] - xs[0])
    return y


def _beyond(name: str, vertices: tuple[tuple[float, float], ...], r: np.ndarray, p: np.ndarray):
    """Whether each point lies strictly outside (away from the diagonal) one boundary."""
    xs = np.array([v[0] for v in vertices], dtype=float)
    ys = np.array([v[1] for v in vertices], dtype=float)
    if name.endswith("upper"):
        # y = f(x), non-decreasing in x; outside means above it
        return p > _polyline(r, xs, ys)
    # lower lines rise monotonically in y (their first piece is vertical), so use x = g(y)
    return r > _polyline(p, ys, xs)


def parkes_zones(
    reference: Any, prediction: Any, diabetes_type: int = 1, *, units: str = "mg/dL"
) -> np.ndarray:
    """Parkes (consensus) error grid zone ('A'..'E') of each pair, for type 1 or 2 diabetes.

    Each zone boundary is the polyline through the vertices published by
    Pfützner et al. 2013 (see :data:`PARKES_BOUNDARIES`); a pair takes the
    letter of the outermost boundary it lies strictly beyond ('A' if none), so a
    point exactly on a line belongs to the inner zone. Returns a string array
    of the inputs' shape; NaN pairs give ''.
    """
    if diabetes_type not in PARKES_BOUNDARIES:
        raise ValueError(f"diabetes_type must be 1 or 2, got {diabetes_type!r}")
    r, p = _pair_arrays(reference, prediction, units)
    shape = r.shape
    r, p = r.ravel(), p.ravel()
    valid = ~(np.isnan(r) | np.isnan(p))
    level = np.zeros(r.shape, dtype=np.int8)
    rv, pv = r[valid], p[valid]
    level_v = np.zeros(rv.shape, dtype=np.int8)
    for name, vertices in PARKES_BOUNDARIES[diabetes_type].items():
        zone_level = ZONES.index(name[0])
        level_v = np.where(
            _beyond(name, vertices, rv, pv), np.maximum(level_v, zone_level), level_v
        )
    level[valid] = level_v
    zones = np.array(ZONES, dtype="<U1")[level]
    zones[~valid] = ""
    return zones.reshape(shape)


def zone_fractions(zones: Any) -> dict[str, float]:
    """Fraction of the labelled pairs in each zone 'A'..'E' (empty labels are skipped).

    The fractions add up to 1; all are NaN when no pair is labelled.
    """
    labels = np.asarray(zones).ravel()
    labelled = labels[labels != ""]
    n = labelled.size
    if n == 0:
        return {z: float("nan") for z in ZONES}
    unknown = set(np.unique(labelled).tolist()) - set(ZONES)
    if unknown:
        raise ValueError(f"zone labels must be one of {ZONES} or ''; got {sorted(unknown)}")
    return {z: float(np.count_nonzero(labelled == z)) / n for z in ZONES}


def clarke_zone_fractions(
    reference: Any, prediction: Any, *, units: str = "mg/dL"
) -> dict[str, float]:
    """Fraction of the non-NaN pairs in each Clarke zone, e.g. {'A': 0.92, ...}."""
    return zone_fractions(clarke_zones(reference, prediction, units=units))


def parkes_zone_fractions(
    reference: Any, prediction: Any, diabetes_type: int = 1, *, units: str = "mg/dL"
) -> dict[str, float]:
    """Fraction of the non-NaN pairs in each Parkes zone for type 1 or 2 diabetes."""
    return zone_fractions(parkes_zones(reference, prediction, diabetes_type, units=units))
