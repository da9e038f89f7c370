"""The project's own wiring: dependency lists agree, notebooks and package agree, imports stay light,
the built package carries its data and lessons and works outside the source tree."""
import filecmp, os, re, shutil, subprocess, sys, tomllib, zipfile
from pathlib import Path
import pytest
import yaml
from conftest import REPO

CONDA_ONLY = {"python", "pip"}
CONDA_NAMES = {"pytorch-cpu": "torch"}  # conda-forge's name for pip's package


def _norm(req: str):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", req).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_agrees_with_pyproject():
    proj = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_side = dict(_norm(r) for r in proj["dependencies"] + proj["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_side = {CONDA_NAMES.get(k, k): v for k, v in (_norm(d) for d in env["dependencies"] if isinstance(d, str))}
    for k in CONDA_ONLY: conda_side.pop(k, None)
    assert conda_side == pip_side


def test_dask_extra_is_declared_and_kept_in_dev():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(re.match(r"dask\[[^\]]*\bdistributed\b", r) for r in extras["dask"]), extras["dask"]
    dask, dev = (dict(_norm(r) for r in extras[k]) for k in ("dask", "dev"))
    assert dask.items() <= dev.items(), "every package of the dask extra is in dev too, with the same bounds"
    assert set(extras["dask"]) <= set(extras["dev"])  # the same extras ([dataframe,distributed]) as well


def test_nbdev_export_would_not_change_the_package(tmp_path):
    for item in ("pyproject.toml", "nbs", "mlops_workbench"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    r = subprocess.run([str(Path(sys.executable).parent / "nbdev-export")], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cmp = filecmp.dircmp(REPO / "mlops_workbench", tmp_path / "mlops_workbench", ignore=["__pycache__"])
    assert (cmp.diff_files, cmp.left_only, cmp.right_only) == ([], [], []), \
        "mlops_workbench/ is out of date with nbs/: run nbdev-export and commit both"


def test_package_import_is_light():
    code = ("import sys, mlops_workbench, mlops_workbench.cli, mlops_workbench.config, mlops_workbench.core;"
            "heavy = {'mlflow', 'sdv', 'torch', 'evidently', 'seaborn', 'matplotlib', 'sklearn', 'pandas', 'papermill'};"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_notebooks_are_clean():
    import json
    for nb in sorted((REPO / "nbs").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts: continue
        d = json.loads(nb.read_text())
        for c in d["cells"]:
            assert c.get("outputs", []) == [] and c.get("execution_count") is None, f"{nb.name} has outputs: run nbdev-clean"
            assert set(c.get("metadata", {})) <= {"tags"}, f"{nb.name}: cell metadata {set(c['metadata'])}"


@pytest.mark.slow
def test_wheel_installs_and_works_outside_the_source_tree(tmp_path):
    "Build the wheel, install it into a fresh venv (dependencies borrowed from this one) and use it."
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)], check=True)
    (wheel,) = wheel_dir.glob("mlops_workbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("mlops_workbench/data/german_credit.csv", "mlops_workbench/data/PROVENANCE.md",
              "mlops_workbench/course/00_mlops_lifecycle.ipynb", "mlops_workbench/cli.py"):
        assert f in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    borrowed = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "sklearn").exists())
    (site / "zz_borrowed.pth").write_text(borrowed + "\n")
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_WORKBENCH_SETTINGS"}
    code = ("import mlops_workbench, mlops_workbench.datasets as d; print(mlops_workbench.__file__);"
            "print(d.load('german_credit').shape)")
    out = subprocess.run([str(venv / "bin/python"), "-c", code], cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(site) in out and "(1000, 10)" in out
    r = subprocess.run([str(venv / "bin/mlops-workbench"), "--help"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout
