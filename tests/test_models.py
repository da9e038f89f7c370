"""models.compare and models.evaluate: scores equal scikit-learn's cross_validate on the same folds,
bad input is refused with a clear message, failed folds are recorded, MLflow gets one nested run per
candidate with its model, dask.distributed gives the same numbers as joblib."""
import socket, time
import numpy as np, pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, mean_squared_error, roc_auc_score
from sklearn.model_selection import PredefinedSplit, cross_validate, train_test_split
from mlops_workbench import datasets
from mlops_workbench.core import DataError, TrackingError
from mlops_workbench.models import ModelError, compare, make_folds, build_pipeline
from mlops_workbench.evaluation import Evaluation, evaluate
from mlops_workbench.leaderboard import Leaderboard
from mlops_workbench.metrics import scorers as scoring


@pytest.fixture(scope="module")
def credit():
    df = datasets.load("german_credit")
    return df.drop(columns="risk"), df["risk"]


def assert_equal_to_cross_validate(lb, X, y, cv=5):
    "Every fold score of every model equals cross_validate with the same pipeline, folds and scorers."
    folds = make_folds(y, lb.task, cv, 0)
    sc = scoring(lb.metrics, y, lb.task)
    for name, pipe in lb.pipelines.items():
        ref = cross_validate(pipe, X, y, cv=folds, scoring=sc)
        ours = lb.by_fold[lb.by_fold["model"] == name].sort_values("fold")
        for m in lb.metrics:
            sign = -1 if m in ("rmse", "mae", "mse", "mape", "log_loss", "brier") else 1
            np.testing.assert_array_equal(ours[m].to_numpy(), sign * ref[f"test_{m}"], err_msg=f"{name} {m}")


def test_binary_scores_equal_cross_validate(credit):
    X, y = credit
    lb = compare(X, y, models="lr,dt,nb", n_jobs=1, track=False)
    assert lb.task == "binary" and lb.metrics[0] == "roc_auc"
    assert_equal_to_cross_validate(lb, X, y)
    f = lb.to_frame()
    assert list(f.columns[:2]) == ["roc_auc", "roc_auc_std"] and "fit_time" in f
    assert f["roc_auc"].is_monotonic_decreasing and lb.best == f.index[0]
    ref = cross_validate(lb.pipelines["lr"], X, y, cv=make_folds(y, "binary"), scoring="roc_auc")["test_score"]
    assert f.loc["lr", "roc_auc"] == pytest.approx(ref.mean())
    assert f.loc["lr", "roc_auc_std"] == pytest.approx(ref.std(ddof=1))


@pytest.mark.slow
def test_parallel_joblib_equals_sequential(credit):
    X, y = credit
    a = compare(X, y, models="lr,rf,dt", n_jobs=2, track=False)
    b = compare(X, y, models="lr,rf,dt", n_jobs=1, track=False)
    pd.testing.assert_frame_equal(a.by_fold.drop(columns=["fit_time", "score_time"]),
                                  b.by_fold.drop(columns=["fit_time", "score_time"]))


def test_regression_scores_equal_cross_validate():
    hit = datasets.load("hitters").dropna(subset=["Salary"])
    X, y = hit.drop(columns="Salary"), hit["Salary"]
    lb = compare(X, y, models="lr,ridge,dt", metrics="rmse,r2,mae", n_jobs=1, track=False)
    assert lb.task == "regression"
    assert_equal_to_cross_validate(lb, X, y)
    f = lb.to_frame()
    assert (f["rmse"] > 0).all() and f["rmse"].is_monotonic_increasing  # lower is better: best first


def test_multiclass_defaults():
    df = datasets.load("german_credit")
    X, y = df.drop(columns=["purpose", "risk"]), df["purpose"]
    y = y.where(y.map(y.value_counts()) >= 20, "other")
    lb = compare(X, y, models="lr,nb", cv=3, n_jobs=1, track=False)
    assert lb.task == "multiclass" and lb.metrics == ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr"]
    assert_equal_to_cross_validate(lb, X, y, cv=3)


