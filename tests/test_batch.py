"""Batch scoring from the installed package against a real SQLite MLflow store with a promoted champion."""
import numpy as np
import pandas as pd
import pytest
from conftest import cli, credit_workspace
from mlops_workbench.batch import score
from mlops_workbench.core import DataError, ParameterError, WorkbenchError
from mlops_workbench.inference_log import InferenceLog


@pytest.fixture(scope="module")
def store(tmp_path_factory, template_db):
    "A workspace whose MLflow store has `credit@champion` (logistic regression on german_credit)."
    from mlops_workbench import registry
    ws = tmp_path_factory.mktemp("batch")
    with credit_workspace(ws, template_db, f"inference_log = {ws}/log\n") as (df, _):
        df.assign(customer=[f"c{i:04d}" for i in range(len(df))]).to_csv(ws / "in.csv", index=False)
        df.to_parquet(ws / "in.parquet")
        yield ws, df.drop(columns="risk"), registry.load_champion("credit")


def batch_rows(ws):
    return InferenceLog(ws / "log").read(source="batch")


@pytest.mark.parametrize("src,dst", [("in.csv", "out.parquet"), ("in.parquet", "out.csv")])
def test_same_predictions_as_the_model_on_the_whole_frame(store, src, dst):
    ws, X, model = store
    before = len(batch_rows(ws))
    res = score("credit", ws / src, ws / dst, chunk_rows=300, progress=False)
    assert (res["rows"], res["model_name"], res["model_version"], res["out"]) == (1000, "credit", "1", ws / dst)
    out = pd.read_parquet(ws / dst) if dst.endswith(".parquet") else pd.read_csv(ws / dst, dtype={"row_id": str})
    assert list(out.columns) == ["row_id", "prediction", "proba.0", "proba.1"]
    assert out["prediction"].tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(out[["proba.0", "proba.1"]].to_numpy(), model.predict_proba(X), rtol=1e-12)
    logged = batch_rows(ws)
    assert len(logged) == before + 1000
    mine = logged[logged.row_id.isin(out.row_id)]
    assert len(mine) == 1000 and set(mine.model_version) == {"1"} and set(mine.source) == {"batch"}
    assert mine.set_index("row_id").loc[out.row_id, "prediction"].tolist() == out["prediction"].tolist()
    assert {"in.age", "in.purpose", "x.risk", "unseen"} <= set(mine.columns)
    assert not [p.name for p in ws.iterdir() if p.name.startswith(".")]


def test_key_column_gives_row_ids_and_labels_join(store):
    ws, X, model = store
    score("credit@champion", ws / "in.csv", ws / "keyed.csv", key="customer", log=True, progress=False)
    out = pd.read_csv(ws / "keyed.csv")
    assert out["row_id"].tolist()[:2] == ["c0000", "c0001"]
    r = cli("labels", ws / "in.csv", "--key", "customer", "--label", "risk", cwd=ws)
    assert r.returncode == 0 and "stored 1000 labels" in r.stdout, r.stderr
    got = batch_rows(ws).set_index("row_id")
    assert got.loc["c0000", "label"] == pd.read_csv(ws / "in.csv")["risk"][0]
    assert "x.customer" in got.columns


def test_no_log_logs_nothing(store):
    ws, *_ = store
    before = len(batch_rows(ws))
    assert score("credit", ws / "in.parquet", ws / "quiet.parquet", log=False, progress=False)["log"] is None
    assert len(batch_rows(ws)) == before


def test_failure_keeps_the_previous_output_whole(store):
    ws, X, model = store
    (ws / "kept.csv").write_text("previous output\n")
    bad = pd.read_csv(ws / "in.csv").astype({"age": object})
    bad.loc[950, "age"] = "forty"  # the last chunk cannot be scored
    bad.to_csv(ws / "bad.csv", index=False)
    with pytest.raises(ValueError, match="forty"):
        score("credit", ws / "bad.csv", ws / "kept.csv", chunk_rows=300, log=False, progress=False)
    assert (ws / "kept.csv").read_text() == "previous output\n"
    assert not [p.name for p in ws.iterdir() if p.name.endswith(".partial")]


def test_bad_model_refs_and_missing_columns_are_clear(store):
    ws, *_ = store
    with pytest.raises(WorkbenchError, match=r"no model is registered as 'nope'@champion"):
        score("nope", ws / "in.csv", ws / "x.csv", progress=False)
    with pytest.raises(WorkbenchError, match=r"no model is registered as 'credit'@staging"):
        score("credit@staging", ws / "in.csv", ws / "x.csv", progress=False)
    with pytest.raises(ParameterError, match="is not NAME or NAME@ALIAS"):
        score("credit@", ws / "in.csv", ws / "x.csv", progress=False)
    pd.read_csv(ws / "in.csv").drop(columns=["age", "purpose"]).to_csv(ws / "short.csv", index=False)
    with pytest.raises(DataError, match=r"lacks the model's column\(s\) \['purpose', 'age'\]|"
                                        r"lacks the model's column\(s\) \['age', 'purpose'\]"):
        score("credit", ws / "short.csv", ws / "x.csv", progress=False)
    with pytest.raises(DataError, match=r"out '.*x.json' must end in '.csv', '.parquet'"):
        score("credit", ws / "in.csv", ws / "x.json", progress=False)
    assert not (ws / "x.csv").exists()


def test_cli_scores_and_reports(store):
    ws, X, model = store
    r = cli("score", "credit", ws / "in.parquet", "--out", ws / "cli.parquet", "--chunk-rows", "250", cwd=ws)
    assert r.returncode == 0, r.stderr
    assert "scored 1000 rows with credit version 1" in r.stdout and f"output:  {ws / 'cli.parquet'}" in r.stdout
    assert pd.read_parquet(ws / "cli.parquet")["prediction"].tolist() == model.predict(X).tolist()
    r = cli("score", "nope@champion", ws / "in.csv", "--out", ws / "y.csv", "--no-log", cwd=ws)
    assert r.returncode == 1 and "no model is registered as 'nope'@champion" in r.stderr
    r = cli("score", "credit@", ws / "in.csv", "--out", ws / "y.csv", cwd=ws)
    assert r.returncode == 2 and "is not NAME or NAME@ALIAS" in r.stderr
    r = cli("score", "credit", ws / "in.csv", cwd=ws)
    assert r.returncode == 2 and "--out" in r.stderr
    assert not (ws / "y.csv").exists()


def test_settings_choose_the_store_the_model_comes_from(store, tmp_path, monkeypatch):
    "With $MLOPS_WORKBENCH_SETTINGS on an empty store, `settings=` still finds the model in its own store."
    from mlops_workbench.registry import RegistryError
    ws, X, model = store
    (tmp_path / "settings.ini").write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\n"
                                           f"inference_log = {tmp_path}/log\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(tmp_path / "settings.ini"))
    before = len(batch_rows(ws))
    res = score("credit", ws / "in.parquet", tmp_path / "out.parquet", settings=ws / "settings.ini", progress=False)
    assert (res["model_version"], res["log"]) == ("1", ws / "log")
    assert pd.read_parquet(tmp_path / "out.parquet")["prediction"].tolist() == model.predict(X).tolist()
    assert len(batch_rows(ws)) == before + len(X) and not (tmp_path / "log").exists()
    with pytest.raises(RegistryError, match="no model is registered as 'credit'@champion"):
        score("credit", ws / "in.parquet", tmp_path / "none.parquet", progress=False)  # the empty store, as set
    assert not (tmp_path / "none.parquet").exists()
