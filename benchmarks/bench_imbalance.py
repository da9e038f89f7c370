"""Benchmark: `mlops_workbench.imbalance` vs imbalanced-learn 0.14 called directly.

imbalanced-learn is a main dependency, so both sides run in this process on the same data. Workloads:
- resample: `resample(X, y, "smote")` (picks SMOTENC for the `student` column) vs
  `SMOTENC(categorical_features=["student"], random_state=0).fit_resample(X, y)`; the outputs must be
  identical (rows differing shown).
- compare: `compare_samplers` with none / random_over / random_under / smote, 5 folds, vs the same
  four imblearn Pipelines run through `cross_validate` with the same six scorers; agreement is the
  largest |difference| of the mean scores.
Data: the bundled Default table (10,000 rows, 3.3 % positive) and the same table stacked 5 times.
Times are medians of 3 calls; memory is tracemalloc's peak during one extra call.

Run: python benchmarks/bench_imbalance.py   (from the repo root, in the project venv)
"""
import sys
from pathlib import Path
import numpy as np, pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, table


def peer_compare(X, y, cv=5):
    "The same comparison written by hand with imbalanced-learn and scikit-learn."
    from imblearn.over_sampling import SMOTENC, RandomOverSampler
    from imblearn.pipeline import Pipeline
    from imblearn.under_sampling import RandomUnderSampler
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from mlops_workbench.imbalance import _scorers
    prep = lambda: ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["student"]),
                                      ("n", StandardScaler(), ["balance", "income"])])
    samplers = {"none": None, "random_over": RandomOverSampler(random_state=0),
                "random_under": RandomUnderSampler(random_state=0),
                "smote": SMOTENC(categorical_features=["student"], random_state=0)}
    out = {}
    for name, s in samplers.items():
        steps = ([("s", s)] if s is not None else []) + [("p", prep()), ("m", LogisticRegression(max_iter=1000))]
        r = cross_validate(Pipeline(steps), X, y, cv=StratifiedKFold(cv, shuffle=True, random_state=0), scoring=_scorers("Yes"))
        out[name] = {k[5:]: v.mean() for k, v in r.items() if k.startswith("test_")}
    return pd.DataFrame(out).T


def main():
    from imblearn.over_sampling import SMOTENC
    from mlops_workbench import datasets
    from mlops_workbench.imbalance import compare_samplers, resample
    base = datasets.load("default")
    times, mem, agree = [], [], []
    for copies in (1, 5):
        df = pd.concat([base] * copies, ignore_index=True)
        X, y = df.drop(columns="default"), df["default"]
        n = f"{len(df):,} rows"
        ta, ma, (xa, ya) = measure(lambda: resample(X, y, "smote"), 3)
        tb, mb, (xb, yb) = measure(lambda: SMOTENC(categorical_features=["student"], random_state=0).fit_resample(X, y), 3)
        times.append({"workload": f"resample smote (SMOTENC), {n}", "workbench": ta, "imblearn": tb})
        mem.append({"workload": f"resample smote (SMOTENC), {n}", "workbench": ma, "imblearn": mb})
        agree.append((f"resample, {n}", int((xa != xb).any(axis=1).sum() + (ya != yb).sum())))
        if copies == 1:
            ta, ma, board = measure(lambda: compare_samplers(X, y))
            tb, mb, ref = measure(lambda: peer_compare(X, y))
            times.append({"workload": f"compare 4 samplers x 5 folds, {n}", "workbench": ta, "imblearn": tb})
            mem.append({"workload": f"compare 4 samplers x 5 folds, {n}", "workbench": ma, "imblearn": mb})
            diff = float(np.abs(board.mean.loc[ref.index, ref.columns].to_numpy() - ref.to_numpy()).max())
            agree.append((f"compare, {n} (max |mean score difference|)", diff))
    print(table("Time (median of 3; compare: 1 call)", times, peer="imblearn"))
    print()
    print(table("Peak traced memory", mem, peer="imblearn", unit="M"))
    print()
    print("Agreement (0 = identical)")
    for name, v in agree: print(f"  {name:<52} {v}")


if __name__ == "__main__":
    main()
