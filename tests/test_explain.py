"""explain (importance, SHAP contributions on raw columns, reason codes, widget, MLflow) and the bootstrap
intervals of evaluation.evaluate, against real SHAP 0.51, scikit-learn and a real MLflow store."""
import json
import numpy as np, pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC
from sklearn.neighbors import KNeighborsClassifier

from mlops_workbench import datasets
from mlops_workbench.evaluation import evaluate, load_intervals
from mlops_workbench.explain import (ExplainError, contributions, explain, fold_matrix, importance, load_summary,
                                     log_to_mlflow, partial_dependence, reasons)
from mlops_workbench.explain_widget import widget
from mlops_workbench.models import build_pipeline

HOSTILE_COL = '<script>alert("x")</script>$a'
HOSTILE_CAT = "<b onmouseover='x'>little</b>"


@pytest.fixture(scope="module")
def credit():
    df = datasets.load("german_credit")
    X, y = df.drop(columns="risk"), df["risk"]
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def forest(credit):
    X_tr, _, y_tr, _ = credit
    return build_pipeline(RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0), X_tr).fit(X_tr, y_tr)


def test_tree_contributions_fold_one_hot_columns_back_and_add_up(credit, forest):
    import shap
    _, X_te, _, _ = credit
    c = contributions(forest, X_te, X_te.index[:30])
    assert c.explainer == "tree" and list(c.values.columns) == list(X_te.columns)
    np.testing.assert_allclose(c.scores, forest.predict_proba(X_te.iloc[:30])[:, 1], atol=1e-9)
    # the folded value of a raw column is SHAP's own values of its one-hot columns, summed
    fm = fold_matrix(forest)
    raw = shap.TreeExplainer(forest[-1]).shap_values(forest[:-1].transform(X_te.iloc[:30]).astype(np.float32))[..., 1]
    for col in ("checking_account", "duration"):
        np.testing.assert_allclose(c.values[col], raw[:, fm[col].to_numpy() == 1].sum(axis=1), atol=1e-12)
    assert fm["checking_account"].sum() > 1 and fm["duration"].sum() == 1
    assert c.additivity_error < 1e-9


def test_rows_on_the_float32_thresholds_of_sklearn_trees_add_up():
    "Values one float64 step either side of every threshold: scikit-learn compares them as float32."
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X.a + X.b ** 2 + rng.normal(size=300) > 0.5).astype(int)
    rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    rows = []
    for est in rf.estimators_:
        t = est.tree_
        for f, thr in zip(t.feature, t.threshold):
            if f < 0: continue
            for v in (np.nextafter(thr, np.inf), np.nextafter(thr, -np.inf), thr):
                r = X.median().to_numpy()
                r[f] = v
                rows.append(r)
    edge = pd.DataFrame(rows, columns=X.columns)
    assert (edge.to_numpy() != edge.to_numpy().astype(np.float32)).any()  # some values are not float32 numbers
    c = contributions(rf, edge)
    np.testing.assert_allclose(c.scores, rf.predict_proba(edge)[:, 1], atol=1e-9)


def test_boosting_in_log_odds_linear_models_exactly_and_regressors(credit):
    X_tr, X_te, y_tr, _ = credit
    gb = build_pipeline(GradientBoostingClassifier(n_estimators=20, random_state=0), X_tr).fit(X_tr, y_tr)
    c = contributions(gb, X_te, X_te.index[:10])
    assert (c.explainer, c.output) == ("tree", "log-odds")
    np.testing.assert_allclose(c.scores, gb.decision_function(X_te.iloc[:10]), atol=1e-9)
    c0 = contributions(gb, X_te, X_te.index[:10], target_class=0)  # the other class: the same numbers, negated
    np.testing.assert_allclose(c0.values, -c.values, atol=1e-12)
    lr = build_pipeline(LogisticRegression(max_iter=1000), X_tr).fit(X_tr, y_tr)
    cl = contributions(lr, X_te, X_te.index[:5], n_background=40)
    assert (cl.explainer, cl.output) == ("linear", "log-odds")
    np.testing.assert_allclose(cl.scores, lr.decision_function(X_te.iloc[:5]), atol=1e-6)
    hit = datasets.load("hitters").dropna(subset=["Salary"])
    Xh, yh = hit.drop(columns="Salary"), hit["Salary"]
    reg = build_pipeline(RandomForestRegressor(n_estimators=10, random_state=0), Xh).fit(Xh, yh)
    cr = contributions(reg, Xh, Xh.index[:5])
    assert cr.target_class is None and cr.output == "prediction"
    np.testing.assert_allclose(cr.scores, reg.predict(Xh.iloc[:5]), rtol=1e-9)


