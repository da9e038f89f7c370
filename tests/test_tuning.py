"""tune, significance, racing and budgets on real Optuna studies and a real MLflow store: tuned scores equal
cross_validate on compare's folds, the study resumes from its own SQLite file, every trial is a nested run,
failed trials are recorded and the study goes on, bad input stops before any fit, racing keeps the champion,
budgets stop and report what they stopped."""
import re, sqlite3, time
import numpy as np, pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from mlops_workbench import datasets
from mlops_workbench.core import ParameterError
from mlops_workbench.models import compare, make_folds, tune
from mlops_workbench.racing import RaceError
from mlops_workbench.significance import corrected_ttest, margins, split_ratio
from mlops_workbench.tuning import TuningError, study_storage


@pytest.fixture(scope="module")
def credit():
    df = datasets.load("german_credit")
    return df.drop(columns="risk"), df["risk"]


class Picky(ClassifierMixin, BaseEstimator):
    "A logistic regression that refuses to fit when `threshold` > 0.5."
    def __init__(self, threshold=0.1): self.threshold = threshold
    def fit(self, X, y):
        if self.threshold > 0.5: raise RuntimeError(f"threshold {self.threshold:.2f} is too high")
        self.lr_ = LogisticRegression(max_iter=1000).fit(X, y)
        self.classes_ = self.lr_.classes_
        return self
    def predict_proba(self, X): return self.lr_.predict_proba(X)
    def predict(self, X): return self.lr_.predict(X)


class SlowFit(ClassifierMixin, BaseEstimator):
    "The majority class, after sleeping `seconds` in every fit."
    def __init__(self, seconds=1.0): self.seconds = seconds
    def fit(self, X, y):
        time.sleep(self.seconds)
        self.classes_, self.majority_ = np.unique(y), pd.Series(y).mode()[0]
        return self
    def predict(self, X): return np.full(len(X), self.majority_)
    def predict_proba(self, X): return np.tile((self.classes_ == self.majority_).astype(float), (len(X), 1))


def runs_under(parent_id):
    import mlflow
    exp = mlflow.get_run(parent_id).info.experiment_id
    return mlflow.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")


