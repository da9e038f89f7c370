"""Shared fixtures: a throwaway workspace with its own settings.ini and MLflow store, and the CLI."""
import os, subprocess, sys
from contextlib import contextmanager
from pathlib import Path
import pytest
from hypothesis import settings as _hypothesis_settings

# In CI the property tests replay the same generated cases every run (derandomized), so a red CI is
# a real regression, never the luck of the draw; locally they explore new cases each time.
_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

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



@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    "An initialised, empty MLflow SQLite store: copying it saves each test MLflow's schema migrations."
    from mlops_workbench.config import load_settings
    from mlops_workbench.tracking import connect
    d = tmp_path_factory.mktemp("template")
    (d / "settings.ini").write_text(f"[workbench]\ntracking_uri = sqlite:///{d}/mlflow.db\n")
    connect(load_settings(d / "settings.ini"))  # creates and migrates the store
    return d / "mlflow.db"


@pytest.fixture
def store(tmp_path, monkeypatch, template_db):
    "A workspace in `tmp_path` (also the working folder) whose SQLite MLflow store is a copy of an initialised one."
    import shutil
    shutil.copy(template_db, tmp_path / "mlflow.db")
    (tmp_path / "settings.ini").write_text(f"[workbench]\ntracking_uri = sqlite:///{tmp_path}/mlflow.db\n"
                                           f"artifacts_dir = {tmp_path}/artifacts\n")
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


# --- counting the generated cases of the property-based tests (tests/test_properties.py) ---------
class _Cases(dict):
    "`{function: {'ok': n, 'refused': n}}` with a short repr (hypothesis prints it in failing examples)."
    def __repr__(self): return f"<{sum(v['ok'] + v['refused'] for v in self.values())} property-based calls>"
    _repr_pretty_ = lambda self, p, cycle: p.text(repr(self))

PROPERTY_CASES = _Cases()


@pytest.fixture(scope="session")
def property_cases():
    "Session-wide counts of the generated calls of tests/test_properties.py; printed at the end of the run."
    return PROPERTY_CASES


def pytest_terminal_summary(terminalreporter):
    if not PROPERTY_CASES: return
    terminalreporter.section("property-based cases (calls: succeeded / refused with WorkbenchError)")
    for k, v in sorted(PROPERTY_CASES.items()): terminalreporter.write_line(f"{v['ok']:6d} {v['refused']:6d}  {k}")
    ok, no = (sum(v[s] for v in PROPERTY_CASES.values()) for s in ("ok", "refused"))
    terminalreporter.write_line(f"{ok:6d} {no:6d}  calls in total ({ok + no}); nothing else escaped from a passing test")


@pytest.fixture
def small_fs(tmp_path):
    "A real 64 KiB tmpfs, so writes meet a genuinely full disk."
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


@contextmanager
def credit_workspace(root: Path, template_db, ini_extra: str = ""):
    """A workspace in `root` whose MLflow store holds 'credit' v1 (logistic regression on german_credit) as
    champion, with $MLOPS_WORKBENCH_SETTINGS pointing at it until the block ends. Yields `(df, leaderboard)`."""
    import shutil
    from mlops_workbench import datasets, models, registry
    shutil.copy(template_db, root / "mlflow.db")
    (root / "settings.ini").write_text(f"[workbench]\ntracking_uri = sqlite:///{root}/mlflow.db\n"
                                       f"artifacts_dir = {root}/artifacts\nruns_dir = {root}/runs\n" + ini_extra)
    old = os.environ.get("MLOPS_WORKBENCH_SETTINGS")
    os.environ["MLOPS_WORKBENCH_SETTINGS"] = str(root / "settings.ini")
    try:
        df = datasets.load("german_credit")
        lb = models.compare(df.drop(columns="risk"), df["risk"], models="lr", cv=2, n_jobs=1)
        registry.promote(lb.run_ids["lr"], "credit")
        yield df, lb
    finally:
        if old is None: os.environ.pop("MLOPS_WORKBENCH_SETTINGS", None)
        else: os.environ["MLOPS_WORKBENCH_SETTINGS"] = old


@contextmanager
def chromium_page():
    """A page of Debian's headless Chromium driven by Playwright, yielding `(page, dialogs, requests)`: the
    dialogs it raised and the URLs it fetched. Without Chromium the test fails in CI and is skipped elsewhere."""
    chromium = Path(os.environ.get("MLOPS_WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        if os.environ.get("CI"): pytest.fail(f"{chromium} is missing (bash tools/install_browser.sh)")
        pytest.skip(f"{chromium} is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    dialogs, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            yield page, dialogs, requests
        finally:
            browser.close()


@pytest.fixture(scope="session")
def dask_client():
    "A real `LocalCluster` of two worker processes (one thread each), shared by the session, closed at its end."
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="2GB", dashboard_address=":0") as lc, \
            Client(lc, set_as_default=False) as c:
        yield c
