"""The package's shape: every module stays small enough to read, imports without fcntl (as on Windows),
and each shared idea is defined in one place only."""
import ast, subprocess, sys
import pytest
from conftest import REPO

PKG = REPO / "mlops_workbench"
MODULES = sorted(p for p in PKG.glob("*.py") if p.name != "_modidx.py")
MAX_LINES = 450


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_small(path):
    "Later work splits modules by job instead of growing them (the generated `_modidx.py` aside)."
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.name} has {n} lines (> {MAX_LINES}): split it by job into a new notebook"


def test_every_module_imports_without_fcntl():
    "fcntl exists only on POSIX; a learner on Windows must be able to import every module."
    names = [f"mlops_workbench.{p.stem}" for p in MODULES if p.stem != "__init__"]
    code = ("import sys, importlib; sys.modules['fcntl'] = None\n"
            f"for m in {names!r}: importlib.import_module(m)\n"
            "print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def _definitions() -> dict:
    "`{name: [module, ...]}` of every top-level function, class and assigned name in the package."
    out = {}
    for p in MODULES:
        for node in ast.parse(p.read_text()).body:
            names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            for n in names: out.setdefault(n, []).append(p.stem)
    return out


@pytest.mark.parametrize("name, home", [
    ("detect_task", "frames"), ("preprocessor", "frames"), ("check_names", "frames"), ("check_table", "frames"),
    ("is_numeric", "frames"), ("categorical_columns", "frames"), ("json_safe", "frames"), ("figure_png", "frames"),
    ("VOCABULARY", "metrics"), ("check_metrics", "metrics"), ("metric_names", "metrics"), ("Leaderboard", "leaderboard"),
    ("predict_frame", "scoring"), ("known_categories", "scoring"), ("unseen_columns", "scoring"), ("parse_ref", "scoring"),
    ("predict_arrays", "scoring"), ("uuid4_hex", "scoring"),
    ("deprecated", "core"), ("InferenceLog", "inference_log"),
])
def test_shared_idea_defined_once(name, home):
    assert _definitions().get(name) == [home]


def test_no_module_uses_fcntl_or_attaches_methods_by_assignment():
    for p in MODULES:
        src = p.read_text()
        assert "import fcntl" not in src, p.name
        tree = ast.parse(src)
        classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        for node in tree.body:
            for t in getattr(node, "targets", []):
                assert not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in classes), \
                    f"{p.name}: {t.value.id}.{t.attr} is attached by assignment; define it in the class or use @patch"
