"""The prediction server, for real: `mlops-workbench serve` as a subprocess on a free 127.0.0.1 port, a real SQLite
MLflow store with promoted models, real HTTP with `requests`. Every server a test starts is stopped in a finalizer."""
import json, math, os, socket, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from conftest import credit_workspace

BIN = Path(sys.executable).parent

# A tiny log object with the InferenceLog contract's `.append(frame)`: one JSON line per row, fsync'd;
# a FULL file beside it makes it fail as a full disk does.
JSONL_LOG = '''
import os
from pathlib import Path

class JsonlLog:
    def __init__(self): self.path = Path(os.environ["TEST_SERVE_LOG"])
    def append(self, frame):
        if (self.path.parent / "FULL").exists(): raise OSError(28, "No space left on device")
        text = frame.to_json(orient="records", lines=True, date_format="iso")
        with open(self.path, "a") as f:
            f.write(text if text.endswith("\\n") else text + "\\n")
            f.flush()
            os.fsync(f.fileno())
'''


@pytest.fixture(scope="module")
def store(tmp_path_factory, template_db):
    "A workspace whose MLflow store holds 'credit' v1 as champion and v2 as challenger."
    from mlops_workbench import registry
    d = tmp_path_factory.mktemp("serve")
    (d / "jsonl_log.py").write_text(JSONL_LOG)
    with credit_workspace(d, template_db) as (df, lb):
        registry.promote(lb.run_ids["lr"], "credit", alias="challenger")
        yield dict(dir=d, X=df.drop(columns="risk"), run_id=lb.run_ids["lr"], model=registry.load_champion("credit"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_cmd(store, *args, env=None):
    env = {**os.environ, **(env or {}), "MLOPS_WORKBENCH_SETTINGS": str(store["dir"] / "settings.ini"),
           "TEST_SERVE_LOG": str(store["dir"] / "log" / "rows.jsonl"),
           "PYTHONPATH": os.pathsep.join([str(store["dir"]), os.environ.get("PYTHONPATH", "")])}
    return [str(BIN / "mlops-workbench"), "serve", *map(str, args)], env


def start(request, store, *args, timeout=120, env=None):
    """Start a server; return its base URL once /health answers. Stopped (terminate, then kill) at teardown, or
    earlier by `request.node.stop_server()`."""
    port = free_port()
    cmd, env = serve_cmd(store, *args, "--port", port, env=env)
    proc = subprocess.Popen(cmd, env=env, cwd=store["dir"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)

    def stop():
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    request.addfinalizer(stop)
    request.node.stop_server = stop
    url, t0 = f"http://127.0.0.1:{port}", time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: pytest.fail(f"server exited {proc.returncode}: {proc.stdout.read()[-3000:]}")
        try:
            r = requests.get(url + "/health", timeout=2, headers=_auth(args))
            if r.status_code == 200: return url
        except requests.ConnectionError: pass
        time.sleep(0.3)
    pytest.fail(f"server did not answer /health within {timeout} s")


def _auth(args) -> dict:
    args = list(map(str, args))
    return {"Authorization": f"Bearer {args[args.index('--token') + 1]}"} if "--token" in args else {}


def records(store, n=3, **changes):
    "The first n training rows as JSON records (numbers as JSON numbers), with `changes` applied to all."
    rows = json.loads(store["X"].head(n).to_json(orient="records"))
    return [dict(r, **changes) for r in rows]


def log_rows(store) -> pd.DataFrame:
    f = store["dir"] / "log" / "rows.jsonl"
    return pd.read_json(f, lines=True, dtype=False) if f.exists() else pd.DataFrame()


@pytest.fixture(scope="module")
def server(request, store):
    (store["dir"] / "log").mkdir(exist_ok=True)
    return start(request, store, "credit", "--poll", 1, "--shadow", "challenger", "--log", "jsonl_log:JsonlLog",
                 "--max-rows", 50, "--max-body-bytes", 200_000)


def test_good_rows_match_the_model(server, store):
    recs = [dict(r, branch="north", cust=f"c{i}") for i, r in enumerate(records(store, 5))]
    r = requests.post(server + "/predict", json={"records": recs, "key": "cust"}, timeout=30)
    assert r.status_code == 200, r.text
    a, X = r.json(), store["X"].head(5)
    assert (a["model"], a["version"], a["row_ids"]) == ("credit", "1", [f"c{i}" for i in range(5)])
    assert a["predictions"] == store["model"].predict(X).tolist()
    proba = store["model"].predict_proba(X)
    assert all(math.isclose(p["1"], q[1], rel_tol=1e-9) for p, q in zip(a["proba"], proba))
    assert a["unseen"] == [""] * 5 and "branch" not in json.dumps(a)
    log = log_rows(store)
    live, shadow = log[log.source == "live"], log[log.source == "shadow"]
    assert live.row_id.tolist()[-5:] == [f"c{i}" for i in range(5)]
    assert live["x.branch"].tolist()[-5:] == ["north"] * 5 and "in.branch" not in log and "x.cust" not in log
    assert shadow.row_id.tolist()[-5:] == [f"c{i}" for i in range(5)] and set(shadow.model_version) == {"2"}
    assert {"event_time", "model_name", "prediction", "proba.0", "proba.1", "in.age", "unseen"} <= set(log.columns)


def test_uuid_ids_csv_and_client_event_time(server, store):
    recs = [dict(r, t="2024-03-01T12:00:00Z") for r in records(store, 2)]
    a = requests.post(server + "/predict", json={"records": recs, "event_time": "t"}, timeout=30).json()
    assert [len(i) for i in a["row_ids"]] == [32, 32]
    live = log_rows(store).query("source == 'live'").set_index("row_id")
    assert str(live.loc[a["row_ids"][0], "event_time"]).startswith("2024-03-01 12:00:00")
    csv = store["X"].head(2).to_csv(index=False)
    r = requests.post(server + "/predict", data=csv, headers={"Content-Type": "text/csv"}, timeout=30)
    assert r.status_code == 200 and r.json()["predictions"] == store["model"].predict(store["X"].head(2)).tolist()


@pytest.mark.parametrize("body,ctype,status,needle", [
    (b'{"records": [', "application/json", 400, "not valid JSON"),
    (b"", "application/json", 400, "body is empty"),
    (b'{"rows": []}', "application/json", 400, '"records"'),
    (b'{"records": []}', "application/json", 400, "no rows"),
    (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    (b"[" * 50_000, "application/json", 400, "not valid JSON"),
])
def test_malformed_bodies(server, store, body, ctype, status, needle):
    n = len(log_rows(store))
    r = requests.post(server + "/predict", data=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == status and needle in r.json()["error"], r.text
    assert len(log_rows(store)) == n  # nothing logged for a refused request


@pytest.mark.parametrize("change,column,needle", [
    ({"age": "old"}, "age", "'old' is not a finite number"),
    ({"age": True}, "age", "is not a finite number"),
    ({"duration": "inf"}, "duration", "is not a finite number"),
    ({"sex": 3}, "sex", "is not a string"),
])
def test_wrong_types_name_column_value_and_expected(server, store, change, column, needle):
    n = len(log_rows(store))
    r = requests.post(server + "/predict", json={"records": records(store, 2, **change)}, timeout=30)
    assert r.status_code == 422 and needle in r.json()["error"], r.text
    assert r.json()["column"] == column and "expected" in r.json() and "value" in r.json()
    assert len(log_rows(store)) == n


def test_nan_and_infinity_literals_and_missing_column(server, store):
    for lit in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = json.dumps({"records": records(store, 1)}).replace('"age": 67', f'"age": {lit}')
        assert f'"age": {lit}' in body
        r = requests.post(server + "/predict", data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 422 and r.json()["column"] == "age", (lit, r.text)
    recs = [{k: v for k, v in r.items() if k != "purpose"} for r in records(store, 2)]
    r = requests.post(server + "/predict", json={"records": recs}, timeout=30)
    assert r.status_code == 422 and r.json()["column"] == "purpose" and "missing column" in r.json()["error"]


def test_limits_answer_413(server, store):
    r = requests.post(server + "/predict", json={"records": records(store, 51)}, timeout=30)
    assert r.status_code == 413 and "limit of 50 per request" in r.json()["error"]
    big = {"records": records(store, 1, note="x" * 300_000)}
    r = requests.post(server + "/predict", json=big, timeout=30)
    assert r.status_code == 413 and "limit of 200000 bytes" in r.json()["error"]
    wide = {"records": [dict(records(store, 1)[0], **{f"c{i}": 0 for i in range(2_000)})]}
    r = requests.post(server + "/predict", json=wide, timeout=30)
    assert r.status_code == 413 and "columns" in r.json()["error"]


def test_unseen_category_flagged_and_counted(server, store):
    r = requests.post(server + "/predict", json={"records": records(store, 2, purpose="spaceship")}, timeout=30)
    assert r.status_code == 200 and r.json()["unseen"] == ["purpose", "purpose"]
    assert log_rows(store).unseen.tolist()[-2:] == ["purpose", "purpose"]
    m = metrics(server)
    assert m[("mlops_workbench_unseen_categories_total", (("column", "purpose"),))] >= 2


def metrics(url, headers=None) -> dict:
    text = requests.get(url + "/metrics", timeout=10, headers=headers).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_metrics_health_version(server, store):
    before = metrics(server)
    requests.post(server + "/predict", json={"records": records(store, 4)}, timeout=30)
    requests.post(server + "/predict", data=b"{", timeout=30)
    m = metrics(server)
    d = lambda k: m.get(k, 0) - before.get(k, 0)
    assert d(("mlops_workbench_rows_total", ())) == 4
    assert d(("mlops_workbench_requests_total", (("status", "200"),))) >= 1
    assert d(("mlops_workbench_requests_total", (("status", "400"),))) == 1
    assert sum(d(("mlops_workbench_predictions_total", (("class", c),))) for c in ("0", "1")) == 4
    assert d(("mlops_workbench_request_seconds_count", ())) >= 2
    assert m[("mlops_workbench_model_version", ())] >= 1
    # the 4 rows were scored in one pass (alone, or with others waiting), champion and shadow alike
    assert d(("mlops_workbench_score_batch_rows_sum", ())) >= 8 and d(("mlops_workbench_score_batch_rows_count", ())) >= 1
    h = requests.get(server + "/health", timeout=10).json()
    assert (h["model_loaded"], h["registry"], h["shadow"], h["logging"]) == (True, "reachable", "2", True)
    v = requests.get(server + "/version", timeout=10).json()
    assert (v["name"], v["alias"], v["run_id"]) == ("credit", "champion", store["run_id"])


def test_full_log_answers_503_and_logs_nothing(server, store):
    n = len(log_rows(store))
    (store["dir"] / "log" / "FULL").touch()
    try:
        r = requests.post(server + "/predict", json={"records": records(store, 2)}, timeout=30)
    finally:
        (store["dir"] / "log" / "FULL").unlink()
    assert r.status_code == 503 and "No space left on device" in r.json()["error"]
    assert len(log_rows(store)) == n
    assert requests.post(server + "/predict", json={"records": records(store, 1)}, timeout=30).status_code == 200


def test_alias_move_swaps_version_and_unreachable_registry_keeps_serving(server, store):
    from mlops_workbench import registry
    registry.promote(store["run_id"], "credit")  # version 3 becomes champion
    t0 = time.time()
    while time.time() - t0 < 30:
        a = requests.post(server + "/predict", json={"records": records(store, 1)}, timeout=30).json()
        if a["version"] == "3": break
        time.sleep(0.2)
    assert a["version"] == "3" and requests.get(server + "/version", timeout=10).json()["version"] == "3"
    db = store["dir"] / "mlflow.db"
    db.rename(store["dir"] / "mlflow.db.away")
    db.mkdir()  # the store cannot be opened now
    try:
        t0 = time.time()
        while time.time() - t0 < 30 and requests.get(server + "/health", timeout=10).json()["registry"] == "reachable":
            time.sleep(0.3)
        h = requests.get(server + "/health", timeout=10).json()
        assert h["registry"] == "unreachable" and h["version"] == "3" and h["registry_error"]
        r = requests.post(server + "/predict", json={"records": records(store, 1)}, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == "3"
    finally:
        db.rmdir()
        (store["dir"] / "mlflow.db.away").rename(db)


def test_strict_and_token_on_a_network_host(request, store):
    url = start(request, store, "credit", "--strict", "--host", "0.0.0.0", "--token", "s3cret", "--no-log")
    r = requests.post(url + "/predict", json={"records": records(store, 1)}, timeout=30)
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    h = {"Authorization": "Bearer s3cret"}
    assert requests.get(url + "/version", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    r = requests.post(url + "/predict", json={"records": records(store, 1, housing="castle")}, headers=h, timeout=30)
    assert r.status_code == 422 and r.json()["column"] == "housing" and "never seen in training" in r.json()["error"]
    r = requests.post(url + "/predict", json={"records": records(store, 1)}, headers=h, timeout=30)
    assert r.status_code == 200 and r.json()["unseen"] == [""]


def test_two_workers_sum_their_metrics(request, store):
    tmp = store["dir"] / "tmp"
    tmp.mkdir()
    url = start(request, store, "credit", "--workers", 2, "--no-log", env={"TMPDIR": str(tmp)})
    folders = lambda: [p for p in tmp.iterdir() if p.name.startswith("mlops-workbench-metrics-")]
    assert len(folders()) == 1
    version = requests.get(url + "/version", timeout=10).json()["version"]
    for _ in range(6):
        r = requests.post(url + "/predict", json={"records": records(store, 2)}, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == version
    assert metrics(url)[("mlops_workbench_rows_total", ())] == 12
    request.node.stop_server()
    assert folders() == []  # the workers' metric files went with the server



def test_a_metrics_folder_the_user_set_is_used_and_kept(request, store):
    "With PROMETHEUS_MULTIPROC_DIR already set, the workers write their metric files there and it outlives them."
    mine = store["dir"] / "my-metrics"
    mine.mkdir()
    url = start(request, store, "credit", "--workers", 2, "--no-log", env={"PROMETHEUS_MULTIPROC_DIR": str(mine)})
    for _ in range(4):
        assert requests.post(url + "/predict", json={"records": records(store, 1)}, timeout=30).status_code == 200
    assert metrics(url)[("mlops_workbench_rows_total", ())] == 4
    files = sorted(p.name for p in mine.glob("*.db"))
    assert files
    request.node.stop_server()
    assert mine.is_dir() and set(files) <= {p.name for p in mine.glob("*.db")}

def test_refused_at_startup(store):
    cmd, env = serve_cmd(store, "credit", "--host", "0.0.0.0", "--port", free_port())
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "pass a token" in p.stderr
    t0 = time.time()
    cmd, env = serve_cmd(store, "nosuchmodel@champion", "--no-log", "--port", free_port())
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "no model is registered as 'nosuchmodel'@champion" in p.stderr
    assert time.time() - t0 < 60


# --- the request parser, from the installed package, with hostile inputs -------------------------------------------
def test_parser_hostile_inputs():
    from mlops_workbench.serve_schema import RequestError, check_rows, read_body, row_ids
    cols = {"age": "double", "sex": "string"}
    hostile = [b"null", b"42", b'"records"', b'{"records": {"a": 1}}', b'{"records": [null]}', b"\x00\x01",
               b'{"records": [[1, 2]]}', b"{" * 10_000, b'{"records": [{}]}' + b" " * 10]
    for body in hostile:
        try:
            check_rows(read_body(body)["records"], cols)
            pytest.fail(f"accepted {body[:30]!r}")
        except RequestError as e:
            assert e.status in (400, 413, 422) and str(e)
    for v in ({"x": 1}, [1], "NaN", float("inf"), -float("inf"), "1e999", False):
        with pytest.raises(RequestError, match="column 'age', row 0"):
            check_rows([{"age": v, "sex": "f"}], cols)
    assert check_rows([{"age": None, "sex": None}], cols).isna().all(axis=None)
    with pytest.raises(RequestError, match="repeats the id"): row_ids([{"k": 1}, {"k": "1"}], "k")
    with pytest.raises(RequestError, match="fields; the header has"):
        read_body(b"age,sex\n1,f,extra\n", "text/csv")
    with pytest.raises(RequestError, match="limit of 2 per request") as e:
        read_body(json.dumps({"records": [{}] * 3}).encode(), max_rows=2)
    assert e.value.status == 413


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_prediction(store):
    """The real inference log behind two workers: every row the server answered is in the log after the whole
    server (master and workers) is killed with SIGKILL mid-load, and the log compacts cleanly afterwards."""
    import signal, threading
    from mlops_workbench.inference_log import InferenceLog
    root = store["dir"] / "kill-log"
    ini = store["dir"] / "kill.ini"
    ini.write_text((store["dir"] / "settings.ini").read_text() + f"inference_log = {root}\n")
    port, url = free_port(), None
    cmd, env = serve_cmd(store, "credit", "--workers", 2, "--port", port)
    env["MLOPS_WORKBENCH_SETTINGS"] = str(ini)
    proc = subprocess.Popen(cmd, env=env, cwd=store["dir"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    acked, stop = [], threading.Event()
    try:
        t0 = time.time()
        while url is None and time.time() - t0 < 120:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    url = f"http://127.0.0.1:{port}"
            except requests.ConnectionError: time.sleep(0.3)
        assert url, "server did not come up"

        def client(n):
            s, i = requests.Session(), 0
            while not stop.is_set():
                keys = [f"w{n}-{i}-{j}" for j in range(3)]
                recs = [dict(r, key=k) for r, k in zip(records(store, 3), keys)]
                try: r = s.post(url + "/predict", json={"records": recs, "key": "key"}, timeout=10)
                except requests.RequestException: return
                if r.status_code == 200: acked.extend(r.json()["row_ids"])
                i += 1
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads: t.start()
        time.sleep(4)
        os.killpg(proc.pid, signal.SIGKILL)  # master and workers at once, mid-request
        stop.set()
        for t in threads: t.join(15)
    finally:
        try: os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        proc.wait(10)
    assert len(acked) > 30, f"too little load to mean anything: {len(acked)} rows acknowledged"
    log = InferenceLog(root)
    live = log.read(source="live")
    assert set(acked) <= set(live["row_id"]), f"{len(set(acked) - set(live['row_id']))} acknowledged rows missing"
    assert live["model_version"].nunique() == 1  # one champion served the whole run
    assert log.compact() >= len(acked)
    assert set(acked) <= set(log.read(source="live", include_tail=False)["row_id"])


def test_evaluation_traffic_is_logged_apart_from_live(server, store):
    "Rows a client marks as evaluation (labels known, e.g. a hold-out) are logged with that source, never as live."
    recs = [dict(r, k=f"eval-{i}") for i, r in enumerate(records(store, 2))]
    r = requests.post(server + "/predict", json={"records": recs, "key": "k", "source": "evaluation"}, timeout=30)
    assert r.status_code == 200, r.text
    logged = log_rows(store)
    mine = logged[logged["row_id"].isin(["eval-0", "eval-1"])]
    assert sorted(mine.loc[mine["source"] != "shadow", "source"]) == ["evaluation", "evaluation"]
    assert "live" not in set(mine["source"])
    bad = requests.post(server + "/predict", json={"records": recs, "source": "shadow"}, timeout=30)
    assert bad.status_code == 400 and "source 'shadow' is not one a client may send" in bad.json()["error"]


def test_server_compacts_its_log_in_the_background_and_reports_the_backlog(request, store):
    "With the real inference log, answered rows reach the day-partitioned Parquet within a few polls."
    from mlops_workbench.inference_log import InferenceLog
    root = store["dir"] / "bg-log"
    ini = store["dir"] / "bg.ini"
    ini.write_text((store["dir"] / "settings.ini").read_text() + f"inference_log = {root}\n")
    port = free_port()
    cmd, env = serve_cmd(store, "credit", "--poll", 1, "--port", port)
    env["MLOPS_WORKBENCH_SETTINGS"] = str(ini)
    proc = subprocess.Popen(cmd, env=env, cwd=store["dir"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    request.addfinalizer(lambda: (proc.kill(), proc.wait(10)))
    url, t0 = f"http://127.0.0.1:{port}", time.time()
    while time.time() - t0 < 120:
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200: break
        except requests.ConnectionError: time.sleep(0.3)
    recs = [dict(r, k=f"bg-{i}") for i, r in enumerate(records(store, 4))]
    assert requests.post(url + "/predict", json={"records": recs, "key": "k"}, timeout=30).status_code == 200
    log, deadline = InferenceLog(root), time.time() + 30
    while time.time() < deadline:
        compacted = log.read(include_tail=False)
        if {f"bg-{i}" for i in range(4)} <= set(compacted["row_id"]): break
        time.sleep(0.5)
    else:
        pytest.fail("the server did not compact its log within 30 s")
    metrics = requests.get(url + "/metrics", timeout=10).text
    assert "mlops_workbench_log_backlog_bytes 0.0" in metrics
    assert requests.get(url + "/health", timeout=10).json()["log_error"] is None
