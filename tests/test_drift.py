"Drift engine: verdicts equal Evidently 0.7's, bad input, chunked Parquet, HTML escaping, widget, performance."
import json, warnings
import numpy as np
import pandas as pd
import pytest

from mlops_workbench import drift, drift_stats
from mlops_workbench.core import DataError, ParameterError
from mlops_workbench.drift import detect
from mlops_workbench.drift_views import evidently_report, evidently_verdicts, widget
from mlops_workbench.performance import WindowPerformance, performance_by_window


def make(n, seed, shift=0.0):
    "A table with every kind of column Evidently distinguishes, optionally shifted."
    rng = np.random.default_rng(seed)
    p3 = np.array([0.5, 0.3, 0.2]) if shift == 0 else np.array([0.5 - shift / 2, 0.3, 0.2 + shift / 2])
    df = pd.DataFrame({
        "num": rng.normal(shift, 1, n),                                   # float, many values
        "num_few": rng.choice([0.0, 1.5, 3.0, 4.5], n),                   # float, 4 values
        "num_bin": rng.choice([0.0, 1.0], n, p=[0.7 - shift / 3, 0.3 + shift / 3]),  # float, 2 values
        "int_many": rng.integers(0, 200, n) + int(10 * shift),            # int, > 10 values: numeric
        "int_few": rng.choice(np.arange(6), n),                           # int, <= 10 values: categorical
        "cat": rng.choice(["a", "b", "c"], n, p=p3),                      # strings
        "binary": rng.choice(["yes", "no"], n, p=[0.6 - shift / 4, 0.4 + shift / 4]),
        "boolean": rng.random(n) < 0.4 + shift / 5,
    })
    df.loc[df.sample(frac=0.03, random_state=seed).index, "num"] = np.nan
    return df


def compare(ref, cur, **kw):
    ours = detect(ref, cur, **{k: v for k, v in kw.items() if k in ("method", "threshold")}).by_column
    ev = evidently_verdicts(evidently_report(ref, cur) if not kw else _ev(ref, cur, **kw))
    both = ours[["test", "statistic", "drifted"]].join(ev, rsuffix="_ev", how="inner")
    assert len(both) == len(ev) == ref.shape[1]
    return both


def _ev(ref, cur, method=None, threshold=None, ev_method=None):
    from evidently import Report
    from evidently.presets import DataDriftPreset
    return Report([DataDriftPreset(method=ev_method or method, threshold=threshold)]).run(cur, ref)


def check_agree(both, rtol=1e-6):
    assert both["test"].tolist() == both["test_ev"].tolist(), both
    assert both["drifted"].tolist() == both["drifted_ev"].tolist(), both
    np.testing.assert_allclose(both["statistic"].astype(float), both["statistic_ev"].astype(float),
                               rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.15, 0.6])
def test_small_reference_agrees_with_evidently(shift):
    both = compare(make(600, 1), make(400, 2, shift))
    assert set(both["test"]) == {"ks", "chi2", "z"}
    check_agree(both)


@pytest.mark.parametrize("shift", [0.0, 0.15, 0.6])
def test_large_reference_agrees_with_evidently(shift):
    both = compare(make(3000, 3), make(2500, 4, shift))
    assert set(both["test"]) == {"wasserstein", "jensenshannon"}
    check_agree(both)


def test_reference_size_boundary_1000_vs_1001():
    for n, expected in ((1000, "ks"), (1001, "wasserstein")):
        both = compare(make(n, 5), make(700, 6, 0.1))
        assert both.loc["int_many", "test"] == expected
        check_agree(both)


@pytest.mark.parametrize("ours,theirs", [("ks", "ks"), ("wasserstein", "wasserstein"),
                                         ("jensenshannon", "jensenshannon"), ("kl", "kl_div")])
def test_forced_tests_agree_with_evidently(ours, theirs):
    ref, cur = make(1500, 7)[["num", "num_few"]], make(1200, 8, 0.3)[["num", "num_few"]]
    both = compare(ref, cur, method=ours, ev_method=theirs)
    assert set(both["test"]) == {ours}
    check_agree(both)


def test_forced_threshold_agrees_with_evidently():
    ref, cur = make(3000, 9), make(2000, 10, 0.15)
    both = compare(ref, cur, threshold=0.03)
    check_agree(both)
    assert (detect(ref, cur, threshold=0.03).by_column["threshold"] == 0.03).all()


