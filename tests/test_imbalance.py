"Tests of mlops_workbench.imbalance against imbalanced-learn and scikit-learn on the same data."
import numpy as np
import pandas as pd
import pytest
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import ADASYN, SMOTE, SMOTEN, SMOTENC, BorderlineSMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from mlops_workbench.core import DataError, ParameterError, WorkbenchError
from mlops_workbench.datasets import load
from mlops_workbench.imbalance import (ClassBalance, SamplerLeaderboard, compare_samplers, describe,
                                       explore_samplers, make_sampler, resample, sampler_pipeline)


@pytest.fixture(scope="module")
def credit():
    df = load("default").sample(3000, random_state=1).reset_index(drop=True)
    return df.drop(columns="default"), df["default"]


@pytest.fixture(scope="module")
def numeric(credit):
    X, y = credit
    return X[["balance", "income"]], y


def _same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_series_equal(a[1], b[1])


REFERENCE = {
    "smote": lambda: SMOTE(random_state=0, k_neighbors=3, sampling_strategy=0.4),
    "borderline_smote": lambda: BorderlineSMOTE(random_state=0, k_neighbors=3, sampling_strategy=0.4),
    "adasyn": lambda: ADASYN(random_state=0, n_neighbors=3, sampling_strategy=0.4),
    "smote_tomek": lambda: SMOTETomek(smote=SMOTE(k_neighbors=3, random_state=0), random_state=0,
                                      sampling_strategy=0.4),
    "smote_enn": lambda: SMOTEENN(smote=SMOTE(k_neighbors=3, random_state=0), random_state=0, sampling_strategy=0.4),
}


@pytest.mark.parametrize("method", sorted(REFERENCE))
def test_resample_matches_imblearn(numeric, method):
    X, y = numeric
    ours = resample(X, y, method, random_state=0, k_neighbors=3, sampling_strategy=0.4)
    _same(ours, REFERENCE[method]().fit_resample(X, y))


@pytest.mark.parametrize("method,cls", [("random_over", RandomOverSampler), ("random_under", RandomUnderSampler)])
def test_random_samplers_match_imblearn(credit, method, cls):
    X, y = credit  # random samplers take categorical columns as they are
    _same(resample(X, y, method, random_state=7, sampling_strategy=0.5),
          cls(random_state=7, sampling_strategy=0.5).fit_resample(X, y))


def test_smote_picks_smotenc_and_smoten(credit):
    X, y = credit
    _same(resample(X, y), SMOTENC(categorical_features=["student"], random_state=0).fit_resample(X, y))
    Xc = X.assign(band=pd.cut(X.balance, 4, labels=list("abcd")).astype(str))[["student", "band"]]
    assert type(make_sampler("smote", Xc)) is SMOTEN
    _same(resample(Xc, y, k_neighbors=4), SMOTEN(random_state=0, k_neighbors=4).fit_resample(Xc, y))


def test_default_seed_is_reproducible_and_seed_matters(numeric):
    X, y = numeric
    _same(resample(X, y, random_state=3), resample(X, y, random_state=3))
    assert not resample(X, y, random_state=3)[0].equals(resample(X, y, random_state=4)[0])


def test_sampler_object_is_used_as_given(numeric):
    X, y = numeric
    _same(resample(X, y, SMOTE(k_neighbors=2, random_state=5)), SMOTE(k_neighbors=2, random_state=5).fit_resample(X, y))


# ---- bad input: each a WorkbenchError with the fix in the message ----

def test_single_class_target(numeric):
    X, _ = numeric
    with pytest.raises(DataError, match="single class \\('No'\\)"):
        resample(X, pd.Series("No", index=X.index))
    with pytest.raises(DataError, match="single class"):
        describe(pd.Series([1, 1, 1]))


def test_minority_smaller_than_k_says_which_k_works(credit):
    X, y = credit
    keep = (y == "No") | (y == "Yes").cumsum().le(4)
    with pytest.raises(DataError, match=r"class 'Yes' has only 4 rows.*k_neighbors=5.*use k_neighbors=3 or lower"):
        resample(X[keep], y[keep])
    X_res, y_res = resample(X[keep], y[keep], k_neighbors=3)  # the suggested k works
    assert (y_res == "Yes").sum() == (y[keep] == "No").sum()
    with pytest.raises(DataError, match="use n_neighbors=3 or lower"):
        resample(X[keep][["balance", "income"]], y[keep], "adasyn")
    one = (y == "No") | (y == "Yes").cumsum().le(1)
    with pytest.raises(DataError, match="no k works"):
        resample(X[one], y[one], k_neighbors=1)


