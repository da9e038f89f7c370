"""Scheduled jobs as cron would run them: real processes, real kernels, a real SIGKILL."""
import json, os, signal, subprocess, time
from pathlib import Path
import nbformat
import pytest
from conftest import BIN, cli, mlflow_runs

SETTINGS = """[workbench]
tracking_uri = sqlite:///mlflow.db

[schedule:slow]
notebook = work.ipynb
cron = 0 0 1 1 *
param.label = slow

[schedule:quick]
notebook = work.ipynb
cron = 0 0 1 1 *
param.label = quick
"""

BODY = """import json, pathlib, time
from mlops_workbench.runner import output_dir
pause = 60 if pathlib.Path(f"{label}.SLOW").exists() else 1
for i in range(int(pause * 2)):
    time.sleep(0.5)
(output_dir()/"result.json").write_text(json.dumps({"label": label}))"""


@pytest.fixture
def jobs(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('label: str = "x"  # which job', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "work.ipynb")
    (tmp_path / "settings.ini").write_text(SETTINGS)
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(tmp_path / "settings.ini"))
    return tmp_path


def state(ws, job):
    f = ws / "runs" / ".schedule" / f"{job}.json"
    return json.loads(f.read_text()) if f.exists() else {}


def start(ws, *args):
    return subprocess.Popen([str(BIN / "mlops-workbench"), *args], cwd=ws, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(cond, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond(): return True
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


@pytest.mark.slow
def test_kill_one_of_two_jobs_then_run_due_recovers(jobs):
    (jobs / "slow.SLOW").touch()
    slow, quick = start(jobs, "schedule", "run", "slow"), start(jobs, "schedule", "run", "quick")
    wait_for(lambda: state(jobs, "slow").get("status") == "RUNNING" and
             list(Path(state(jobs, "slow")["run_dir"]).glob(".*.partial*")))
    # a second copy of a running job is refused at once
    again = cli("schedule", "run", "slow", cwd=jobs, timeout=60)
    assert again.returncode == 1 and "already running" in again.stderr
    os.kill(slow.pid, signal.SIGKILL)
    slow.wait(timeout=30)
    out, err = quick.communicate(timeout=300)
    assert quick.returncode == 0, err
    assert state(jobs, "quick")["status"] == "FINISHED"
    killed_dir = Path(state(jobs, "slow")["run_dir"])
    assert state(jobs, "slow")["status"] == "RUNNING"  # nobody could record its end yet

    (jobs / "slow.SLOW").unlink()
    r = cli("schedule", "run-due", cwd=jobs, timeout=300)
    assert r.returncode == 0, r.stderr
    # the killed run is recorded as failed, with no half-written file left behind
    info = json.loads((killed_dir / "run.json").read_text())
    assert info["status"] == "FAILED" and info["error"]["ename"] == "Killed"
    assert not list(killed_dir.glob(".*partial*")) and not (killed_dir / "result.json").exists()
    # run-due ran the killed job again (and only it: the quick one already succeeded)
    assert state(jobs, "slow")["status"] == "FINISHED" and state(jobs, "slow")["run_dir"] != str(killed_dir)
    assert json.loads((Path(state(jobs, "slow")["run_dir"]) / "result.json").read_text()) == {"label": "slow"}
    runs = mlflow_runs(jobs)
    by_job = runs.groupby("tags.mlops_workbench.job").status.apply(sorted).to_dict()
    assert by_job == {"slow": ["FAILED", "FINISHED"], "quick": ["FINISHED"]}
    r = cli("schedule", "run-due", cwd=jobs, timeout=120)
    assert "no job is due" in r.stdout


def test_bad_schedule_is_refused_before_anything_runs(jobs):
    (jobs / "settings.ini").write_text(SETTINGS + "\n[schedule:broken]\nnotebook = missing.ipynb\ncron = 0 * * * *\n")
    r = cli("schedule", "run-due", cwd=jobs)
    assert r.returncode == 1 and "[schedule:broken] notebook:" in r.stderr and "does not exist" in r.stderr
    assert not (jobs / "runs").exists() or not any(p.name != ".schedule" for p in (jobs / "runs").iterdir())
    (jobs / "settings.ini").write_text(SETTINGS.replace("param.label = quick", "param.lable = quick"))
    r = cli("schedule", "run-due", cwd=jobs)
    assert r.returncode == 1 and "[schedule:quick]" in r.stderr and "unknown parameter 'lable'" in r.stderr


def test_list_and_crontab(jobs):
    r = cli("schedule", "list", cwd=jobs)
    assert r.returncode == 0 and "slow" in r.stdout and "never run" in r.stdout
    lines = cli("schedule", "crontab", cwd=jobs).stdout.strip().splitlines()
    assert len(lines) == 2 and all(l.startswith("0 0 1 1 * cd ") and " schedule run " in l for l in lines)
