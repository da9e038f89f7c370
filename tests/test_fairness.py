"Behaviour of `mlops_workbench.fairness` and its neighbours (groups, widget, mitigation) checked against Fairlearn."
import json
import numpy as np, pandas as pd, pytest
from fairlearn import metrics as flm
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_workbench import datasets, fairness as F
from mlops_workbench.fairness_widget import widget
from mlops_workbench.metrics import metric
from mlops_workbench.mitigation import MitigationResult, mitigate
from mlops_workbench.core import DataError, ParameterError, WorkbenchError


@pytest.fixture(scope="module")
def credit():
    return datasets.load("german_credit")


@pytest.fixture(scope="module")
def rule(credit):
    return (credit["credit_amount"] < 4000).astype(int).to_numpy()


@pytest.fixture(scope="module")
def pipe():
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include=object)),
                                  (StandardScaler(), make_column_selector(dtype_exclude=object)))
    return make_pipeline(pre, LogisticRegression(max_iter=1000))


@pytest.fixture(scope="module")
def model(credit, pipe):
    return clone(pipe).fit(credit.drop(columns="risk"), credit["risk"])


# --- equality with Fairlearn -------------------------------------------------------------------

@pytest.mark.parametrize("cols", [["sex"], ["housing"], ["sex", "housing"], ["sex", "age"], ["sex", "housing", "job"]])
@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_summary_equals_fairlearn(credit, rule, cols, method):
    rep = F.audit(credit["risk"], rule, credit[cols], method=method)
    for name in F.SUMMARY_METRICS:
        expected = getattr(flm, name)(credit["risk"], rule, sensitive_features=rep.sensitive_features, method=method)
        assert rep.summary[name] == pytest.approx(expected, abs=1e-12), name


def test_summary_equals_fairlearn_on_raw_categorical(credit, rule):
    "With categorical features and no missing values the groups are the raw column: no preprocessing in between."
    rep = F.audit(credit["risk"], rule, credit["sex"])
    assert rep.summary["demographic_parity_difference"] == flm.demographic_parity_difference(
        credit["risk"], rule, sensitive_features=credit["sex"])
    assert rep.summary["equalized_odds_difference"] == flm.equalized_odds_difference(
        credit["risk"], rule, sensitive_features=credit["sex"])