def test_categorical_columns_to_plain_smote(credit):
    X, y = credit
    with pytest.raises(DataError, match=r"SMOTE measures distances on numbers.*\['student'\].*method='smote'"):
        resample(X, y, SMOTE(random_state=0))
    for method in ("borderline_smote", "adasyn", "smote_tomek", "smote_enn"):
        with pytest.raises(DataError, match="categorical columns"):
            resample(X, y, method)


def test_nan_features_point_to_cleaning(credit):
    X, y = credit
    Xn = X.assign(income=X.income.where(X.index > 9))
    with pytest.raises(DataError, match=r"'income' \(10\).*mlops_workbench.cleaning"):
        resample(Xn, y)
    with pytest.raises(DataError, match="cleaning"):
        compare_samplers(Xn, y)
    with pytest.raises(DataError, match="missing labels"):
        resample(X, y.where(y.index > 0))


def test_unknown_method_and_errors_are_valueerrors(numeric):
    X, y = numeric
    with pytest.raises(ParameterError, match="'adasyn', 'borderline_smote'"):
        resample(X, y, "smoote")
    with pytest.raises(DataError, match="method='smote'"):
        resample(X, y, "smotenc")
    assert issubclass(DataError, WorkbenchError) and issubclass(WorkbenchError, ValueError)


# ---- describe ----

def test_describe_counts_and_html():
    y = pd.Series(["<script>alert(1)</script>"] * 3 + ["b"] * 97)
    bal = describe(y)
    assert isinstance(bal, ClassBalance)
    assert bal.to_dict()["counts"] == y.value_counts().to_dict()
    assert bal.imbalance_ratio == pytest.approx(97 / 3)
    assert bal.to_frame()["share"].sum() == pytest.approx(1)
    html = bal._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Severe" in bal.advice and "cannot run" in bal.advice
    assert "balanced" in describe(pd.Series([0, 1] * 10)).advice.lower()
    assert repr(describe(pd.Series([0] * 7 + [1] * 3))).startswith("ClassBalance(2 classes; minority 1 ")


# ---- compare_samplers ----

def test_compare_samplers_matches_manual_pipeline(credit):
    from imblearn.pipeline import Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, make_scorer, recall_score
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    X, y = credit
    board = compare_samplers(X, y, ["none", "smote"], cv=3, random_state=0)
    pipe = Pipeline([("s", SMOTENC(categorical_features=["student"], random_state=0)),
                     ("p", ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["student"]),
                                              ("n", StandardScaler(), ["balance", "income"])])),
                     ("m", LogisticRegression(max_iter=1000))])
    ref = cross_validate(pipe, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring={
        "ap": make_scorer(average_precision_score, response_method="predict_proba", pos_label="Yes"),
        "rec": make_scorer(recall_score, pos_label="Yes")})
    assert board.mean.loc["smote", "pr_auc"] == pytest.approx(ref["test_ap"].mean())
    assert board.mean.loc["smote", "recall"] == pytest.approx(ref["test_rec"].mean())
    assert board.std.loc["smote", "recall"] == pytest.approx(np.std(ref["test_rec"], ddof=1))
    assert board.mean.loc["smote", "recall"] > board.mean.loc["none", "recall"]


def test_compare_samplers_minority_is_positive_for_numeric_labels():
    df = load("german_credit")  # risk: 1 = good (700), 0 = bad (300, the minority)
    board = compare_samplers(df.drop(columns="risk"), df.risk, ["none", "random_over"], cv=3)
    assert board.minority == 0
    assert (board.mean["roc_auc"] > 0.6).all()  # scored on the minority's probability, not inverted
    assert (board.mean["pr_auc"] > 0.3).all()


