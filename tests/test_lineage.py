"""Lineage against a real MLflow store: every tracked run records commit, packages and settings; the
comparison records its training data once (on the parent run); `lineage` walks version -> runs and says
what is missing, and reports unknown for a run logged without the workbench."""
import json, subprocess
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlops_workbench import datasets, registry
from mlops_workbench.lineage import content_hash, lineage
from mlops_workbench.models import compare


def _credit():
    df = datasets.load("german_credit")
    return df.drop(columns="risk"), df["risk"]


def test_comparison_records_its_data_once_and_lineage_walks_to_it(store):
    X, y = _credit()
    lb = compare(X, y, models="lr,nb", cv=2, n_jobs=1)
    client = mlflow.MlflowClient()
    parent = client.get_run(lb.run_id)
    assert [d.dataset.name for d in parent.inputs.dataset_inputs] == ["german_credit"]
    assert all(not client.get_run(r).inputs.dataset_inputs for r in lb.run_ids.values())  # not once per candidate
    registry.promote(lb.run_ids["lr"], "credit")
    lin = registry.lineage("credit", "champion")
    d = lin.datasets[0]
    assert d["sha256"] == content_hash(X.assign(risk=y)) and d["rows"] == str(len(X))
    assert json.loads(d["source"])["uri"] == d["where"] and d["where"].endswith("german_credit.csv")
    assert "risk" in d["schema"]
    assert lin.runs == [lb.run_ids["lr"], lb.run_id]
    assert lin.packages["mlflow"] == mlflow.__version__
    assert lin.settings["tracking_uri"].endswith("mlflow.db")
    assert lin.git["commit"] is None and "not in a git repository" in lin.git["reason"]
    assert "evaluation data: not recorded" in lin.missing
    assert "notebook: not recorded (not run through run_notebook)" in lin.missing


def test_full_content_hash_sees_what_mlflows_digest_misses():
    a = pd.DataFrame({"x": np.arange(20_000)})
    b = a.copy()
    b.loc[15_000, "x"] = -1
    assert mlflow.data.from_pandas(a).digest == mlflow.data.from_pandas(b).digest
    assert content_hash(a) != content_hash(b)


def test_run_logged_without_the_workbench_reports_unknown(store):
    from sklearn.dummy import DummyClassifier
    from mlops_workbench.tracking import connect
    connect()
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model", pip_requirements=[])
    mlflow.register_model(f"runs:/{run.info.run_id}/model", "legacy")
    lin = lineage("legacy", 1)
    assert lin.commit == "unknown" and lin.packages is None and lin.settings is None and lin.datasets == []
    for part in ("training data", "git commit", "package versions", "settings", "notebook"):
        assert any(m.startswith(part) for m in lin.missing), (part, lin.missing)
    assert "unknown" in lin.to_frame()["value"].tolist()
    with pytest.raises(registry.RegistryError, match="'legacy' has no version or alias 3"):
        lineage("legacy", 3)
    with pytest.raises(registry.RegistryError, match="has no version or alias 'champion'"):
        lineage("legacy", "champion")
    with pytest.raises(registry.RegistryError, match="no registered model 'nope'"):
        lineage("nope", 1)


NOTEBOOK = {"cells": [
    {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "candidate = 'lr'", "outputs": [],
     "execution_count": None, "id": "p"},
    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "c", "source":
     "from mlops_workbench import datasets, models, registry\n"
     "df = datasets.load('german_credit')\n"
     "lb = models.compare(df.drop(columns='risk'), df['risk'], models=candidate, cv=2, n_jobs=1)\n"
     "registry.promote(lb.run_ids[candidate], 'credit')\n"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "python3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.slow
def test_notebook_run_in_a_git_repository_records_commit_dirty_and_parameters(store):
    from mlops_workbench.runner import run_notebook
    repo = store / "project"
    repo.mkdir()
    (repo / "train.ipynb").write_text(json.dumps(NOTEBOOK))
    (repo / "README").write_text("v1\n")
    git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=repo, check=True,
                                    capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    (repo / "README").write_text("v2, not committed\n")
    res = run_notebook(repo / "train.ipynb", {"candidate": "nb"}, timeout=300)
    assert res.ok, res.error
    lin = lineage("credit", 1)
    assert lin.git["commit"] == git("rev-parse", "HEAD") and lin.git["dirty"] is True
    assert lin.notebook == str(repo / "train.ipynb") and lin.parameters["notebook"] == {"candidate": "nb"}
    assert lin.runs[-1] == res.mlflow_run_id and lin.parameters["model"]["estimator"] == "GaussianNB"
    assert lin.missing == ["evaluation data: not recorded"]
