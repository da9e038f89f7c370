"""Tests of `mlops_workbench.cleaning`: scikit-learn contract, agreement with sklearn/pandas, no leakage, reports,
errors."""
import numpy as np, pandas as pd, pytest
from sklearn.impute import SimpleImputer, MissingIndicator
from sklearn.model_selection import train_test_split, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.compose import make_column_transformer, make_column_selector
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier
from mlops_workbench import datasets
from mlops_workbench.core import WorkbenchError
from mlops_workbench.cleaning import (MissingCodes, Imputer, OutlierClipper, CategoryNormaliser, DropColumns,
                                      drop_duplicates, suggest, CleaningPlan, Cleaned)

TRANSFORMERS = [MissingCodes(), Imputer(), Imputer(numeric="mean", indicators=False), OutlierClipper(),
                OutlierClipper(method="quantile"), CategoryNormaliser(min_frequency=2), DropColumns()]


@pytest.fixture(scope="module")
def credit(): return datasets.load("german_credit")


@pytest.fixture(scope="module")
def hitters(): return datasets.load("hitters")


@pytest.mark.parametrize("est", TRANSFORMERS, ids=lambda e: repr(e))
def test_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator
    check_estimator(est, on_skip=None)


def test_imputer_equals_simple_imputer(hitters):
    num = hitters.select_dtypes("number")
    for strategy in ("median", "mean"):
        ours = Imputer(numeric=strategy).fit_transform(num)
        np.testing.assert_array_equal(ours[num.columns].to_numpy(), SimpleImputer(strategy=strategy).fit_transform(num))
    ind = Imputer().fit_transform(num).filter(like="_was_missing")
    np.testing.assert_array_equal(ind.to_numpy(), MissingIndicator().fit_transform(num).astype(int))
    assert list(ind.columns) == ["Salary_was_missing"]
    txt = pd.DataFrame({"a": ["x", np.nan, "y", "y", "x", np.nan, "z"]})
    assert (Imputer().fit_transform(txt)["a"].tolist()
            == SimpleImputer(strategy="most_frequent").fit_transform(txt)[:, 0].tolist())


def test_imputer_learns_on_train_only(hitters):
    tr, te = train_test_split(hitters, test_size=0.3, random_state=1)
    imp = Imputer().fit(tr[["Salary"]])
    out = imp.transform(te[["Salary"]])
    assert (out.loc[te["Salary"].isna(), "Salary"] == tr["Salary"].median()).all()
    assert imp.statistics_["Salary"] == tr["Salary"].median()
    assert out["Salary_was_missing"].sum() == te["Salary"].isna().sum()


def test_imputer_edge_cases():
    df = pd.DataFrame({"empty": [np.nan] * 3, "t": [None, None, None], "n": [1., np.nan, 3]})
    out = Imputer().fit_transform(df)
    assert (out["empty"].tolist() == [0, 0, 0] and out["t"].tolist() == ["missing"] * 3
            and out["n"].tolist() == [1, 2, 3])
    assert Imputer().fit(df).get_feature_names_out().tolist() == ["empty", "t", "n", "empty_was_missing",
                                                                  "t_was_missing", "n_was_missing"]


def test_clipper_bounds_equal_pandas(hitters):
    num = hitters.select_dtypes("number")
    c = OutlierClipper(factor=1.5).fit(num)
    q1, q3 = num.quantile(.25), num.quantile(.75)
    pd.testing.assert_series_equal(pd.Series(c.upper_), q3 + 1.5 * (q3 - q1), check_names=False)
    pd.testing.assert_frame_equal(c.transform(num), num.clip(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1), axis=1),
                                  check_dtype=False)
    qc = OutlierClipper(method="quantile", quantiles=(.1, .9)).fit(num)
    pd.testing.assert_series_equal(pd.Series(qc.lower_), num.quantile(.1), check_names=False)


def test_clipper_uses_train_bounds_on_test():
    tr = pd.DataFrame({"x": np.arange(100.0), "t": ["a"] * 100})
    te = pd.DataFrame({"x": [-1000.0, 50, 1000], "t": ["b", "a", "c"]})
    out = OutlierClipper(method="quantile", quantiles=(0.0, 1.0)).fit(tr).transform(te)
    assert out["x"].tolist() == [0, 50, 99] and out["t"].tolist() == ["b", "a", "c"]


def test_missing_codes(credit):
    out = MissingCodes().fit_transform(credit)
    for c in ["saving_accounts", "checking_account"]:
        assert out[c].isna().sum() == (credit[c] == "not_known").sum()
    codes = ["saving_accounts", "checking_account"]
    assert out.drop(columns=codes).equals(credit.drop(columns=codes))
    df = pd.DataFrame({"s": ["", "  ", "?", "N/A", "Unknown", "ok", 7], "n": [1, -9999, 2, 3, 4, 5, 6]})
    out = MissingCodes().fit_transform(df)
    assert out["s"].isna().tolist() == [True, True, True, True, True, False, False] and out["n"].isna().sum() == 1
    assert (MissingCodes(tokens=("ok",), sentinels=()).fit_transform(df)["s"].isna().tolist()
            == [False] * 5 + [True, False])


