"""fit_twins on a real dask.distributed LocalCluster (2 worker processes, 1 thread each)."""

from __future__ import annotations

import distributed
import numpy as np
import pytest
from _cohort_helpers import cohort, direct_predictions, make_kill_once_model, twin_predictions

from dt1d.cohort import fit_twins, simulate_trial
from dt1d.core.model_registry import isolated


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
        worker_dashboard_address=":0",
    )
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


def test_dask_twins_equal_serial_twins(client, tmp_path):
    records = cohort(6)
    serial = fit_twins(records, "linear", {"lags": 8}, backend="serial")
    table = fit_twins(records, "linear", {"lags": 8}, backend="dask", client=client, batch_size=2,
                      out_dir=tmp_path)
    assert table["patient_id"].tolist() == serial["patient_id"].tolist()
    assert (table["status"] == "ok").all(), table["reason"].tolist()
    assert len(list(tmp_path.glob("*.dt1d"))) == 6
    expected = twin_predictions(serial, records)
    for pid, pred in twin_predictions(table, records).items():
        np.testing.assert_array_equal(pred, expected[pid])
    # both workers took part
    workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
    assert len(workers) == 2


def test_dask_uses_the_current_client_and_returns_twins(client):
    records = cohort(3)
    table = fit_twins(records, "persistence", backend="dask")  # found with get_client()
    expected = direct_predictions(records, "persistence")
    for pid, pred in twin_predictions(table, records).items():
        np.testing.assert_array_equal(pred, expected[pid])


def test_a_corrupted_record_fails_alone_on_dask(client):
    records = cohort(3)
    p1 = (records["patient_id"] == "p1").to_numpy()
    records.iloc[np.flatnonzero(p1)[:5], records.columns.get_loc("glucose")] = 5000.0
    table = fit_twins(records, "linear", backend="dask", client=client).set_index("patient_id")
    assert table["status"].to_dict() == {"p0": "ok", "p1": "failed", "p2": "ok"}
    assert "glucose" in table.loc["p1", "reason"]


def test_a_killed_dask_worker_does_not_lose_the_cohort(client, tmp_path):
    records = cohort(6, victim=2)
    markers = tmp_path / "markers"
    markers.mkdir()
    with isolated():
        make_kill_once_model("cohort_kill_once_dask")
        table = fit_twins(records, "cohort_kill_once_dask", {"marker_dir": str(markers)},
                          backend="dask", client=client, batch_size=2, out_dir=tmp_path / "twins")
        got = twin_predictions(table, records)
    assert (markers / "killed").exists()  # a worker really died
    assert (table["status"] == "ok").all(), table["reason"].tolist()
    expected = direct_predictions(records, "linear")
    for pid, pred in got.items():
        np.testing.assert_array_equal(pred, expected[pid])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_simulate_trial_on_dask_equals_serial(client):
    records = cohort(2, days=1)
    twins = fit_twins(records, "mechanistic", {"body_weight_kg": 70.0, "n_starts": 1}, backend="serial")
    assert (twins["status"] == "ok").all(), twins["reason"].tolist()
    scenarios = {"usual": {}, "more bolus": {"bolus_scale": 1.3}}
    serial = simulate_trial(twins, scenarios, records, backend="serial")
    dask = simulate_trial(twins, scenarios, records, backend="dask", client=client, batch_size=1)
    assert dask.attrs["failures"] == []
    np.testing.assert_array_equal(dask["glucose"].to_numpy(), serial["glucose"].to_numpy())
    assert dask[["patient_id", "scenario"]].equals(serial[["patient_id", "scenario"]])