def test_text_labels_work_and_positive_class_is_last():
    df = datasets.load("default")
    df = pd.concat([g.sample(min(len(g), 600), random_state=0) for _, g in df.groupby("default")])
    X, y = df.drop(columns="default"), df["default"]
    assert set(y) == {"Yes", "No"}
    lb = compare(X, y, models="lr,nb", cv=3, n_jobs=1, track=False)
    assert lb.task == "binary"
    assert_equal_to_cross_validate(lb, X, y, cv=3)
    tr, te = make_folds(y, "binary", 3, 0)[0]
    pipe = build_pipeline(LogisticRegression(max_iter=1000), X).fit(X.iloc[tr], y.iloc[tr])
    row = lb.by_fold.query("model == 'lr' and fold == 0").iloc[0]
    assert row["f1"] == pytest.approx(f1_score(y.iloc[te], pipe.predict(X.iloc[te]), pos_label="Yes"))
    assert lb.best_estimator().predict(X.head(3)).dtype == object


def test_sampler_inside_pipeline(credit):
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.pipeline import Pipeline as ImbPipeline
    X, y = credit
    lb = compare(X, y, models="lr", sampler=RandomOverSampler(random_state=0), cv=3, n_jobs=1, track=False)
    assert isinstance(lb.pipelines["lr"], ImbPipeline) and "sampler" in lb.pipelines["lr"].named_steps
    assert_equal_to_cross_validate(lb, X, y, cv=3)
    with pytest.raises(ModelError, match="sampler: resampling needs classes"):
        compare(X, X["credit_amount"] * 1.5, sampler=RandomOverSampler(), track=False)


# ---- bad input -------------------------------------------------------------------------------------

def test_one_class_only(credit):
    X, y = credit
    with pytest.raises(DataError, match=r"target 'risk' has a single class \(1\)"):
        compare(X, y * 0 + 1, track=False)


def test_nan_in_target(credit):
    X, y = credit
    with pytest.raises(DataError, match=r"target 'risk' has 2 missing value\(s\) \(NaN\), e.g. in rows \[3, 7\]"):
        compare(X, y.astype(float).mask(y.index.isin([3, 7])), track=False)


def test_regression_metric_for_classification(credit):
    X, y = credit
    with pytest.raises(ModelError, match="metrics: 'rmse' is a regression metric but the target is binary; use one of"):
        compare(X, y, metrics=["roc_auc", "rmse"], track=False)
    with pytest.raises(ModelError, match="'f1' works only for two classes"):
        compare(X, credit[0]["housing"], metrics="f1", track=False)


def test_unknown_model_name_lists_valid_names(credit):
    X, y = credit
    with pytest.raises(ModelError) as e:
        compare(X, y, models="lr,xgboost", track=False)
    assert ("'xgboost' is not a known binary model; use one of 'ada', 'dt', 'et', 'hgb', 'knn', 'lr', 'nb', 'rf'"
            in str(e.value))


def test_clean_step_is_checked_before_anything_runs(credit):
    from sklearn.preprocessing import FunctionTransformer
    from mlops_workbench import cleaning
    X, y = credit
    with pytest.raises(ModelError, match="clean: 'tidy' is not a scikit-learn transformer; pass e.g."):
        compare(X, y, models="lr", clean="tidy", track=False)
    to_array = FunctionTransformer(lambda d: d.to_numpy())
    with pytest.raises(ModelError, match=r"must return a DataFrame.*set_output\(transform='pandas'\)"):
        compare(X, y, models="lr", clean=to_array, track=False)
    # the cleaning step's own error, as is
    with pytest.raises(DataError, match=r"DropColumns: columns \['no_such_column'\] are not in X"):
        compare(X, y, models="lr", clean=cleaning.DropColumns(columns=["no_such_column"]), track=False)
    def fails(d): raise ValueError("bad")
    with pytest.raises(ModelError, match="clean: the cleaning step failed on the features: ValueError: bad"):
        compare(X, y, models="lr", clean=FunctionTransformer(fails), track=False)


