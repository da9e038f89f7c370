"""Shared fixtures: a throwaway workspace with its own settings.ini and MLflow store, and the CLI."""
import os, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COURSE = REPO / "nbs" / "course"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    "A folder with a settings.ini whose MLflow store, runs and reports all live inside it."
    (tmp_path / "settings.ini").write_text("[workbench]\ntracking_uri = sqlite:///mlflow.db\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args, cwd, env=None, timeout=600):
    "Run the installed `mlops-workbench` console script; return the CompletedProcess."
    e = {**os.environ, **(env or {})}
    return subprocess.run([str(BIN / "mlops-workbench"), *map(str, args)], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout)


def mlflow_runs(workspace, experiment="mlops-workbench"):
    "All MLflow runs of `experiment` in the workspace's store, as a DataFrame."
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment])
