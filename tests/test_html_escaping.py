"""Every HTML the workbench writes or renders escapes user-supplied text (issue 10, part 3).

A column named `<img src=x onerror=alert(1)>` and category values `<script>alert(1)</script>` go
through each HTML view
the raw payloads must never appear, and the escaped forms must appear where
the name is shown."""
from html.parser import HTMLParser
from pathlib import Path

import numpy as np, pandas as pd, pytest

from mlops_workbench.core import esc

COL = "<img src=x onerror=alert(1)>"
VAL = "<script>alert(1)</script>"
RAW = ("<img src=x", "<script>alert")


@pytest.fixture(scope="module")
def hostile():
    "60 rows: a hostile categorical column (values include `<script>`), two numbers and a binary target."
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({COL: rng.choice([VAL, "b", "c"], n), "x": rng.normal(size=n),
                         "z": rng.integers(0, 5, n).astype(float), "y": np.r_[np.zeros(40, int), np.ones(20, int)]})


def assert_escaped(html: str, name_shown: bool = True, value_shown: bool = False):
    "No raw payload; escaped forms present where the column name (or value) is shown."
    assert isinstance(html, str) and html
    for raw in RAW: assert raw not in html, f"unescaped {raw!r} in HTML: ...{html[max(0, html.find(raw) - 80):html.find(raw) + 80]}..."
    if name_shown: assert "&lt;img" in html
    if value_shown: assert "&lt;script&gt;" in html


class _Tags(HTMLParser):
    "Collect the start tags (with attributes) and the text inside each <script>."
    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._in = [], [], False
    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag == "script"
        if self._in: self.scripts.append("")
    def handle_endtag(self, tag):
        if tag == "script": self._in = False
    def handle_data(self, data):
        if self._in: self.scripts[-1] += data


def test_eda_profile_and_saved_html(hostile, tmp_path):
    from mlops_workbench import eda
    p = eda.profile(hostile, target="y")
    assert_escaped(p._repr_html_(), value_shown=True)
    p.save_html(tmp_path / "p.html", title=COL)
    assert_escaped((tmp_path / "p.html").read_text(), value_shown=True)


def test_cleaning_plan_and_result(hostile):
    from mlops_workbench import cleaning
    df = hostile.copy()
    df.loc[:4, COL] = " " + VAL.upper() + " "  # messy spelling so the plan normalises the hostile column
    df.loc[5:8, "x"] = -999
    plan = cleaning.suggest(df, target="y")
    assert_escaped(plan._repr_html_())
    res = plan.apply(df)
    assert_escaped(res._repr_html_())


def test_imbalance_views(hostile):
    from mlops_workbench import imbalance
    y = hostile["y"].map({0: VAL, 1: COL})
    assert_escaped(imbalance.describe(y)._repr_html_(), value_shown=True)
    board = imbalance.compare_samplers(hostile[[COL, "x", "z"]], y, samplers=["none", "random_over"], cv=2)
    assert_escaped(board._repr_html_())


def test_synthetic_report(hostile):
    from mlops_workbench import synthetic
    real = hostile[[COL, "x"]].iloc[:40]
    fake = synthetic.synthesize(real, method="gaussian_copula", num_rows=40, seed=0)
    rep = synthetic.evaluate(real, fake, holdout=hostile[[COL, "x"]].iloc[40:])
    assert_escaped(rep._repr_html_())


def test_models_leaderboard(hostile):
    "Model names chosen by the user are shown in the leaderboard; they are escaped."
    from mlops_workbench import models
    X = hostile[[COL, "x"]]
    board = models.compare(X, hostile["y"].map({0: "no", 1: "yes"}), models={COL: "lr", VAL: "nb"}, cv=2,
                           track=False, n_jobs=1)
    assert_escaped(board._repr_html_())


def test_models_leaderboard_feature_name(hostile):
    "The hostile *column* name never reaches the leaderboard (only model names do)."
    from mlops_workbench import models
    board = models.compare(hostile[[COL, "x"]], hostile["y"], models=["lr"], cv=2, track=False, n_jobs=1)
    assert_escaped(board._repr_html_(), name_shown=False)


