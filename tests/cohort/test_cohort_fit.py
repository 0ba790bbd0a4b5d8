"""fit_twins on the serial backend: the table, failures, twin files, summary and resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _cohort_helpers import cohort, direct_predictions, records_by_id, twin_predictions

from dt1d.cohort import fit_twins
from dt1d.core.model_registry import ModelNotFoundError
from dt1d.core.twin import DigitalTwin


def test_serial_twins_forecast_like_directly_fitted_twins():
    records = cohort(3)
    table = fit_twins(records, "linear", {"lags": 6}, backend="serial")
    assert table["patient_id"].tolist() == ["p0", "p1", "p2"]
    assert (table["status"] == "ok").all() and table["reason"].isna().all()
    assert table["rows"].tolist() == [576, 576, 576]
    assert (table["fit_seconds"] > 0).all() and (table["cpu_seconds"] > 0).all()
    assert table["path"].isna().all()  # no out_dir, no files
    expected = direct_predictions(records, "linear", {"lags": 6})
    got = twin_predictions(table, records)
    for pid in expected:
        np.testing.assert_array_equal(got[pid], expected[pid])
    assert table.loc[0, "twin"].model.get_params()["lags"] == 6


def test_mapping_and_pairs_inputs_keep_their_order_and_input_is_not_modified():
    records = cohort(3)
    before = records.copy()
    mapping = {"b": records_by_id(records)["p1"], "a": records_by_id(records)["p0"]}
    table = fit_twins(mapping, "persistence", backend="serial")
    assert table["patient_id"].tolist() == ["b", "a"]
    table = fit_twins(list(mapping.items()), "persistence", backend="serial")
    assert table["patient_id"].tolist() == ["b", "a"]
    fit_twins(records, "persistence", backend="serial")
    pd.testing.assert_frame_equal(records, before)


def test_corrupted_records_fail_alone_with_their_reason():
    parts = records_by_id(cohort(4))
    parts["p1"].iloc[10, parts["p1"].columns.get_loc("carbs")] = -5.0  # negative carbs
    parts["p3"]["glucose"] = parts["p3"]["glucose"] / 18.0156  # a record in mmol/L
    records = pd.concat([frame.assign(patient_id=pid) for pid, frame in parts.items()])
    table = fit_twins(records, "linear", backend="serial").set_index("patient_id")
    assert table.loc[["p0", "p2"], "status"].tolist() == ["ok", "ok"]
    assert table.loc["p1", "status"] == "failed"
    assert "DataValidationError" in table.loc["p1", "reason"] and "carbs" in table.loc["p1", "reason"]
    assert table.loc["p3", "status"] == "failed"
    assert "mmol" in table.loc["p3", "reason"]
    assert table.loc["p1", "twin"] is None and table.loc["p0", "twin"] is not None
    expected = direct_predictions(records[records["patient_id"] == "p2"], "linear")
    np.testing.assert_array_equal(
        table.loc["p2", "twin"].predict(records_by_id(records)["p2"]), expected["p2"]
    )


def test_fit_report_fields_become_columns():
    records = cohort(2, days=1)
    table = fit_twins(records, "mechanistic", {"body_weight_kg": 70.0, "n_starts": 1}, backend="serial")
    assert (table["status"] == "ok").all()
    for col in ("report_rmse_mg_dl", "report_converged", "report_n_readings", "report_start_costs"):
        assert col in table.columns
    twin = table.loc[0, "twin"]
    assert table.loc[0, "report_rmse_mg_dl"] == twin.model.fit_report_["rmse_mg_dl"]
    assert table.loc[0, "report_n_readings"] == int(records_by_id(records)["p0"]["glucose"].notna().sum())


def test_out_dir_holds_one_twin_file_per_patient_and_a_summary(tmp_path):
    records = cohort(3)
    table = fit_twins(records, "linear", backend="serial", out_dir=tmp_path)
    assert "twin" not in table.columns  # large cohorts stay on disk by default
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.dt1d", "p1.dt1d", "p2.dt1d", "summary.parquet"]
    assert table["path"].tolist() == [str(tmp_path / f"p{i}.dt1d") for i in range(3)]
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    pd.testing.assert_frame_equal(summary, table, check_dtype=False)
    expected = direct_predictions(records, "linear")
    for pid, pred in twin_predictions(table, records).items():
        np.testing.assert_array_equal(pred, expected[pid])


def test_odd_patient_ids_get_distinct_safe_file_names(tmp_path):
    records = cohort(3)
    records["patient_id"] = records["patient_id"].map({"p0": "a/b", "p1": "a b", "p2": ".."})
    table = fit_twins(records, "persistence", backend="serial", out_dir=tmp_path)
    paths = table["path"].tolist()
    assert len(set(paths)) == 3
    for path in paths:
        assert str(tmp_path) == str(__import__("pathlib").Path(path).parent)
        assert DigitalTwin.load(path).model_type == "persistence"


def test_interrupted_run_resumes_without_redoing_finished_twins(tmp_path):
    records = cohort(6)

    def interrupt_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_twins(records, "linear", backend="serial", batch_size=1, out_dir=tmp_path,
                  progress=interrupt_after_three)
    finished = sorted(p.name for p in tmp_path.glob("*.dt1d"))
    assert finished == ["p0.dt1d", "p1.dt1d", "p2.dt1d"]
    partial = pd.read_parquet(tmp_path / "summary.parquet")
    assert partial["patient_id"].tolist() == ["p0", "p1", "p2"]
    stamps = {name: (tmp_path / name).stat().st_mtime_ns for name in finished}

    table = fit_twins(records, "linear", backend="serial", out_dir=tmp_path, resume=True)
    assert (table["status"] == "ok").all()
    assert table["resumed"].tolist() == [True] * 3 + [False] * 3
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in finished} == stamps
    # the earlier fit times survive the resume
    np.testing.assert_array_equal(table["fit_seconds"][:3].to_numpy(), partial["fit_seconds"].to_numpy())
    expected = direct_predictions(records, "linear")
    for pid, pred in twin_predictions(table, records).items():
        np.testing.assert_array_equal(pred, expected[pid])


def test_resume_refits_damaged_files_and_twins_of_other_settings(tmp_path):
    records = cohort(3)
    fit_twins(records, "linear", {"lags": 6}, backend="serial", out_dir=tmp_path)
    (tmp_path / "p1.dt1d").write_bytes(b"not a zip")
    table = fit_twins(records, "linear", {"lags": 6}, backend="serial", out_dir=tmp_path, resume=True)
    assert table["resumed"].tolist() == [True, False, True]
    assert DigitalTwin.load(tmp_path / "p1.dt1d").model.get_params()["lags"] == 6
    table = fit_twins(records, "linear", {"lags": 4}, backend="serial", out_dir=tmp_path, resume=True)
    assert table["resumed"].tolist() == [False, False, False]
    assert DigitalTwin.load(tmp_path / "p0.dt1d").model.get_params()["lags"] == 4
    table = fit_twins(records, "linear", {"lags": 4}, horizon=[30, 60], backend="serial",
                      out_dir=tmp_path, resume=True)
    assert table["resumed"].tolist() == [False, False, False]
    assert DigitalTwin.load(tmp_path / "p2.dt1d").horizons == [30, 60]


def test_progress_callback_counts_patients():
    calls = []
    fit_twins(cohort(3), "persistence", backend="serial", batch_size=2,
              progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_progress_bar_goes_to_stderr(capsys):
    fit_twins(cohort(2), "persistence", backend="serial", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2/2" in captured.err


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"backend": "threads"}, ValueError, "backend must be one of"),
        ({"backend": "loky", "client": object()}, ValueError, "client= is only used"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"resume": True}, ValueError, "resume=True needs out_dir"),
        ({"model_type": "no_such_model"}, ModelNotFoundError, "no_such_model"),
        ({"model_params": {"lag": 3}}, TypeError, "did you mean 'lags'"),
        ({"horizon": 0}, ValueError, "horizon"),
    ],
)
def test_bad_arguments_fail_before_any_work(kwargs, error, match):
    args = {"model_type": "linear", "backend": "serial", **kwargs}
    with pytest.raises(error, match=match):
        fit_twins(cohort(1, days=0.5), **args)


def test_bad_records_are_refused_clearly():
    record = cohort(1, days=0.5)
    with pytest.raises(ValueError, match="no 'patient_id' column"):
        fit_twins(record.drop(columns="patient_id"), "linear", backend="serial")
    with_nan = record.copy()
    with_nan["patient_id"] = with_nan["patient_id"].astype(object)
    with_nan.iloc[3, with_nan.columns.get_loc("patient_id")] = None
    with pytest.raises(ValueError, match="missing values"):
        fit_twins(with_nan, "linear", backend="serial")
    with pytest.raises(ValueError, match="more than once"):
        fit_twins([("a", record), ("a", record)], "linear", backend="serial")
    with pytest.raises(TypeError, match="not a DataFrame"):
        fit_twins({"a": [1, 2]}, "linear", backend="serial")


def test_an_error_in_the_progress_callback_propagates_without_retries():
    calls = []

    def broken(done, total):
        calls.append(done)
        raise ValueError("my progress display broke")

    with pytest.raises(ValueError, match="my progress display broke"):
        fit_twins(cohort(3), "persistence", backend="serial", progress=broken)
    assert calls == [1]


def _changed(records, pid, change):
    parts = []
    for key, frame in records.groupby("patient_id", sort=False):
        parts.append(change(frame.copy()) if key == pid else frame)
    return pd.concat(parts)


def _doubled(frame):
    later = frame.copy()
    later.index = later.index + (frame.index[-1] - frame.index[0]) + (frame.index[1] - frame.index[0])
    return pd.concat([frame, later])


def _one_reading(frame):
    frame.iloc[100, frame.columns.get_loc("glucose")] += 1.0
    return frame


def _one_time(frame):
    return frame.drop(frame.index[-1])


def _as_float(frame):
    frame["carbs"] = frame["carbs"].astype("float32")
    return frame


@pytest.mark.parametrize("change", [_doubled, _one_reading, _one_time, _as_float])
def test_resume_refits_a_patient_whose_data_changed(tmp_path, change):
    records = cohort(3)
    fit_twins(records, "linear", {"lags": 6}, backend="serial", out_dir=tmp_path)
    changed = _changed(records, "p1", change)
    table = fit_twins(changed, "linear", {"lags": 6}, backend="serial", out_dir=tmp_path, resume=True)
    assert table["resumed"].tolist() == [True, False, True]
    n_new = len(changed[changed["patient_id"] == "p1"])
    assert table["rows"].tolist() == [576, n_new, 576]
    assert DigitalTwin.load(tmp_path / "p1.dt1d").data_summary_["rows"] == n_new
    expected = direct_predictions(changed, "linear", {"lags": 6})
    np.testing.assert_array_equal(twin_predictions(table, changed)["p1"], expected["p1"])
    # a second resume on the same data reuses every twin
    again = fit_twins(changed, "linear", {"lags": 6}, backend="serial", out_dir=tmp_path, resume=True)
    assert again["resumed"].tolist() == [True, True, True]


def test_resume_refits_a_twin_without_a_fingerprint(tmp_path):
    records = cohort(2)
    fit_twins(records, "linear", backend="serial", out_dir=tmp_path)
    path = tmp_path / "p0.dt1d"
    twin = DigitalTwin.load(path)
    del twin.data_summary_["fingerprint"]
    twin.save(path)  # as written by a dt1d that did not fingerprint
    table = fit_twins(records, "linear", backend="serial", out_dir=tmp_path, resume=True)
    assert table["resumed"].tolist() == [False, True]
    assert "fingerprint" in DigitalTwin.load(path).data_summary_
