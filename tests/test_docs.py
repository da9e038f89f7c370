"""The documentation site: `tools/build_docs.sh` builds it from nbs/, executing every notebook.

The build goes into a temporary folder
then every internal link and image of every page must
resolve (the file exists, and the #anchor is an id on that page), every library notebook and every
lesson has a page, API pages carry show_doc's output and lessons their plots.
The build executes all notebooks: several minutes on a 2-core machine (see docs/README.md).
Run: python -m pytest tests/test_docs.py   (the tests that need the site are marked slow)
"""
import os, re, shutil, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / "nbs"
MODULES = sorted(NBS.glob("[0-9][0-9]_*.ipynb"))
LESSONS = sorted((NBS / "course").glob("[0-9][0-9]_*.ipynb"))


class _Page(HTMLParser):
    "The ids and the local href/src targets of one HTML page."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("id", "name"):
            if a.get(k) and (k == "id" or tag == "a"): self.ids.add(a[k])
        for k in ("href", "src"):
            v = a.get(k)
            if v is None or (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")): continue
            if urlsplit(v).scheme or v.startswith("//"): continue  # external, data: and javascript: links
            self.links.append((tag, k, v))


def parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The site built by tools/build_docs.sh into a temporary folder (notebooks executed)."
    out = tmp_path_factory.mktemp("docs") / "html"
    env = {**os.environ, "DOCS_WORK": str(out.parent / "work"), "PYTHON": sys.executable}
    env.pop("MLOPS_WORKBENCH_SETTINGS", None)  # the script makes its own throwaway MLflow store
    r = subprocess.run(["bash", str(REPO / "tools" / "build_docs.sh"), str(out)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"docs build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    print(r.stdout[-3000:])
    return out


@pytest.mark.slow
def test_every_module_and_lesson_has_a_page(site):
    assert (site / "index.html").exists()
    assert MODULES and LESSONS
    missing = [nb for nb in MODULES if not (site / nb.with_suffix(".html").name).exists()]
    missing += [nb for nb in LESSONS if not (site / "course" / nb.with_suffix(".html").name).exists()]
    assert not missing, f"no page for {[m.relative_to(NBS).as_posix() for m in missing]}"
    home = (site / "index.html").read_text()
    for nb in MODULES: assert f'href="{nb.stem}.html"' in home, f"the home page does not list {nb.name}"
    for nb in LESSONS: assert f'href="course/{nb.stem}.html"' in home, f"the home page does not list {nb.name}"


def broken_links(site: Path) -> tuple[list[str], int]:
    "Local href/src targets under `site` whose file or #anchor does not exist; and how many links were seen."
    parsed = {p: parse(p) for p in sorted(site.rglob("*.html"))}
    broken = []
    for page, info in parsed.items():
        for tag, attr, link in info.links:
            parts = urlsplit(link)  # drop ?v=... cache-busting queries
            target, anchor = parts.path, parts.fragment
            dest = (page.parent / unquote(target)).resolve() if target else page
            if dest.is_dir(): dest = dest / "index.html"
            if not dest.exists():
                broken.append(f"{page.relative_to(site)}: <{tag} {attr}={link!r}> missing file")
                continue
            if anchor and dest.suffix == ".html":
                ids = parsed[dest].ids if dest in parsed else parse(dest).ids
                if unquote(anchor) not in ids: broken.append(f"{page.relative_to(site)}: {link!r} has no #{anchor}")
    return broken, sum(len(i.links) for i in parsed.values())


def test_link_checker_finds_broken_links(tmp_path):
    "The checker itself: a missing file, a missing anchor and a good link with a query string."
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="sub/b.html#there">b</a><a href="#top">up</a>'
                                     '<a href="nope.html">x</a><a href="https://example.org/x.html">ext</a>'
                                     '<script src="s.js?v=1"></script><img src="data:image/png;base64,AA">')
    (tmp_path / "s.js").write_text("")
    (tmp_path / "sub" / "b.html").write_text('<p id="here"></p><a href="../a.html#gone">a</a>')
    broken, seen = broken_links(tmp_path)
    assert seen == 5
    assert sorted(broken) == ["a.html: 'sub/b.html#there' has no #there", "a.html: <a href='nope.html'> missing file",
                              "sub/b.html: '../a.html#gone' has no #gone"]


@pytest.mark.slow
def test_internal_links_resolve(site):
    broken, seen = broken_links(site)
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:40])
    assert seen > 100  # the checker did see the links


@pytest.mark.slow
def test_api_pages_show_docs_and_hide_nbdev_machinery(site):
    html = (site / "40_fairness.html").read_text()
    assert 'id="audit"' in html and "def" in html  # show_doc's heading anchor and signature
    assert "#| export" not in html and "#| hide" not in html and "show_doc(" not in html
    assert "default_exp" not in html


@pytest.mark.slow
def test_lessons_have_rendered_outputs_and_plots(site):
    for nb in LESSONS:
        html = (site / "course" / nb.with_suffix(".html").name).read_text()
        assert 'class="cell_output' in html, f"{nb.name}: no executed outputs"
    lesson1 = (site / "course" / "01_explore_and_clean.html").read_text()
    assert re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', lesson1), "lesson 1 shows no plot"
    # a figure that reached the page as its text form was never drawn (no PNG formatter was active)
    as_text = [p.relative_to(site).as_posix() for p in sorted(site.rglob("*.html")) if "&lt;Figure size" in p.read_text()]
    assert not as_text, f"figures shown as '<Figure size ...>' text instead of an image on {as_text}"


@pytest.mark.slow
def test_widgets_are_drawn_from_local_javascript(site):
    "Widget pages embed the saved widget state and load the html-manager from the site, not a CDN."
    if not shutil.which("npm"): pytest.skip("no npm: the build shows widgets as text")
    assert (site / "_static" / "embed-amd.js").exists() and (site / "_static" / "require.js").exists()
    html = (site / "41_fairness_widget.html").read_text()
    assert "application/vnd.jupyter.widget-state+json" in html and "application/vnd.jupyter.widget-view+json" in html
    assert re.search(r'<script src="_static/embed-amd\.js', html)
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html
