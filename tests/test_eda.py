"Tests of `mlops_workbench.eda`: numbers equal pandas', findings, bad input, HTML escaping, plots, widget."
import json
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st
from mlops_workbench import datasets
from mlops_workbench.core import DataError, WorkbenchError
from mlops_workbench.eda import profile
from mlops_workbench.eda_plots import plot_distribution, plot_correlation, plot_missing, plot_target, explore


def _mixed(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(10, 3, n), "lognormal": rng.lognormal(0, 1.5, n),
                       "i": rng.integers(-5, 50, n), "small": rng.integers(0, 3, n).astype("int8"),
                       "nullable": pd.array(rng.integers(0, 9, n), dtype="Int64"),
                       "f32": rng.normal(size=n).astype("float32"),
                       "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
                       "txt": rng.choice(["red", "green", "blue", "grey"], n, p=[.5, .3, .15, .05]),
                       "flag": rng.random(n) < 0.3})
    df.loc[rng.random(n) < 0.1, "x"] = np.nan
    df.loc[rng.random(n) < 0.05, "txt"] = None
    df.loc[rng.random(n) < 0.05, "nullable"] = pd.NA
    df.loc[[3, 7], "x"] = [np.inf, -np.inf]
    df.loc[:9, "i"] = 0
    return df


def test_frame_has_the_issue_columns():
    f = profile(_mixed()).to_frame()
    need = "dtype count missing missing_pct distinct mean std min p25 p50 p75 max top top_freq zeros infinite".split()
    assert set(need) <= set(f.columns) and list(f.index) == list(_mixed().columns)


def test_numbers_equal_pandas():
    df = _mixed()
    f = profile(df).to_frame()
    num = df.select_dtypes("number").columns
    np.testing.assert_array_equal(f["count"], df.count())
    np.testing.assert_array_equal(f["missing"], df.isna().sum())
    np.testing.assert_allclose(f["missing_pct"], 100 * df.isna().mean())
    np.testing.assert_array_equal(f["distinct"], df.nunique())
    pandas_own = dict(mean=lambda s: s.mean(), std=lambda s: s.std(), min=lambda s: s.min(), max=lambda s: s.max(),
                      p25=lambda s: s.quantile(.25), p50=lambda s: s.median(), p75=lambda s: s.quantile(.75),
                      skew=lambda s: s.skew())
    for c in num:
        # float32 columns: pandas sums them in float32, we in float64, so they agree to float32 precision only
        rtol = 1e-6 if df[c].dtype == "float32" else 1e-12
        for stat, fn in pandas_own.items():
            theirs = fn(df[c])
            theirs = np.nan if pd.isna(theirs) else float(theirs)
            np.testing.assert_allclose(float(f.loc[c, stat]), theirs, rtol=rtol, equal_nan=True,
                                       err_msg=f"{stat} of {c}")
    np.testing.assert_array_equal(f.loc[num, "zeros"], (df[num] == 0).sum())
    np.testing.assert_array_equal(f.loc[num, "infinite"], np.isinf(df[num].astype(float)).sum())
    np.testing.assert_array_equal(f.loc[num, "top_freq"], [df[c].value_counts().iloc[0] for c in num])


def test_categorical_top_equals_describe():
    df = _mixed()
    f = profile(df).to_frame()
    for c in ["cat", "txt", "flag"]:
        d = df[c].astype(object).describe()
        assert (f.loc[c, "top"], f.loc[c, "top_freq"], f.loc[c, "distinct"]) == (d["top"], d["freq"], d["unique"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(np.nan)), min_size=1, max_size=60))
def test_numbers_equal_pandas_property(values):
    s = pd.Series(values, name="v")
    r = profile(s.to_frame()).to_frame().loc["v"]
    assert r["count"] == s.count() and r["distinct"] == s.nunique()
    for ours, theirs in [("mean", s.mean()), ("std", s.std()), ("min", s.min()), ("p25", s.quantile(.25)),
                         ("p50", s.median()), ("max", s.max())]:
        np.testing.assert_allclose(r[ours], theirs, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=ours)