@pytest.mark.slow
def test_other_models_get_the_model_agnostic_permutation_explainer(credit):
    "Slow only on first use in a process: SHAP's permutation explainer compiles numba code (seconds)."
    X_tr, X_te, y_tr, _ = credit
    knn = build_pipeline(KNeighborsClassifier(), X_tr).fit(X_tr, y_tr)
    ck = contributions(knn, X_te, X_te.index[:3], n_background=30)
    assert (ck.explainer, ck.output) == ("permutation", "probability")
    np.testing.assert_allclose(ck.scores, knn.predict_proba(X_te.iloc[:3])[:, 1], atol=1e-6)
    assert list(ck.values.columns) == list(X_te.columns)


def test_model_without_predict_proba(credit):
    X_tr, X_te, y_tr, y_te = credit
    svm = build_pipeline(LinearSVC(), X_tr).fit(X_tr, y_tr)
    c = contributions(svm, X_te, X_te.index[:5], n_background=30)
    assert (c.explainer, c.output) == ("linear", "decision")
    np.testing.assert_allclose(c.scores, svm.decision_function(X_te.iloc[:5]), atol=1e-6)
    assert importance(svm, X_te, y_te, n_repeats=2).scoring == "roc_auc"  # scored on the decision function
    y3 = np.asarray(y_tr) + (X_tr["age"].to_numpy() > 50)  # three classes
    svm3 = build_pipeline(LinearSVC(), X_tr).fit(X_tr, y3)
    with pytest.raises(ExplainError, match=r"neither predict_proba nor a binary decision_function.*CalibratedClassifierCV"):
        contributions(svm3, X_te, X_te.index[:2])


def test_bad_rows_columns_and_targets_are_refused(credit, forest):
    _, X_te, _, y_te = credit
    with pytest.raises(ExplainError, match=r"column\(s\) \['zip'\] the model never saw.*drop\(columns=\['zip'\]\)"):
        contributions(forest, X_te.assign(zip=1))
    with pytest.raises(ExplainError, match=r"lacks column\(s\) \['age'\]"):
        importance(forest, X_te.drop(columns="age"), y_te)
    with pytest.raises(ExplainError, match=r"row\(s\) \[123456\] are not in the index of X"):
        contributions(forest, X_te, rows=[X_te.index[0], 123456])
    c = contributions(forest, X_te, X_te.index[:3])
    with pytest.raises(ExplainError, match=r"row\(s\) \['nobody'\]"):
        reasons(c, "nobody")
    with pytest.raises(ExplainError, match="target_class 'good' is not a class of the model; use one of 0, 1"):
        contributions(forest, X_te, X_te.index[:3], target_class="good")
    single = y_te.map(lambda _: 1)
    with pytest.raises(ValueError, match="has a single class"):
        importance(forest, X_te, single)
    with pytest.raises(ValueError, match=r"y_test has a single class \(1\).*stratify=y"):
        evaluate(forest, X_te, single, track=False)
    with pytest.raises(ExplainError, match="n_repeats=1 gives no interval; use 2 or more"):
        importance(forest, X_te, y_te, n_repeats=1)
    with pytest.raises(ExplainError, match="column 'salary' is not a column of the model"):
        partial_dependence(forest, X_te, "salary")


def test_reason_codes_name_what_pushed_towards_declined(credit, forest):
    _, X_te, _, _ = credit
    c = contributions(forest, X_te, X_te.index[:40])
    worst = c.scores.idxmin()
    why = reasons(c, worst, n=3)
    neg = c.values.loc[worst].sort_values()
    assert 1 <= len(why) <= 3
    for text, (col, v) in zip(why, neg.items()):
        assert v < 0 and text.startswith(f"{col} = ") and f"by {-v:.3f}" in text and "probability of 1" in text
    best = c.values.index[(c.values > 0).all(axis=1)]
    assert all(reasons(c, r) == [] for r in best)  # nothing pushed it down, nothing is invented


def test_permutation_importance_intervals_and_partial_dependence(credit, forest):
    from sklearn.inspection import permutation_importance
    _, X_te, _, y_te = credit
    imp = importance(forest, X_te, y_te, n_repeats=5, random_state=3)
    f = imp.to_frame()
    ref = permutation_importance(forest, X_te, y_te, scoring="roc_auc", n_repeats=5, random_state=3)
    np.testing.assert_allclose(f.loc[X_te.columns, "importance"], ref.importances_mean, atol=1e-12)
    assert (f.low <= f.importance).all() and (f.importance <= f.high).all() and f.index[0] == "checking_account"
    assert imp.baseline == pytest.approx(roc_auc_score(y_te, forest.predict_proba(X_te)[:, 1]))
    assert importance(forest, X_te, y_te, scoring="log_loss", n_repeats=2).baseline > 0  # losses positive
    num, cat = partial_dependence(forest, X_te, "duration", n_ice=20), partial_dependence(forest, X_te, "housing")
    assert len(num.axes[-1].lines) > 20 and num.axes[-1].get_xlabel() == "duration"  # ICE lines and the mean
    assert cat.axes[-1].get_xlabel() == "housing"