def test_by_group_equals_metricframe(credit, rule):
    rep = F.audit(credit["risk"], rule, credit[["sex", "housing"]])
    mf = flm.MetricFrame(metrics={"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                                  "fpr": flm.false_positive_rate, "n": flm.count},
                         y_true=credit["risk"], y_pred=rule, sensitive_features=credit[["sex", "housing"]])
    bg = rep.by_group.loc[mf.by_group.index]
    np.testing.assert_allclose(bg["selection_rate"], mf.by_group["selection_rate"])
    np.testing.assert_allclose(bg["true_positive_rate"], mf.by_group["tpr"])
    np.testing.assert_allclose(bg["false_positive_rate"], mf.by_group["fpr"])
    np.testing.assert_array_equal(bg["size"], mf.by_group["n"])
    assert rep.overall["selection_rate"] == pytest.approx(rule.mean())


def test_roc_auc_by_group_with_scores(credit, model):
    from sklearn.metrics import roc_auc_score
    X, y = credit.drop(columns="risk"), credit["risk"]
    rep = F.audit_model(model, X, y, "sex")
    s = model.predict_proba(X)[:, 1]
    female = (credit["sex"] == "female").to_numpy()
    assert rep.by_group.loc["female", "roc_auc"] == pytest.approx(roc_auc_score(y[female], s[female]))
    assert rep.overall["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    np.testing.assert_array_equal(rep.sensitive_features["sex"], credit["sex"])


# --- intersectional groups and binning ----------------------------------------------------------

def test_intersectional_groups(credit, rule):
    rep = F.audit(credit["risk"], rule, credit[["sex", "housing"]])
    combos = credit.groupby(["sex", "housing"]).size()
    assert len(rep.by_group) == len(combos) == 6
    np.testing.assert_array_equal(rep.by_group["size"].loc[combos.index], combos)
    frame = rep.to_frame()
    assert frame.index.names == ["sex", "housing"]
    assert frame.index[-1] == (F.OVERALL, F.OVERALL)
    groups = [g["group"] for g in rep.to_dict()["groups"]]
    assert "female & rent" in groups and groups[-1] == "(overall) & (overall)"


def test_continuous_feature_binned_with_reported_edges(credit, rule):
    rep = F.audit(credit["risk"], rule, credit[["age"]])
    edges = rep.bins["age"]
    assert edges[0] == credit["age"].min() and edges[-1] == credit["age"].max() and len(edges) == 5
    assert list(rep.by_group.index) == F._interval_labels(edges)      # in bin order, not text order
    assert rep.by_group["size"].sum() == len(credit)
    explicit = F.audit(credit["risk"], rule, credit["age"], bins={"age": [18, 25, 40, 100]})
    assert explicit.bins == {"age": [18.0, 25.0, 40.0, 100.0]}
    assert list(explicit.by_group.index) == ["[18, 25]", "(25, 40]", "(40, 100]"]
    assert explicit.by_group.loc["[18, 25]", "size"] == (credit["age"] <= 25).sum()
    assert explicit.to_dict()["bins"] == {"age": [18.0, 25.0, 40.0, 100.0]}


def test_few_valued_numeric_feature_is_not_binned(credit, rule):
    rep = F.audit(credit["risk"], rule, credit["job"])
    assert rep.bins == {} and sorted(rep.by_group.index) == ["0", "1", "2", "3"]


# --- bootstrap ----------------------------------------------------------------------------------

def test_bootstrap_reproducible_with_seed(credit, rule):
    a = F.audit(credit["risk"], rule, credit["sex"], n_boot=100, random_state=3)
    b = F.audit(credit["risk"], rule, credit["sex"], n_boot=100, random_state=3)
    c = F.audit(credit["risk"], rule, credit["sex"], n_boot=100, random_state=4)
    assert a.ci["summary"] == b.ci["summary"]
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert a.ci["summary"] != c.ci["summary"]
    for k in F.SUMMARY_METRICS:
        lo, hi = a.ci["summary"][k]
        assert lo <= hi
    assert a.summary == F.audit(credit["risk"], rule, credit["sex"]).summary   # intervals do not move the estimate


@pytest.mark.slow
def test_bootstrap_equals_fairlearn_metricframe(credit, rule):
    "Same seed, same resamples: our vectorised intervals equal MetricFrame(n_boot=..., ci_quantiles=...)."
    rng = np.random.default_rng(1)
    score = rng.random(len(credit))
    rep = F.audit(credit["risk"], rule, credit[["sex", "housing"]], y_score=score, n_boot=12, random_state=7)
    mf = flm.MetricFrame(metrics=F.metric_functions(True), y_true=credit["risk"].to_numpy(), y_pred=rule,
                         sensitive_features=rep.sensitive_features, sample_params={"roc_auc": {"y_score": score}},
                         n_boot=12, ci_quantiles=[0.025, 0.975], random_state=7)
    for k in (0, 1):
        ours = rep.ci["by_group"][k].set_axis(rep.group_index)
        theirs = mf.by_group_ci[k].loc[rep.group_index, ours.columns]
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
        np.testing.assert_allclose(rep.ci["overall"][k][ours.columns], mf.overall_ci[k][ours.columns], atol=1e-12)
        summ, diff = rep.ci["summary"], mf.difference_ci()[k]
        assert summ["demographic_parity_difference"][k] == pytest.approx(diff["selection_rate"])
        assert summ["demographic_parity_ratio"][k] == pytest.approx(mf.ratio_ci()[k]["selection_rate"])
        assert summ["equal_opportunity_difference"][k] == pytest.approx(diff["true_positive_rate"])


def test_bootstrap_columns_in_frame_and_dict(credit, rule):
    rep = F.audit(credit["risk"], rule, credit["sex"], n_boot=20, random_state=0, ci=0.9)
    cols = rep.to_frame().columns
    assert "selection_rate_lower" in cols and "selection_rate_upper" in cols and "size_lower" not in cols
    d = rep.to_dict()
    assert d["summary_ci"]["ci"] == 0.9 and d["summary_ci"]["n_boot"] == 20
    assert "[" in rep.summary_html()
    with pytest.raises(ParameterError, match="between_groups"):
        F.audit(credit["risk"], rule, credit["sex"], n_boot=5, method="to_overall")


# --- bad input ----------------------------------------------------------------------------------

def test_nan_in_sensitive_feature_becomes_missing_group():
    y, p = [1, 0, 1, 0, 1, 1], [1, 0, 0, 0, 1, 1]
    sex = pd.Series(["f", "m", None, "f", np.nan, "m"], name="sex")
    rep = F.audit(y, p, sex, min_group_size=1)
    assert F.MISSING in rep.by_group.index and rep.by_group.loc[F.MISSING, "size"] == 2
    assert any("2 rows have no value" in w for w in rep.warnings)
    with pytest.raises(DataError, match="'sex' has 2 missing values"):
        F.audit(y, p, sex, missing="raise")


def test_nan_in_continuous_feature_becomes_missing_group(credit, rule):
    age = credit["age"].astype(float).where(credit.index % 10 != 0)
    rep = F.audit(credit["risk"], rule, age)
    assert list(rep.by_group.index)[-1] == F.MISSING and rep.by_group.loc[F.MISSING, "size"] == 100
    assert rep.summary["demographic_parity_difference"] == pytest.approx(
        flm.demographic_parity_difference(credit["risk"], rule, sensitive_features=rep.sensitive_features))


def test_group_of_one_is_flagged():
    y, p = [1, 0, 1, 0, 1], [1, 0, 0, 0, 1]
    rep = F.audit(y, p, ["a", "a", "a", "a", "b"], min_group_size=2)
    assert rep.small_groups == ["b"]
    assert rep.to_frame().loc["b", "small_group"] and not rep.to_frame().loc["a", "small_group"]
    assert any("'b' has 1 rows" in w for w in rep.warnings)
    assert "(small group)" in rep._repr_html_()


def test_sensitive_feature_not_a_column(credit, model, pipe):
    X, y = credit.drop(columns="risk"), credit["risk"]
    for call in (lambda: F.audit_model(model, X, y, "gender"),
                 lambda: widget(model, X, y, ["sex", "gender"]),
                 lambda: mitigate(pipe, X, y, "gender")):
        with pytest.raises(DataError, match="'gender' is not a column of X; use one of .*'sex'"):
            call()
    with pytest.raises(DataError, match="is a name, not values"):
        F.audit(y, y, "sex")


def test_multiclass_target_explained(credit):
    y = credit["housing"]
    with pytest.raises(DataError, match="y_true has 3 distinct values .*yes/no decision.*one class against the rest"):
        F.audit(y, y, credit["sex"])


def test_length_mismatch(credit, rule):
    with pytest.raises(DataError, match="y_pred has 999 rows but y_true has 1000"):
        F.audit(credit["risk"], rule[:-1], credit["sex"])
    with pytest.raises(DataError, match="sensitive_features has 999 rows but y_true has 1000"):
        F.audit(credit["risk"], rule, credit["sex"][:-1])
    with pytest.raises(DataError, match="y_score has 3 rows"):
        F.audit(credit["risk"], rule, credit["sex"], y_score=[0.1, 0.2, 0.3])


def test_scores_passed_as_predictions(credit):
    with pytest.raises(DataError, match="pass the scores as `y_score`"):
        F.audit(credit["risk"], np.linspace(0, 1, len(credit)), credit["sex"])


def test_string_labels_need_pos_label(credit, model):
    X, y = credit.drop(columns="risk"), credit["risk"].map({1: "good", 0: "bad"})
    with pytest.raises(DataError, match="pass `pos_label=`"):
        F.audit(y, y, credit["sex"])
    rep = F.audit(y, y.where(credit["sex"] == "male", "bad"), credit["sex"], pos_label="good")
    assert rep.by_group.loc["female", "selection_rate"] == 0
    m = LogisticRegression(max_iter=1000).fit(X[["age", "duration"]], y)
    assert F.audit_model(m, X[["age", "duration"]], y, credit["sex"], pos_label="good").overall["size"] == 1000


def test_errors_are_workbench_and_value_errors(credit, rule):
    with pytest.raises(WorkbenchError):
        F.audit(credit["risk"], rule[:3], credit["sex"])
    with pytest.raises(ValueError):
        F.audit(credit["risk"], rule, credit["sex"], missing="drop")


def test_decision_function_model(credit):
    from sklearn.svm import LinearSVC
    X = credit[["age", "duration", "credit_amount"]]
    m = make_pipeline(StandardScaler(), LinearSVC()).fit(X, credit["risk"])
    rep = F.audit_model(m, X, credit["risk"], credit["sex"], threshold=0.0)
    np.testing.assert_array_equal(rep.overall["selection_rate"], (m.predict(X) == 1).mean())


# --- views --------------------------------------------------------------------------------------

def test_html_escapes_script_group_values():
    evil = "<script>alert(1)</script>"
    y, p = [1, 0, 1, 0, 1, 1], [1, 0, 0, 0, 1, 0]
    rep = F.audit(y, p, pd.DataFrame({evil: [evil, "b", evil, "b", "<img src=x onerror=alert(1)>", "b"]}))
    html = rep._repr_html_()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for name in F.GROUP_METRICS[:6]:
        assert "<script>" not in rep.chart_html(name)


def test_to_dict_flat_summary_for_gate(credit, rule):
    from mlops_workbench.metrics import VOCABULARY
    d = F.audit(credit["risk"], rule, credit[["sex", "age"]]).to_dict()
    assert set(d["summary"]) == set(F.SUMMARY_METRICS) <= set(VOCABULARY)
    assert all(isinstance(v, float) for v in d["summary"].values())
    merged = {"accuracy": 0.7, **d["summary"]}
    assert len(merged) == 5
    json.dumps(d, allow_nan=False)


def test_repr_and_plot(credit, rule):
    import matplotlib
    matplotlib.use("Agg")
    rep = F.audit(credit["risk"], rule, credit["sex"])
    assert repr(rep).startswith("FairnessReport(sex: 2 groups, n=1000, demographic_parity_difference=")
    ax = rep.plot("true_positive_rate")
    assert len(ax.patches) == 2
    with pytest.raises(ParameterError, match="metric 'roc_auc' is not in this report"):
        rep.chart_html("roc_auc")


# --- widget ---------------------------------------------------------------------------------------

def test_widget_controls_update_output(credit, model):
    import ipywidgets as W
    X, y = credit.drop(columns="risk"), credit["risk"]
    w = widget(model, X, y, ["sex", "age"])
    assert isinstance(w, W.VBox)
    assert w.feature.description and w.metric.description and w.threshold.description
    summary, chart, table = w.summary.value, w.chart.value, w.table.value
    w.threshold.value = 0.8
    assert w.report.threshold == 0.8 and w.summary.value != summary and w.table.value != table
    expected = F.audit_model(model, X, y, "sex", threshold=0.8)
    assert w.report.summary == pytest.approx(expected.summary)
    w.metric.value = "false_positive_rate"
    assert "false_positive_rate by sex" in w.chart.value and w.chart.value != chart
    w.feature.value = ("age",)
    assert "(27, 33]" in w.table.value and "female" not in w.table.value
    w.feature.value = ("sex", "age")
    assert "female &amp; [19, 27]" in w.chart.value
    assert len(w.report.by_group) == 8


def test_widget_escapes(credit, model):
    X, y = credit.drop(columns="risk").copy(), credit["risk"]
    X["sex"] = X["sex"].replace({"female": "<script>x</script>"})
    w = widget(model, X, y, "sex")
    assert "<script>" not in w.chart.value + w.table.value + w.summary.value


# --- mitigation -----------------------------------------------------------------------------------

def test_mitigate_threshold_reduces_gap(credit, pipe):
    X, y = credit.drop(columns="risk"), credit["risk"]
    res = mitigate(pipe, X, y, "sex", method="threshold", constraint="demographic_parity")
    df = res.to_frame()
    assert list(df.index) == ["unmitigated", "mitigated"]
    assert df.loc["mitigated", "demographic_parity_difference"] < df.loc["unmitigated", "demographic_parity_difference"]
    assert res.reports["mitigated"].overall["size"] == 300
    assert set(res.to_dict()["models"]["mitigated"]) >= set(F.SUMMARY_METRICS) | {"accuracy"}
    assert "Mitigation" in res._repr_html_()


@pytest.mark.slow
def test_mitigate_reduction_equalized_odds(credit, pipe):
    X, y = credit.drop(columns="risk"), credit["risk"]
    res = mitigate(pipe, X, y, "sex", method="reduction", constraint="equalized_odds")
    from fairlearn.reductions import ExponentiatedGradient
    assert isinstance(res.models["mitigated"], ExponentiatedGradient)
    assert res.gap_metric == "equalized_odds_difference"
    import matplotlib
    matplotlib.use("Agg")
    assert res.plot().get_xlabel().startswith("equalized_odds_difference")


def test_mitigate_bad_options(credit, pipe):
    X, y = credit.drop(columns="risk"), credit["risk"]
    with pytest.raises(ParameterError, match="'reduction', 'threshold'"):
        mitigate(pipe, X, y, "sex", method="magic")
    with pytest.raises(ParameterError, match="'demographic_parity', 'equalized_odds'"):
        mitigate(pipe, X, y, "sex", constraint="parity")


# --- MLflow -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_log_to_mlflow(tmp_path, monkeypatch, credit, rule):
    import mlflow
    ini = tmp_path/"settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\nartifacts_dir = {tmp_path}/art\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(ini))
    rep = F.audit(credit["risk"], rule, credit[["sex", "age"]])
    run_id = F.log_to_mlflow(rep)
    run = mlflow.get_run(run_id)
    for k, v in rep.summary.items():
        assert run.data.metrics[k] == pytest.approx(v)
    assert run.data.metrics["group/female:19-27/selection_rate"] == pytest.approx(
        rep.by_group.loc[("female", "[19, 27]"), "selection_rate"])
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "fairness")}
    assert arts == {"fairness/report.json", "fairness/report.html"}