def test_duplicate_rows_equal_pandas():
    df = pd.concat([_mixed(300), _mixed(300).head(40)], ignore_index=True)
    assert profile(df).duplicate_rows == df.duplicated().sum() >= 40


def _kinds(df, target=None):
    return {w.kind for w in profile(df, target).warnings}


def test_findings():
    rng = np.random.default_rng(1)
    n = 1000
    x = rng.normal(size=n)
    df = pd.DataFrame({"const": 1, "near": np.r_[np.zeros(990), np.ones(10)], "x": x,
                       "x2": 2 * x + 0.01 * rng.normal(size=n),
                       "skewed": rng.lognormal(0, 2, n), "id": [f"u{i}" for i in range(n)],
                       "code": rng.choice(["a", "b", "?", "not_known", ""], n),
                       "age": np.where(rng.random(n) < 0.05, -999, rng.integers(18, 90, n)),
                       "y": np.r_[np.ones(950), np.zeros(50)]})
    p = profile(df, target="y")
    kinds = {w.kind for w in p.warnings}
    assert {"constant", "near_constant", "correlated", "skewed", "outliers", "high_cardinality", "disguised_missing",
            "imbalance"} <= kinds
    codes = [w for w in p.warnings_of("disguised_missing")]
    assert {w.columns[0] for w in codes} == {"code", "age"}
    assert any("-999" in w.message for w in codes)
    corr = p.warnings_of("correlated")[0]
    assert set(corr.columns) == {"x", "x2"} and f"{df['x'].corr(df['x2']):.3f}" in corr.message
    assert "duplicates" in _kinds(pd.concat([df, df.head(5)]))


def test_no_false_alarms_on_clean_normal_data():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.normal(size=(100_000, 4)), columns=list("abcd"))
    assert _kinds(df) == set()


def test_credit_and_hitters():
    credit = datasets.load("german_credit")
    kinds = _kinds(credit, "risk")
    assert "disguised_missing" in kinds and "imbalance" not in kinds  # 70/30 is not flagged
    assert {"target_missing", "correlated", "skewed"} <= _kinds(datasets.load("hitters"), "Salary")
    assert "imbalance" in _kinds(datasets.load("default"), "default")