def test_too_many_folds_for_a_rare_class(credit):
    X, y = credit
    with pytest.raises(DataError, match="class 0 of target 'risk' has only 3 row"):
        compare(X.head(13), y.head(13).where(np.arange(13) > 2, 0).where(np.arange(13) <= 2, 1), cv=5, track=False)


class FailsOnSmallFolds(ClassifierMixin, BaseEstimator):
    "Majority-class classifier that refuses to fit fewer than `min_rows` rows."
    def __init__(self, min_rows=600): self.min_rows = min_rows
    def fit(self, X, y):
        if len(X) < self.min_rows: raise RuntimeError(f"only {len(X)} rows")
        self.classes_, self.majority_ = np.unique(y), pd.Series(y).mode()[0]
        return self
    def predict(self, X): return np.full(len(X), self.majority_)
    def predict_proba(self, X): return np.tile((self.classes_ == self.majority_).astype(float), (len(X), 1))


def test_failing_folds_are_recorded_not_fatal(credit):
    X, y = credit
    cv = PredefinedSplit(np.random.default_rng(0).choice(3, size=len(y), p=[.2, .3, .5]))
    lb = compare(X, y, models={"lr": LogisticRegression(max_iter=1000), "flaky": FailsOnSmallFolds(), "nb": "nb"},
                 cv=cv, n_jobs=2, backend="threading", track=False)
    f = lb.to_frame()
    assert f.loc["flaky", "failed_folds"] == 1 and f.loc["flaky", "error"].startswith("RuntimeError: only")
    assert np.isnan(f.loc["flaky", "roc_auc"]) and f.index[-1] == "flaky"
    assert f.loc[["lr", "nb"], "failed_folds"].eq(0).all() and lb.best in ("lr", "nb")
    assert lb.by_fold.query("model == 'flaky'")["error"].notna().sum() == 1
    assert "1 model(s) failed" in lb._repr_html_() and "only" in lb.failed["flaky"]


def test_unknown_backend_and_unreachable_dask_scheduler(credit, tmp_path):
    from mlops_workbench.cluster import ClusterError
    X, y = credit
    with pytest.raises(ModelError, match="backend: 'spark' is unknown"):
        compare(X, y, models="nb", backend="spark", track=False)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "dead.ini").write_text(f"[workbench]\ndask_scheduler = tcp://127.0.0.1:{port}\n")
    with pytest.raises(ClusterError, match=f"tcp://127.0.0.1:{port} did not answer"):  # backend=None reads it too
        compare(X, y, models="nb", track=False, settings=tmp_path / "dead.ini")


