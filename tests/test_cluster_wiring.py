"""The dask wiring on a real `distributed` cluster: `monitor.check` with one task per window (identical to the
single-machine report, from an inference log, a Parquet dataset and a dask DataFrame; a worker killed mid-check; a
day partition missing an input or holding it as text), `compare` and `tune` on the scheduler of `settings.ini`,
and the command line's `--scheduler`."""
import os, signal, threading, time
import numpy as np
import pandas as pd
import pytest
from conftest import cli


def _settings(tmp_path, address, name="settings.ini"):
    p = tmp_path / name
    p.write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\ndask_scheduler = {address}\n")
    return p


@pytest.fixture(scope="module")
def credit_log(tmp_path_factory):
    "A fitted credit model, its reference rows, and 4 days of its predictions in an InferenceLog, half labelled."
    from sklearn.linear_model import LogisticRegression
    from mlops_workbench import datasets
    from mlops_workbench.inference_log import InferenceLog
    from mlops_workbench.models import build_pipeline
    from mlops_workbench.monitor import reference_rows
    df = datasets.load("german_credit")
    X, y = df.drop(columns="risk"), df["risk"]
    model = build_pipeline(LogisticRegression(max_iter=1000), X).fit(X.iloc[:600], y.iloc[:600])
    ref = reference_rows(model, X.iloc[600:800], y.iloc[600:800])
    live = X.iloc[800:].assign(age=lambda d: d.age + np.where(np.arange(len(d)) >= 150, 20, 0))  # day 4 shifts
    rows = reference_rows(model, live).assign(
        event_time=pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(len(live)) * 28, unit="min"),
        row_id=[f"r{i}" for i in range(len(live))], model_name="credit", model_version="1", source="live")
    log = InferenceLog(tmp_path_factory.mktemp("log") / "log")
    log.append_batch(rows)
    log.add_labels(pd.DataFrame({"row_id": rows.row_id[:100], "label": y.iloc[800:900].tolist()}))
    return dict(log=log, ref=ref, rows=rows, labels=y.iloc[800:900].tolist())


def _memory(log, ref, tmp_path, **kw):
    from mlops_workbench.monitor import check
    return check(log, ref, settings=_settings(tmp_path, "", "plain.ini"), **kw)


def test_monitor_on_the_cluster_equals_the_single_machine_report(credit_log, dask_client, tmp_path):
    from mlops_workbench.monitor import check
    log, ref = credit_log["log"], credit_log["ref"]
    here = _memory(log, ref, tmp_path, window="12h", sensitive="sex")
    assert len(here.signals) == 8 and here.signals["n_labelled"].sum() == 100
    on = check(log, ref, "12h", sensitive="sex", client=dask_client)
    pd.testing.assert_frame_equal(on.to_frame(), here.to_frame())
    assert on.notes == here.notes and on.details == here.details
    # the scheduler named in settings.ini, and a dask DataFrame of the same rows (labels joined as a column)
    via_settings = check(log, ref, "12h", sensitive="sex", settings=_settings(tmp_path, dask_client.scheduler.address))
    pd.testing.assert_frame_equal(via_settings.to_frame(), here.to_frame())
    import dask.dataframe as dd
    frame = log.read()
    ddf = dd.from_pandas(frame, npartitions=5, sort=False)
    on_ddf = check(ddf, ref, "12h", sensitive="sex", client=dask_client)
    pd.testing.assert_frame_equal(on_ddf.to_frame(), _memory(ddf.compute(), ref, tmp_path, window="12h",
                                                             sensitive="sex").to_frame())  # the rows as dask holds them
    assert on_ddf.signals["drifted_column_share"].iloc[-2:].gt(0).all()  # the shifted day is seen


def test_monitor_reads_a_parquet_dataset_on_the_workers(credit_log, dask_client, tmp_path):
    from mlops_workbench.monitor import check
    rows = credit_log["rows"]
    for day, part in rows.groupby(rows.event_time.dt.strftime("%Y-%m-%d")):
        (tmp_path / "ds" / f"day={day}").mkdir(parents=True)
        part.to_parquet(tmp_path / "ds" / f"day={day}" / "part-0.parquet", index=False)
    here = _memory(tmp_path / "ds", credit_log["ref"], tmp_path, window="6h")
    on = check(tmp_path / "ds", credit_log["ref"], "6h", client=dask_client)
    pd.testing.assert_frame_equal(on.to_frame(), here.to_frame())
    assert on.signals["n_rows"].sum() == len(rows)


def test_a_day_missing_an_input_or_holding_it_as_text_is_reported_not_a_crash(credit_log, dask_client, tmp_path):
    from mlops_workbench.inference_log import InferenceLog
    from mlops_workbench.monitor import check
    rows, log = credit_log["rows"], InferenceLog(tmp_path / "log")
    days = rows.event_time.dt.day
    log.append_batch(rows[days == 1])
    log.append_batch(rows[days == 2].drop(columns="in.duration"))  # an older client without the input
    log.append_batch(rows[days == 3].assign(**{"in.age": lambda d: d["in.age"].astype(str) + " years"}))
    log.append_batch(rows[days == 4])
    here = _memory(log, credit_log["ref"], tmp_path)
    on = check(log, credit_log["ref"], client=dask_client)
    pd.testing.assert_frame_equal(on.to_frame(), here.to_frame())
    assert any("'duration' is absent or empty" in n and "1 window(s) from 2026-03-02" in n for n in on.notes), on.notes
    assert on.signals["n_rows"].tolist() == (days.value_counts().sort_index()).tolist()


