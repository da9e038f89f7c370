"""The widgets as a learner meets them: a real JupyterLab, driven in headless Chromium by Playwright.

JupyterLab runs on 127.0.0.1 with a random port and token, in a temporary folder holding copies of
the EDA, fairness and drift lessons. Each test opens one lesson, runs all its cells from the Run menu
as a learner would, then uses the lesson's widget (a dropdown, a slider) and checks that what is
drawn on the page changed. Screenshots of every step go to
test-artifacts/browser/. The last test serves the documentation site and checks it loads cleanly.

Needs Debian's Chromium at /usr/bin/chromium (`bash tools/install_browser.sh`)
never `playwright
install`. Without it the tests skip, except under CI (CI=true), where they fail.
Run: python -m pytest tests/test_browser.py -m browser
"""
import http.server, json, os, re, secrets, shutil, socket, subprocess, sys, threading, time, urllib.request
from functools import partial
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("MLOPS_WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_TIMEOUT = 240_000  # ms for "Run All Cells" to finish on a busy 2-core machine
UPDATE_TIMEOUT = 60_000  # ms for a widget to redraw after a control moves
# The lessons opened and run whole; each shows one widget that a test then uses.
EDA_LESSON, FAIRNESS_LESSON, DRIFT_LESSON = "01_explore_and_clean.ipynb", "04_fairness_audit.ipynb", "07_drift_monitoring.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_settings(folder: Path) -> None:
    "User settings: no news or update prompts over the notebook; start the notebook's kernel without asking."
    for plugin, values in [("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
                           # windowing "none": every cell is in the DOM and drawn, so text read from a widget below
                           # the fold is its real text, not the empty string of a skipped (content-visibility) cell
                           ("notebook-extension/tracker", {"autoStartDefaultKernel": True, "windowingMode": "none"})]:
        f = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def chromium():
    "Debian's Chromium driven by Playwright, headless."
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} is missing: run `bash tools/install_browser.sh` (as root)"
        if os.environ.get("CI"): pytest.fail(msg)
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "A JupyterLab server on 127.0.0.1 with a random port and token over a temporary notebook folder."
    tmp = tmp_path_factory.mktemp("lab")
    root, store, home = tmp / "notebooks", tmp / "store", tmp / "jupyter"
    for d in (root, store, home): d.mkdir()
    for lesson in (EDA_LESSON, FAIRNESS_LESSON, DRIFT_LESSON): shutil.copy(REPO / "nbs" / "course" / lesson, root / lesson)
    (store / "settings.ini").write_text(f"[workbench]\ntracking_uri = sqlite:///{store}/mlflow.db\n"
                                        f"runs_dir = {store}/runs\nreports_dir = {store}/reports\n")
    _write_lab_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "MLOPS_WORKBENCH_SETTINGS": str(store / "settings.ini"), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "PYTHONHASHSEED": "0"}
    log = open(tmp / "jupyterlab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                             "--ServerApp.port_retries=0", "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
                             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                             *(["--allow-root"] if os.geteuid() == 0 else [])],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200: break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {tmp / 'jupyterlab.log'}:\n" + (tmp / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield dict(url=url, token=token, root=root, store=store)
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture
def page(chromium, request):
    "A fresh browser page; console errors are collected in `page.console_errors`."
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(f"{m.text} ({m.location.get('url')})"))
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.shots = []
    yield pg
    try: shot(pg, f"{request.node.name}-end")  # the last thing the page showed, pass or fail
    finally: ctx.close()


def shot(page, name: str, target=None, full_page: bool = False) -> Path:
    "Screenshot the page (with `target` scrolled into view) into test-artifacts/browser/."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if target is not None: target.scroll_into_view_if_needed()
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    page.shots.append(path)
    return path


def open_notebook(page, lab, name: str) -> None:
    "Open `name` in JupyterLab and wait until its kernel is idle."
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}")  # reset: only this notebook open
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=90_000)
    select = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Select")
    try: select.wait_for(timeout=3_000)  # "Select Kernel", when the settings above did not apply
    except Exception: pass
    else: select.click()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=90_000)


def run_all_cells(page) -> None:
    "Run > Run All Cells from the menu bar, then wait until every code cell has an execution count (or one failed)."
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    try:
        page.wait_for_function("""() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')
            const err = [...nb.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
            if (err.some(e => e.textContent.includes('Traceback'))) return true
            // a cell failed: stop waiting
            const ps = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
            return ps.length > 0 && ps.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()))
        }""", timeout=RUN_TIMEOUT)
    except Exception:
        shot(page, "run-all-timed-out")
        raise
    # JupyterLab draws a traceback as stderr text; warnings are stderr too but carry no traceback
    errors = [t for t in page.eval_on_selector_all(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                                    "els => els.map(e => e.textContent)") if "Traceback" in t]
    if errors: shot(page, "run-all-failed")
    assert not errors, "a cell failed:\n" + "\n".join(errors)[-3000:]


