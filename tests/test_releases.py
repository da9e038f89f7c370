"""releases: every alias move recorded in the registry (reason, who, when), the history, rollback and its CLI,
against a real SQLite MLflow store and the installed package."""
import json
from datetime import datetime, timedelta, timezone
import numpy as np
import pandas as pd
import pytest
from conftest import cli
from mlops_workbench import datasets
from mlops_workbench.core import ParameterError, WorkbenchError
from mlops_workbench.models import compare
from mlops_workbench.registry import RegistryError, champion_version, load_champion, promote
from mlops_workbench.releases import (COLUMNS, TAG_PREFIX, NoAliasError, NoModelError, NothingToRollBackError,
                                      ReleaseError, history, record_move, rollback)


@pytest.fixture
def store(store, monkeypatch):
    "conftest's workspace, with a known user name for the release records."
    monkeypatch.setenv("MLOPS_WORKBENCH_USER", "release-tester")
    return store


@pytest.fixture
def client(store):
    import mlflow
    from mlops_workbench.tracking import connect
    connect()
    return mlflow.MlflowClient()


def placeholder_model(client, name, versions=2):
    "A registered model with `versions` placeholder versions (rollback moves aliases; it loads nothing)."
    client.create_registered_model(name)
    for _ in range(versions): client.create_model_version(name, source="/nowhere", run_id=None)


def test_promote_promote_rollback_history_and_cli(store):
    df = datasets.load("german_credit")
    X, y = df.drop(columns="risk"), df["risk"]
    lb = compare(X, y, models="nb,lr", cv=2, n_jobs=1)
    before = datetime.now(timezone.utc)
    promote(lb.run_ids["nb"], "credit")
    promote(lb.run_ids["lr"], "credit")
    h = history("credit")
    assert list(h.columns) == COLUMNS and len(h) == 2
    assert h[["alias", "from_version", "to_version"]].values.tolist() == [["champion", None, "1"],
                                                                          ["champion", "1", "2"]]
    assert h["reason"].tolist() == [f"promote run {lb.run_ids['nb']}", f"promote run {lb.run_ids['lr']}"]
    assert set(h["who"]) == {"release-tester"} and h["host"].str.len().min() > 0
    assert str(h["time"].dt.tz) == "UTC" and h["time"].is_monotonic_increasing
    assert before - timedelta(seconds=1) <= h["time"].iloc[0] <= datetime.now(timezone.utc)
    np.testing.assert_array_equal(load_champion("credit").predict(X), lb.estimator("lr").predict(X))

    assert rollback("credit", "  v2 flags twice as many applicants on live traffic ") == "1"
    assert str(champion_version("credit").version) == "1"
    np.testing.assert_array_equal(load_champion("credit").predict(X), lb.estimator("nb").predict(X))
    h = history("credit")
    assert len(h) == 3 and h.iloc[-1][["from_version", "to_version", "reason", "who"]].tolist() == \
        ["2", "1", "v2 flags twice as many applicants on live traffic", "release-tester"]

    # nothing before a first and only promotion
    promote(lb.run_ids["nb"], "single")
    with pytest.raises(NothingToRollBackError, match=r"'single'@champion \(now version 1\) has no earlier version "
                                                     r"in its recorded history to go back to; promote another"):
        rollback("single", "x")

    # the CLI, as a user runs it: a second rollback undoes the first
    r = cli("rollback", "credit", "--reason", "the alert was a false alarm", cwd=store)
    assert r.returncode == 0 and "credit@champion rolled back to version 2" in r.stdout, r.stderr
    r = cli("history", "credit", cwd=store)
    assert r.returncode == 0 and "the alert was a false alarm" in r.stdout and "v2 flags twice" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 1 + 4 and "release-tester" in r.stdout
    assert str(champion_version("credit").version) == "2"
    r = cli("rollback", "credit", "--reason", "", cwd=store)
    assert r.returncode == 2 and "reason: '' is empty" in r.stderr
    r = cli("rollback", "credit", "--reason", "x", "--to", "7", cwd=store)
    assert r.returncode == 1 and "version 7 is no longer in the registry" in r.stderr
    r = cli("rollback", "nope", "--reason", "x", cwd=store)
    assert r.returncode == 1 and "no registered model 'nope' in the registry" in r.stderr
    r = cli("rollback", "credit", cwd=store)
    assert r.returncode == 2 and "--reason" in r.stderr
    r = cli("history", "nope", cwd=store)
    assert r.returncode == 1 and "no registered model 'nope'" in r.stderr
    assert len(history("credit")) == 4  # refused rollbacks record nothing