@pytest.mark.parametrize("bad, msg", [
    ([1, 2, 3], "must be a pandas DataFrame, got list"),
    (pd.Series([1, 2]), "must be a pandas DataFrame, got Series"),
    (pd.DataFrame(), "df is empty (0 rows x 0 columns)"),
    (pd.DataFrame({"a": []}), "df is empty (0 rows x 1 columns)"),
    (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate column names ['a']"),
])
def test_bad_input_raises(bad, msg):
    with pytest.raises(WorkbenchError, match=None) as e: profile(bad)
    assert msg in str(e.value) and isinstance(e.value, DataError)


def test_unknown_target():
    with pytest.raises(DataError, match="target 'Risk' is not a column of df; did you mean 'risk'"):
        profile(datasets.load("german_credit"), target="Risk")


def test_odd_values_are_findings_not_errors():
    df = pd.DataFrame({"nan": [np.nan] * 4, "none": [None] * 4, "mixed": [1, "a", 2.5, None],
                       "inf": [1, np.inf, -np.inf, 3], "dates": pd.date_range("2024-01-01", periods=4),
                       "lists": [[1], [2], [1], [3]], "cplx": [1 + 1j, 2, 3, 4]})
    p = profile(df)
    kinds = {(w.kind, w.columns[0] if w.columns else None) for w in p.warnings}
    assert {("all_missing", "nan"), ("all_missing", "none"), ("mixed_types", "mixed"), ("infinite", "inf")} <= kinds
    assert p.to_frame().loc["inf", "infinite"] == 2
    json.dumps(p.to_dict(), default=str)


def test_html_is_escaped():
    df = pd.DataFrame({"<script>alert(1)</script>": ["<img src=x onerror=alert(2)>"] * 3 + ["ok"],
                       "n": [1, 2, 3, 4], "t": ["<i>", "<i>", "<i>", "<i>"]})
    for html in (profile(df, target="n")._repr_html_(), explore(df, target="n").stats.value):
        assert "<script>" not in html and "<img" not in html and "<i>" not in html
        assert "&lt;script&gt;" in html or "&lt;img" in html
    ex = explore(df)
    ex.column.value = "t"
    assert "<i>" not in ex.stats.value and "&lt;i&gt;" in ex.stats.value


def test_save_html(tmp_path):
    path = tmp_path / "p.html"
    profile(datasets.load("titanic")).save_html(path)
    assert path.read_text().startswith("<!doctype html>") and "<svg" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["p.html"]


def test_plots_return_figures():
    from matplotlib.figure import Figure
    credit = datasets.load("german_credit")
    figs = [plot_distribution(credit, "age"), plot_distribution(credit, "age", "risk", kind="violin"),
            plot_distribution(credit, "purpose", "risk"), plot_correlation(credit),
            plot_missing(datasets.load("hitters")), plot_target(credit, "risk", ["age", "purpose"]),
            plot_target(datasets.load("hitters"), "Salary", ["Years", "League"])]
    assert all(isinstance(f, Figure) for f in figs)
    with pytest.raises(DataError, match="kind 'pie' is unknown"): plot_distribution(credit, "age", kind="pie")
    with pytest.raises(DataError, match="needs at least two numeric columns"): plot_correlation(credit[["sex"]])


def test_explorer_updates_in_place():
    import ipywidgets as W
    credit = datasets.load("german_credit")
    ex = explore(credit, target="risk")
    assert isinstance(ex, W.VBox) and ex.column.description == "Column" and ex.split.value
    img, stats = ex.image.value, ex.stats.value
    ex.column.value = "credit_amount"
    assert ex.image.value != img and ex.stats.value != stats and "credit_amount" in ex.stats.value
    ex.split.value = False
    assert ex.figure.axes[0].get_title() == "credit_amount"
    ex.kind.value = "box"
    img = ex.image.value
    ex.split.value = True
    assert ex.image.value != img and ex.figure.axes[0].get_title() == "credit_amount by risk"
    ex.column.value = "purpose"  # a box plot of text: a message, not an exception
    assert "needs a numeric column" in ex.stats.value


@pytest.mark.parametrize("name", ["PLOT_KINDS", "plot_distribution", "plot_correlation", "plot_missing", "plot_target",
                                  "explore"])
def test_moved_plot_names_still_import_from_eda(name):
    "The plots and the explorer moved to `eda_plots`; `from mlops_workbench.eda import ...` works for one release."
    from mlops_workbench import eda, eda_plots
    with pytest.warns(DeprecationWarning, match=f"use mlops_workbench.eda_plots.{name} instead"):
        assert getattr(eda, name) is getattr(eda_plots, name)
    with pytest.raises(AttributeError, match="has no attribute 'plot_pie'"):
        eda.plot_pie


def test_profile_reads_non_string_column_names():
    "A profile only reads, so integer and tuple names are fine (cleaning and models refuse them)."
    df = pd.DataFrame({0: [1.0, 2.0, 3.0], ("a", 1): ["x", "y", "x"]})
    p = profile(df, target=0)
    assert p.to_frame().index.tolist() == [0, ("a", 1)]
    with pytest.raises(DataError, match=r"duplicate column names \[0\]"):
        profile(pd.DataFrame([[1, 2]], columns=[0, 0]))


def test_profile_to_dict_is_json_safe():
    df = pd.DataFrame({"x": [1.0, np.inf, np.nan], "t": ["a", None, "a"]})
    d = profile(df).to_dict()
    assert d["columns"]["x"]["max"] is None and d["columns"]["t"]["mean"] is None
    assert json.loads(json.dumps(d, allow_nan=False)) == d