def test_category_normaliser():
    tr = pd.DataFrame({"c": ["A", " a", "a  b", "A B", "rare", "b", "b", "b"], "n": range(8)})
    cn = CategoryNormaliser(min_frequency=2).fit(tr)
    assert cn.levels_ == {"c": {"a", "a b", "b"}}
    new = pd.DataFrame({"c": ["B ", "new", None], "n": [1, 2, 3]})
    assert cn.transform(new)["c"].fillna("NA").tolist() == ["b", "other", "NA"]
    assert CategoryNormaliser(lowercase=False).fit_transform(tr)["c"].tolist()[:4] == ["A", "a", "a b", "A B"]
    frac = CategoryNormaliser(min_frequency=0.3).fit(tr)
    assert frac.levels_["c"] == {"b"}


def test_drop_duplicates_equals_pandas(credit):
    df = pd.concat([credit, credit.head(7)])
    assert drop_duplicates(df).equals(df.drop_duplicates())
    assert drop_duplicates(df, subset=["sex"], keep="last").equals(df.drop_duplicates(subset=["sex"], keep="last"))


@pytest.mark.parametrize("fn, msg", [
    (lambda: Imputer(numeric="mode").fit(pd.DataFrame({"a": [1.0]})),
     "numeric='mode' is not supported; use one of 'mean', 'median'"),
    (lambda: OutlierClipper(method="z").fit(pd.DataFrame({"a": [1.0]})), "method='z' is not supported"),
    (lambda: DropColumns(["b"]).fit(pd.DataFrame({"a": [1.0]})), "columns ['b'] are not in X"),
    (lambda: drop_duplicates([1, 2]), "must be a pandas DataFrame, got list"),
    (lambda: drop_duplicates(pd.DataFrame({"a": [1]}), keep="none"), "keep='none' is not supported"),
    (lambda: suggest(pd.DataFrame({"a": [1]}), target="y"), "target 'y' is not a column"),
    (lambda: Imputer().fit(pd.DataFrame({"a": []})), "X has 0 rows"),
])
def test_errors(fn, msg):
    with pytest.raises(WorkbenchError) as e: fn()
    assert msg in str(e.value)


def test_suggest_and_apply_credit(credit):
    tr, te = train_test_split(pd.concat([credit, credit.head(5)]), test_size=0.25, random_state=0)
    plan = suggest(tr, target="risk")
    assert [n for n, *_ in plan.steps] == ["codes", "clip", "impute"]
    res = plan.apply(tr, te)
    assert isinstance(res, Cleaned) and res.rows_dropped["duplicates"] == tr.duplicated().sum()
    clean_tr = tr.drop_duplicates()
    for c in ["saving_accounts", "checking_account"]:
        n = (clean_tr[c] == "not_known").sum()
        assert res.report.loc[c, "codes"] == n == res.report.loc[c, "impute"]
        assert res.report.loc[f"{c}_was_missing", "added_by"] == "impute"
        assert res.train[f"{c}_was_missing"].sum() == n
        assert res.test[f"{c}_was_missing"].sum() == (te[c] == "not_known").sum()
    clip = res.pipeline.named_steps["clip"]
    x = clean_tr.drop(columns="risk")
    amount = x["credit_amount"]
    clipped = (amount > clip.upper_["credit_amount"]) | (amount < clip.lower_["credit_amount"])
    assert res.report.loc["credit_amount", "clip"] == clipped.sum()
    assert res.train["risk"].tolist() == clean_tr["risk"].tolist() and res.test["risk"].tolist() == te["risk"].tolist()
    assert res.train.isna().sum().sum() == 0 and res.test.isna().sum().sum() == 0


def test_apply_hitters_drops_unlabelled_rows(hitters):
    res = suggest(hitters, target="Salary").apply(hitters)
    assert res.rows_dropped == {"duplicates": 0, "missing target": hitters["Salary"].isna().sum()}
    assert len(res.train) == hitters["Salary"].notna().sum()


def test_suggest_finds_messy_categories_and_dead_columns():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"c": rng.choice(["Yes", "yes ", "No"], 300), "k": 1, "e": np.nan, "x": rng.normal(size=300),
                       "y": rng.integers(0, 2, 300)})
    plan = suggest(df, target="y")
    names = [n for n, *_ in plan.steps]
    assert names[:2] == ["drop", "categories"]
    res = plan.apply(df)
    assert set(res.train["c"]) == {"yes", "no"} and "k" not in res.train and "e" not in res.train
    assert res.report.loc["k", "drop"] == -1


def test_pipeline_in_cross_validation(credit):
    X, y = credit.drop(columns="risk"), credit["risk"]
    plan = suggest(credit, target="risk")
    enc = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include=object)),
                                  remainder="passthrough")
    model = make_pipeline(plan.pipeline, enc, DecisionTreeClassifier(max_depth=4, random_state=0))
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert scores.mean() > 0.6, scores


def test_html_escaped():
    df = pd.DataFrame({"<script>x</script>": ["<img src=1>", "?", "<img src=1>", None], "y": [0, 1, 0, 1]})
    plan = suggest(df, target="y")
    res = plan.apply(df)
    for html in (plan._repr_html_(), res._repr_html_()):
        assert "<script>" not in html and "<img" not in html
    assert isinstance(plan, CleaningPlan) and "codes" in repr(plan)
