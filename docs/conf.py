# Sphinx configuration for the mlops-workbench site. Build it with `bash tools/build_docs.sh`, which
# stages the notebooks of nbs/ (docs/stage.py) and runs sphinx-build with this folder as -c.
import os
import mlops_workbench

project = "mlops-workbench"
author = "mlops-workbench developers"
copyright = "mlops-workbench developers, Apache-2.0"
release = version = mlops_workbench.__version__

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
suppress_warnings = ["myst.header"]  # show_doc outputs start at ### inside a page's ## sections

# MyST: `{target=... style=...}` after a link is how nbdev's show_doc marks its [source] link.
myst_enable_extensions = ["attrs_inline", "colon_fence", "dollarmath"]
myst_heading_anchors = 3

# Notebooks are executed on every build (fresh outputs, like nbdev-test), with a time limit per cell
# (nbclient's timeout); tools/build_docs.sh also limits the whole build.
nb_execution_mode = os.environ.get("DOCS_EXECUTE", "force")  # force | cache | off
nb_execution_timeout = int(os.environ.get("DOCS_TIMEOUT", "180"))  # seconds per cell
nb_execution_raise_on_error = True  # a failing notebook fails the build
nb_execution_show_tb = True
nb_execution_cache_path = os.environ.get("DOCS_CACHE", "")  # set by tools/build_docs.sh
nb_merge_streams = True
nb_render_markdown_format = "myst"  # show_doc returns markdown with tables and attributes
# Widgets are drawn from the state saved at execution by ipywidgets' html-manager, served from the
# site's own _static (tools/build_docs.sh fetches it with npm): no CDN, so the site works offline.
# The drawn widgets show the state at the end of the run; only a live kernel redraws them.
# Without that JavaScript they show their text form instead.
_widgets_js = os.environ.get("DOCS_WIDGETS_JS", "")
if _widgets_js and os.path.exists(os.path.join(_widgets_js, "embed-amd.js")):
    nb_ipywidgets_js = {"require.js": {}, "embed-amd.js": {}}
else:
    _widgets_js = ""
    nb_ipywidgets_js = {}
    nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

html_theme = "furo"
html_title = f"mlops-workbench {release}"
html_static_path = [_widgets_js] if _widgets_js else []
html_favicon = "_static/favicon.svg"  # else browsers ask for /favicon.ico and log a 404
html_copy_source = False
html_show_sourcelink = False


def _report_execution(app, exc):
    "Print each notebook's execution time, slowest first, and keep them in <outdir>/../execution_times.txt."
    data = getattr(app.env, "nb_metadata", {})
    rows = sorted(((d.get("exec_data") or {}).get("runtime") or 0.0, name) for name, d in data.items())
    if not any(t for t, _ in rows): return
    text = "".join(f"{t:7.1f} s  {name}\n" for t, name in reversed(rows)) + f"{sum(t for t, _ in rows):7.1f} s  total\n"
    print("notebook execution times:\n" + text, end="")
    with open(os.path.join(os.path.dirname(app.outdir), "execution_times.txt"), "w") as f: f.write(text)


def setup(app):
    app.connect("build-finished", _report_execution)
