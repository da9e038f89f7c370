"""`serve_process.start`: the real `mlops-workbench serve` as a child on a free 127.0.0.1 port, against a real SQLite
MLflow store. It answers, it stops at the end of its block (also when the block fails), it dies with a parent killed
by SIGKILL, and an unknown model is a clear error within seconds."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
import requests
from conftest import credit_workspace
from mlops_workbench.serve_process import RUNNING, ServeProcessError, start


@pytest.fixture(scope="module")
def store(tmp_path_factory, template_db):
    "A workspace whose MLflow store holds 'credit' v1 as champion."
    d = tmp_path_factory.mktemp("serve_process")
    with credit_workspace(d, template_db) as (df, _):
        yield dict(dir=d, X=df.drop(columns="risk"))


def gone(pid: int, within: float = 10.0) -> bool:
    "True once `pid` no longer runs (gone, or a zombie nobody has reaped yet) within `within` seconds."
    t0 = time.time()
    while time.time() - t0 < within:
        try: state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError): return True
        if state in ("Z", "X"): return True
        time.sleep(0.1)
    return False


def kill(pid: int):
    try: os.kill(pid, signal.SIGKILL)
    except ProcessLookupError: pass


def test_starts_answers_and_stops(store):
    rows = json.loads(store["X"].head(3).to_json(orient="records"))
    with start("credit", log=False, settings=store["dir"] / "settings.ini") as srv:
        assert srv.url.startswith("http://127.0.0.1:") and srv.running and srv in RUNNING
        r = requests.post(srv.url + "/predict", json={"records": rows}, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == "1" and len(r.json()["predictions"]) == 3
        assert requests.get(srv.url + "/version", timeout=10).json()["name"] == "credit"
        pid = srv.pid
    assert not srv.running and srv not in RUNNING and gone(pid)
    with pytest.raises(requests.ConnectionError): requests.get(srv.url + "/health", timeout=5)
    srv.stop()  # a second stop is harmless


def test_a_failing_block_still_stops_it(store):
    srv = None
    with pytest.raises(ZeroDivisionError):
        with start("credit", log=False) as srv:
            1 / 0
    assert srv is not None and not srv.running and gone(srv.pid)


def test_token_travels_in_the_environment(store):
    with start("credit", log=False, token="s3cret") as srv:
        assert "s3cret" not in " ".join(srv.proc.args)
        assert requests.get(srv.url + "/version", timeout=10).status_code == 401
        assert requests.get(srv.url + "/version", headers=srv.headers, timeout=10).status_code == 200


PARENT = textwrap.dedent('''
    import sys, time
    from mlops_workbench.serve_process import start
    srv = start("credit", log=False)
    print(srv.pid, srv.url, flush=True)
    time.sleep(600)
''')


def test_a_parent_killed_with_sigkill_leaves_no_server(store):
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "MLOPS_WORKBENCH_SETTINGS": str(store["dir"] / "settings.ini")})
    pid = None
    try:
        line = parent.stdout.readline()
        assert line, "the parent printed nothing (did the server start?)"
        pid, url = int(line.split()[0]), line.split()[1]
        assert requests.get(url + "/health", timeout=10).status_code == 200
        parent.kill()  # SIGKILL: no Python code runs in the parent, no atexit hook
        parent.wait(10)
        assert gone(pid, within=15), f"server {pid} outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait(10)
        if pid is not None: kill(pid)


def test_an_unknown_model_fails_fast_and_clearly(store):
    t0 = time.time()
    with pytest.raises(ServeProcessError, match="no model is registered as 'nope'@champion"):
        start("nope", log=False, timeout=90)
    assert time.time() - t0 < 60
    assert not RUNNING
