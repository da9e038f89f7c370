#!/usr/bin/env bash
# Set up mlops-workbench in ./.venv (idempotent) and then run one job:
#   bash tools/bootstrap.sh demo   # the main job on the bundled data and the embedded MLflow store
#   bash tools/bootstrap.sh test   # every check CI runs
#   bash tools/bootstrap.sh setup  # only the environment
# Needs Python >= 3.10 with pip and venv; everything else is installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-demo}
VENV=${VENV:-$ROOT/.venv}

pick_python() {
  for p in ${PYTHON:-} python3.11 python3.12 python3.10 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv; assert sys.version_info >= (3, 10)' 2>/dev/null; then
      echo "$p"; return; fi
  done
  echo "bootstrap: no Python >= 3.10 with venv found; install one or set PYTHON=/path/to/python" >&2; exit 1
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV"
    "$(pick_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  # Reinstall only when the dependency files changed. constraints.txt keeps torch on its CPU build.
  stamp=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.mlops-workbench-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "bootstrap: installing mlops-workbench and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither" || true
    "$VENV/bin/python" -c "import mlops_workbench, sdv, mlflow, evidently, fairlearn, papermill, nbval" \
      || { echo "bootstrap: installation failed" >&2; exit 1; }
    echo "$stamp" > "$VENV/.mlops-workbench-stamp"
  fi
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlops-workbench)" >/dev/null
}

run_tests() {
  export PATH="$VENV/bin:$PATH"
  bash tools/install_browser.sh  # Debian's Chromium for the browser tests (Playwright drives it)
  bash tools/install_prometheus.sh  # Debian's Prometheus and Alertmanager for tests/test_prometheus.py
  # Tests write their MLflow store, run folders and reports into a throwaway workspace.
  WS=$(mktemp -d -t mlops-workbench-test.XXXXXX)
  printf '[workbench]\ntracking_uri = sqlite:///mlflow.db\n' > "$WS/settings.ini"
  export MLOPS_WORKBENCH_SETTINGS="$WS/settings.ini" MPLBACKEND=Agg PYTHONHASHSEED=0
  echo "bootstrap: ruff check (pyflakes rules everywhere; line length and one statement per line in notebooks and tests)"
  ruff check
  echo "bootstrap: nbdev-test over nbs/ (the library notebooks' own assertions)"
  # One process: a forked nbdev-test worker can hang at exit waiting for a joblib (loky) pool that a
  # notebook left alive, because forked workers skip the atexit hook that shuts the pool down.
  nbdev-test nbs --n-workers 0
  echo "bootstrap: pytest (package, CLI, papermill runs, docs build, browser) and nbval over the course"
  # --durations: the slowest tests are printed, so the suite's growth stays visible run by run.
  python -m pytest tests nbs/course --nbval-lax -p no:cacheprovider --durations=25 "${@}"
}

setup
case "$MODE" in
  setup) ;;
  demo) shift || true; exec "$VENV/bin/mlops-workbench" demo "$@" ;;
  test) shift || true; run_tests "$@" ;;
  *) echo "usage: bash tools/bootstrap.sh [setup|demo|test]" >&2; exit 2 ;;
esac
