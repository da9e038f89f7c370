"""Prometheus and Alertmanager for real. The rules come from `mlops-workbench monitor rules` (generated from
[monitor]); `promtool test rules` checks them on synthetic series, the 7-day window of the feature-shift rule
included. The live test runs Debian's `prometheus` and `prometheus-alertmanager` on free 127.0.0.1 ports with a
short-window copy of the rules (the same generator, with short windows in [monitor]), sends normal then drifted
traffic to the real served model, and follows the alert from inactive to firing, to the workbench's receiver, to
`schedule run-due` starting the retraining job. Every process is stopped on success and failure.

Without the binaries (install them with tools/install_prometheus.sh) these tests skip, except under CI=true,
where they fail."""
import json, os, shutil, subprocess, sys, time
from pathlib import Path
import nbformat
import pytest
import requests
from conftest import credit_workspace, cli

BIN = Path(sys.executable).parent


def need(*binaries) -> dict:
    "The paths of `binaries`; a missing one skips the test, or fails it under CI=true."
    found = {b: shutil.which(b) for b in binaries}
    missing = [b for b, p in found.items() if p is None]
    if missing:
        msg = f"{', '.join(missing)} not installed; run tools/install_prometheus.sh (as root)"
        if os.environ.get("CI", "").lower() == "true": pytest.fail(msg)
        pytest.skip(msg)
    return found


# --- promtool test rules on the generated rules --------------------------------------------------------------
SERIES = "{job=\"mwb\", instance=\"s:8000\", column=\"%s\"}"
PROMTOOL_LONG = {  # evaluated every 10 minutes: 7 days of 1-minute evaluations take promtool ten times longer
    "rule_files": ["rules.yml"],
    "evaluation_interval": "10m",
    "tests": [
        {   # the long windows: 7 days of 'age' at 35 (std 10), then 45; 'credit_amount' never moves
            "interval": "10m",
            "input_series": [
                {"series": "mlops_workbench_input_mean" + SERIES % "age", "values": "35x1008 45x30"},
                {"series": "mlops_workbench_input_std" + SERIES % "age", "values": "10x1040"},
                {"series": "mlops_workbench_input_mean" + SERIES % "credit_amount", "values": "3000x1040"},
                {"series": "mlops_workbench_input_std" + SERIES % "credit_amount", "values": "1000x1040"},
            ],
            "alert_rule_test": [
                {"eval_time": "7d", "alertname": "feature_shift", "exp_alerts": []},
                # the shift holds from 7d10m: still pending 2h later, firing once it held for 2h
                {"eval_time": "7d2h", "alertname": "feature_shift", "exp_alerts": []},
                {"eval_time": "7d2h20m", "alertname": "feature_shift", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "job": "mwb", "instance": "s:8000", "column": "age"},
                     "exp_annotations": {"summary": "the 1h mean of age moved from its 7d mean", "threshold": "0.1"}}]},
            ],
        },
    ],
}
PROMTOOL_SHORT = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {   # the monitor's signals: the third sample crosses each threshold
            "interval": "1m",
            "input_series": [
                {"series": 'mlops_workbench_monitor_drifted_column_share{monitor="credit"}', "values": "0.1 0.29 0.4"},
                {"series": 'mlops_workbench_monitor_performance{monitor="credit", metric="roc_auc"}',
                 "values": "0.80 0.76 0.70"},
                {"series": 'mlops_workbench_monitor_reference{monitor="credit", metric="roc_auc"}', "values": "0.8x2"},
                {"series": 'mlops_workbench_monitor_estimated{monitor="credit", metric="roc_auc"}',
                 "values": "0.80 0.80 0.79"},
                {"series": 'mlops_workbench_monitor_performance{monitor="bikes", metric="rmse"}', "values": "10 10 10.5"},
                {"series": 'mlops_workbench_monitor_reference{monitor="bikes", metric="rmse"}', "values": "10x2"},
                {"series": 'mlops_workbench_monitor_performance{monitor="cars", metric="rmse"}', "values": "10 9 8"},
                {"series": 'mlops_workbench_monitor_reference{monitor="cars", metric="rmse"}', "values": "10x2"},
                {"series": 'mlops_workbench_monitor_fairness{monitor="credit", column="sex", '
                           'metric="demographic_parity_difference"}', "values": "0.05 0.1 0.12"},
                {"series": 'mlops_workbench_monitor_fairness{monitor="credit", column="sex", '
                           'metric="demographic_parity_ratio"}', "values": "0.95 0.9 0.85"},
                {"series": 'mlops_workbench_monitor_data_quality{monitor="credit", signal="unseen_share"}',
                 "values": "0 0.05 0.2"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": name, "exp_alerts": []}
                for name in ("drift", "performance_drop", "estimated_drop", "fairness_gap", "data_quality")
            ] + [
                {"eval_time": "2m", "alertname": "drift", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "monitor": "credit"},
                     "exp_annotations": {"summary": "monitor credit: the share of drifted columns reached the threshold",
                                         "threshold": "0.3"}}]},
                {"eval_time": "2m", "alertname": "performance_drop", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "monitor": m, "metric": metric},
                     "exp_annotations": {"summary": f"realised {metric} fell behind the reference", "threshold": "0.05"}}
                    for m, metric in (("credit", "roc_auc"), ("bikes", "rmse"))]},   # 'cars' improved: no alert
                {"eval_time": "2m", "alertname": "estimated_drop", "exp_alerts": []},  # 0.79 is within 0.05
                {"eval_time": "2m", "alertname": "fairness_gap", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "monitor": "credit", "column": "sex", "metric": metric},
                     "exp_annotations": {"summary": f"{metric} over sex is past the gap", "threshold": "0.1"}}
                    for metric in ("demographic_parity_difference", "demographic_parity_ratio")]},
                {"eval_time": "2m", "alertname": "data_quality", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "monitor": "credit", "signal": "unseen_share"},
                     "exp_annotations": {"summary": "unseen_share is too high", "threshold": "0.05"}}]},
            ],
        },
        {   # the server's own metrics: 1 answer in 11 is a 500, and half the answers take over 0.5 s
            "interval": "1m",
            "input_series": [
                {"series": 'mlops_workbench_requests_total{job="mwb", instance="s:8000", status="200"}',
                 "values": "0+100x30"},
                {"series": 'mlops_workbench_requests_total{job="mwb", instance="s:8000", status="500"}',
                 "values": "0+10x30"},
                {"series": 'mlops_workbench_request_seconds_bucket{job="mwb", instance="s:8000", le="0.5"}',
                 "values": "0+55x30"},
                {"series": 'mlops_workbench_request_seconds_bucket{job="mwb", instance="s:8000", le="2.5"}',
                 "values": "0+110x30"},
                {"series": 'mlops_workbench_request_seconds_bucket{job="mwb", instance="s:8000", le="+Inf"}',
                 "values": "0+110x30"},
            ],
            "alert_rule_test": [{"eval_time": "4m", "alertname": "error_rate", "exp_alerts": []}] + [  # for: 5m
                {"eval_time": "10m", "alertname": name, "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "job": "mwb", "instance": "s:8000"},
                     "exp_annotations": {"summary": summary, "threshold": threshold}}]}
                for name, summary, threshold in (("error_rate", "too many answers are server errors", "0.05"),
                                                 ("latency_p99", "the 99th percentile answer time is too long", "1"))
            ],
        },
    ],
}


