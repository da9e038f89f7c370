"""Benchmark: `mlops_workbench.tuning.tune` vs Optuna called directly (same search space, sampler, trials and
folds) vs PyCaret 3.3.2 `tune_model` (random search, n_iter=20, its own grid).

Workload (issue 17): make_classification(n_samples=5000, n_features=20, n_informative=8, weights=[0.8, 0.2]),
a stratified 70/30 split; the candidate is a random forest; 20 trials of 5-fold cross-validation on the
training rows, optimising ROC AUC; the best settings refit on all training rows and scored on the same
held-out rows, for three seeds (the seed of the data split, the folds, the forest and the sampler).
Each side runs in a fresh process (PyCaret in its own venv under benchmarks/.venvs/pycaret), so import
and start-up are counted. `tune` time includes its SQLite study; tracking is off on both sides.

Run: python benchmarks/bench_tune.py            (the full run: three seeds, 20 trials, PyCaret included)
     python benchmarks/bench_tune.py --quick    (smoke: one seed, 4 trials, 3 folds, 2000 rows; PyCaret only
                                                 if its venv already exists)
"""
import argparse, statistics, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_compare import PEER_PY, run  # noqa: E402
from harness import peer_python  # noqa: E402

DATA = """
import sys, time, json, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
seed, n_rows, n_trials, cv = (int(a) for a in sys.argv[1:5])
X, y = make_classification(n_samples=n_rows, n_features=20, n_informative=8, weights=[0.8, 0.2], random_state=seed)
df = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(target=y)
train, test = train_test_split(df, test_size=0.3, stratify=df["target"], random_state=seed)
Xtr, ytr, Xte, yte = train.drop(columns="target"), train["target"], test.drop(columns="target"), test["target"]
"""

OURS = DATA + """
import os, tempfile
tmp = tempfile.mkdtemp()
open(f"{tmp}/settings.ini", "w").write(f"[workbench]\\ntracking_uri = sqlite:///{tmp}/mlflow.db\\n")
os.environ["MLOPS_WORKBENCH_SETTINGS"] = f"{tmp}/settings.ini"
from sklearn.metrics import roc_auc_score
t0 = time.perf_counter()
from mlops_workbench.tuning import tune
res = tune("rf", Xtr, ytr, n_trials=n_trials, cv=cv, metric="roc_auc", track=False, random_state=seed)
est = res.best_estimator()
t1 = time.perf_counter()
auc = roc_auc_score(yte, est.predict_proba(Xte)[:, 1])
print("RESULT", json.dumps(dict(setup=0.0, compare=t1 - t0, total=t1 - t0, auc=auc, cv=res.best_score)))
"""

OPTUNA = DATA + """
from sklearn.metrics import roc_auc_score
t0 = time.perf_counter()
import optuna
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from mlops_workbench.frames import preprocessor
from mlops_workbench.search_spaces import check_space
from sklearn.pipeline import Pipeline
optuna.logging.set_verbosity(optuna.logging.WARNING)
space = check_space(RandomForestClassifier())  # tune's default space for rf, as Optuna distributions
pipe = Pipeline([("prep", preprocessor(Xtr)), ("model", RandomForestClassifier(random_state=seed))])
folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(Xtr, ytr))
def objective(trial):
    p = {}
    for k, d in space.items():
        if isinstance(d, optuna.distributions.CategoricalDistribution): p[k] = trial.suggest_categorical(k, d.choices)
        elif isinstance(d, optuna.distributions.FloatDistribution): p[k] = trial.suggest_float(k, d.low, d.high, log=d.log)
        else: p[k] = trial.suggest_int(k, d.low, d.high, log=d.log)
    return cross_val_score(clone(pipe).set_params(**{f"model__{k}": v for k, v in p.items()}), Xtr, ytr, cv=folds,
                           scoring="roc_auc").mean()
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
study.optimize(objective, n_trials=n_trials)
est = clone(pipe).set_params(**{f"model__{k}": v for k, v in study.best_params.items()}).fit(Xtr, ytr)
t1 = time.perf_counter()
auc = roc_auc_score(yte, est.predict_proba(Xte)[:, 1])
print("RESULT", json.dumps(dict(setup=0.0, compare=t1 - t0, total=t1 - t0, auc=auc, cv=study.best_value)))
"""

PEER = DATA + """
from sklearn.metrics import roc_auc_score
t0 = time.perf_counter()
from pycaret.classification import setup, create_model, tune_model
setup(data=train, test_data=test, target="target", fold=cv, session_id=seed, verbose=False, html=False,
      log_experiment=False, n_jobs=1)
t1 = time.perf_counter()
tuned = tune_model(create_model("rf", verbose=False), n_iter=n_trials, optimize="AUC", search_library="scikit-learn",
                   search_algorithm="random", verbose=False)
est = tuned  # tune_model refits the best settings on the training rows, like the other two sides (finalize_model
             # would refit on train + test_data: the held-out rows would leak into the model)
t2 = time.perf_counter()
auc = roc_auc_score(yte, est.predict_proba(Xte)[:, 1])
print("RESULT", json.dumps(dict(setup=t1 - t0, compare=t2 - t1, total=t2 - t0, auc=auc, cv=float("nan"))))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 4 trials, 3 folds, 2000 rows")
    args = ap.parse_args()
    seeds, rows, trials, cv = ([0], 2000, 4, 3) if args.quick else ([0, 1, 2], 5000, 20, 5)
    peer = None
    try:
        peer = str(PEER_PY) if args.quick and PEER_PY.exists() else \
            None if args.quick else peer_python("pycaret", ["pycaret==3.3.2", "six"], python="python3.11")
    except Exception as e:  # no Python 3.11 or no network: report, do not hide
        print(f"PyCaret side skipped: {type(e).__name__}: {e}")
    if peer is None and args.quick: print("PyCaret side skipped in --quick (its venv does not exist yet)")
    sides = {"mlops_workbench tune": (sys.executable, OURS), "Optuna directly": (sys.executable, OPTUNA)}
    if peer: sides["PyCaret tune_model (random)"] = (peer, PEER)
    print(f"workload: make_classification({rows} x 20, weights=[0.8, 0.2]), 70/30 split; rf; {trials} trials x "
          f"{cv} folds; held-out ROC AUC; seeds {seeds}\n")
    res = {s: [] for s in sides}
    with tempfile.TemporaryDirectory():
        for seed in seeds:  # the sides alternate within each seed, so they see the same spells of load
            for s, (py, code) in sides.items():
                res[s].append(run(py, code, str(seed), str(rows), str(trials), str(cv)))
    print(f"{'side':32s} {'held-out AUC per seed':>26s} {'mean AUC':>9s} {'tune s (mean)':>14s} {'peak RSS MiB':>13s}")
    for s, rs in res.items():
        aucs = " ".join(f"{r['auc']:.4f}" for r in rs)
        print(f"{s:32s} {aucs:>26s} {statistics.mean(r['auc'] for r in rs):9.4f} "
              f"{statistics.mean(r['compare'] for r in rs):14.1f} {max(r['rss_mib'] for r in rs):13.0f}")
    ours = res["mlops_workbench tune"]
    for s, rs in res.items():
        if s == "mlops_workbench tune": continue
        gain = statistics.mean(a["auc"] - b["auc"] for a, b in zip(ours, rs))
        speed = statistics.mean(r["compare"] for r in rs) / statistics.mean(r["compare"] for r in ours)
        print(f"ours vs {s}: held-out AUC {gain:+.4f} on average (target >= 0); "
              f"speed ratio {s} / ours {speed:.2f}x (target >= 1)")


if __name__ == "__main__":
    main()
