"""registry: the gate's rules and messages, promotion and loading through aliases, champion/challenger
on the same hold-out, against the embedded SQLite store and a real `mlflow server` on 127.0.0.1."""
import json, shutil, socket, subprocess, sys, time, urllib.request
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from mlops_workbench import datasets
from mlops_workbench.core import ConfigError, TrackingError
from mlops_workbench.models import compare
from mlops_workbench.registry import (GateError, RegistryError, challenge, champion_version, gate, load_champion,
                                      promote)


def settings(tmp_path, monkeypatch, uri, gate_rules=""):
    ini = tmp_path / "settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = {uri}\nartifacts_dir = {tmp_path}/artifacts\n" + gate_rules)
    monkeypatch.setenv("MLOPS_WORKBENCH_SETTINGS", str(ini))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path, monkeypatch, template_db):
    shutil.copy(template_db, tmp_path / "mlflow.db")
    settings(tmp_path, monkeypatch, f"sqlite:///{tmp_path}/mlflow.db", "[gate]\nroc_auc = >= 0.7\n")
    return tmp_path


@pytest.fixture(scope="module")
def split():
    df = datasets.load("german_credit")
    return train_test_split(df.drop(columns="risk"), df["risk"], test_size=0.3, stratify=df["risk"], random_state=0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- gate ------------------------------------------------------------------------------------------

def test_gate_rules_values_and_reasons():
    d = gate({"roc_auc": 0.81, "demographic_parity_difference": 0.14, "rmse": float("nan")},
             rules={"roc_auc": ">= 0.75", "demographic_parity_difference": "<= 0.1", "rmse": "< 3"}, track=False)
    f = d.to_frame()
    assert not d.passed and not bool(d)
    assert f["passed"].to_dict() == {"roc_auc": True, "demographic_parity_difference": False, "rmse": False}
    assert f.loc["roc_auc", "value"] == 0.81 and f.loc["roc_auc", "reason"] == "0.81 >= 0.75"
    assert f.loc["demographic_parity_difference", "reason"] == "0.14 <= 0.1 is false"
    assert f.loc["rmse", "reason"] == "value nan is not a number"
    assert d.failed == ["demographic_parity_difference", "rmse"]
    assert "FAILED" in repr(d) and json.dumps(d.to_dict())
    assert gate({"roc_auc": 0.75}, rules={"roc_auc": ">= 0.75"}, track=False).passed
    assert not gate({"roc_auc": 0.75}, rules={"roc_auc": "> 0.75"}, track=False).passed


def test_gate_refuses_a_rule_no_result_measures():
    "A rule on a metric none of the results gives stops the gate, naming the rule and what is there."
    with pytest.raises(GateError, match=r"rule 'recall' \('> \.5'\) names a metric none of the results gives; "
                                        r"available: 'demographic_parity_difference', 'roc_auc'"):
        gate({"roc_auc": 0.81}, {"demographic_parity_difference": 0.1},
             rules={"roc_auc": ">= 0.75", "recall": "> .5"}, track=False)
    with pytest.raises(GateError, match="available: none"):
        gate(rules={"roc_auc": ">= 0.75"}, track=False)


def test_gate_composes_results_and_refuses_conflicts():
    class Audit:
        def to_metrics(self): return {"demographic_parity_difference": 0.05}
    d = gate({"roc_auc": 0.8}, Audit(), rules={"roc_auc": ">= 0.7", "demographic_parity_difference": "<= 0.1"},
             track=False)
    assert d.passed and d.to_frame()["source"].to_dict() == {"roc_auc": "dict", "demographic_parity_difference": "Audit"}
    with pytest.raises(GateError, match=r"metric 'roc_auc' is given by dict \(0.8\) and by dict \(0.7\)"):
        gate({"roc_auc": 0.8}, {"roc_auc": 0.7}, rules={"roc_auc": ">= 0.5"}, track=False)
    assert gate({"roc_auc": 0.8}, {"roc_auc": 0.8}, rules={"roc_auc": ">= 0.5"}, track=False).passed  # same value


def test_gate_composes_the_real_results_of_evaluation_fairness_and_drift(split):
    "gate(evaluation, audit, drift_report, rules=...) as lesson 9 uses it, from the installed package."
    from sklearn.linear_model import LogisticRegression
    from mlops_workbench.drift import detect
    from mlops_workbench.evaluation import evaluate
    from mlops_workbench.fairness import audit_model
    from mlops_workbench.frames import preprocessor
    from sklearn.pipeline import make_pipeline
    X_tr, X_te, y_tr, y_te = split
    model = make_pipeline(preprocessor(X_tr), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    evaluation = evaluate(model, X_te, y_te, metrics=["roc_auc", "accuracy"], track=False)
    audit = audit_model(model, X_te, y_te, "sex", min_group_size=20, n_boot=0)
    drift_report = detect(X_tr, X_te)
    rules = {"roc_auc": ">= 0.6", "demographic_parity_difference": "<= 0.5", "drifted_column_share": "<= 0.5"}
    d = gate(evaluation, audit, drift_report, rules=rules, track=False)
    f = d.to_frame()
    assert f["source"].to_dict() == {"roc_auc": "Evaluation", "demographic_parity_difference": "FairnessReport",
                                     "drifted_column_share": "DriftReport"}
    assert f.loc["roc_auc", "value"] == pytest.approx(evaluation.to_metrics()["roc_auc"])
    assert f.loc["demographic_parity_difference", "value"] == pytest.approx(
        audit.to_metrics()["demographic_parity_difference"])
    assert f.loc["drifted_column_share", "value"] == pytest.approx(drift_report.share_drifted)
    assert d.passed == all(f["passed"])
    # a rule that none of these results measures stops the gate and names what they do measure
    with pytest.raises(GateError, match=r"rule 'r2' \('>= 0.5'\) names a metric none of the results gives; "
                                        r"available: .*'dataset_drift'.*'demographic_parity_difference'.*'roc_auc'"):
        gate(evaluation, audit, drift_report, rules={**rules, "r2": ">= 0.5"}, track=False)
    # and a fairness rule with no fairness audit
    with pytest.raises(GateError, match="rule 'demographic_parity_difference'"):
        gate(evaluation, drift_report, rules=rules, track=False)


def test_gate_rules_passed_second_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match="passing the rules second is deprecated"):
        d = gate({"roc_auc": 0.8}, {"roc_auc": ">= 0.7"}, track=False)
    assert d.passed


def test_gate_bad_rules():
    with pytest.raises(ConfigError, match=r"rules\['roc_auc'\]: 'high' is not a rule; write an operator"):
        gate({"roc_auc": 0.8}, rules={"roc_auc": "high"}, track=False)
    with pytest.raises(ValueError, match="metrics: list is not a mapping"):
        gate([0.8], rules={"roc_auc": ">= 0.7"}, track=False)
    with pytest.raises(GateError, match="rules: metric 'roc_acu' is not in the vocabulary; did you mean"):
        gate({"roc_auc": 0.8}, rules={"roc_acu": ">= 0.7"}, track=False)


def test_gate_rules_from_settings_and_html_escaping(store):
    assert gate({"roc_auc": 0.71}, track=False).passed
    assert not gate({"roc_auc": 0.69}, track=False).passed
    html = gate({"roc_auc": 0.9}, rules={"roc_auc": ">= 0"}, track=False)._repr_html_()
    assert "<td>roc_auc</td>" in html and "PASSED" in html


def test_gate_without_any_rules(tmp_path, monkeypatch):
    settings(tmp_path, monkeypatch, f"sqlite:///{tmp_path}/mlflow.db")
    with pytest.raises(ValueError, match=r"no rules given and settings.ini has no \[gate\] section"):
        gate({"roc_auc": 0.8}, track=False)


def test_gate_decision_is_logged(store):
    import mlflow
    d = gate({"roc_auc": 0.65}, rules={"roc_auc": ">= 0.7"})
    run = mlflow.get_run(d.run_id)
    assert run.data.tags["mlops_workbench.gate"] == "failed" and run.data.metrics["gate_passed"] == 0.0
    logged = mlflow.artifacts.load_dict(f"runs:/{d.run_id}/gate/decision.json")
    assert logged["passed"] is False and logged["checks"][0]["reason"] == "0.65 >= 0.7 is false"


# ---- promote / load / champion-challenger on SQLite ------------------------------------------------

def run_registry_flow(split):
    "compare -> promote -> load_champion -> challenge, returning what the tests check."
    X_tr, X_te, y_tr, y_te = split
    lb = compare(X_tr, y_tr, models="nb,lr,dt", cv=3, n_jobs=1)
    mv = promote(lb.run_ids["dt"], "credit")  # a weak first champion
    champ = load_champion("credit")
    np.testing.assert_array_equal(champ.predict_proba(X_te), lb.estimator("dt").predict_proba(X_te))
    res = challenge(lb.run_ids["lr"], "credit", X_te, y_te, metric="roc_auc", rules={"roc_auc": ">= 0.6"})
    return lb, mv, res


@pytest.mark.slow
def test_promote_load_and_challenge_sqlite(store, split):
    import mlflow
    X_tr, X_te, y_tr, y_te = split
    lb, mv, res = run_registry_flow(split)
    assert (mv.name, int(mv.version)) == ("credit", 1)
    auc = {n: roc_auc_score(y_te, lb.estimator(n).predict_proba(X_te)[:, 1]) for n in ("lr", "dt")}
    assert res.challenger == pytest.approx(auc["lr"]) and res.champion == pytest.approx(auc["dt"])
    assert auc["lr"] > auc["dt"] and res.promoted and int(res.version) == 2
    assert int(champion_version("credit").version) == 2
    np.testing.assert_array_equal(load_champion("credit").predict(X_te), lb.estimator("lr").predict(X_te))
    tags = mlflow.get_run(lb.run_ids["lr"]).data.tags
    assert tags["mlops_workbench.challenge"] == "passed" and tags["mlops_workbench.gate"] == "passed"
    # the old champion challenges back: it passes the gate but loses on the same hold-out
    back = challenge(lb.run_ids["dt"], "credit", X_te, y_te, metric="roc_auc", rules={"roc_auc": ">= 0.5"})
    assert back.gate.passed and not back.promoted and "does not beat" in back.reason
    # an equal score is not an improvement
    same = challenge(lb.run_ids["lr"], "credit", X_te, y_te, metric="roc_auc", rules={"roc_auc": ">= 0.5"})
    assert not same.promoted
    # a challenger failing the gate is never promoted, however good
    strict = challenge(lb.run_ids["nb"], "credit", X_te, y_te, rules={"roc_auc": ">= 0.99"})
    assert not strict.promoted and strict.reason == "the challenger failed the gate"
    assert int(champion_version("credit").version) == 2


def test_first_challenger_becomes_champion_and_extra_metrics_are_gated(store, split):
    X_tr, X_te, y_tr, y_te = split
    lb = compare(X_tr, y_tr, models="lr", cv=3, n_jobs=1)
    rules = {"roc_auc": ">= 0.5", "demographic_parity_difference": "<= 0.1"}
    res = challenge(lb.run_ids["lr"], "fresh", X_te, y_te, {"demographic_parity_difference": 0.3}, rules=rules)
    assert not res.promoted and res.gate.failed == ["demographic_parity_difference"] and champion_version("fresh") is None
    with pytest.warns(DeprecationWarning, match=r"challenge\(extra=\.\.\.\) is deprecated"):
        res = challenge(lb.run_ids["lr"], "fresh", X_te, y_te, rules=rules, extra={"demographic_parity_difference": 0.3})
    assert not res.promoted and res.gate.failed == ["demographic_parity_difference"]
    with pytest.raises(GateError, match="rule 'demographic_parity_difference' .* names a metric none of the results"):
        challenge(lb.run_ids["lr"], "fresh", X_te, y_te, rules=rules)
    assert champion_version("fresh") is None
    res = challenge(lb.run_ids["lr"], "fresh", X_te, y_te, rules={"roc_auc": ">= 0.5"})
    assert res.promoted and res.champion is None and res.reason.startswith("no champion yet")


def test_registry_errors(store, split):
    X_tr, X_te, y_tr, y_te = split
    with pytest.raises(RegistryError, match="no model is registered as 'nothing'@champion; promote one"):
        load_champion("nothing")
    with pytest.raises(RegistryError, match="run_id: no run 'abc' in the tracking store"):
        promote("abc", "credit")
    lb = compare(X_tr, y_tr, models="nb", cv=3, n_jobs=1)
    failed = gate({"roc_auc": 0.5}, rules={"roc_auc": ">= 0.7"}, track=False)
    with pytest.raises(GateError, match=r"failed its gate \(roc_auc\); it is not promoted to 'credit'@champion"):
        promote(lb.run_ids["nb"], "credit", decision=failed)
    with pytest.raises(RegistryError, match="has no logged model"):
        promote(lb.run_id, "credit")  # the parent run holds no model


def test_unreachable_tracking_server_fails_within_seconds(tmp_path, monkeypatch):
    settings(tmp_path, monkeypatch, f"http://127.0.0.1:{free_port()}")
    for call in (lambda: load_champion("credit"), lambda: promote("0" * 32, "credit"),
                 lambda: gate({"roc_auc": 0.8}, rules={"roc_auc": ">= 0.7"})):
        t = time.perf_counter()
        with pytest.raises(TrackingError, match="did not answer"):
            call()
        assert time.perf_counter() - t < 10


# ---- a real `mlflow server` ------------------------------------------------------------------------

@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
                             "--artifacts-destination", str(tmp_path / "server-artifacts")],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None: pytest.fail((tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 120 s")
        yield url
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


@pytest.mark.slow
def test_promote_load_and_challenge_on_a_real_server(mlflow_server, tmp_path, monkeypatch, split):
    import mlflow
    settings(tmp_path, monkeypatch, mlflow_server)
    lb, mv, res = run_registry_flow(split)
    assert mlflow.get_tracking_uri() == mlflow_server
    assert res.promoted and int(champion_version("credit").version) == 2
    X_te = split[1]
    np.testing.assert_array_equal(load_champion("credit").predict(X_te), lb.estimator("lr").predict(X_te))
    assert not (tmp_path / "mlruns").exists() and (tmp_path / "server-artifacts").exists()


# ---- model files from elsewhere ------------------------------------------------------------------

def test_load_model_file_refused_unless_trusted(tmp_path):
    "From the installed package: a loose pickle is refused by default and loaded with trusted=True."
    import joblib
    from sklearn.linear_model import LogisticRegression
    from mlops_workbench.registry import load_model_file
    X, y = np.arange(20.0).reshape(-1, 1), np.r_[np.zeros(10), np.ones(10)]
    path = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression().fit(X, y), path)
    with pytest.raises(RegistryError, match="unpickling runs any code its author put in it"):
        load_model_file(path)
    with pytest.raises(RegistryError, match="unpickling runs any code"):
        load_model_file(str(path), trusted=False)
    model = load_model_file(str(path), trusted=True)
    np.testing.assert_array_equal(model.predict(X), y)
    with pytest.raises(RegistryError, match="does not exist; check the path"):
        load_model_file(tmp_path / "missing.pkl", trusted=True)
