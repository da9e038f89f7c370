"""`monitor.check` on a real inference log written by the real server: a champion served on a free 127.0.0.1 port
with a shadow challenger, a month of normal traffic then a shift replayed with client-supplied event times, labels
arriving late (some for ids never logged, some twice), and a day logged by an older model version that lacked an
input. Every server is stopped by its with-block."""
import math
import pandas as pd
import pytest
import requests
from conftest import credit_workspace


@pytest.fixture(scope="module")
def served_log(tmp_path_factory, template_db):
    from mlops_workbench import registry
    from mlops_workbench.config import load_settings
    from mlops_workbench.inference_log import InferenceLog
    from mlops_workbench.serve_process import start
    d = tmp_path_factory.mktemp("monitor")
    with credit_workspace(d, template_db) as (df, lb):
        registry.promote(lb.run_ids["lr"], "credit", alias="challenger")
        X, y = df.drop(columns="risk"), df["risk"]
        t0 = pd.Timestamp("2026-01-01", tz="UTC")
        with start("credit", shadow="challenger", poll=3600) as srv:
            def send(rows, day, source=None, shift=False):
                recs = rows.assign(age=rows.age + 25 if shift else rows.age, gender=rows.sex,
                                   when=[(t0 + pd.Timedelta(days=day, minutes=i)).isoformat()
                                         for i in range(len(rows))]).to_dict("records")
                body = dict(records=recs, event_time="when", **({"source": source} if source else {}))
                r = requests.post(srv.url + "/predict", json=body, timeout=60)
                assert r.status_code == 200, r.text
                return r.json()["row_ids"]
            ev = X.sample(300, random_state=1)
            ref_ids = send(ev, -1, source="evaluation")
            ids = {}
            for day in range(6):
                rows = X.sample(120, random_state=day)
                ids[day] = (send(rows, day, shift=day >= 4), y.loc[rows.index].tolist())
        log = InferenceLog.from_settings(load_settings())
        log.add_labels(pd.DataFrame({"row_id": ref_ids, "label": y.loc[ev.index].tolist()}))
        for day in range(3):  # labels arrive for the first three days only
            log.add_labels(pd.DataFrame({"row_id": ids[day][0], "label": ids[day][1]}))
        log.add_labels(pd.DataFrame({"row_id": ["never-logged-1", "never-logged-2"], "label": [0, 1]}))
        log.add_labels(pd.DataFrame({"row_id": ids[0][0][:5], "label": ids[0][1][:5]}))  # sent twice
        yield dict(log=log, ids=ids, t0=t0, model=registry.load_champion("credit"))


def test_check_on_the_served_log(served_log):
    from mlops_workbench import monitor
    rep = monitor.check(served_log["log"], window="1D", sensitive="gender")
    s = rep.signals
    assert list(s.index) == list(pd.date_range(served_log["t0"], periods=6, freq="D"))
    assert s["n_rows"].tolist() == [120] * 6
    assert s["n_labelled"].tolist() == [120, 120, 120, 0, 0, 0]
    assert s["performance.roc_auc"].iloc[:3].notna().all() and s["performance.roc_auc"].iloc[3:].isna().all()
    assert s["estimated.roc_auc"].notna().all()  # CBPE answers where labels have not arrived
    drifted = [rep.details[w.isoformat()]["drifted_columns"] for w in s.index]
    assert all("age" in d for d in drifted[4:]) and not any("age" in d for d in drifted[:4]), drifted
    assert (s["out_of_range_share"].iloc[4:] > 0).all()
    assert s["shadow.agreement"].eq(1.0).all()  # the challenger here is the same model
    assert s["fairness.gender.demographic_parity_difference"].iloc[:3].notna().all()
    assert any(n.startswith("2 label(s) name a row id") for n in rep.notes), rep.notes
    assert any(n.startswith("5 label(s) repeat a row id") for n in rep.notes), rep.notes
    assert rep.to_metrics()["drifted_column_share"] == s["drifted_column_share"].iloc[-1]


def test_realised_performance_equals_scikit_learn(served_log):
    from sklearn.metrics import roc_auc_score
    from mlops_workbench import monitor
    log, t0 = served_log["log"], served_log["t0"]
    rep = monitor.check(log, window="1D", start=t0, end=t0 + pd.Timedelta(days=1))
    day = log.read(t0, t0 + pd.Timedelta(days=1), source="live")
    expected = roc_auc_score(day["label"].astype(int), day["proba.1"])
    assert math.isclose(rep.signals["performance.roc_auc"].iloc[0], expected, rel_tol=1e-12)


def test_reference_from_the_model_and_bad_input(served_log):
    from mlops_workbench import datasets, monitor
    from mlops_workbench.core import DataError, ParameterError
    df = datasets.load("german_credit")
    ref = monitor.reference_rows(served_log["model"], df.drop(columns="risk"), df["risk"])
    rep = monitor.check(served_log["log"], ref, window="2D")
    assert len(rep.signals) == 3 and rep.reference["rows"] == len(df)
    with pytest.raises(ParameterError, match="not a fixed length"):
        monitor.check(served_log["log"], ref, window="M")
    with pytest.raises(DataError, match="no model inputs"):
        monitor.check(served_log["log"], ref[["prediction"]])
    with pytest.raises(DataError, match="does not exist"):
        monitor.check("/no/such/log", ref)


def test_an_older_version_without_an_input_is_a_schema_note(served_log, tmp_path):
    from mlops_workbench import monitor
    log = served_log["log"].read(source=["live", "evaluation"])
    old = log[log["source"] == "live"].drop(columns="in.age").assign(model_version="0")
    old = old.assign(event_time=old["event_time"] + pd.Timedelta(days=10))  # days logged by another version
    rep = monitor.check(pd.concat([log, old]), window="1D")
    assert any(n.startswith("input 'age' is absent or empty") and "in 6 window(s)" in n for n in rep.notes), rep.notes
    path = rep.save_html(tmp_path / "monitor.html")
    assert path.stat().st_size < 300_000