def test_large_data_numeric_uses_merge_path_like_scipy():
    from scipy import stats
    rng = np.random.default_rng(0)
    r, c = rng.normal(size=30_000).round(2), rng.normal(0.01, size=20_000).round(2)
    d, p = drift_stats.ks_2samp_sorted(np.sort(r), np.sort(c))
    ks = stats.ks_2samp(r, c, method="asymp")
    assert d == pytest.approx(ks.statistic, abs=1e-12) and p == pytest.approx(ks.pvalue, rel=1e-6)
    expected = stats.wasserstein_distance(r, c) / np.std(r)
    assert drift_stats.wasserstein_sorted(np.sort(r), np.sort(c)) == pytest.approx(expected, rel=1e-9)


def test_psi_deciles_and_bands():
    rng = np.random.default_rng(1)
    ref, cur = pd.DataFrame({"x": rng.normal(size=5000)}), pd.DataFrame({"x": rng.normal(0.5, size=5000)})
    row = detect(ref, cur, method="psi").by_column.loc["x"]
    q = np.quantile(ref.x, np.linspace(0.1, 0.9, 9))
    r = np.bincount(np.searchsorted(q, ref.x, "right"), minlength=10) / 5000
    c = np.bincount(np.searchsorted(q, cur.x, "right"), minlength=10) / 5000
    assert row["statistic"] == pytest.approx(np.sum((c - r) * np.log(c / r)), rel=1e-9)
    assert row["psi_band"] == drift_stats.psi_band(row["statistic"]) and row["drifted"]


def test_dataset_drift_share_rule():
    ref, cur = make(3000, 11), make(2000, 12, 0.6)
    rep = detect(ref, cur)
    share = rep.n_drifted / 8
    assert rep.share_drifted == share
    assert detect(ref, cur, drift_share=share).dataset_drift
    assert not detect(ref, cur, drift_share=min(1.0, share + 0.01)).dataset_drift or share == 1.0
    ev = evidently_report(ref, cur).dict()["metrics"][0]["value"]
    assert ev["count"] == rep.n_drifted and ev["share"] == pytest.approx(rep.share_drifted)


# ---- bad input ---------------------------------------------------------------------------------

def bad_tables():
    ref = pd.DataFrame({"x": np.arange(40.0), "gone": 1.0, "allnan": np.nan, "t": np.arange(40.0),
                        "c": ["a", "b"] * 20})
    cur = pd.DataFrame({"x": np.r_[np.arange(36.0), np.inf, -np.inf, np.nan, 3.0], "allnan": np.nan,
                        "t": ["x", "y"] * 20, "c": ["a", "z"] * 20, "new": 2})
    return ref, cur


def test_schema_changes_reported_not_raised():
    rep = detect(*bad_tables())
    changes = {(s["column"], s["change"]) for s in rep.schema}
    assert {("gone", "missing in current"), ("new", "new in current"), ("t", "type changed"),
            ("c", "unseen categories")} <= changes
    assert "'z'" in next(s["detail"] for s in rep.schema if s["change"] == "unseen categories")
    assert rep.by_column.loc["t", "test"] == "schema" and rep.by_column.loc["t", "drifted"]
    assert rep.by_column.loc["x", "inf_current"] == 2 and rep.by_column.loc["x", "missing_current"] == 1
    assert rep.by_column.loc["x", "n_current"] == 37
    assert pd.isna(rep.by_column.loc["allnan", "test"]) and "no usable values" in rep.by_column.loc["allnan", "note"]
    json.dumps(rep.to_dict())  # serialisable, NaN turned into null
    assert "NaN" not in json.dumps(rep.to_dict())


def test_empty_current_window_and_bad_arguments():
    ref, cur = bad_tables()
    with pytest.raises(DataError, match="current has no rows"): detect(ref, cur.iloc[:0])
    with pytest.raises(DataError, match="reference has no rows"): detect(ref.iloc[:0], cur)
    with pytest.raises(ParameterError, match="method 'ttest'.*'chi2'"): detect(ref, cur, method="ttest")
    with pytest.raises(ParameterError, match="for column 'x'"): detect(ref, cur, method={"x": "anova"})
    with pytest.raises(ParameterError, match="needs a numeric column"): detect(ref, cur, method={"c": "wasserstein"})
    with pytest.raises(ParameterError, match="drift_share 0"): detect(ref, cur, drift_share=0)
    with pytest.raises(DataError, match="in neither table"): detect(ref, cur, columns=["nope"])
    with pytest.raises(DataError, match="must be a pandas DataFrame"): detect([1, 2], cur)
    with pytest.raises(ValueError): detect(ref, cur.iloc[:0])  # WorkbenchError is a ValueError


