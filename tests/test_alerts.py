"""Alerts for real: the [monitor] rules over a signals frame, each alert recorded once per episode in a real MLflow
store and the runs folder, a webhook on 127.0.0.1 that times out or answers 500 (the alert is kept and delivered on
a later pass, in order), bad [monitor] settings, and the scheduler's on_alert answering each episode once."""
import json, threading, time, warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import cli, mlflow_runs
from mlops_workbench import alerts
from mlops_workbench.config import load_settings
from mlops_workbench.core import ConfigError, DataError


def signals(drift: list, **extra) -> pd.DataFrame:
    "A signals frame of `len(drift)` daily windows, in the shape of MonitorReport.to_frame()."
    n = len(drift)
    return pd.DataFrame({"n_rows": 100, "n_labelled": 0, "drifted_column_share": drift, "prediction_drift": 0,
                         "missing_share": 0.0, "unseen_share": 0.0, "out_of_range_share": 0.0,
                         "performance.roc_auc": np.nan, "reference.roc_auc": 0.8, "estimated.roc_auc": 0.8, **extra},
                        index=pd.date_range("2026-05-01", periods=n, freq="D", tz="UTC", name="window"))


class Hook:
    "A webhook receiver on 127.0.0.1 whose answer (status code, delay) the test changes between passes."
    def __init__(self):
        self.got, self.code, self.delay = [], 200, 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body, delay = json.loads(self.rfile.read(int(self.headers["Content-Length"]))), hook.delay
                time.sleep(delay)
                if hook.code == 200 and delay == 0: hook.got.append(body)
                self.send_response(hook.code)
                self.end_headers()

            def log_message(self, *a): pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def settings_with(workspace, text: str):
    (workspace / "settings.ini").write_text("[workbench]\ntracking_uri = sqlite:///mlflow.db\n" + text)
    return load_settings(workspace / "settings.ini")


def test_an_episode_is_one_run_and_one_record_however_many_passes(workspace):
    s = settings_with(workspace, "[monitor]\ndrift_share = 0.3\n")
    frame = signals([0.1, 0.5, 0.6, 0.7, 0.2, 0.4])
    for end in range(1, len(frame) + 1):          # one pass per day, each over every window so far
        alerts.record(alerts.evaluate(frame.iloc[:end], s), s, name="credit")
    alerts.record(alerts.evaluate(frame, s), s, name="credit")   # and the last pass again
    recs = alerts.read_alerts(s)
    assert recs.key.tolist() == ["credit:drift", "credit:drift"]          # two episodes: days 2-4 and day 6
    assert recs.status.tolist() == ["resolved", "firing"]
    assert [w[:10] for w in recs.window] == ["2026-05-02", "2026-05-06"]
    runs = mlflow_runs(workspace).set_index("run_id").loc[recs.mlflow_run_id]
    assert runs["tags.mlops_workbench.alert"].tolist() == ["drift", "drift"]
    assert runs["tags.mlops_workbench.alert.status"].tolist() == ["resolved", "firing"]
    evidence = json.loads(sorted((workspace / "runs/alerts/records").glob("*.json"))[0].read_text())["evidence"]
    assert evidence["signals"]["drifted_column_share"] == 0.5 and list(evidence["recent"].values()) == [0.1, 0.5]