def test_unreachable_tracking_uri_fails_fast(credit, tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    ini = tmp_path / "settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = http://127.0.0.1:{port}\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(ini))
    X, y = credit
    t = time.perf_counter()
    with pytest.raises(TrackingError, match=f"127.0.0.1:{port}"):
        compare(X, y, models="nb", cv=2, n_jobs=1)
    assert time.perf_counter() - t < 10


# ---- leaderboard ------------------------------------------------------------------------------------

def test_leaderboard_html_escapes_and_highlights(credit):
    X, y = credit
    Xs = X[["age", "duration", "housing"]].rename(columns={"housing": "<script>alert(1)</script>"})
    lb = compare(Xs, y, models={"<b>nb</b>": "nb", "lr": "lr"}, cv=3, n_jobs=1, track=False)
    html = lb._repr_html_()
    assert "<b>nb</b>" not in html and "&lt;b&gt;nb&lt;/b&gt;" in html
    assert "#d4f4dd" in html
    assert repr(lb).startswith("Leaderboard: binary task, 2 models x 3 folds, best ")
    d = lb.to_dict()
    assert d["best"] == lb.best and set(d["leaderboard"]) == {"<b>nb</b>", "lr"}


def test_best_estimator_is_refit_on_all_rows(credit):
    from sklearn.base import clone
    X, y = credit
    lb = compare(X, y, models="lr,dt", cv=3, n_jobs=1, track=False)
    ref = clone(lb.pipelines[lb.best]).fit(X, y)
    np.testing.assert_array_equal(lb.best_estimator().predict_proba(X), ref.predict_proba(X))
    with pytest.raises(ModelError, match="model 'rf' is not on the leaderboard"):
        lb.estimator("rf")


# ---- MLflow ----------------------------------------------------------------------------------------

def test_tracking_parent_and_nested_runs(credit, store):
    import mlflow
    X, y = credit
    lb = compare(X, y, models="lr,nb", cv=3, n_jobs=1, experiment="models-test")
    exp = mlflow.get_experiment_by_name("models-test")
    runs = mlflow.search_runs([exp.experiment_id])
    assert len(runs) == 3
    kids = runs[runs["tags.mlflow.parentRunId"] == lb.run_id].set_index("tags.mlflow.runName")
    assert set(kids.index) == {"lr", "nb"} and set(kids.run_id) == set(lb.run_ids.values())
    assert kids.loc["lr", "metrics.roc_auc"] == pytest.approx(lb.to_frame().loc["lr", "roc_auc"])
    assert kids.loc["lr", "params.estimator"] == "LogisticRegression"
    client = mlflow.MlflowClient()
    hist = client.get_metric_history(lb.run_ids["lr"], "fold_roc_auc")
    assert sorted(m.step for m in hist) == [0, 1, 2]
    assert [m.value for m in sorted(hist, key=lambda m: m.step)] == pytest.approx(
        lb.by_fold.query("model == 'lr'")["roc_auc"].tolist())
    uri = client.get_run(lb.run_ids["lr"]).data.tags["mlops_workbench.model_uri"]
    info = mlflow.models.get_model_info(uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    assert [c.name for c in info.signature.inputs.inputs] == list(X.columns)
    model = mlflow.sklearn.load_model(uri)
    np.testing.assert_array_equal(model.predict(X), lb.estimator("lr").predict(X))
    assert client.get_run(lb.run_id).data.tags["mlops_workbench.best"] == lb.best


# ---- evaluate --------------------------------------------------------------------------------------

def test_evaluate_classifier_logs_figures(credit, store):
    import mlflow
    X, y = credit
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = build_pipeline(LogisticRegression(max_iter=1000), X_tr).fit(X_tr, y_tr)
    ev = evaluate(model, X_te, y_te)
    assert ev.metrics["roc_auc"] == pytest.approx(roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]))
    assert sorted(ev.figures) == ["calibration", "confusion", "pr", "roc"]
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(ev.run_id, "evaluation")}
    assert arts == {f"evaluation/{k}.png" for k in ev.figures} | {"evaluation/intervals.json"}
    assert mlflow.get_run(ev.run_id).data.metrics["test_roc_auc"] == pytest.approx(ev.metrics["roc_auc"])
    assert "data:image/png;base64," in ev._repr_html_()


def test_evaluate_regressor():
    from sklearn.linear_model import Ridge
    hit = datasets.load("hitters").dropna(subset=["Salary"])
    X, y = hit.drop(columns="Salary"), hit["Salary"]
    model = build_pipeline(Ridge(), X).fit(X, y)
    ev = evaluate(model, X, y, track=False)
    assert sorted(ev.figures) == ["prediction_error", "residuals"]
    assert ev.metrics["rmse"] == pytest.approx(mean_squared_error(y, model.predict(X)) ** 0.5)


# ---- dask.distributed ------------------------------------------------------------------------------