def _kill_when_busy(client, address, pid, prefix, killed):
    "Kill worker `address` (process `pid`) as soon as it runs a task whose key starts with `prefix`."
    deadline = time.time() + 120
    while time.time() < deadline:
        if any(str(k).startswith(prefix) for k in client.processing().get(address, ())):
            os.kill(pid, signal.SIGKILL)
            return killed.append(pid)
        time.sleep(0.02)


def test_a_worker_killed_mid_check_still_gives_the_same_report(credit_log, tmp_path):
    from mlops_workbench.cluster import connect
    from mlops_workbench.monitor import check
    log, ref = credit_log["log"], credit_log["ref"]
    here = _memory(log, ref, tmp_path, window="3h", sensitive="sex", n_boot=50)
    with connect(settings=_settings(tmp_path, "")) as c:  # a cluster of its own: this test kills a worker
        address, victim = next(iter(c.run(os.getpid).items()))
        killed = []
        killer = threading.Thread(target=_kill_when_busy, args=(c, address, victim, "_on_files", killed))
        killer.start()
        try: on = check(log, ref, "3h", sensitive="sex", n_boot=50, client=c)
        finally: killer.join()
        assert killed == [victim], "no window task ran on the worker to kill"
        assert victim not in c.run(os.getpid).values()  # it really died (and the nanny started another)
    pd.testing.assert_frame_equal(on.to_frame(), here.to_frame())


def _tasks(client, fn):
    "Run `fn()` and return the names of the tasks the scheduler ran meanwhile (any client's)."
    from distributed import get_task_stream
    with get_task_stream(client=client) as ts: fn()
    return {t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in ts.data}


def test_compare_runs_its_folds_on_the_configured_scheduler(dask_client, tmp_path):
    from mlops_workbench import datasets
    from mlops_workbench.models import compare
    df = datasets.load("german_credit")
    X, y = df.drop(columns="risk"), df["risk"]
    ini = _settings(tmp_path, dask_client.scheduler.address)
    out = {}
    keys = _tasks(dask_client, lambda: out.setdefault("lb", compare(X, y, models="lr,nb", cv=3, track=False,
                                                                    settings=ini)))
    assert any(str(k).startswith("fit_fold") for k in keys), keys
    here = compare(X, y, models="lr,nb", cv=3, track=False, backend="threading")
    cols = ["model", "fold", *here.metrics]
    pd.testing.assert_frame_equal(out["lb"].by_fold[cols].sort_values(["model", "fold"]).reset_index(drop=True),
                                  here.by_fold[cols].sort_values(["model", "fold"]).reset_index(drop=True))
    with pytest.raises(Exception, match="backend='loky'"):
        compare(X, y, models="lr", cv=3, track=False, racing=True, settings=ini)


def test_tune_runs_each_trials_folds_on_the_configured_scheduler(dask_client, tmp_path):
    from mlops_workbench import datasets
    from mlops_workbench.tuning import tune
    df = datasets.load("german_credit")
    X, y = df.drop(columns="risk"), df["risk"]
    ini, kw = _settings(tmp_path, dask_client.scheduler.address), dict(n_trials=4, cv=3, track=False)
    out = {}
    keys = _tasks(dask_client, lambda: out.setdefault("on", tune("lr", X, y, storage=f"sqlite:///{tmp_path}/a.db",
                                                                 settings=ini, **kw)))
    assert any(str(k).startswith("fit_fold") for k in keys), keys
    here = tune("lr", X, y, storage=f"sqlite:///{tmp_path}/b.db", backend="threading", **kw)
    trials = lambda r: [(t.params, t.value) for t in r.study.trials]
    assert trials(out["on"]) == trials(here) and len(trials(here)) == 4
    par = tune("lr", X, y, storage=f"sqlite:///{tmp_path}/c.db", backend=dask_client, n_jobs=2, **kw)
    assert len(par.study.trials) == 4 and par.best_score == pytest.approx(max(v for _, v in trials(par)))


def test_cli_scheduler_reaches_the_notebook_it_runs(tmp_path, dask_client):
    import nbformat
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}}, cells=[
        nbformat.v4.new_code_cell("out = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from pathlib import Path\nfrom mlops_workbench.config import load_settings\n"
                                  "Path(out).write_text(load_settings().dask_scheduler)")])
    nbformat.write(nb, tmp_path / "where.ipynb")
    _settings(tmp_path, "tcp://127.0.0.1:1")  # the file's scheduler, overridden for the call
    address = dask_client.scheduler.address
    r = cli("run", "where.ipynb", "-p", "out", tmp_path / "seen.txt", "--no-track", "-q", "--scheduler", address,
            cwd=tmp_path, env={"MLOPS_WORKBENCH_SETTINGS": str(tmp_path / "settings.ini")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "seen.txt").read_text() == address
    r = cli("run", "where.ipynb", "--no-track", "--scheduler", "my-cluster", cwd=tmp_path,
            env={"MLOPS_WORKBENCH_SETTINGS": str(tmp_path / "settings.ini")})
    assert r.returncode == 2 and "--scheduler: 'my-cluster' is not a scheduler address" in r.stderr