def test_intersection_without_members_is_not_a_group():
    "Fairlearn's by_group lists empty level combinations as NaN rows; the report drops them and stays consistent."
    sf = pd.DataFrame({"a": ["x", "x", "y", "y", "y"], "b": ["p", "q", "p", "p", "p"]})
    y, p = [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]
    rep = F.audit(y, p, sf, min_group_size=1, n_boot=20, random_state=0)
    assert list(rep.by_group.index) == [("x", "p"), ("x", "q"), ("y", "p")]
    assert rep.to_frame()["size"].tolist() == [1, 1, 3, 5]
    assert rep.summary["demographic_parity_difference"] == pytest.approx(
        flm.demographic_parity_difference(y, p, sensitive_features=sf))
    json.dumps(rep.to_dict())


def test_summary_feeds_registry_gate(credit, rule):
    "The flat summary merges into gate metrics; rules on the fairness names are checked like any other."
    registry = pytest.importorskip("mlops_workbench.registry")
    rep = F.audit(credit["risk"], rule, credit["sex"])
    metrics = {"accuracy": 0.75, **rep.to_dict()["summary"]}
    ok = registry.gate(metrics, {"demographic_parity_ratio": ">= 0.8", "accuracy": ">= 0.7"}, track=False)
    strict = registry.gate(metrics, {"demographic_parity_difference": "<= 0.001"}, track=False)
    assert ok.passed == (rep.summary["demographic_parity_ratio"] >= 0.8)
    assert not strict.passed