def test_few_rows_warn_that_tests_have_no_power():
    ref, cur = bad_tables()
    with pytest.warns(drift.DriftWarning, match="almost no power"):
        rep = detect(ref.head(4), cur.head(3))
    assert "little power" in rep.by_column.loc["x", "note"]


def test_column_names_and_values_with_html_are_escaped(tmp_path):
    evil = '<script>alert("x")</script>'
    ref = pd.DataFrame({evil: np.random.default_rng(0).normal(size=200), "c": ["<b>a</b>", "b"] * 100})
    cur = pd.DataFrame({evil: np.random.default_rng(1).normal(1, size=200),
                        "c": ["<img src=x onerror=alert(1)>", "b"] * 100})
    html = detect(ref, cur)._repr_html_()
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    w = widget(ref, cur)
    assert "<script>" not in w.output.value and "&lt;script&gt;" in w.output.value
    table = pd.DataFrame({"y": [0, 1] * 4, "p": [0.2, 0.8] * 4, evil: ["<i>w</i>"] * 4 + ["b"] * 4})
    perf = performance_by_window(table, "y", "p", evil)
    assert "<i>" not in perf._repr_html_()


def test_evidently_html_cannot_be_closed_by_a_column_name(tmp_path):
    evil = '</script><script>alert("x")</script>'
    ref = pd.DataFrame({evil: np.random.default_rng(0).normal(size=100), "c": ["a", "b"] * 50})
    cur = pd.DataFrame({evil: np.random.default_rng(1).normal(1, size=100), "c": ["a", "</script>"] * 50})
    evidently_report(ref, cur, path=tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "</script><script>alert" not in html  # inside <script>, only "</script" would end the element
    assert '<\\/script><script>alert' in html  # still there for the report to show, as JS-escaped text


# ---- chunked Parquet -----------------------------------------------------------------------------

def test_parquet_chunked_matches_in_memory(tmp_path):
    ref, cur = make(6000, 13), make(5000, 14, 0.15)
    ref.to_parquet(tmp_path / "ref.parquet", row_group_size=1000)
    cur.to_parquet(tmp_path / "cur.parquet", row_group_size=1000)
    mem = detect(ref, cur).by_column
    chk = detect(tmp_path / "ref.parquet", tmp_path / "cur.parquet", chunk_rows=700).by_column
    assert chk["test"].to_dict() == mem["test"].to_dict()
    assert chk["drifted"].to_dict() == mem["drifted"].to_dict()
    exact = chk["test"] == "jensenshannon"
    np.testing.assert_allclose(chk.loc[exact, "statistic"], mem.loc[exact, "statistic"], rtol=1e-9)
    w = chk["test"] == "wasserstein"
    assert (abs(chk.loc[w, "statistic"] - mem.loc[w, "statistic"]) <= chk.loc[w, "error_bound"]).all()
    assert chk.loc["num", "missing_current"] == mem.loc["num", "missing_current"]


def test_parquet_small_reference_exact_tests(tmp_path):
    ref, cur = make(800, 15), make(600, 16, 0.3)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    mem = detect(ref, cur).by_column
    chk = detect(str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), chunk_rows=128).by_column
    assert chk["test"].to_dict() == mem["test"].to_dict()
    exact = chk["test"].isin(["chi2", "z"])
    np.testing.assert_allclose(chk.loc[exact, "statistic"], mem.loc[exact, "statistic"], rtol=1e-9)
    assert chk["drifted"].to_dict() == mem["drifted"].to_dict()


# ---- Evidently HTML, concept drift, widget --------------------------------------------------------

def test_evidently_report_written_atomically(tmp_path):
    ref, cur = make(300, 17), make(300, 18, 0.3)
    out = tmp_path / "sub" / "drift.html"
    evidently_report(ref, cur, path=out)
    assert out.read_text().lstrip().lower().startswith("<html") or "<html" in out.read_text()[:500].lower()
    assert sorted(p.name for p in out.parent.iterdir()) == ["drift.html"]


def test_performance_by_window_alerts():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, 3 * n)
    good = np.where(y == 1, rng.uniform(0.4, 1, 3 * n), rng.uniform(0, 0.6, 3 * n))
    p = np.r_[good[:2 * n], rng.uniform(size=n)]  # the third month the model is guessing
    months = np.repeat(pd.to_datetime(["2024-01-15", "2024-02-15", "2024-03-15"]), n)
    data = pd.DataFrame({"y": y, "p": p, "month": months})
    perf = performance_by_window(data, "y", "p", "month", metric="roc_auc", max_drop=0.1)
    assert perf.alerts == ["2024-03"] and perf.alert
    from sklearn.metrics import roc_auc_score
    assert perf.reference_score == pytest.approx(roc_auc_score(y[:n], p[:n]))
    json.dumps(perf.to_dict())