def test_a_webhook_that_times_out_or_answers_500_loses_nothing(workspace, hook):
    s = settings_with(workspace, f"[monitor]\nwebhook = {hook.url}\nwebhook_timeout = 0.5\n")
    hook.delay = 2.0                                # slower than webhook_timeout
    fired = alerts.record(alerts.evaluate(signals([0.5], unseen_share=[0.2]), s), s)
    assert len(fired) == 2
    queued = alerts.deliver(s)
    assert len(queued) == 2 and "timed out" in queued[0]["last_error"], queued
    hook.delay, hook.code = 0.0, 500
    resolved = alerts.record(alerts.evaluate(signals([0.5, 0.1], unseen_share=[0.2, 0.0]), s), s)
    assert len(resolved) == 2
    queued = alerts.deliver(s)
    assert [(q["payload"]["rule"], q["payload"]["status"]) for q in queued] == [
        ("data_quality", "firing"), ("drift", "firing"), ("data_quality", "resolved"), ("drift", "resolved")]
    assert queued[0]["last_error"] == "HTTP 500" and queued[0]["attempts"] >= 3 and hook.got == []
    hook.code = 200
    assert alerts.deliver(s) == []
    assert [(g["rule"], g["status"]) for g in hook.got] == [
        ("data_quality", "firing"), ("drift", "firing"), ("data_quality", "resolved"), ("drift", "resolved")]
    assert hook.got[1]["evidence"]["signals"]["drifted_column_share"] == 0.5
    assert alerts.deliver(s) == [] and len(hook.got) == 4      # delivered once


def test_bad_monitor_settings_are_refused_with_the_fix(workspace):
    for text, needle in [
        ("drift_shares = 0.2\n", "[monitor] drift_shares: unknown key; allowed keys are"),
        ("drift_shares = 0.2\n", "Did you mean 'drift_share'?"),
        ("fairness_gap = 2\n", "[monitor] fairness_gap: '2' is not a number between 0 and 1"),
        ("performance_drop = none\n", "[monitor] performance_drop: 'none' is not a number above 0"),
        ("feature_shift_long = a week\n", "'a week' is not a Prometheus duration"),
        ("metric = auc\n", "[monitor] metric: metric 'auc' is not in the vocabulary; did you mean 'pr_auc', 'roc_auc'?"),
        ("webhook = ftp://x\n", "[monitor] webhook: 'ftp://x' is not an http(s) URL"),
    ]:
        with pytest.raises(ConfigError) as e:
            settings_with(workspace, "[monitor]\n" + text)
        assert needle in str(e.value), (needle, str(e.value))
    r = cli("monitor", "rules", cwd=workspace)
    assert r.returncode == 1 and "webhook" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_frame_that_is_not_signals_or_misses_the_metric_is_refused(workspace):
    s = settings_with(workspace, "[monitor]\nmetric = f1\n")
    with pytest.raises(DataError, match="frame: expected the monitor's signals"):
        alerts.evaluate(signals([0.1]).reset_index(), s)
    with pytest.raises(DataError, match="no 'performance.f1' or 'estimated.f1' column"):
        alerts.evaluate(signals([0.1]), s)
    with pytest.raises(DataError, match="not an Alertmanager webhook message"):
        alerts.receive({"alerts": "firing"}, s)


def test_monitor_config_writes_what_prometheus_and_alertmanager_read(workspace):
    import yaml
    r = cli("monitor", "config", workspace / "prom", "--target", "127.0.0.1:8000", "--receiver",
            "http://127.0.0.1:9095/alerts", cwd=workspace)
    assert r.returncode == 0, r.stderr
    prom = yaml.safe_load((workspace / "prom/prometheus.yml").read_text())
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert prom["rule_files"] == [str((workspace / "prom/rules.yml").resolve())]
    am = yaml.safe_load((workspace / "prom/alertmanager.yml").read_text())
    assert am["receivers"][0]["webhook_configs"][0] == {"url": "http://127.0.0.1:9095/alerts", "send_resolved": True}