def lesson_control(page, lab, lesson: str, control):
    "Open `lesson`, run all its cells, and return the widget `control` (a locator) once it is drawn, in view."
    open_notebook(page, lab, lesson)
    run_all_cells(page)
    control.wait_for(timeout=UPDATE_TIMEOUT)
    control.scroll_into_view_if_needed()
    return control


def dropdown(page, label: str):
    "The <select> of the ipywidgets Dropdown whose description is `label`."
    return page.locator(".widget-dropdown", has=page.locator("label.widget-label", has_text=re.compile(f"^{re.escape(label)}$"))).locator("select")


def slider(page, label: str):
    "The ipywidgets slider (noUiSlider) whose description is `label`."
    return page.locator(".widget-slider", has=page.locator("label.widget-label", has_text=re.compile(f"^{re.escape(label)}$")))


def drag(page, handle, dx: float) -> None:
    "Drag a slider handle sideways by `dx` pixels with the mouse, as a person would."
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()


def overall(table_text: str, metric: str) -> float:
    "The `(overall)` row's value of `metric` in the fairness widget's table, read from its text."
    lines = [l.split("\t") for l in table_text.splitlines()]
    header = next(l for l in lines if metric in l)
    row = next(l for l in lines if l and l[0].strip() == "(overall)")
    return float(row[header.index(metric)])


def changed(locator, before: str, marker: str, timeout: int = UPDATE_TIMEOUT) -> str:
    """Wait until `locator`'s text differs from `before` and holds `marker`; return the new text.
    (A widget clears its output before it redraws: the empty text in between is not the new drawing.)"""
    assert before.strip(), "the widget showed nothing before the change"
    deadline = time.time() + timeout / 1000
    while (now := locator.inner_text()) == before or marker not in now:
        assert time.time() < deadline, f"the widget did not redraw within {timeout / 1000:.0f} s: {before[:200]!r}"
        time.sleep(0.2)
    return now


def test_eda_lesson_runs_and_its_explorer_redraws(page, lab):
    """A learner runs the EDA lesson from the Run menu (every cell runs, plots are drawn), then chooses
    another column and plot kind in the lesson's explorer, which redraws its summary and its plot."""
    open_notebook(page, lab, EDA_LESSON)
    shot(page, "eda-lesson-opened")
    run_all_cells(page)
    shot(page, "eda-lesson-ran")
    assert page.locator(".jp-NotebookPanel .jp-CodeCell").count() > 5
    assert page.locator(".jp-OutputArea-output img").count() >= 1, "the lesson's plots are not drawn"
    # textContent: every output's text, whether or not it is scrolled into view
    texts = page.eval_on_selector_all(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output", "els => els.map(e "
                                                                                                     "=> e.textContent)")
    as_text = [t.strip() for t in texts if t.strip().startswith("<Figure size")]
    if as_text: shot(page, "lesson-figure-shown-as-text", page.locator(".jp-OutputArea-output", has_text="<Figure size").first)
    assert not as_text, f"{len(as_text)} figures shown as text instead of drawn: {as_text}"
    column = dropdown(page, "Column")
    column.wait_for(timeout=UPDATE_TIMEOUT)
    column.scroll_into_view_if_needed()
    stats = page.locator(".widget-vbox .widget-html-content").first
    image = page.locator(".widget-vbox img").first
    image.wait_for(timeout=UPDATE_TIMEOUT)
    from playwright.sync_api import expect
    expect(stats).to_contain_text("missing", timeout=UPDATE_TIMEOUT)
    first, src = stats.inner_text(), image.get_attribute("src")
    shot(page, "eda-1-before", column)
    options = column.locator("option").all_inner_texts()
    assert "age" in options and options[0] != "age", options
    column.select_option(label="age")
    now = changed(stats, first, "missing")
    assert "numeric" in now.lower() or "mean" in now.lower(), now
    page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
                           arg=[".widget-vbox img", src], timeout=UPDATE_TIMEOUT)
    shot(page, "eda-2-age-chosen", column)
    plot = dropdown(page, "Plot")
    assert "box" in plot.locator("option").all_inner_texts()
    src = image.get_attribute("src")
    plot.select_option(label="box")  # age is numeric: "auto" drew a histogram
    page.wait_for_function("([sel, old]) => document.querySelector(sel).getAttribute('src') !== old",
                           arg=[".widget-vbox img", src], timeout=UPDATE_TIMEOUT)
    shot(page, "eda-3-plot-kind", plot)