def test_registry_gate_refuses_a_hostile_metric_name():
    "Gate rules name metrics of the vocabulary only, so a hostile name never reaches the decision's HTML."
    from mlops_workbench import registry
    with pytest.raises(registry.GateError, match="is not in the vocabulary"):
        registry.gate({COL: 0.5, "roc_auc": 0.9}, rules={COL: ">= 0.7", "roc_auc": ">= 0.7"}, track=False)
    d = registry.gate({COL: 0.5, "roc_auc": 0.9}, rules={"roc_auc": ">= 0.7"}, track=False)
    assert COL not in d._repr_html_() and "roc_auc" in d._repr_html_()


def test_fairness_report(hostile):
    from mlops_workbench import fairness
    pred = (hostile["x"] > 0).astype(int)
    rep = fairness.audit(hostile["y"], pred, hostile[[COL]], min_group_size=5)
    assert_escaped(rep._repr_html_(), value_shown=True)
    assert_escaped(rep.chart_html())


def test_drift_report(hostile):
    from mlops_workbench import drift
    ref, cur = hostile.iloc[:30], hostile.iloc[30:].assign(**{"x": lambda d: d["x"] + 3})
    cur = cur.rename(columns={"z": VAL})  # schema change: a hostile column appears, `z` disappears
    rep = drift.detect(ref, cur)
    assert_escaped(rep._repr_html_(), value_shown=True)


@pytest.mark.slow
def test_evidently_report_file(hostile, tmp_path):
    "Evidently embeds user text as JSON inside <script>; it must not close the script or create tags."
    from mlops_workbench import drift_views
    ref, cur = hostile.iloc[:30], hostile.iloc[30:]
    drift_views.evidently_report(ref, cur, path=tmp_path / "ev.html")
    html = (tmp_path / "ev.html").read_text()
    p = _Tags()
    p.feed(html)
    assert not [a for t, a in p.tags if t == "img" and "onerror" in a], "an <img onerror> element was created"
    assert not [s for s in p.scripts if s.strip().startswith("alert(")], "a <script>alert(...)</script> element was created"
    assert "</script>alert" not in html.replace("<\\/script>", "")


def test_runner_run_result(tmp_path):
    from mlops_workbench.runner import RunResult
    r = RunResult(notebook=Path(tmp_path / f"{COL}.ipynb"), run_dir=tmp_path, output=None,
                  parameters={"data_path": VAL}, status="FAILED",
                  error={"cell": 3, "ename": "ValueError", "evalue": f"column {COL!r}: {VAL}"})
    assert_escaped(r._repr_html_(), value_shown=True)


def test_course_feedback():
    from mlops_workbench.exercises import Feedback
    assert_escaped(Feedback(exercise=COL, status="incorrect", message=VAL)._repr_html_(), value_shown=True)


def test_esc_is_what_we_expect():
    assert esc(COL) == "&lt;img src=x onerror=alert(1)&gt;" and esc(VAL).startswith("&lt;script&gt;")


def test_lineage_approval_and_model_card_views(hostile):
    from mlops_workbench.approval import Approval
    from mlops_workbench.lineage import Lineage
    from mlops_workbench.model_card import ModelCard
    d = dict(run_id="r1", context="training", name=COL, rows="60", digest="d", sha256=None, source_type="code",
             source="{}", where=VAL, schema="{}")
    lin = Lineage(name="m", version="1", runs=["r1"], datasets=[d], notebook=VAL, parameters={}, git=None,
                  packages=None, settings=None, missing=[f"content hash of dataset {COL!r}: not recorded"])
    assert_escaped(lin._repr_html_(), value_shown=True)
    a = Approval(name="m", version="1", stage="champion", decision="approve", by=COL, approvers=[COL], rejecters=[],
                 required=2, moved=None, awaiting="champion")
    assert_escaped(a._repr_html_())
    card = ModelCard(name="m", version="1", paths={}, artifact_uri=None,
                     sections=[("Model", {"columns": ", ".join(hostile.columns)}), ("Intended use", VAL),
                               ("Fairness audit", pd.DataFrame({COL: [VAL]}))])
    for html in (card._repr_html_(), card.html, card.markdown):
        assert_escaped(html, value_shown=True)