def test_widget_updates_in_place():
    from mlops_workbench.datasets import load
    bikes = load("bikeshare")
    winter = bikes[bikes.mnth.isin(["Dec", "Jan", "Feb"])]
    w = widget(winter, bikes, time_column="mnth")
    assert w.column.description and w.window.description
    w.column.value = "temp"
    w.window.value = ("Jan", "Jan")
    first = w.output.value
    w.window.value = ("June", "Aug")
    assert w.output.value != first and "(2195 rows)" in w.output.value and "no drift" not in w.output.value
    w.column.value = "weathersit"
    assert "weathersit" in w.output.value and "jensenshannon" in w.output.value


# ---- the lesson -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_lesson_finds_seasonal_drift_tags_mlflow_and_writes_alert(tmp_path, monkeypatch):
    from pathlib import Path
    import papermill as pm, mlflow
    ini = tmp_path / "settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(ini))
    monkeypatch.setenv("MLOPS_WORKBENCH_RUN_DIR", str(run_dir))
    nb = Path(__file__).parents[1] / "nbs" / "course" / "07_drift_monitoring.ipynb"
    pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False)
    alert = json.loads((run_dir / "drift_alert.json").read_text())
    assert alert["action"] == "retrain" and "temp" in alert["drifted_columns"] and alert["share_drifted"] >= 0.5
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    run = mlflow.get_run(alert["mlflow_run_id"])
    assert run.data.tags["drift"] == "detected"
    assert run.data.metrics["share_drifted"] == pytest.approx(alert["share_drifted"], abs=1e-4)


@pytest.mark.slow
def test_lesson_without_drift_writes_no_alert(tmp_path, monkeypatch):
    from pathlib import Path
    import papermill as pm
    ini = tmp_path / "settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(ini))
    monkeypatch.setenv("MLOPS_WORKBENCH_RUN_DIR", str(tmp_path))
    nb = Path(__file__).parents[1] / "nbs" / "course" / "07_drift_monitoring.ipynb"
    pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False,
                        parameters=dict(reference_windows="June,July", current_windows="June,July", drift_share=0.5))
    assert not (tmp_path / "drift_alert.json").exists()


def test_parquet_bad_input(tmp_path):
    ref, cur = make(300, 19), make(300, 20, 0.3)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    cur.drop(columns=["cat"]).assign(num=cur["num"].astype(str), extra=1).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataError, match="current has no rows"):
        detect(tmp_path / "r.parquet", tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="in neither table"):
        detect(tmp_path / "r.parquet", tmp_path / "c.parquet", columns=["nope"])
    rep = detect(tmp_path / "r.parquet", tmp_path / "c.parquet")
    changes = {(s["column"], s["change"]) for s in rep.schema}
    assert changes >= {("cat", "missing in current"), ("extra", "new in current"), ("num", "type changed")}
    assert rep.by_column.loc["num", "test"] == "schema"
    with pytest.warns(drift.DriftWarning, match="almost no power"):
        ref.head(5).to_parquet(tmp_path / "tiny.parquet")
        detect(tmp_path / "tiny.parquet", tmp_path / "r.parquet")


from hypothesis import given, settings, strategies as st

@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=60), st.lists(st.integers(-20, 20), min_size=1, max_size=80))
def test_sorted_statistics_equal_scipy_on_any_samples(a, b):
    "Wasserstein (quantile form) and K-S (merge form) equal SciPy, ties and unequal sizes included."
    from scipy import stats
    r, c = np.sort(np.array(a, float) / 4), np.sort(np.array(b, float) / 4)
    assert drift_stats._w1_quantiles(r, c) == pytest.approx(stats.wasserstein_distance(r, c), abs=1e-12)
    merged, fr, fc = drift_stats._merged_cdfs(r, c)
    last = np.r_[merged[1:] != merged[:-1], True]
    assert np.abs(fr - fc)[last].max() == pytest.approx(stats.ks_2samp(r, c).statistic, abs=1e-12)


# ---- metrics for the gate and the monitor, moved names ----------------------------------------------