# --- to_metrics: the vocabulary's names, the worst case over features ---------------------------------

def test_to_metrics_one_feature_is_the_summary(credit, rule):
    rep = F.audit(credit["risk"], rule, credit["sex"], n_boot=10, random_state=0)
    m = rep.to_metrics()
    assert m == rep.summary and list(m) == list(F.SUMMARY_METRICS)
    assert all(type(v) is float for v in m.values())
    assert all(metric(k).kind == "fairness" for k in m)   # names from the vocabulary only


@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_to_metrics_takes_the_worst_over_features(credit, rule, method):
    "Several features: each metric's worst value (max of a difference, min of a ratio) over each feature and all."
    cols = ["sex", "housing", "age"]
    rep = F.audit(credit["risk"], rule, credit[cols], method=method)
    per = {c: {k: getattr(flm, k)(credit["risk"], rule, sensitive_features=rep.sensitive_features[c], method=method)
               for k in F.SUMMARY_METRICS} for c in cols}
    per["sex & housing & age"] = rep.summary
    byf = rep.summary_by_feature()
    assert list(byf.index) == [*cols, "sex & housing & age"]
    for c, row in per.items():
        for k, v in row.items():
            assert byf.loc[c, k] == pytest.approx(v, abs=1e-12)
    m = rep.to_metrics()
    assert set(m) == set(F.SUMMARY_METRICS)
    for k in F.SUMMARY_METRICS:
        values = [row[k] for row in per.values()]
        worst = min(values) if metric(k).higher_is_better else max(values)
        assert m[k] == pytest.approx(worst, abs=1e-12), k
    assert rep.to_dict()["by_feature"]["housing"] == pytest.approx(per["housing"])