def test_leaderboard_frame_dict_html(numeric):
    X, y = numeric
    board = compare_samplers(X, y, {"<b>mine</b>": RandomUnderSampler(random_state=0), "adasyn": "adasyn"}, cv=3)
    assert isinstance(board, SamplerLeaderboard)
    f = board.to_frame()
    assert list(f.columns[:4]) == ["pr_auc", "pr_auc_std", "roc_auc", "roc_auc_std"]
    assert f.pr_auc.is_monotonic_decreasing
    assert set(board.to_dict()["leaderboard"]) == {"<b>mine</b>", "adasyn"}
    assert "<b>mine</b>" not in board._repr_html_() and "&lt;b&gt;mine" in board._repr_html_()
    assert len(board.by_fold) == 6 and board.best_by("recall") in f.index


def test_compare_samplers_bad_input(credit):
    X, y = credit
    with pytest.raises(DataError, match="binary target; y has 3 classes"):
        compare_samplers(X, y.where(X.balance < 1500, "Maybe"))
    keep = (y == "No") | (y == "Yes").cumsum().le(5)
    with pytest.raises(DataError, match="on a training fold.*use k_neighbors=3 or lower"):
        compare_samplers(X[keep], y[keep], ["smote"], cv=5)
    with pytest.raises(ParameterError, match="'balanced_accuracy'"):
        compare_samplers(X.iloc[:600], y.iloc[:600], ["none"], cv=2).best_by("accuracy")


def test_pipeline_encodes_before_numeric_only_samplers(credit):
    X, _ = credit
    names = lambda p: [n for n, _ in p.steps]
    assert names(sampler_pipeline(make_sampler("adasyn", X[["balance"]]), X)) == ["prep", "sampler", "model"]
    assert names(sampler_pipeline(make_sampler("smote", X), X)) == ["sampler", "prep", "model"]
    assert names(sampler_pipeline(None, X)) == ["prep", "model"]


# ---- widget ----

def test_widget_updates_when_controls_change(numeric):
    X, y = numeric
    w = explore_samplers(X, y)
    described = {w.sampler.description, w.k_neighbors.description, w.ratio.description}
    assert described == {"Sampler", "k neighbours", "Minority/majority"}
    counts, png = w.counts.value, w.plot.value
    assert png[:4] == b"\x89PNG" and "synthetic" in counts
    w.ratio.value = 1.0
    assert w.counts.value != counts and w.plot.value != png
    n_yes = (y == "Yes").sum()
    w.sampler.value = "random_under"
    assert f"<td>{n_yes:,}</td><td>{n_yes:,}</td>" in w.counts.value  # majority cut down to the minority
    assert "No new points" in w.message.value
    w.sampler.value = "adasyn"
    png = w.plot.value
    w.k_neighbors.value = 2
    assert w.plot.value != png and w.message.value == ""


def test_widget_shows_errors_instead_of_raising(credit):
    X, y = credit
    w = explore_samplers(X, y)
    w.sampler.value = "borderline_smote"  # categorical 'student' column
    assert "categorical columns" in w.message.value and "&#x27;student&#x27;" in w.message.value


def test_sampler_leaderboard_is_the_one_leaderboard(numeric):
    from mlops_workbench.leaderboard import Leaderboard
    X, y = numeric
    board = compare_samplers(X, y, ["none", "random_over"], cv=3)
    assert SamplerLeaderboard is Leaderboard and board.label == "sampler" and board.minority == "Yes"
    f = board.to_frame()
    assert f.index.name == "sampler" and board.best == f.index[0] and isinstance(board.best, str)
    assert board.to_metrics() == {m: f.loc[board.best, m] for m in
                                  ["pr_auc", "roc_auc", "recall", "precision", "f1", "balanced_accuracy"]}
    assert board.std.loc["none", "recall"] == pytest.approx(board.by_fold.query("sampler == 'none'").recall.std(ddof=1))
    assert board.best_by("recall") == board.mean["recall"].idxmax()
    fitted = board.best_estimator()
    assert [n for n, _ in fitted.steps][-1] == "model" and fitted.predict(X.head(2)).shape == (2,)
    assert repr(board).startswith("Leaderboard: binary task, 2 samplers x 3 folds, best ")
    assert "minority class 'Yes'" in repr(board)


def test_array_features_get_positional_names(numeric):
    X, y = numeric
    X_res, _ = resample(X.to_numpy(), y, "random_over", random_state=0)
    assert list(X_res.columns) == ["x0", "x1"]
    with pytest.raises(DataError, match=r"non-string column names \[0\].*map\(str\)"):
        resample(pd.DataFrame({"a": X.balance, 0: X.income}), y)
