"""Clarke and Parkes error grids: every boundary line, hand-computed points, invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d.metrics import (
    clarke_zone_fractions,
    clarke_zones,
    parkes_zone_fractions,
    parkes_zones,
    zone_fractions,
)

EPS = 0.01

# (reference, prediction, expected zone) on and either side of each Clarke boundary
CLARKE_CASES = [
    # A: the +20 % line p = 1.2 r
    (100.0, 120.0, "A"),
    (100.0, 120.0 + EPS, "B"),
    (200.0, 240.0, "A"),
    (200.0, 240.0 + EPS, "B"),
    # A: the -20 % line p = 0.8 r
    (100.0, 80.0, "A"),
    (100.0, 80.0 - EPS, "B"),
    (75.0, 60.0, "A"),
    (75.0, 60.0 - EPS, "B"),
    # A: the hypoglycaemic square r <= 70, p <= 70
    (50.0, 70.0, "A"),
    (50.0, 70.0 + EPS, "D"),
    (30.0, 5.0, "A"),
    (70.0, 10.0, "A"),
    (70.0 + EPS, 10.0, "B"),
    # E upper left: r <= 70 and p >= 180
    (70.0, 180.0, "E"),
    (70.0, 180.0 - EPS, "D"),
    (70.0 + EPS, 180.0, "B"),
    (20.0, 400.0, "E"),
    # E lower right: r >= 180 and p <= 70
    (180.0, 70.0, "E"),
    (180.0, 70.0 + EPS, "B"),
    (400.0, 10.0, "E"),
    (400.0, 70.0 + EPS, "D"),
    # C upper: p >= r + 110 for 70 <= r <= 290
    (100.0, 210.0, "C"),
    (100.0, 210.0 - EPS, "B"),
    (290.0, 400.0, "C"),
    (290.0 + EPS, 400.0 + EPS, "B"),
    (70.0 + EPS, 180.0 + 2 * EPS, "C"),
    # C lower: p <= 1.4 r - 182 for 130 <= r <= 180
    (150.0, 28.0, "C"),
    (150.0, 28.0 + EPS, "B"),
    (130.0, 0.0, "C"),
    (130.0 - EPS, 0.0, "B"),
    # D right: r >= 240 and 70 <= p <= 180
    (240.0, 180.0, "D"),
    (240.0, 180.0 + EPS, "B"),
    (240.0 - EPS, 150.0, "B"),
    (300.0, 70.0, "E"),
    # D left: r <= 175/3 and 70 <= p <= 180
    (50.0, 179.99, "D"),
    (50.0, 100.0, "D"),
    (50.0, 180.0, "E"),
    # D left slanted: 175/3 <= r <= 70 and p >= 1.2 r
    (65.0, 78.0, "A"),
    (65.0, 78.0 + EPS, "D"),
    (70.0, 84.0 + EPS, "D"),
    (70.0 + EPS, 84.1, "B"),
]


@pytest.mark.parametrize(("ref", "pred", "zone"), CLARKE_CASES)
def test_clarke_boundaries(ref, pred, zone):
    assert clarke_zones([ref], [pred])[0] == zone


def test_clarke_vectorised_matches_pointwise_and_keeps_shape():
    ref = np.array([c[0] for c in CLARKE_CASES])
    pred = np.array([c[1] for c in CLARKE_CASES])
    zones = clarke_zones(ref, pred)
    assert zones.tolist() == [c[2] for c in CLARKE_CASES]
    two_d = clarke_zones(ref[:40].reshape(4, 10), pred[:40].reshape(4, 10))
    assert two_d.shape == (4, 10)
    assert two_d.ravel().tolist() == zones[:40].tolist()


def test_clarke_nan_pairs_are_empty_and_skipped_in_fractions():
    zones = clarke_zones([100.0, np.nan, 100.0, 300.0], [100.0, 100.0, np.nan, 20.0])
    assert zones.tolist() == ["A", "", "", "E"]
    fr = zone_fractions(zones)
    assert fr == {"A": 0.5, "B": 0.0, "C": 0.0, "D": 0.0, "E": 0.5}
    assert all(math.isnan(v) for v in clarke_zone_fractions([np.nan], [1.0]).values())


def _offgrid_points():
    # points offset from whole numbers, so no float rounding can land on a boundary line
    r, p = np.meshgrid(np.arange(20, 600, 7) + 0.37, np.arange(5, 600, 7) + 0.61)
    return r.ravel(), p.ravel()


def test_mmol_units_give_the_same_zones():
    r, p = _offgrid_points()
    k = 18.0156
    assert (clarke_zones(r / k, p / k, units="mmol/L") == clarke_zones(r, p)).all()
    for dtype in (1, 2):
        assert (
            parkes_zones(r / k, p / k, dtype, units="mmol/L") == parkes_zones(r, p, dtype)
        ).all()
    # the grid covers every zone, so the comparison means something
    assert set(clarke_zones(r, p).tolist()) == set("ABCDE")
    assert set(parkes_zones(r, p).tolist()) == set("ABCDE")


def test_shape_mismatch():
    with pytest.raises(ValueError, match="reference has shape"):
        clarke_zones([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="diabetes_type must be 1 or 2"):
        parkes_zones([100.0], [100.0], diabetes_type=3)


# Vertex coordinates typed in from Table 1 of Pfützner et al. 2013 (J Diabetes Sci
# Technol 7(5):1275-81), independently of the package constant. Each entry: the zone
# beyond the line, the side, the vertices.
PARKES_TABLE = {
    1: [
        ("B", "upper", [(0, 50), (30, 50), (140, 170), (280, 380), (430, 550)]),
        ("B", "lower", [(50, 0), (50, 30), (170, 145), (385, 300), (550, 450)]),
        ("C", "upper", [(0, 60), (30, 60), (50, 80), (70, 110), (260, 550)]),
        ("C", "lower", [(120, 0), (120, 30), (260, 130), (550, 250)]),
        ("D", "upper", [(0, 100), (25, 100), (50, 125), (80, 215), (125, 550)]),
        ("D", "lower", [(250, 0), (250, 40), (550, 150)]),
        ("E", "upper", [(0, 150), (35, 155), (50, 550)]),
    ],
    2: [
        ("B", "upper", [(0, 50), (30, 50), (230, 330), (440, 550)]),
        ("B", "lower", [(50, 0), (50, 30), (90, 80), (330, 230), (550, 450)]),
        ("C", "upper", [(0, 60), (30, 60), (280, 550)]),
        ("C", "lower", [(90, 0), (260, 130), (550, 250)]),
        ("D", "upper", [(0, 80), (25, 80), (35, 90), (125, 550)]),
        ("D", "lower", [(250, 0), (250, 40), (410, 110), (550, 160)]),
        ("E", "upper", [(0, 200), (35, 200), (50, 550)]),
    ],
}
INNER = {"B": "A", "C": "B", "D": "C", "E": "D"}


def _segment_cases():
    for dtype, lines in PARKES_TABLE.items():
        for zone, side, verts in lines:
            for (x0, y0), (x1, y1) in zip(verts[:-1], verts[1:], strict=True):
                for frac in (0.25, 0.5, 0.75):
                    x = x0 + frac * (x1 - x0)
                    y = y0 + frac * (y1 - y0)
                    if x == 0 or y == 0:
                        continue
                    yield pytest.param(
                        dtype, zone, side, x, y, id=f"T{dtype}-{zone}{side}-{x:.1f},{y:.1f}"
                    )


@pytest.mark.parametrize(("dtype", "zone", "side", "x", "y"), list(_segment_cases()))
def test_parkes_every_boundary_segment(dtype, zone, side, x, y):
    # on the line and just inside: the inner zone; just outside: this zone
    if side == "upper":
        inside, outside = (x + EPS, y - EPS), (x - EPS, y + EPS)
    else:
        inside, outside = (x - EPS, y + EPS), (x + EPS, y - EPS)
    got = parkes_zones([x, inside[0], outside[0]], [y, inside[1], outside[1]], dtype)
    assert got.tolist() == [INNER[zone], INNER[zone], zone]


PARKES_POINTS = [
    # (type, reference, measured, zone), worked by hand from the table
    (1, 100.0, 100.0, "A"),
    (1, 100.0, 126.0, "A"),  # B upper at r=100: 50 + 70 * 120/110 = 126.36
    (1, 100.0, 127.0, "B"),
    (1, 100.0, 179.0, "B"),  # C upper at r=100: 110 + 30 * 440/190 = 179.47
    (1, 100.0, 180.0, "C"),
    (1, 20.0, 140.0, "D"),  # D upper 100 at r=20, E upper 150 + 20/7 = 152.86
    (1, 20.0, 153.0, "E"),
    (1, 200.0, 100.0, "B"),  # B lower at p=100: x = 50 + 70 * 120/115 = 123.0; C lower: 218
    (1, 218.1, 100.0, "C"),
    (1, 300.0, 40.0, "D"),  # D lower at p=40: x = 250
    # beyond the plotted 550: the last B lower segment is extended, at p=500 x = 550 + 50 * 165/150
    (1, 604.9, 500.0, "A"),
    (1, 605.1, 500.0, "B"),
    (2, 100.0, 140.0, "A"),  # T2 B upper at r=100: 50 + 70 * 280/200 = 148
    (2, 100.0, 149.0, "B"),
    (2, 30.0, 199.0, "D"),
    (2, 30.0, 201.0, "E"),
    (2, 95.0, 5.0, "B"),  # T2 C lower at p=5: x = 90 + 5 * 170/130 = 96.54
    (2, 96.6, 5.0, "C"),
]


def test_parkes_hand_points():
    for dtype, r, p, zone in PARKES_POINTS:
        assert parkes_zones([r], [p], dtype)[0] == zone, (dtype, r, p)


def test_parkes_nan_and_fractions():
    zones = parkes_zones([100.0, np.nan, 20.0], [100.0, 5.0, 153.0])
    assert zones.tolist() == ["A", "", "E"]
    fr = parkes_zone_fractions([100.0, 100.0, 100.0, 100.0], [100.0, 100.0, 127.0, np.nan])
    assert fr["A"] == pytest.approx(2 / 3) and fr["B"] == pytest.approx(1 / 3)
    assert sum(fr.values()) == pytest.approx(1.0)


def test_zone_fractions_rejects_unknown_labels():
    with pytest.raises(ValueError, match="zone labels"):
        zone_fractions(["A", "F"])


glucose = st.floats(min_value=20.0, max_value=600.0, allow_nan=False)


@settings(deadline=None, max_examples=100)
@given(st.lists(glucose, min_size=1, max_size=50), st.sampled_from([1, 2]))
def test_perfect_forecast_is_zone_a(values, dtype):
    assert set(clarke_zones(values, values).tolist()) == {"A"}
    assert set(parkes_zones(values, values, dtype).tolist()) == {"A"}


@settings(deadline=None, max_examples=100)
@given(glucose, glucose, st.sampled_from([1, 2]))
def test_parkes_zone_worsens_away_from_diagonal(r, p, dtype):
    # moving the prediction further from the reference never improves the zone
    z0 = parkes_zones([r], [p], dtype)[0]
    further = p + 30.0 if p >= r else max(p - 30.0, 0.0)
    z1 = parkes_zones([r], [further], dtype)[0]
    assert z1 >= z0