def test_drift_report_to_metrics_uses_vocabulary_names():
    from mlops_workbench.metrics import VOCABULARY
    ref, cur = make(3000, 11), make(2000, 12, 0.6)
    rep = detect(ref, cur)
    m = rep.to_metrics()
    assert m == {"drifted_column_share": rep.share_drifted, "dataset_drift": 1.0}
    assert all(k in VOCABULARY and VOCABULARY[k].kind == "drift" for k in m)
    assert all(type(v) is float for v in m.values())
    quiet = detect(ref, make(2000, 13)).to_metrics()
    assert quiet["dataset_drift"] == 0.0 and quiet["drifted_column_share"] < 0.5
    nothing = detect(pd.DataFrame({"a": [1.0] * 20}), pd.DataFrame({"b": [1.0] * 20})).to_metrics()
    assert nothing == {"drifted_column_share": 0.0, "dataset_drift": 0.0}


def test_parquet_report_to_metrics(tmp_path):
    ref, cur = make(800, 15), make(600, 16, 0.6)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    chk = detect(tmp_path / "r.parquet", tmp_path / "c.parquet", chunk_rows=128)
    assert chk.to_metrics() == detect(ref, cur).to_metrics()


def test_window_performance_to_metrics_is_latest_window():
    from mlops_workbench.metrics import VOCABULARY
    from sklearn.metrics import mean_absolute_error
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    data = pd.DataFrame({"y": y, "p": y + rng.normal(scale=np.repeat([0.1, 0.2, 1.0], 100)),
                         "w": np.repeat(["a", "b", "c"], 100)})
    perf = performance_by_window(data, "y", "p", "w", metric="mae", max_drop=0.2)
    m = perf.to_metrics()
    assert list(m) == ["mae"] and "mae" in VOCABULARY
    assert m["mae"] == pytest.approx(mean_absolute_error(data.y[200:], data.p[200:]))
    assert perf.alerts == ["c"]
    empty = WindowPerformance(by_window=pd.DataFrame(columns=["n", "score", "worse_by", "alert"]), metric="mae",
                              reference_score=float("nan"), max_drop=0.1)
    assert empty.to_metrics() == {}


def test_performance_by_window_metric_names():
    data = pd.DataFrame({"y": [0, 1] * 10, "p": [0.2, 0.8] * 10, "w": ["a"] * 10 + ["b"] * 10})
    for name in ("roc_auc", "accuracy", "f1", "mae", "rmse", "r2"):  # every name accepted before the vocabulary
        pred = "p" if name in ("roc_auc", "mae", "rmse", "r2") else "y"
        assert performance_by_window(data, "y", pred, "w", metric=name).metric == name
    from mlops_workbench.metrics import MetricError
    with pytest.raises(MetricError, match="'roc_auc'"): performance_by_window(data, "y", "p", "w", metric="auc")
    with pytest.raises(MetricError, match="cannot be scored per window.*'accuracy'"):
        performance_by_window(data, "y", "p", "w", metric="dataset_drift")
    with pytest.raises(DataError, match="column 'nope'"): performance_by_window(data, "y", "nope", "w")


def test_lower_is_better_metric_alerts_when_error_grows():
    data = pd.DataFrame({"y": [1.0] * 20, "p": [1.1] * 10 + [2.0] * 10, "w": ["a"] * 10 + ["b"] * 10})
    perf = performance_by_window(data, "y", "p", "w", metric="rmse", max_drop=0.5)
    assert perf.alerts == ["b"] and perf.by_window.loc["b", "worse_by"] == pytest.approx(0.9)


def test_moved_names_still_work_from_drift_with_a_warning():
    from mlops_workbench import drift_parquet, drift_views, performance
    moved = {"performance_by_window": performance.performance_by_window,
             "WindowPerformance": performance.WindowPerformance,
             "evidently_report": drift_views.evidently_report, "evidently_verdicts": drift_views.evidently_verdicts,
             "widget": drift_views.widget, "EVIDENTLY_NAMES": drift_views.EVIDENTLY_NAMES,
             "ks_2samp_sorted": drift_stats.ks_2samp_sorted, "psi_counts": drift_stats.psi_counts,
             "PSI_BANDS": drift_stats.PSI_BANDS, "FINE_BINS": drift_parquet.FINE_BINS}
    for name, new in moved.items():
        with pytest.warns(DeprecationWarning, match=f"drift.{name} is deprecated"):
            assert getattr(drift, name) is new
    with pytest.raises(AttributeError): drift.no_such_name
    # names the engine itself uses stay importable without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from mlops_workbench.drift import TESTS, DriftReport, DriftWarning, column_drift, psi_band  # noqa: F401


def test_drift_modules_are_small():
    from pathlib import Path
    import mlops_workbench
    root = Path(mlops_workbench.__file__).parent
    for name in ("drift", "drift_stats", "drift_parquet", "drift_views", "performance"):
        assert len((root / f"{name}.py").read_text().splitlines()) <= 450, name
