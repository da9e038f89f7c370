"""Benchmark: `mlops_workbench.explain.contributions` vs calling SHAP's `TreeExplainer` directly.

Workload (issue 16): a RandomForestClassifier of 100 trees of depth 8 inside the workbench's
pipeline (`models.build_pipeline`: imputation, scaling, one-hot), fitted on 10,000 rows x 20 raw
columns (15 numeric, 5 categorical with 3-8 values; seeded, binary target). Both sides explain all
10,000 rows for the positive class:
- workbench: `contributions(pipeline, X)`: checks the rows, runs the pipeline's preprocessing,
  SHAP's tree explainer, the additivity check (one `predict_proba`) and the fold back to the 20 raw
  columns;
- peer (the compute floor): `shap.TreeExplainer(forest).shap_values(Z)` on the already-transformed
  matrix `Z` (its preprocessing is done before the clock starts), no folding, no check.
Goal: workbench / peer within 1.2x. Each side runs in its own fresh process (model and data loaded
from a joblib file, shap imported before the clock starts); time is the median over `--repeat`
processes, wall and CPU; memory is the process's peak RSS (VmHWM, `harness.peak_rss_mib`), printed with the
RSS before the call so the growth is visible. Agreement: max |folded peer values - workbench values|.

Run: nice python benchmarks/bench_explain.py            (the full workload; minutes)
     python benchmarks/bench_explain.py --quick         (1,000 rows, 10 trees of depth 4: a smoke test)
"""
import argparse, json, statistics, sys, tempfile
from pathlib import Path
import numpy as np, pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PEAK_RSS, run_snippet, table

COMMON = PEAK_RSS + """
import json, time, joblib, numpy as np, shap
model, X = joblib.load({path!r})
rss_mb = peak_rss_mib
"""
OURS = COMMON + """
from mlops_workbench.explain import contributions
before = rss_mb()
t, c = time.perf_counter(), time.process_time()
out = contributions(model, X)
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps(dict(wall=wall, cpu=cpu, rss_before=before, rss_peak=rss_mb(), shape=list(out.values.shape))))
"""
PEER = COMMON + """
Z = model[:-1].transform(X)
before = rss_mb()
t, c = time.perf_counter(), time.process_time()
v = shap.TreeExplainer(model[-1]).shap_values(Z)[..., 1]
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps(dict(wall=wall, cpu=cpu, rss_before=before, rss_peak=rss_mb(), shape=list(v.shape))))
"""


def make(n: int, seed: int = 0) -> tuple:
    "20 raw columns (15 numeric, 5 categorical) and a binary target that depends on both kinds."
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"num{i}": rng.normal(0, 1 + i / 10, n) for i in range(15)})
    for j in range(5):
        X[f"cat{j}"] = rng.choice([f"v{k}" for k in range(3 + j)], n)
    X.loc[rng.random(n) < 0.02, "num3"] = np.nan  # some missing values for the imputer
    logit = X.num0 - 0.5 * X.num1 + (X.cat0 == "v1") - (X.cat2 == "v0") + rng.normal(0, 1, n)
    return X, (logit > 0).astype(int)


def agreement(model, X) -> float:
    "Max |workbench value - SHAP's own values summed over each raw column's one-hot columns| on 200 rows."
    import shap
    from mlops_workbench.explain import contributions, fold_matrix
    rows = X.iloc[:200]
    ours = contributions(model, rows).values
    v = shap.TreeExplainer(model[-1]).shap_values(model[:-1].transform(rows).astype(np.float32))[..., 1]
    return float(np.abs(v @ fold_matrix(model).to_numpy() - ours.to_numpy()).max())


def median_run(code: str, repeat: int) -> dict:
    runs = [json.loads(run_snippet(sys.executable, code)) for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) if k != "shape" else runs[0][k] for k in runs[0]}


def main():
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from mlops_workbench.models import build_pipeline
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1,000 rows, 10 trees of depth 4, one run per side")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rows, trees, depth, repeat = (1_000, 10, 4, 1) if a.quick else (a.rows, 100, 8, a.repeat)
    X, y = make(rows)
    model = build_pipeline(RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=0, n_jobs=1),
                           X).fit(X, y)
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "model.joblib")
        joblib.dump((model, X), path)
        ours = median_run(OURS.format(path=path), repeat)
        peer = median_run(PEER.format(path=path), repeat)
    work = f"SHAP, {rows:,} rows x 20 cols, RF {trees} trees depth {depth}"
    print(table("Time (median of fresh processes), wall", [{"workload": work, "workbench": ours["wall"],
                                                             "shap direct": peer["wall"]}], peer="shap direct"))
    print(table("Time, CPU", [{"workload": work, "workbench": ours["cpu"], "shap direct": peer["cpu"]}],
                peer="shap direct"))
    print(table("Peak process RSS (MiB)", [{"workload": work, "workbench": ours["rss_peak"],
                                            "shap direct": peer["rss_peak"]}], peer="shap direct", unit="M"))
    print(f"RSS before the call: workbench {ours['rss_before']:.0f} MiB, shap direct {peer['rss_before']:.0f} MiB; "
          f"matrix the forest sees: {peer['shape'][1]} columns, folded back to {ours['shape'][1]} raw columns")
    print(f"workbench / shap direct (the compute floor): wall {ours['wall'] / peer['wall']:.2f}x, "
          f"CPU {ours['cpu'] / peer['cpu']:.2f}x (goal: within 1.2x)")
    print(f"agreement: max |folded SHAP - workbench| on 200 rows = {agreement(model, X):.2e}")
    if a.quick:
        print("(--quick is a smoke test: the fixed costs of the checks, preprocessing and one predict_proba dominate "
              "a 10-tree forest; the 1.2x goal applies to the full workload)")


if __name__ == "__main__":
    main()