def test_tune_tracks_every_trial_and_resumes_from_its_own_file(credit, store):
    import mlflow
    X, y = credit
    res = tune("lr", X, y, n_trials=4, cv=3)
    folds = make_folds(y, "binary", 3, 0)
    ref = cross_val_score(res.best_pipeline, X, y, cv=folds, scoring="roc_auc")
    np.testing.assert_array_equal(res.by_fold()["roc_auc"].to_numpy(), ref)  # compare's folds, cross_validate's scores
    assert res.best_score == pytest.approx(ref.mean()) and set(res.best_params) == {"C", "class_weight"}
    trials = runs_under(res.run_id)
    assert len(trials) == 4 and set(trials["tags.mlops_workbench.trial_state"]) <= {"COMPLETE", "PRUNED"}
    tags = mlflow.get_run(res.run_id).data
    assert tags.tags["mlops_workbench.role"] == "tuning" and tags.metrics["best_roc_auc"] == pytest.approx(res.best_score)
    assert study_storage() == f"sqlite:///{store}/optuna.db" and (store / "optuna.db").exists()
    with sqlite3.connect(store / "mlflow.db") as con:  # the two stores stay in separate files
        assert "trials" not in {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    again = tune("lr", X, y, n_trials=2, cv=3, track=False)
    assert again.study.study_name == res.study.study_name and len(again.study.trials) == 6
    assert again.best_score >= res.best_score
    f = again.to_frame()
    assert list(f.columns[:3]) == ["state", "roc_auc", "folds"] and len(f) == 6
    assert abs(again.importances().sum() - 1) < 1e-9 and "TuningResult" in repr(again)


def test_the_first_trial_is_the_leaderboards_own_settings(credit, store):
    X, y = credit
    lb = compare(X, y, models="lr", cv=3, track=False)
    res = tune("lr", X, y, n_trials=3, cv=3, track=False)
    assert res.study.trials[0].params == {"C": 1.0, "class_weight": None} and res.study.trials[0].user_attrs["baseline"]
    assert res.baseline_score == pytest.approx(lb.to_frame().loc["lr", "roc_auc"], abs=1e-12)
    assert res.best_score >= res.baseline_score and f"its own settings (trial 0) {res.baseline_score:.4f}" in repr(res)
    narrow = tune("lr", X, y, space={"C": (0.01, 0.1, "log")}, n_trials=2, cv=3, track=False)  # C=1 outside
    assert narrow.baseline_score is None and all(t.params["C"] <= 0.1 for t in narrow.study.trials)


def test_failed_trials_are_recorded_and_the_study_goes_on(credit, store):
    X, y = credit
    res = tune(Picky(), X, y, space={"threshold": (0.0, 1.0)}, n_trials=6, cv=2)
    f = res.to_frame()
    assert (f["state"] == "fail").any() and (f["state"] == "complete").any() and len(f) == 6
    assert f.loc[f["state"] == "fail", "error"].str.contains("RuntimeError: threshold").all()
    trials = runs_under(res.run_id)
    failed = trials[trials["tags.mlops_workbench.trial_state"] == "FAIL"]
    assert len(failed) == (f["state"] == "fail").sum() and failed["status"].eq("FAILED").all()
    with pytest.raises(TuningError, match=r"no trial of 'Picky' finished \(2 run, 2 failed, first error: fold 0"):
        tune(Picky(), X, y, space={"threshold": (0.6, 1.0)}, n_trials=2, cv=2, track=False)


def test_bad_input_is_refused_before_any_fit(credit, store):
    X, y = credit
    cases = [(dict(space={"alpha": (0.1, 1.0)}), "'alpha' is not a parameter of LogisticRegression; use one of 'C',"),
             (dict(space={}), "space: {} is empty"),
             (dict(space={"C": (10.0, 1.0)}), "space['C']: (10.0, 1.0) is impossible"),
             (dict(space={"class_weight": []}), "space['class_weight']: [] is impossible"),
             (dict(n_trials=0), "n_trials: 0 would run no trial"),
             (dict(timeout=-1), "timeout: -1 is not a positive number")]
    for kw, msg in cases:
        with pytest.raises(ParameterError) as e:
            tune("lr", X, y, **kw)
        assert msg in str(e.value), kw
    assert not (store / "optuna.db").exists()  # refused before any study, let alone a fit
    with pytest.raises(RaceError, match="budget_s: 0 is not a positive number"):
        compare(X, y, models="lr", budget_s=0)


def test_a_budget_too_small_stops_with_what_was_running(credit, store):
    X, y = credit
    with pytest.raises(RaceError) as e:
        compare(X, y, models={"slow": SlowFit(0.5), "lr": "lr"}, budget_s=0.2, n_jobs=1, track=False)
    assert "budget_s=0.2: no candidate finished all 5 folds" in str(e.value)
    assert "running when the budget ran out: slow fold 0" in str(e.value)


class CountingFit(SlowFit):
    "SlowFit that counts its fits in a class attribute (n_jobs=1 runs the folds in this process)."
    fits = 0
    def fit(self, X, y):
        type(self).fits += 1
        return super().fit(X, y)


@pytest.mark.parametrize("limit", ["budget_s", "timeout_s"])
def test_a_limit_shorter_than_preparing_one_fold_is_refused_before_any_fit(credit, limit):
    X, y = credit
    CountingFit.fits = 0
    with pytest.raises(RaceError, match=rf"{limit}=1e-06: preparing the data for one fold alone takes [0-9.e-]+ s"):
        compare(X, y, models={"slow": CountingFit(0.0), "lr": "lr"}, n_jobs=1, track=False, **{limit: 1e-6})
    assert CountingFit.fits == 0
    compare(X, y, models={"slow": CountingFit(0.0)}, cv=2, n_jobs=1, track=False, **{limit: 60})
    assert CountingFit.fits == 2  # the two folds: the check itself fits nothing


def test_budget_and_timeout_report_the_folds_finished(credit):
    X, y = credit
    lb = compare(X, y, models={"nb": "nb", "slow": SlowFit(1.5)}, budget_s=4, n_jobs=1, track=False)
    assert lb.best == "nb" and lb.stopped["slow"].startswith("out of budget (budget_s=4) after")
    done = int((lb.by_fold["model"] == "slow").sum())
    assert 1 <= done < 5 and lb.stopped["slow"].endswith(f"after {done} of 5 folds")
    assert list(lb.to_frame().index) == ["nb", "slow"]  # reported, not ranked
    lt = compare(X, y, models={"nb": "nb", "slow": SlowFit(2.0)}, timeout_s=3, n_jobs=1, track=False)
    assert lt.stopped["slow"].startswith("out of time (timeout_s=3, used") and lt.stopped["slow"].endswith("after 1 of 5 folds")


def test_racing_keeps_the_champion_and_drops_the_hopeless(credit):
    X, y = credit
    models = {"lr": "lr", "nb": "nb", "dummy": DummyClassifier()}
    full = compare(X, y, models=models, track=False)
    raced = compare(X, y, models=models, racing=True, track=False)
    assert raced.best == full.best == "lr"
    # the leader at that moment is whichever good model had 3 folds in first; the dummy never gets all 5
    assert re.match(r"dropped by racing after [34] of 5 folds: behind '(lr|nb)' by 0\.\d+ roc_auc \(p=",
                    raced.stopped["dummy"]), raced.stopped
    assert (raced.by_fold["model"] == "dummy").sum() < 5 and "nb" not in raced.stopped
    pd.testing.assert_frame_equal(raced.by_fold.query("model == 'lr'")[["fold", "roc_auc"]].reset_index(drop=True),
                                  full.by_fold.query("model == 'lr'")[["fold", "roc_auc"]].reset_index(drop=True))


def test_repeats_detect_a_real_gap_and_not_a_null_one(credit):
    from sklearn.tree import DecisionTreeClassifier
    X, y = credit
    lb = compare(X, y, models={"lr": "lr", "dt": "dt", "dt_seed1": DecisionTreeClassifier(random_state=1)}, repeats=2,
                 track=False)
    folds = make_folds(y, "binary", 5, 0, repeats=2)
    assert lb.n_folds == 10 and lb.fold_ratio == pytest.approx(split_ratio(folds))
    assert bool(lb.margins().loc["dt", "significant"])
    null = margins(lb.by_fold, "dt", ["dt_seed1"], "roc_auc", lb.fold_ratio)
    assert not null.loc["dt_seed1", "significant"]
    d = lb.by_fold.pivot(index="fold", columns="model", values="roc_auc")
    t = corrected_ttest(d["lr"], d["dt"], split_ratio(folds))
    assert t["p_value"] == pytest.approx(lb.margins().loc["dt", "p_value"]) and t["folds"] == 10


@pytest.mark.slow
def test_parallel_workers_never_race_for_the_queued_first_trial(credit, store):
    X, y = credit  # before the fix, 2 runs in 15 failed ("Cannot tell a COMPLETE trial") or lost a trial
    for i in range(8):
        Xi, yi = X.sample(frac=1, random_state=i), y.sample(frac=1, random_state=i)  # a new study each time
        res = tune("nb", Xi, yi, n_trials=6, n_jobs=2, cv=3, track=False)
        assert len(res.study.trials) == 6 and res.baseline_score is not None
        assert res.study.trials[0].user_attrs.get("baseline") and res.to_frame()["state"].eq("complete").sum() >= 1


def test_tune_top_and_process_workers(credit, store):
    X, y = credit
    lb = compare(X, y, models="lr,nb", cv=3, tune_top=1, tune_trials=3, n_jobs=2)
    assert set(lb.pipelines) == {"lr", "nb", "lr_tuned"} and "lr_tuned" in lb.run_ids
    par = tune("nb", X, y, n_trials=4, cv=3, n_jobs=2, backend="loky")
    assert len(par.study.trials) == 4 and len(runs_under(par.run_id)) == 4
