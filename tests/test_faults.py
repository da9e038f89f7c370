"""Faults and hostile input a scheduled run meets: a full disk, a locked store, parameters that
carry code, names that try to leave the runs folder, an exposed tracking server."""
import json, socket, sqlite3, subprocess, time, urllib.request
from pathlib import Path
import pytest
from conftest import BIN, cli
from mlops_workbench.core import WorkbenchError, atomic_write

PAYLOAD = "x'); import os; os.system('touch PWNED')#\n\"\"\" and more"


def test_full_disk_keeps_the_previous_report(small_fs):
    from mlops_workbench import datasets, eda
    report = small_fs / "profile.html"
    with atomic_write(report) as f: f.write("previous report")
    prof = eda.profile(datasets.load("bikeshare"))
    with pytest.raises(WorkbenchError, match="no space left on the device while writing"):
        with atomic_write(report) as f: f.write("y" * 200_000)
    with open(small_fs / "filler", "wb", buffering=0) as f:  # another program fills the disk
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError: pass
    with pytest.raises(WorkbenchError, match="the previous version of the file is kept"):
        prof.save_html(report)
    assert report.read_text() == "previous report"
    assert sorted(p.name for p in small_fs.iterdir()) == ["filler", "profile.html"]  # no temporary file left behind


def test_locked_store_is_refused_quickly_before_anything_runs(workspace):
    db = workspace / "mlflow.db"
    cli("run", Path(__file__).parents[1] / "nbs/course/00_mlops_lifecycle.ipynb", "-p", "random_state", "x", cwd=workspace)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        from conftest import COURSE
        t0 = time.time()
        r = cli("run", COURSE / "00_mlops_lifecycle.ipynb", "-q", cwd=workspace)
        took = time.time() - t0
    finally:
        holder.execute("rollback")
        holder.close()
    assert r.returncode == 1 and "no other program holds a lock" in r.stderr
    assert took < 30
    assert not (workspace / "runs").exists()


def test_parameters_from_settings_ini_arrive_as_literal_strings(tmp_path, monkeypatch):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('value: str = "safe"  # anything', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('import json\nfrom mlops_workbench.runner import output_dir\n'
                                  '(output_dir()/"seen.json").write_text(json.dumps({"type": type(value).__name__, "value": value}))')])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "echo.ipynb")
    ini_value = PAYLOAD.replace("\n", " ")  # INI values are one line
    (tmp_path / "settings.ini").write_text(
        f"[workbench]\ntracking_uri = sqlite:///mlflow.db\n[schedule:echo]\nnotebook = echo.ipynb\ncron = 0 0 1 1 *\nparam.value = {ini_value}\n")
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(tmp_path / "settings.ini"))
    r = cli("schedule", "run", "echo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name != ".schedule"]
    assert json.loads((run_dir / "seen.json").read_text()) == {"type": "str", "value": ini_value}
    assert not (tmp_path / "PWNED").exists() and not (run_dir / "PWNED").exists()


def test_multiline_payload_from_the_command_line_stays_a_string(workspace):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('value: str = "safe"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('from mlops_workbench.runner import output_dir\n(output_dir()/"seen.txt").write_text(value)')])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, workspace / "echo.ipynb")
    r = cli("run", workspace / "echo.ipynb", "-p", "value", PAYLOAD, "--out", workspace / "o", "-q", "--no-track", cwd=workspace)
    assert r.returncode == 0, r.stderr
    assert (workspace / "o" / "seen.txt").read_text() == PAYLOAD
    assert not (workspace / "PWNED").exists()


@pytest.mark.parametrize("name", ["../escape", "/etc/x", "a/b", ".."])
def test_run_names_cannot_leave_the_runs_folder(workspace, name):
    r = cli("run", Path(__file__).parents[1] / "nbs/course/00_mlops_lifecycle.ipynb", "--name", name, "--no-track", cwd=workspace)
    assert r.returncode == 1 and "is not allowed" in r.stderr
    assert not (workspace / "escape").exists() and not (workspace.parent / "escape").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ui_serves_the_store_on_loopback_only(workspace):
    import psutil
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "mlops-workbench"), "ui", "--port", str(port)], cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        t0 = time.time()
        while time.time() - t0 < 90:
            try:
                assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read() == b"OK"
                break
            except OSError: time.sleep(1)
        else:
            pytest.fail("mlflow server did not start")
        listening = set()
        for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
            try:  # the server starts short-lived helpers that may exit between listing and reading
                listening |= {c.laddr.ip for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
            except psutil.NoSuchProcess:
                continue
        assert listening == {"127.0.0.1"}
    finally:
        import os, signal
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