def test_log_to_mlflow_and_load_summary(workspace, credit, forest):
    import mlflow
    _, X_te, _, y_te = credit
    ex = explain(forest, X_te, y_te, rows=X_te.index[:10], n_repeats=2, n_pdp=2)
    rid = log_to_mlflow(ex)
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(rid, "explanation")}
    assert arts == {f"explanation/{k}" for k in ("summary.json", "importance.csv", "contributions.csv",
                                                 "pdp_0.png", "pdp_1.png")}
    back = load_summary(rid)
    assert back == json.loads(json.dumps(ex.summary()))
    assert back["top_columns"][0] == "checking_account" and len(back["reasons"]) == 10
    assert back["explainer"] == "tree" and back["target_class"] == 1
    with mlflow.start_run() as other: pass
    assert load_summary(other.info.run_id) is None
    with pytest.raises(ExplainError, match="does not exist in the tracking store"):
        load_summary("f" * 32)


def test_evaluate_bootstrap_intervals(workspace, credit, forest):
    _, X_te, _, y_te = credit
    ev = evaluate(forest, X_te, y_te, n_boot=150, random_state=5)
    iv = ev.intervals
    assert list(iv.columns[:4]) == ["metric", "value", "low", "high"] and iv.metric.tolist() == list(ev.metrics)
    assert (iv.low <= iv.value).all() and (iv.value <= iv.high).all() and (iv.n_boot == 150).all()
    # the definition, recomputed with scikit-learn on the same seeded resamples
    y, s = y_te.to_numpy(), forest.predict_proba(X_te)[:, 1]
    draws = np.random.default_rng(5).integers(0, len(y), (150, len(y)))
    aucs = [roc_auc_score(y[d], s[d]) for d in draws]
    row = iv.set_index("metric").loc["roc_auc"]
    assert (row.low, row.high) == pytest.approx(tuple(np.percentile(aucs, [2.5, 97.5])), abs=1e-12)
    again = evaluate(forest, X_te, y_te, n_boot=150, random_state=5, track=False).intervals
    pd.testing.assert_frame_equal(again, iv)
    assert not evaluate(forest, X_te, y_te, n_boot=150, random_state=6, track=False).intervals.equals(iv)
    pd.testing.assert_frame_equal(load_intervals(ev.run_id), iv)
    assert ev.to_dict()["intervals"][0]["metric"] == "roc_auc"
    assert evaluate(forest, X_te, y_te, n_boot=0, track=False).intervals is None
    multi = evaluate(forest, X_te, y_te, metrics="brier,log_loss", n_boot=30, track=False).intervals
    assert multi.low.notna().all() and (multi.low < multi.high).all()  # the generic (scikit-learn) path


def test_hostile_names_are_escaped_in_every_html_output(workspace, credit):
    X_tr, X_te, y_tr, y_te = credit
    rename = {"checking_account": HOSTILE_COL}
    fix = lambda X: X.rename(columns=rename).replace({HOSTILE_COL: {"little": HOSTILE_CAT}})
    Xh, Xh_te = fix(X_tr), fix(X_te)
    model = build_pipeline(RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0), Xh).fit(Xh, y_tr)
    ex = explain(model, Xh_te, y_te, rows=Xh_te.index[:15], n_repeats=2, n_pdp=1)
    assert ex.to_frame().index[0] == HOSTILE_COL  # the hostile column is the top one: it is shown everywhere
    w = widget(model, Xh_te, rows=Xh_te.index[:15])
    panes = []
    for r in Xh_te.index[:15]:
        w.row.value = r
        panes.append(w.why.value)
    w.column.value = HOSTILE_COL
    htmls = [ex._repr_html_(), ex.importance._repr_html_(), ex.contributions._repr_html_(),
             evaluate(model, Xh_te, y_te, track=False, n_boot=20)._repr_html_(), *panes]
    for h in htmls:
        assert "<script>" not in h and "<b onmouseover" not in h
    assert any("&lt;script&gt;" in h for h in htmls) and any("&lt;b onmouseover=&#x27;x&#x27;&gt;" in p for p in panes)
    assert w.pdp.value[:4] == b"\x89PNG" and w.bars.value[:4] == b"\x89PNG"
    assert load_summary(log_to_mlflow(ex))["top_columns"][0] == HOSTILE_COL


def test_widget_redraws_on_choice(credit, forest):
    _, X_te, _, _ = credit
    w = widget(forest, X_te, rows=X_te.index[:4])
    assert [w.row.description, w.column.description] == ["Row", "Column"]
    assert [v for _, v in w.row.options] == list(X_te.index[:4])
    before, pdp = w.bars.value, w.pdp.value
    w.row.value = X_te.index[2]
    w.column.value = "age"
    assert w.bars.value != before and w.pdp.value != pdp
    with pytest.raises(ExplainError, match="the model never saw"):
        widget(forest, X_te.assign(extra=0))