def _promtool_test(promtool: str, folder: Path):
    import yaml
    (folder / "long.yml").write_text(yaml.safe_dump(PROMTOOL_LONG, sort_keys=False))
    (folder / "short.yml").write_text(yaml.safe_dump(PROMTOOL_SHORT, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", "long.yml", "short.yml"], cwd=folder, capture_output=True,
                          text=True, timeout=300)


def test_promtool_passes_the_generated_rules_on_synthetic_series(workspace):
    tools = need("promtool")
    r = cli("monitor", "rules", "--out", workspace / "rules.yml", cwd=workspace)
    assert r.returncode == 0, r.stderr
    check = subprocess.run([tools["promtool"], "check", "rules", "rules.yml"], cwd=workspace, capture_output=True,
                           text=True)
    assert check.returncode == 0 and "SUCCESS: 10 rules found" in check.stdout, check.stdout + check.stderr
    t = _promtool_test(tools["promtool"], workspace)
    assert t.returncode == 0, t.stdout + t.stderr


def test_promtool_fails_rules_whose_thresholds_do_not_hold(workspace):
    "The same tests against rules generated with another drift threshold: promtool must catch the difference."
    tools = need("promtool")
    (workspace / "settings.ini").write_text("[workbench]\ntracking_uri = sqlite:///mlflow.db\n"
                                            "[monitor]\ndrift_share = 0.5\n")
    assert cli("monitor", "rules", "--out", workspace / "rules.yml", cwd=workspace).returncode == 0
    t = _promtool_test(tools["promtool"], workspace)
    assert t.returncode != 0 and "alertname: drift" in t.stdout + t.stderr, t.stdout + t.stderr


def test_configs_with_token_files_pass_promtool_and_amtool(tmp_path):
    "A server started with --token and a receiver with a token: the generated configs name the token files."
    import yaml
    from mlops_workbench.config import MonitorSettings
    from mlops_workbench.prometheus import write_config
    tools = need("promtool", "amtool")
    for name in ("serve.token", "receiver.token"): (tmp_path / name).write_text("s3cret\n")
    files = write_config(tmp_path, ["127.0.0.1:8000"], "http://127.0.0.1:9095/alerts", settings=MonitorSettings(),
                         server_token_file=tmp_path / "serve.token", receiver_token_file=tmp_path / "receiver.token")
    prom = subprocess.run([tools["promtool"], "check", "config", files["prometheus"]], capture_output=True, text=True)
    assert prom.returncode == 0, prom.stdout + prom.stderr
    am = subprocess.run([tools["amtool"], "check-config", files["alertmanager"]], capture_output=True, text=True)
    assert am.returncode == 0, am.stdout + am.stderr
    scrape = yaml.safe_load(files["prometheus"].read_text())["scrape_configs"][0]
    assert scrape["authorization"]["credentials_file"] == str(tmp_path / "serve.token")
    (tmp_path / "bad.yml").write_text(files["prometheus"].read_text().replace("credentials_file", "credential_file"))
    assert subprocess.run([tools["promtool"], "check", "config", tmp_path / "bad.yml"], capture_output=True).returncode


# --- the whole loop, live ------------------------------------------------------------------------------------
SHORT_MONITOR = """
[monitor]
feature_shift = 1
feature_shift_short = 6s
feature_shift_long = 3m
feature_shift_for = 2s
rolling_rows = 60
[schedule:monitor]
notebook = monitor.ipynb
cron = 0 0 1 1 *
on_alert = retrain
[schedule:retrain]
notebook = retrain.ipynb
cron = 0 0 1 1 *
enabled = false
"""


def _notebook(path: Path, code: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("note: str = ''", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, probe, timeout: float, procs: dict, every: float = 0.5):
    "Call `probe` until it returns something truthy; fail naming `what` (and any process that died)."
    t0 = time.time()
    while time.time() - t0 < timeout:
        for name, p in procs.items():
            if p.poll() is not None: pytest.fail(f"{name} exited {p.returncode} while waiting for {what}")
        try:
            if (got := probe()) is not None and got is not False:
                print(f"{what}: {time.time() - t0:.1f} s")
                return got
        except requests.RequestException: pass
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _rule_state(prom: str, name: str) -> str | None:
    "The state ('inactive', 'pending' or 'firing') of alerting rule `name` in Prometheus' HTTP API."
    groups = requests.get(f"{prom}/api/v1/rules", timeout=5).json()["data"]["groups"]
    return next((r["state"] for g in groups for r in g["rules"] if r["name"] == name), None)


SERVE_TOKEN, RECEIVER_TOKEN = "serve-s3cret", "receiver-s3cret"  # the live loop runs with authentication on
AUTH = {"Authorization": f"Bearer {SERVE_TOKEN}"}


def _send(url: str, rows: list):
    r = requests.post(f"{url}/predict", json={"records": rows}, headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.slow
def test_drift_fires_in_prometheus_reaches_the_receiver_and_retrains(request, tmp_path, template_db):
    tools = need("prometheus", "prometheus-alertmanager")
    procs, every_proc = {}, []   # the long-running ones (must stay up), and all, for the finalizer

    def stop_all():
        for p in every_proc:
            if p.poll() is None: p.terminate()
        for p in every_proc:
            try: p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
    request.addfinalizer(stop_all)

    def start(name, cmd, **kw):
        with open(tmp_path / f"{name}.log", "w") as log:
            p = subprocess.Popen([str(c) for c in cmd], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, **kw)
        every_proc.append(p)
        procs[name] = p
        return p

    with credit_workspace(tmp_path, template_db, SHORT_MONITOR) as (df, _):
        env = {**os.environ, "MLOPS_WORKBENCH_SETTINGS": str(tmp_path / "settings.ini")}
        _notebook(tmp_path / "monitor.ipynb", "print('monitor pass')")
        _notebook(tmp_path / "retrain.ipynb", "from mlops_workbench.runner import output_dir\n"
                                              "(output_dir() / 'retrained.txt').write_text('retrained')")
        # the monitor job's first (cron) run happens while the servers start, so the pass after the alert
        # has only the alert to answer
        first = start("first-pass", [BIN / "mlops-workbench", "schedule", "run-due"], env=env)
        del procs["first-pass"]
        serve, rx, am, prom = (_free_port() for _ in range(4))
        start("server", [BIN / "mlops-workbench", "serve", "credit", "--port", serve, "--no-log", "--poll", 300],
              env={**env, "MLOPS_WORKBENCH_SERVE_TOKEN": SERVE_TOKEN})
        start("receiver", [BIN / "mlops-workbench", "monitor", "receive", "--port", rx, "--token", RECEIVER_TOKEN],
              env=env)
        for name, token in (("serve.token", SERVE_TOKEN), ("receiver.token", RECEIVER_TOKEN)):
            (tmp_path / name).write_text(token + "\n")
        r = cli("monitor", "config", tmp_path / "prom", "--target", f"127.0.0.1:{serve}", "--receiver",
                f"http://127.0.0.1:{rx}/alerts", "--alertmanager", f"127.0.0.1:{am}", "--interval", "1s",
                "--group-wait", "1s", "--server-token-file", tmp_path / "serve.token",
                "--receiver-token-file", tmp_path / "receiver.token", cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr
        start("alertmanager", [tools["prometheus-alertmanager"], "--config.file", tmp_path / "prom/alertmanager.yml",
                               "--storage.path", tmp_path / "am-data", "--web.listen-address", f"127.0.0.1:{am}",
                               "--cluster.listen-address", ""])
        start("prometheus", [tools["prometheus"], "--config.file", tmp_path / "prom/prometheus.yml",
                             "--storage.tsdb.path", tmp_path / "prom-data", "--web.listen-address", f"127.0.0.1:{prom}"])
        url, prom_url = f"http://127.0.0.1:{serve}", f"http://127.0.0.1:{prom}"
        _wait("the model server", lambda: requests.get(url + "/health", headers=AUTH, timeout=2).ok, 120, procs)
        rx_auth = {"Authorization": f"Bearer {RECEIVER_TOKEN}"}
        _wait("the receiver", lambda: requests.get(f"http://127.0.0.1:{rx}/health", headers=rx_auth, timeout=2).ok,
              60, procs)
        assert requests.get(f"http://127.0.0.1:{rx}/health", timeout=2).status_code == 401  # no token: refused
        assert requests.get(url + "/metrics", timeout=2).status_code == 401  # Prometheus gets in with its token file

        X = json.loads(df.drop(columns="risk").to_json(orient="records"))
        normal = lambda i: [X[(i * 20 + k) % len(X)] for k in range(20)]
        i = 0
        def scraped():
            nonlocal i
            _send(url, normal(i))
            i += 1
            q = requests.get(f"{prom_url}/api/v1/query", params={"query": "mlops_workbench_input_mean"}, timeout=5)
            return len(q.json()["data"]["result"]) >= 4 and _rule_state(prom_url, "feature_shift") == "inactive"
        _wait("Prometheus to scrape the inputs, feature_shift inactive", scraped, 60, procs, every=0.25)
        for _ in range(16):                       # a few seconds more of normal traffic: still inactive
            _send(url, normal(i))
            i += 1
            time.sleep(0.25)
        assert _rule_state(prom_url, "feature_shift") == "inactive"

        def drifted():
            nonlocal i
            _send(url, [dict(r, age=r["age"] + 60) for r in normal(i)])
            i += 1
            return _rule_state(prom_url, "feature_shift") == "firing"
        _wait("feature_shift to fire", drifted, 60, procs, every=0.25)
        alerts = requests.get(f"{prom_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        assert {a["labels"].get("column") for a in alerts if a["labels"]["alertname"] == "feature_shift"} == {"age"}

        from mlops_workbench.alerts import read_alerts
        def recorded():
            a = read_alerts()
            return a if len(a.query("rule == 'feature_shift' and status == 'firing'")) else None
        got = _wait("the receiver to record the alert", recorded, 60, procs)
        assert got.query("rule == 'feature_shift'").key.tolist() == ["prometheus:feature_shift:column=age,"
                                                                       f"instance=127.0.0.1:{serve},job=mlops-workbench"]

        assert first.wait(120) == 0, (tmp_path / "first-pass.log").read_text()
        assert not (tmp_path / "runs/.schedule/retrain.json").exists()  # nothing to answer before the alert
        t0 = time.time()
        r = cli("schedule", "run-due", cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        print(f"schedule run-due: {time.time() - t0:.1f} s")
        state = json.loads((tmp_path / "runs/.schedule/retrain.json").read_text())
        assert state["status"] == "FINISHED" and state["trigger"].startswith("alert:prometheus:"), state
        assert (Path(state["run_dir"]) / "retrained.txt").read_text() == "retrained"
        rec = next(json.loads(f.read_text()) for f in (tmp_path / "runs/alerts/records").glob("*feature_shift*"))
        assert rec["handled"]["retrain"]["status"] == "FINISHED"
        from mlops_workbench.schedule import run_due
        assert run_due() == []  # the episode is answered: the next pass does not retrain again