def _notebook(path, code):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("drift: float = 0.5",
                                                                   metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


MONITOR_NB = """
import pandas as pd
from mlops_workbench import alerts
frame = pd.DataFrame({"drifted_column_share": [drift]}, index=pd.DatetimeIndex([pd.Timestamp.now(tz="UTC").floor("s")]))
alerts.record(alerts.evaluate(frame))
"""


@pytest.mark.slow
@pytest.mark.parametrize("key", ["on_alert", "on_drift"])
def test_run_due_retrains_once_per_episode(workspace, key):
    "A monitor job records a drift alert with the library; the scheduler retrains once for the episode."
    _notebook(workspace / "monitor.ipynb", MONITOR_NB)
    _notebook(workspace / "retrain.ipynb", "print('retraining')")
    s = settings_with(workspace, f"[schedule:monitor]\nnotebook = monitor.ipynb\ncron = 0 0 1 1 *\n{key} = retrain\n"
                                 "[schedule:retrain]\nnotebook = retrain.ipynb\ncron = 0 0 1 1 *\nenabled = false\n")
    if key == "on_drift":
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            load_settings(workspace / "settings.ini")
        assert any("on_drift is renamed on_alert" in str(x.message) for x in w)
    r = cli("schedule", "run-due", cwd=workspace)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [x["trigger"] for x in map(lambda j: json.loads((workspace / f"runs/.schedule/{j}.json").read_text()),
                                      ["monitor", "retrain"])] == ["cron", "alert:monitor:drift"]
    if key == "on_drift": return                           # the old key: the same wiring from here on
    r = cli("schedule", "run", "monitor", cwd=workspace)   # the monitor again, still drifting: the same episode
    assert r.returncode == 0 and r.stdout.count("FINISHED") == 1, r.stdout + r.stderr   # the monitor only
    r = cli("schedule", "run-due", cwd=workspace)
    assert r.returncode == 0 and "retrain" not in r.stdout, r.stdout + r.stderr
    recs = alerts.read_alerts(s)
    assert len(recs) == 1 and recs.status[0] == "firing"
    assert json.loads(next((workspace / "runs/alerts/records").glob("*.json")).read_text())["handled"]["retrain"][
        "status"] == "FINISHED"


def test_an_unreachable_mlflow_store_leaves_nothing_half_recorded(workspace):
    import socket
    from mlops_workbench.core import TrackingError
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]            # nothing listens there once the socket closes
    (workspace / "down.ini").write_text(f"[workbench]\ntracking_uri = http://127.0.0.1:{port}\n")
    down = load_settings(workspace / "down.ini")
    frame = signals([0.5])
    with pytest.raises(TrackingError):
        alerts.record(alerts.evaluate(frame, down), down)
    assert alerts.read_alerts(down).empty
    up = settings_with(workspace, "")           # the same runs folder, a store that answers
    assert [e["key"] for e in alerts.record(alerts.evaluate(frame, up), up)] == ["monitor:drift"]
    assert alerts.record(alerts.evaluate(frame, up), up) == [] and len(alerts.read_alerts(up)) == 1


from test_monitor import served_log  # noqa: E402,F401  (the real server's log, with a shift on days 4 and 5)


@pytest.mark.slow
def test_alerts_on_monitor_check_of_a_log_written_by_the_real_server(served_log):  # noqa: F811
    from mlops_workbench import monitor
    from mlops_workbench.config import MonitorSettings
    report = monitor.check(served_log["log"], window="1D", sensitive="gender")
    check = alerts.evaluate(report.to_frame(), MonitorSettings(drift_share=0.1))   # 'age' is 1 of 9 inputs
    drift = check.to_frame().query("rule == 'drift'")
    on = drift.firing.tolist()
    assert on[4:] == [True, True], drift   # the shifted days; earlier ones may fire by chance (9 tests on 120 rows)
    starts = [str(w.date()) for w, now, before in zip(drift.window, on, [False] + on[:-1]) if now and not before]
    assert check.metric == "roc_auc" and "estimated_drop" in set(check.to_frame().rule)
    s = load_settings()                    # the served log's workspace
    events = alerts.record(check, s, name="credit")
    assert [e["window"][:10] for e in events if e["rule"] == "drift" and e["status"] == "firing"] == starts
    assert starts[-1] == "2026-01-05" and "credit:drift" in alerts.read_alerts(s).query("status == 'firing'").key.tolist()
    assert alerts.record(check, s, name="credit") == []
    published = json.loads((s.runs_dir / "alerts/signals/credit.json").read_text())
    assert published["window"].startswith("2026-01-06") and published["metric"] == "roc_auc"
