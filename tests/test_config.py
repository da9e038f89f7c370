from pathlib import Path
import pytest
from mlops_workbench.config import ENV_VAR, load_settings
from mlops_workbench.core import ConfigError


def write(p: Path, runs: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"[workbench]\nruns_dir = {runs}\n")
    return p


def test_lookup_order(tmp_path, monkeypatch):
    explicit, env, local = write(tmp_path / "a/x.ini", "A"), write(tmp_path / "b/y.ini", "B"), write(tmp_path / "c/settings.ini", "C")
    monkeypatch.chdir(local.parent)
    monkeypatch.setenv(ENV_VAR, str(env))
    assert load_settings(explicit).runs_dir == explicit.parent / "A"
    assert load_settings().runs_dir == env.parent / "B"
    monkeypatch.delenv(ENV_VAR)
    assert load_settings().runs_dir == local.parent / "C"
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.path is None and s.runs_dir == tmp_path / "runs"
    assert s.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_env_pointing_nowhere_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope.ini"))
    with pytest.raises(ConfigError, match=r"\$MLOPS_WORKBENCH_SETTINGS\) does not exist"):
        load_settings()


def test_repository_settings_are_valid():
    s = load_settings(Path(__file__).parents[1] / "settings.ini")
    assert s.gate and s.schedules
    for job in s.schedules.values():
        assert job.notebook.exists(), job


@pytest.mark.parametrize("text, message", [
    ("[workbench]\nexperiments = x\n", "[workbench] experiments: unknown key"),
    ("[gate]\nroc_auc = >= high\n", "[gate] roc_auc: '>= high' is not a rule"),
    ("[gate]\nroc_acu = >= 0.7\n", "[gate] roc_acu: unknown key; metric 'roc_acu' is not in the vocabulary; did you mean"),
    ("[schedule:x]\nnotebook = a.ipynb\ncron = 0 * * * *\nenabled = maybe\n", "[schedule:x] enabled: 'maybe' is not a boolean"),
    ("[schedule:x]\nnotebook = a.ipynb\ncron = 61 * * * *\n", "[schedule:x] cron: '61 * * * *' does not parse"),
    ("[schedule:x]\ncron = 0 * * * *\n", "[schedule:x]: 'notebook' is missing"),
    ("not an ini file\n", "not a valid INI file"),
])
def test_bad_settings_name_section_and_key(tmp_path, text, message):
    (tmp_path / "s.ini").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path / "s.ini")
    assert message in str(e.value)


def test_gate_keys_are_vocabulary_metrics_and_renamed_keys_still_read(tmp_path):
    (tmp_path / "s.ini").write_text("[gate]\nroc_auc = >= 0.7\ndrift_share = <= 0.3\nequalized_odds_ratio = >= 0.8\n")
    with pytest.warns(DeprecationWarning, match="drift_share is renamed drifted_column_share"):
        s = load_settings(tmp_path / "s.ini")
    assert s.gate == {"roc_auc": ">= 0.7", "drifted_column_share": "<= 0.3", "equalized_odds_ratio": ">= 0.8"}


@pytest.mark.parametrize("value, enabled", [("yes", True), ("off", False), ("0", False), ("TRUE", True)])
def test_schedule_enabled_reads_ini_booleans(tmp_path, value, enabled):
    (tmp_path / "s.ini").write_text(f"[schedule:x]\nnotebook = a.ipynb\ncron = 0 * * * *\nenabled = {value}\n")
    assert load_settings(tmp_path / "s.ini").schedules["x"].enabled is enabled


def test_gate_metrics_name_moved_to_the_vocabulary():
    from mlops_workbench import config
    from mlops_workbench.metrics import VOCABULARY
    with pytest.warns(DeprecationWarning, match="use mlops_workbench.metrics.VOCABULARY"):
        assert config.GATE_METRICS is VOCABULARY