def test_rollback_errors(client):
    with pytest.raises(NoModelError, match=r"no registered model 'nothing' in the registry \(models: none\); "
                                           r"check the name, or register one with promote\(run_id, 'nothing'\)"):
        rollback("nothing", "bad model")
    placeholder_model(client, "demo")
    with pytest.raises(NoAliasError, match=r"registered model 'demo' has no alias 'champion' \(aliases: none\); "
                                           r"pass alias=\.\.\. or promote a model to it first"):
        rollback("demo", "bad model")
    client.set_registered_model_alias("demo", "champion", 1)
    with pytest.raises(NothingToRollBackError, match=r"'demo'@champion \(now version 1\) has no earlier version"):
        rollback("demo", "bad model")  # moved outside the workbench, nothing recorded
    for bad in ("", "   ", None):
        with pytest.raises(ParameterError, match="reason: .* is empty; say why the alias moves"):
            rollback("demo", bad, to=2)
    with pytest.raises(ParameterError):
        record_move("demo", "champion", 2, reason="")
    assert issubclass(NoModelError, ReleaseError) and issubclass(ReleaseError, RegistryError)
    assert issubclass(ReleaseError, WorkbenchError) and issubclass(ReleaseError, ValueError)
    assert history("demo").empty and list(history("demo").columns) == COLUMNS
    with pytest.raises(NoModelError):
        history("nothing")


def test_alias_moved_outside_the_workbench_and_explicit_target(client):
    placeholder_model(client, "demo", versions=3)
    for v in (1, 2):
        client.set_registered_model_alias("demo", "champion", v)
        record_move("demo", "champion", v, reason=f"v{v}", previous=v - 1 or None)
    client.set_registered_model_alias("demo", "champion", 3)  # in the MLflow UI: not recorded
    assert rollback("demo", "3 was never reviewed") == "2"
    assert rollback("demo", "straight to the first", to=1) == "1"
    with pytest.raises(NothingToRollBackError, match="already points to version 1"):
        rollback("demo", "x", to="1")
    h = history("demo")
    assert h[["from_version", "to_version"]].values.tolist() == [[None, "1"], ["1", "2"], ["3", "2"], ["2", "1"]]
    # other aliases keep their own history
    client.set_registered_model_alias("demo", "challenger", 3)
    record_move("demo", "challenger", 3, reason="shadow v3")
    assert history("demo", alias="challenger")["reason"].tolist() == ["shadow v3"]
    assert len(history("demo")) == 5


def test_moves_are_one_tag_each_never_overwritten(client, monkeypatch):
    "Moves recorded in the same instant all survive (no read-modify-write), and a foreign tag is skipped."
    placeholder_model(client, "demo", versions=1)
    monkeypatch.delenv("MLOPS_WORKBENCH_USER")
    for i in range(20): record_move("demo", "champion", 1, reason=f"move {i}", previous=1)
    client.set_registered_model_tag("demo", TAG_PREFIX + "hand-edited", "not json")
    tags = {k: v for k, v in client.get_registered_model("demo").tags.items() if k.startswith(TAG_PREFIX)}
    assert len(tags) == 21
    entry = json.loads(next(v for k, v in tags.items() if not k.endswith("hand-edited")))
    assert set(entry) == set(COLUMNS) and entry["who"]
    with pytest.warns(UserWarning, match="is not a recorded move; skipped"):
        h = history("demo")
    assert h["reason"].tolist() == [f"move {i}" for i in range(20)]
    assert isinstance(h, pd.DataFrame) and h["time"].is_monotonic_increasing


def test_registry_serves_rollback_and_history():
    "The issue's names: `registry.rollback` and `registry.history` are the releases functions."
    from mlops_workbench import registry, releases
    assert (registry.rollback, registry.history) == (releases.rollback, releases.history)
