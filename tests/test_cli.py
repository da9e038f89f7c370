"""The command line as a user meets it: real console scripts, real papermill runs in a real kernel,
a real SQLite MLflow store."""
import json
import nbformat
import pytest
from pathlib import Path
from conftest import COURSE, chromium_page, cli, mlflow_runs

LESSON = COURSE / "00_mlops_lifecycle.ipynb"


def make_notebook(path, params_src, body_src):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(params_src, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body_src)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_help_and_version(tmp_path):
    for prog in ("mlops-workbench", "mwb"):
        import subprocess, sys
        from pathlib import Path
        r = subprocess.run([str(Path(sys.executable).parent / prog), "--help"], capture_output=True, text=True)
        assert r.returncode == 0
        for sub in ("datasets", "run", "demo", "params", "settings"):
            assert sub in r.stdout
    from mlops_workbench import __version__
    r = cli("--version", cwd=tmp_path)
    assert r.stdout.strip() == f"mlops-workbench {__version__}"


def test_datasets_command(tmp_path):
    r = cli("datasets", "--json", cwd=tmp_path)
    assert r.returncode == 0
    rows = {d["name"]: d for d in json.loads(r.stdout)}
    assert rows["german_credit"]["rows"] == 1000 and rows["german_credit"]["target"] == "risk"


def test_unknown_parameter_is_refused_before_anything_runs(workspace):
    r = cli("run", LESSON, "-p", "targett", "risk", cwd=workspace)
    assert r.returncode == 2
    assert "unknown parameter 'targett'" in r.stderr
    assert 'target: str = "risk"  # the column to predict' in r.stderr  # the contract is listed
    assert not (workspace / "runs").exists()
    assert not (workspace / "mlflow.db").exists()


@pytest.mark.parametrize("name, value, message", [
    ("test_size", "a quarter", "'a quarter' is not a valid float"),
    ("random_state", "1.5", "'1.5' is not a valid int"),
])
def test_badly_typed_parameter_is_refused(workspace, name, value, message):
    r = cli("run", LESSON, "-p", name, value, cwd=workspace)
    assert r.returncode == 2 and message in r.stderr


def test_parameters_from_yaml_are_typed(workspace):
    nb = make_notebook(workspace / "echo.ipynb", 'n: int = 1  # count\nword: str = "a"  # text\nratio: float = 0.5  # share',
                       'import json, os\nopen(os.environ["MLOPS_WORKBENCH_RUN_DIR"] + "/seen.json", "w").write(json.dumps({"n": n, "word": word, "ratio": ratio}))')
    (workspace / "p.yaml").write_text("n: 3\nword: hello\nratio: 1\n")
    r = cli("run", nb, "-f", workspace / "p.yaml", "-p", "word", "x'); import os; os.system('touch PWNED')#",
            "--out", workspace / "out", "-q", cwd=workspace)
    assert r.returncode == 0, r.stderr
    seen = json.loads((workspace / "out" / "seen.json").read_text())
    assert seen == {"n": 3, "word": "x'); import os; os.system('touch PWNED')#", "ratio": 1.0}
    assert not (workspace / "PWNED").exists()
    r = cli("run", nb, "-p", "n", "3", "-f", workspace / "missing.yaml", cwd=workspace)
    assert r.returncode == 2 and "cannot be read" in r.stderr


def test_failing_notebook_keeps_output_and_records_failed_run(workspace):
    nb = make_notebook(workspace / "boom.ipynb", "rows: int = 10  # rows", "x = 1\nraise RuntimeError(f'broken at "
                                                                           "{rows} rows')")
    r = cli("run", nb, "-p", "rows", "7", "-q", cwd=workspace)
    assert r.returncode == 1
    assert "FAILED boom.ipynb at cell" in r.stderr and "RuntimeError: broken at 7 rows" in r.stderr
    (run_dir,) = (workspace / "runs").iterdir()
    assert run_dir.name.endswith("-boom")
    out = run_dir / "boom.ipynb"
    assert "broken at 7 rows" in out.read_text()
    assert not list(run_dir.glob(".*partial*"))
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "FAILED" and info["error"]["ename"] == "RuntimeError"
    runs = mlflow_runs(workspace)
    assert list(runs.status) == ["FAILED"]
    assert runs.iloc[0]["params.rows"] == "7"
    assert runs.iloc[0]["tags.mlops_workbench.error"] == "RuntimeError: broken at 7 rows"


def test_unreachable_tracking_server_fails_fast(tmp_path):
    (tmp_path / "settings.ini").write_text("[workbench]\ntracking_uri = http://127.0.0.1:9\n")
    nb = make_notebook(tmp_path / "ok.ipynb", "a: int = 1", "b = a")
    import time
    t0 = time.time()
    r = cli("--settings", tmp_path / "settings.ini", "run", nb, cwd=tmp_path)
    assert r.returncode == 1 and "did not answer within" in r.stderr
    assert time.time() - t0 < 30
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_demo_runs_the_main_job_twice(workspace):
    "The closing lesson end to end: the first run registers a champion; the second finds no drift and no better model."
    r = cli("demo", "-q", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "FINISHED 09_scheduled_pipeline.ipynb" in r.stdout
    assert "gate:      PASSED" in r.stdout and "registry:  promoted" in r.stdout and "champion version 1" in r.stdout
    assert "first run on this model: nothing to monitor yet" in r.stdout
    (first,) = (workspace / "runs").glob("*-demo-09")
    summary = json.loads((first / "summary.json").read_text())
    assert summary["promoted"] and summary["champion_version"] == 1 and summary["best_candidate"] in summary["leaderboard"]
    # the hold-out rows went through the served champion and are in the inference log as evaluation traffic
    from mlops_workbench.config import load_settings
    from mlops_workbench.inference_log import InferenceLog
    assert (summary["evaluation_rows_served"], summary["served_version"]) == (250, "1")
    logged = InferenceLog.from_settings(load_settings(workspace / "settings.ini")).read()
    assert (logged["source"] == "evaluation").sum() == 250 and "x.risk" in logged and "live" not in set(logged["source"])
    # the run wrote the champion's model card; it opens in a real browser, self-contained
    with chromium_page() as (page, dialogs, requests):
        page.goto(Path(summary["model_card"]).as_uri())
        assert page.locator("h1").inner_text() == "Model card: credit-risk version 1"
        assert "roc_auc" in page.locator("body").inner_text() and page.locator("script").count() == 0
    assert dialogs == [] and all(u.startswith("file://") for u in requests)
    r = cli("demo", "-q", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert "registry:  not promoted" in r.stdout and "champion version 1" in r.stdout
    assert "no live traffic logged yet" in r.stdout  # the monitor has a reference, but no traffic
    runs = mlflow_runs(workspace)
    executions = runs[runs["tags.mlops_workbench.kind"] == "notebook-run"]
    assert len(executions) == 2 and set(executions.status) == {"FINISHED"}
    nested = runs[runs["tags.mlflow.parentRunId"].isin(set(executions.run_id))]
    assert set(nested["tags.mlflow.parentRunId"]) == set(executions.run_id)  # the lesson's comparison under each
    # the champion takes raw rows: its own cleaning step reads the dataset's missing-value code
    # `not_known` as missing, so a row with the code scores exactly like the row with NaN
    import numpy as np
    from mlops_workbench import datasets, registry
    model = registry.load_champion("credit-risk")
    assert list(model.named_steps)[0] == "clean"
    raw = datasets.load("german_credit").drop(columns="risk").head(20)
    coded, nan = raw.assign(saving_accounts="not_known"), raw.assign(saving_accounts=np.nan)
    np.testing.assert_array_equal(model.predict_proba(coded), model.predict_proba(nan))


def test_course_list_and_student_copy(tmp_path):
    r = cli("course", "list", cwd=tmp_path)
    assert r.returncode == 0
    assert [l.split()[0] for l in r.stdout.strip().splitlines()[1:]] == [p.stem[:2] for p in sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))]
    r = cli("course", "copy", tmp_path / "class", cwd=tmp_path)
    assert r.returncode == 0
    copied = sorted(p.name for p in (tmp_path / "class").glob("*.ipynb"))
    assert copied == sorted(p.name for p in COURSE.glob("[0-9][0-9]_*.ipynb"))
    nb = nbformat.read(tmp_path / "class" / copied[0], as_version=4)
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    r = cli("course", "copy", tmp_path / "class", cwd=tmp_path)
    assert r.returncode == 1 and "already holds" in r.stderr
    r = cli("course", "run", "99", cwd=tmp_path)
    assert r.returncode == 1 and "lesson '99' not found" in r.stderr
