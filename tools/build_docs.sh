#!/usr/bin/env bash
# Build the documentation site from the notebooks: bash tools/build_docs.sh [OUTPUT_DIR]
# Output: docs/_build/html by default (git-ignored); open docs/_build/html/index.html.
# Every notebook in nbs/ (index, library modules NN_*.ipynb, lessons course/*.ipynb) is executed by
# myst-nb; a failing cell fails the build, and so does a cell running longer than $DOCS_TIMEOUT seconds
# (default 180; nbclient's limit is per cell) or a build longer than $DOCS_BUILD_TIMEOUT (default 1800).
# DOCS_EXECUTE=cache reuses outputs of unchanged notebooks between local builds; =off renders stored outputs.
# Needs sphinx, myst-nb and furo: pip install -e '.[dev]'
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(realpath -m "${1:-docs/_build/html}")
WORK=$(realpath -m "${DOCS_WORK:-$(dirname "$OUT")/.docs-work}")
PY=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && PY="$ROOT/.venv/bin/python"
"$PY" -c "import sphinx, myst_nb, furo" 2>/dev/null || {
  echo "build_docs: needs sphinx, myst-nb and furo: $PY -m pip install -e '.[dev]'" >&2; exit 1; }
mkdir -p "$WORK"
# Lessons log to MLflow: point them at a throwaway store so nothing is written into the repo.
if [ -z "${MLOPS_WORKBENCH_SETTINGS:-}" ]; then
  mkdir -p "$WORK/store"
  printf '[workbench]\ntracking_uri = sqlite:///%s/mlflow.db\nruns_dir = %s/runs\nreports_dir = %s/reports\n' \
    "$WORK/store" "$WORK/store" "$WORK/store" > "$WORK/store/settings.ini"
  export MLOPS_WORKBENCH_SETTINGS="$WORK/store/settings.ini"
fi
# The kernels draw figures as JupyterLab does (inline PNG), even when the caller set MPLBACKEND=Agg.
export MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0 DOCS_CACHE="$WORK/jupyter_cache"
# Widgets: their JavaScript (ipywidgets' html-manager and RequireJS) comes from the npm registry once,
# into a cache folder, and is served from the site itself; without npm the pages show the widgets' text form.
WIDGETS_JS=$(realpath -m "${DOCS_WIDGETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-workbench/widgets-js-1.0.15}")
if [ "${DOCS_WIDGETS:-on}" = on ] && [ ! -f "$WIDGETS_JS/embed-amd.js" ] && command -v npm >/dev/null 2>&1; then
  rm -rf "$WORK/npm" "$WIDGETS_JS.tmp" && mkdir -p "$WORK/npm/a" "$WORK/npm/b" "$WIDGETS_JS.tmp"
  if (cd "$WORK/npm" && npm pack --silent @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 >/dev/null 2>&1 \
      && tar xzf jupyter-widgets-html-manager-1.0.15.tgz -C a && tar xzf requirejs-2.3.8.tgz -C b); then
    cp -r "$WORK/npm/a/package/dist/." "$WIDGETS_JS.tmp/" && cp "$WORK/npm/b/package/require.js" "$WIDGETS_JS.tmp/"
    rm -f "$WIDGETS_JS.tmp"/*.map && mv "$WIDGETS_JS.tmp" "$WIDGETS_JS"
  else
    echo "build_docs: could not fetch the widget JavaScript with npm; widgets will show as text" >&2
  fi
  rm -rf "$WORK/npm" "$WIDGETS_JS.tmp"
fi
if [ "${DOCS_WIDGETS:-on}" = on ] && [ -f "$WIDGETS_JS/embed-amd.js" ]; then export DOCS_WIDGETS_JS="$WIDGETS_JS"; else unset DOCS_WIDGETS_JS; fi
"$PY" docs/stage.py nbs "$WORK/src"
start=$SECONDS
# Two harmless messages repeat per notebook: show_doc output opens with a rule (`---`) that docutils
# dislikes inside a cell, and ipykernel notes that its local TCP channels are not encrypted.
timeout "${DOCS_BUILD_TIMEOUT:-1800}" "$PY" -m sphinx -b html -q -j "${DOCS_JOBS:-2}" -c docs -d "$WORK/doctrees" "$WORK/src" "$OUT" \
  2> >(grep -v -e "Transition must be child of" -e "Kernel is running over TCP without encryption" >&2)
echo "build_docs: site in $OUT ($((SECONDS - start)) s); open $OUT/index.html"