@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_scores(credit):
    from distributed import Client, LocalCluster
    X, y = credit
    ref = compare(X, y, models="lr,dt,nb", cv=3, n_jobs=1, track=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        by_client = compare(X, y, models="lr,dt,nb", cv=3, backend=client, track=False)
        by_name = compare(X, y, models="lr,dt,nb", cv=3, backend="dask", track=False)  # the current client
        # Back-to-back comparisons on the same data on one client: when scattered data was keyed by
        # its content, the release of one call's copy could cancel the next call's fits ("lost
        # dependencies"), about 1 pair in 20.
        again = [compare(X, y, models="lr,dt,nb", cv=3, backend=client, track=False) for _ in range(20)]
    for lb in (by_client, by_name, *again):
        pd.testing.assert_frame_equal(lb.by_fold.drop(columns=["fit_time", "score_time"]),
                                      ref.by_fold.drop(columns=["fit_time", "score_time"]))


# ---- one leaderboard, vocabulary names, moved names -----------------------------------------------

def test_leaderboard_to_metrics_best_by_and_spread(credit):
    X, y = credit
    lb = compare(X, y, models="lr,nb", cv=3, n_jobs=1, track=False, metrics="roc_auc,log_loss")
    assert isinstance(lb, Leaderboard) and isinstance(lb.best, str)
    f = lb.to_frame()
    assert lb.to_metrics() == {"roc_auc": f.loc[lb.best, "roc_auc"], "log_loss": f.loc[lb.best, "log_loss"]}
    assert lb.to_metrics("nb")["log_loss"] == pytest.approx(lb.by_fold.query("model == 'nb'")["log_loss"].mean())
    assert lb.best_by("log_loss") == f["log_loss"].idxmin()  # lower is better, from the vocabulary
    folds = lb.by_fold.query("model == 'lr'")["roc_auc"]
    assert f.loc["lr", "roc_auc_std"] == pytest.approx(folds.std(ddof=1))
    assert list(lb.mean.columns) == ["roc_auc", "log_loss"]
    assert lb.std.loc["lr", "roc_auc"] == f.loc["lr", "roc_auc_std"]
    with pytest.raises(ModelError, match="model 'rf' is not on the leaderboard"):
        lb.to_metrics("rf")
    from mlops_workbench.core import ParameterError
    with pytest.raises(ParameterError, match="metric='r2' is not on this leaderboard; use one of "):
        lb.best_by("r2")


def test_evaluation_to_metrics_uses_vocabulary_names(credit):
    X, y = credit
    model = build_pipeline(LogisticRegression(max_iter=1000), X).fit(X, y)
    ev = evaluate(model, X, y, metrics="roc_auc,brier,pr_auc", track=False)
    assert isinstance(ev, Evaluation)
    assert set(ev.to_metrics()) == {"roc_auc", "brier", "pr_auc"} and ev.to_metrics()["brier"] > 0
    assert all(isinstance(v, float) for v in ev.to_metrics().values())


def test_moved_names_still_import_with_a_warning():
    import mlops_workbench.models as M
    from mlops_workbench import evaluation, frames, metrics, model_logging
    moved = {"evaluate": evaluation.evaluate, "Evaluation": evaluation.Evaluation, "log_model": model_logging.log_model,
             "metric_names": metrics.metric_names, "scoring": metrics.scorers, "TASKS": frames.TASKS,
             "DEFAULT_METRICS": metrics.DEFAULT_METRICS}
    for name, new in moved.items():
        with pytest.warns(DeprecationWarning, match=f"models.{name} is deprecated"):
            assert getattr(M, name) is new
    with pytest.warns(DeprecationWarning):
        assert M.LOWER_IS_BETTER == {"rmse", "mae", "mse", "mape", "log_loss", "brier"}
    with pytest.warns(DeprecationWarning):
        assert M.ALIASES["rmse"] == "neg_root_mean_squared_error" and M.ALIASES["pr_auc"] == "average_precision"
    assert M.detect_task is frames.detect_task and M.preprocessor is frames.preprocessor
    assert M.Leaderboard is Leaderboard
    with pytest.raises(AttributeError):
        M.no_such_name