def test_to_metrics_worst_is_not_always_the_intersection():
    "to_metrics takes the worst row of summary_by_feature, not just the audited groups' summary (here lowered by hand)."
    sf = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "q"]})
    y, p = [1, 1, 1, 1], [1, 1, 0, 0]
    rep = F.audit(y, p, sf, min_group_size=1)
    rep.summary = dict(rep.summary, demographic_parity_difference=0.25, demographic_parity_ratio=0.9)
    m = rep.to_metrics()
    assert rep.summary_by_feature().loc["a", "demographic_parity_difference"] == 1.0
    assert m["demographic_parity_difference"] == 1.0 and m["demographic_parity_ratio"] == 0.0


def test_mitigation_result_to_metrics():
    y, g = [1, 0, 1, 0, 1, 0, 1, 0], pd.Series(list("aaaabbbb"), name="g")
    reps = {"unmitigated": F.audit(y, [1, 1, 1, 0, 0, 0, 1, 0], g, min_group_size=1),
            "mitigated": F.audit(y, [1, 0, 1, 0, 0, 0, 0, 0], g, min_group_size=1)}
    res = MitigationResult(models={}, reports=reps, method="threshold", constraint="demographic_parity")
    m = res.to_metrics()
    assert m == {"accuracy": 0.75, **reps["mitigated"].to_metrics()}
    assert all(metric(k).name == k for k in m) and all(type(v) is float for v in m.values())
    json.dumps(res.to_dict(), allow_nan=False)


def test_moved_names_still_served_by_fairness():
    import mlops_workbench.fairness as old
    for name, new in (("widget", widget), ("mitigate", mitigate), ("MitigationResult", MitigationResult)):
        with pytest.warns(DeprecationWarning, match=f"fairness.{name} is deprecated"):
            assert getattr(old, name) is new
    with pytest.raises(AttributeError):
        old.no_such_name
    from mlops_workbench.fairness import mitigate as m2     # `from ... import` goes through the same path
    assert m2 is mitigate


def test_report_composes_in_registry_gate(credit, rule):
    "gate takes the report itself: its to_metrics() names meet the rules; a fairness rule without an audit is refused."
    from mlops_workbench import registry
    rep = F.audit(credit["risk"], rule, credit[["sex", "age"]])
    m = rep.to_metrics()
    d = registry.gate({"accuracy": 0.75}, rep, rules={"demographic_parity_ratio": ">= 0.8", "accuracy": ">= 0.7"},
                      track=False)
    assert d.passed == (m["demographic_parity_ratio"] >= 0.8)
    with pytest.raises(registry.GateError, match="demographic_parity_ratio"):
        registry.gate({"accuracy": 0.75}, rules={"demographic_parity_ratio": ">= 0.8"}, track=False)