def test_fairness_lesson_threshold_slider_changes_table(page, lab):
    "In the fairness lesson, dragging the widget's Threshold slider re-audits: the readout and the table change."
    threshold = lesson_control(page, lab, FAIRNESS_LESSON, slider(page, "Threshold"))
    table = page.locator(".widget-html-content", has=page.locator("table")).last
    table.wait_for(timeout=UPDATE_TIMEOUT)
    from playwright.sync_api import expect
    expect(table).to_contain_text("(overall)", timeout=UPDATE_TIMEOUT)
    readout = threshold.locator(".widget-readout")
    before, start = table.inner_text(), readout.inner_text()
    assert float(start) == pytest.approx(0.5)
    shot(page, "fairness-1-before", table)
    drag(page, threshold.locator(".noUi-handle"), 45)
    after = changed(table, before, "(overall)")
    moved = float(readout.inner_text())
    assert moved > 0.5, f"the slider did not move: readout {moved}"
    assert overall(after, "selection_rate") < overall(before, "selection_rate"), "a higher threshold must select fewer"
    shot(page, "fairness-2-threshold-moved", table)
    group = dropdown(page, "Group by")
    group.select_option(label="age")
    now = changed(table, after, "(overall)")
    assert "(27, 33]" in now or "age" in now, now
    shot(page, "fairness-3-grouped-by-age", table)


def test_drift_lesson_widget_column_and_window(page, lab):
    "The drift lesson's widget redraws when a person picks another column or narrows the window slider."
    column = lesson_control(page, lab, DRIFT_LESSON, dropdown(page, "Column"))
    view = page.locator(".widget-vbox .widget-html-content").last
    from playwright.sync_api import expect
    expect(view).to_contain_text("rows)", timeout=UPDATE_TIMEOUT)  # first drawing: all months, first column
    first = view.inner_text()
    shot(page, "drift-1-before", column)
    column.select_option(label="temp")
    now = changed(view, first, "temp in ")
    assert now.startswith("temp in Jan to Dec") and "drift" in now, now
    shot(page, "drift-2-temp", column)
    window = slider(page, "Window")
    lo = window.locator(".noUi-handle-lower")
    track = window.locator(".noUi-target").bounding_box()
    drag(page, lo, track["width"] * 0.55)
    first_month, last_month = re.split(r"\s*[-\u2013]\s*", window.locator(".widget-readout").inner_text().strip())
    assert (first_month, last_month) != ("Jan", "Dec"), "the window slider did not move"
    # the kernel catches up with every step of the drag: wait for the last
    expect(view).to_contain_text(f"temp in {first_month} to {last_month} (", timeout=UPDATE_TIMEOUT)
    narrowed = view.inner_text()
    rows = lambda t: int(re.search(r"\((\d+) rows\)", t).group(1))
    assert rows(narrowed) < rows(now)
    shot(page, "drift-3-window-narrowed", column)


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    "A built documentation site: $MLOPS_WORKBENCH_DOCS_HTML, else a quick build without executing notebooks."
    given = os.environ.get("MLOPS_WORKBENCH_DOCS_HTML")
    if given: return Path(given)
    out = tmp_path_factory.mktemp("site") / "html"
    env = {**os.environ, "DOCS_EXECUTE": "off", "DOCS_WORK": str(out.parent / "work"), "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(REPO / "tools" / "build_docs.sh"), str(out)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return out


def test_docs_pages_render_without_console_errors(page, docs_site):
    "The docs home page, a module page and a lesson page load over HTTP with no console errors."
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(docs_site))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    try:
        for name, path in [("index", "index.html"), ("module-fairness", "40_fairness.html"),
                           ("lesson-01", f"course/{EDA_LESSON.replace('.ipynb', '.html')}")]:
            page.goto(f"{base}/{path}", wait_until="networkidle")
            assert page.locator("article h1").count() >= 1, f"{path} has no title"
            if name == "module-fairness" and (docs_site / "_static" / "embed-amd.js").exists() and "widget-state+json" in page.content():
                # an executed build with the widget JavaScript draws the saved widget, not its text form
                page.locator(".widget-slider", has_text="Threshold").first.wait_for(timeout=30_000)
            shot(page, f"docs-{name}", full_page=True)
        assert "mlops-workbench" in page.title()
    finally:
        server.shutdown()
        server.server_close()
    assert page.console_errors == [], page.console_errors
    assert failed == [], failed
