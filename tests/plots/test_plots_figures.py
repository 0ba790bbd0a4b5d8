"""Every plot renders headless to a non-empty PNG with the expected axes and labels."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from dt1d.plots import (  # noqa: E402
    agp_percentiles,
    plot_agp,
    plot_clarke_grid,
    plot_forecast,
    plot_parkes_grid,
    plot_twin_replay,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _record(days=2, step_min=5):
    times = pd.date_range("2024-05-01", periods=days * 1440 // step_min, freq=f"{step_min}min")
    t = np.arange(len(times))
    glucose = 140 + 50 * np.sin(2 * np.pi * t / (1440 / step_min)) + 10 * np.sin(t / 7)
    carbs = np.zeros(len(times))
    carbs[::96] = 40.0
    bolus = np.zeros(len(times))
    bolus[::96] = 4.0
    basal = np.full(len(times), 0.07)
    rec = pd.DataFrame(
        {
            "glucose": glucose,
            "carbs": carbs,
            "bolus": bolus,
            "basal": basal,
            "insulin": bolus + basal,
        },
        index=pd.DatetimeIndex(times, name="time"),
    )
    rec.iloc[10:20, 0] = np.nan
    return rec


def _save(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=50)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 2000
    return path


def test_forecast_plot(tmp_path):
    rec = _record()
    pred = rec["glucose"].shift(-6).to_numpy() + 5
    fig = plot_forecast(rec, {"ar": pred, "lstm": pred - 3}, horizon_min=30)
    _save(fig, tmp_path, "forecast")
    axes = fig.get_axes()
    assert len(axes) == 3
    assert [ax.get_ylabel() for ax in axes] == [
        "glucose (mg/dL)",
        "insulin (U/step)",
        "carbs (g/step)",
    ]
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert {"CGM", "ar", "lstm"} <= set(labels)
    # the forecast is drawn shifted by the horizon
    line = next(ln for ln in axes[0].get_lines() if ln.get_label() == "ar")
    first_x = pd.Timestamp(np.asarray(line.get_xdata())[0])
    assert first_x == rec.index[0] + pd.Timedelta("30min")


def test_forecast_plot_rejects_misaligned_prediction():
    rec = _record()
    with pytest.raises(ValueError, match="one value per record row"):
        plot_forecast(rec, np.zeros(3))
    with pytest.raises(ValueError, match="indexed by time"):
        plot_forecast(rec.reset_index())


def test_error_grid_plots(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.uniform(40, 400, 300)
    pred = ref * rng.normal(1.0, 0.25, 300)
    fig = plot_clarke_grid(ref, pred)
    _save(fig, tmp_path, "clarke")
    (ax,) = fig.get_axes()
    assert ax.get_xlabel() == "reference glucose (mg/dL)"
    assert ax.get_ylabel() == "predicted glucose (mg/dL)"
    assert ax.get_title() == "Clarke error grid"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [s[0] for s in legend] == list("ABCDE")
    for dtype in (1, 2):
        fig = plot_parkes_grid(ref, pred, dtype)
        _save(fig, tmp_path, f"parkes{dtype}")
        (ax,) = fig.get_axes()
        assert f"type {dtype}" in ax.get_title()
        # 7 boundary polylines + the diagonal
        assert len(ax.get_lines()) == 8
    fig = plot_clarke_grid(ref / 18.0156, pred / 18.0156, units="mmol/L")
    assert fig.get_axes()[0].get_xlim()[1] == pytest.approx(400 / 18.0156)


def test_agp(tmp_path):
    rec = _record(days=3)
    table = agp_percentiles(rec["glucose"], bin_min=60)
    assert table.shape == (24, 5)
    assert (table["p5"] <= table["p25"]).all() and (table["p75"] <= table["p95"]).all()
    # hand check one bin: all readings between 00:00 and 00:59 over the 3 days
    first_hour = rec["glucose"][rec.index.hour == 0].dropna()
    assert table.loc[0.0, "p50"] == pytest.approx(np.median(first_hour))
    fig = plot_agp(rec)
    _save(fig, tmp_path, "agp")
    (ax,) = fig.get_axes()
    assert ax.get_xlabel() == "time of day (h)"
    assert ax.get_xlim() == (0.0, 24.0)
    with pytest.raises(ValueError, match="divide a day"):
        agp_percentiles(rec["glucose"], bin_min=7)


def test_twin_replay(tmp_path):
    rec = _record(days=1)
    replay = rec["glucose"].interpolate().to_numpy() + 3
    what_if_rec = rec.assign(carbs=rec["carbs"] * 0.5)
    fig = plot_twin_replay(rec, replay, replay - 20, what_if_record=what_if_rec)
    _save(fig, tmp_path, "replay")
    axes = fig.get_axes()
    assert len(axes) == 3
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert {"CGM", "twin replay", "what-if"} <= set(labels)
    carb_labels = [t.get_text() for t in axes[2].get_legend().get_texts()]
    assert carb_labels == ["carbs", "carbs (what-if)"]


def test_import_does_not_load_matplotlib():
    code = "import sys, dt1d.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
