"""Model cards against a real MLflow store: written from what is recorded (never invented), escaped
against hostile column names and category values, logged with the version; and opened in a browser."""
import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import chromium_page, credit_workspace
from mlops_workbench import registry
from mlops_workbench.approval import approve
from mlops_workbench.model_card import CARD_TAG, NOT_RECORDED, model_card
from mlops_workbench.models import compare

HOSTILE_COL = "<script>alert('col')</script>"
HOSTILE_CAT = "<img src=x onerror=alert('cat')>|"


def _hostile_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({HOSTILE_COL: rng.normal(size=n), "grade": rng.choice([HOSTILE_CAT, "b&c"], size=n)})
    y = pd.Series(np.where(X[HOSTILE_COL] + rng.normal(size=n) > 0, "good", "bad"), name="risk")
    return X, y


def _card_with_everything(root):
    "A hostile-data model: challenged, intervals and an explanation summary on its run, approved with a note."
    X, y = _hostile_frame()
    lb = compare(X, y, models="lr", cv=2, n_jobs=1)
    rid = lb.run_ids["lr"]
    dec = registry.challenge(rid, "hostile", X, y, rules={"roc_auc": ">= 0.5"})
    client = mlflow.MlflowClient()
    client.log_dict(rid, [{"metric": "roc_auc", "value": dec.challenger, "low": 0.61, "high": 0.74, "n_boot": 200}],
                    "evaluation/intervals.json")  # what evaluation.evaluate records with bootstrap intervals
    client.log_param(rid, "intended_use", "Rank <b>applications</b> for a credit officer")
    summary = {"model": "LogisticRegression", "n_rows": 50, "explainer": "linear",
               "top_columns": [HOSTILE_COL, "grade"],
               "importance": {"scoring": "roc_auc", "baseline": 0.7, "confidence": 0.95, "columns": [
                   {"column": HOSTILE_COL, "importance": 0.2, "std": 0.01, "low": 0.18, "high": 0.22},
                   {"column": "grade", "importance": 0.01, "std": 0.01, "low": 0.0, "high": 0.02}]},
               "reasons": {"0": [f"grade = {HOSTILE_CAT}"]}}
    client.log_dict(rid, summary, "explanation/summary.json")  # what explain.log_to_mlflow stores
    approve("hostile", dec.version, by="ana <ana@x>", note=f"checked {HOSTILE_CAT}")
    return model_card("hostile", "champion", out_dir=root / "card"), dec


def test_card_is_recorded_escaped_and_logged(tmp_path, template_db):
    with credit_workspace(tmp_path, template_db, "[model_card]\nout_of_scope = <i>employment</i> decisions\n"):
        card, dec = _card_with_everything(tmp_path)
        s = dict(card.sections)
        assert s["Intended use"] == "Rank <b>applications</b> for a credit officer"  # the run's parameter wins
        assert s["Out-of-scope uses"] == "<i>employment</i> decisions"              # else settings.ini
        assert s["Owner"] == NOT_RECORDED and "Owner" in card.missing
        m = s["Hold-out metrics"].set_index("metric")
        assert (m.loc["roc_auc", "low"], m.loc["roc_auc", "high"]) == (0.61, 0.74)
        assert m.loc["roc_auc", "value"] == pytest.approx(dec.challenger)
        assert s["Explanation summary"][0]["top columns"] == f"{HOSTILE_COL}, grade"
        assert s["Gate decision"][0] == {"verdict": "PASSED"}
        assert sorted(s["Training and evaluation data"]["context"]) == ["evaluation", "training"]
        assert s["Approvals"]["by"].tolist() == ["ana <ana@x>"]
        assert s["Model"]["columns"] == f"{HOSTILE_COL}, grade, risk"
        html, md = card.paths["html"].read_text(), card.paths["markdown"].read_text()
        for text in (html, md):
            assert "<script" not in text and "<img" not in text and "<b>" not in text and "<i>" not in text
            assert "&lt;script&gt;alert(" in text and "&lt;/script&gt;" in text
        assert "onerror=alert(&#x27;cat&#x27;)&gt;&#124;" in md  # a pipe cannot break a Markdown table
        assert "http" not in html.split("<body>")[0]  # self-contained: nothing fetched
        mv = mlflow.MlflowClient().get_model_version("hostile", dec.version)
        assert mlflow.artifacts.load_text(mv.tags[CARD_TAG]) == html


def test_card_of_a_version_logged_before_tracking_says_not_recorded(tmp_path, template_db):
    from sklearn.dummy import DummyClassifier
    with credit_workspace(tmp_path, template_db):
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model", pip_requirements=[])
        mlflow.register_model(f"runs:/{run.info.run_id}/model", "legacy")
        card = model_card("legacy", 1, out_dir=tmp_path / "legacy", log=False)
        s = dict(card.sections)
        for title in ("Intended use", "Training and evaluation data", "Hold-out metrics", "Fairness audit",
                      "Explanation summary", "Gate decision"):
            assert s[title] == NOT_RECORDED, title
        assert s["Lineage"][0]["git commit"] == "unknown"
        assert CARD_TAG not in mlflow.MlflowClient().get_model_version("legacy", 1).tags
        with pytest.raises(registry.RegistryError, match="no version or alias 'champion'"):
            model_card("legacy", "champion")
        with pytest.raises(registry.RegistryError, match="no registered model 'ghost'"):
            model_card("ghost", 1)


@pytest.mark.browser
@pytest.mark.slow
def test_card_opens_in_a_browser_without_running_hostile_text(tmp_path, template_db):
    with credit_workspace(tmp_path, template_db):
        card, _ = _card_with_everything(tmp_path)
    with chromium_page() as (page, dialogs, requests):
        page.goto(card.paths["html"].as_uri())
        assert page.locator("h1").inner_text() == f"Model card: hostile version {card.version}"
        body = page.locator("body").inner_text()
        assert HOSTILE_COL in body and "ana <ana@x>" in body and "not recorded" in body
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert len(page.locator("h2").all()) == len(card.sections)
    assert dialogs == [] and all(u.startswith("file://") for u in requests)
