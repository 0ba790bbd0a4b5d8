"""fit_twins on local processes (loky): same twins as serial, script models, dead workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _cohort_helpers import cohort, direct_predictions, make_kill_once_model, twin_predictions

from dt1d.cohort import fit_twins
from dt1d.core.model_registry import isolated


def test_loky_twins_equal_serial_twins():
    records = cohort(6)
    serial = fit_twins(records, "linear", backend="serial")
    parallel = fit_twins(records, "linear", backend="loky", n_jobs=2, batch_size=2)
    assert parallel["patient_id"].tolist() == serial["patient_id"].tolist()
    assert (parallel["status"] == "ok").all()
    expected = twin_predictions(serial, records)
    for pid, pred in twin_predictions(parallel, records).items():
        np.testing.assert_array_equal(pred, expected[pid])


def test_model_class_defined_in_a_script_main_runs_on_loky_workers(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(
        """
        import json, os, sys

        import numpy as np
        import pandas as pd

        from dt1d import BaseModel, ParamsMixin
        from dt1d.cohort import fit_twins
        from dt1d.core.twin import DigitalTwin
        from dt1d.testing import make_synthetic_record


        class ShiftedMeanModel(ParamsMixin, BaseModel, name="script_shifted_mean"):
            def __init__(self, shift_mg_dl=0.0):
                self.shift_mg_dl = shift_mg_dl

            def fit(self, X, y=None, **kwargs):
                self.level_ = float(np.nanmean(X["glucose"].to_numpy())) + self.shift_mg_dl
                self.fitted_in_pid_ = os.getpid()
                return self

            def predict(self, X, **kwargs):
                self._check_is_fitted()
                return np.full(len(X), self.level_)


        if __name__ == "__main__":
            records = pd.concat(
                [make_synthetic_record(days=1, seed=i, patient_id=f"p{i}") for i in range(4)]
            )
            table = fit_twins(records, "script_shifted_mean", {"shift_mg_dl": 1.5}, backend="loky",
                              n_jobs=2, batch_size=1, out_dir=sys.argv[1], keep_twins=True)
            loaded = [DigitalTwin.load(p) for p in table["path"]]
            print(json.dumps({
                "status": table["status"].tolist(),
                "reasons": table["reason"].tolist(),
                "levels": [t.model.level_ for t in loaded],
                "returned_levels": [t.model.level_ for t in table["twin"]],
                "expected": [float(np.nanmean(f["glucose"].to_numpy())) + 1.5
                             for _, f in records.groupby("patient_id", sort=False)],
                "same_class": all(type(t.model) is ShiftedMeanModel for t in table["twin"]),
                "worker_pids": sorted({t.model.fitted_in_pid_ for t in loaded}),
                "main_pid": os.getpid(),
            }))
        """
    ))
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "twins")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == ["ok"] * 4, result["reasons"]
    np.testing.assert_allclose(result["levels"], result["expected"], rtol=0, atol=1e-9)
    assert result["returned_levels"] == result["levels"]
    assert result["same_class"] is True
    assert result["main_pid"] not in result["worker_pids"]  # fitted on workers, not in the script


def test_a_killed_loky_worker_does_not_lose_the_cohort(tmp_path, caplog):
    records = cohort(6, victim=3)
    markers = tmp_path / "markers"
    markers.mkdir()
    with isolated():
        make_kill_once_model("cohort_kill_once_loky")
        params = {"marker_dir": str(markers)}
        table = fit_twins(records, "cohort_kill_once_loky", params, backend="loky", n_jobs=2,
                          batch_size=2, out_dir=tmp_path / "twins")
        got = twin_predictions(table, records)  # loading needs the model's name registered
    assert (markers / "killed").exists()  # a worker really died
    assert any("running the" in rec.message for rec in caplog.records)
    assert (table["status"] == "ok").all(), table["reason"].tolist()
    expected = direct_predictions(records, "linear")
    for pid, pred in got.items():
        np.testing.assert_array_equal(pred, expected[pid])


def test_a_task_that_cannot_reach_the_workers_raises_instead_of_failing_everyone():
    import threading

    with pytest.raises(Exception, match="pickle"):
        fit_twins(cohort(2, days=0.5), "linear", {"alpha": threading.Lock()}, backend="loky",
                  n_jobs=2, retries=1)
