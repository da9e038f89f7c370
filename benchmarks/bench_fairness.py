"""Benchmark: `mlops_workbench.fairness.audit` vs Fairlearn 0.15 `MetricFrame` (and its disparity functions).

Fairlearn is a main dependency, so both sides run in this process on the same arrays. Workloads:
- audit: per-group metrics and the four summary numbers; the peer builds the same MetricFrame and
  calls `demographic_parity_difference/ratio`, `equalized_odds_difference`, `equal_opportunity_difference`.
- bootstrap: 95% intervals by group; the peer is `MetricFrame(n_boot=..., ci_quantiles=[.025, .975],
  random_state=seed)`. We draw the same resamples, so the intervals must agree (max |difference| shown).
Data: the bundled German credit table (1,000 rows) and the same table stacked 10 times (10,000 rows);
groups are sex x age (4 quantile bins) = 8 groups; decisions are a fixed rule, scores are seeded noise.
Memory is tracemalloc's peak during a separate, untimed call (bootstraps with 10 resamples there).

Run: python benchmarks/bench_fairness.py   (from the repo root, in the project venv)
"""
import sys
from pathlib import Path
import numpy as np, pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, peak_mib, table


def main():
    from fairlearn import metrics as flm
    from mlops_workbench import datasets, fairness as F
    base = datasets.load("german_credit")
    rows, mem, agree = [], [], []
    for copies, n_boot in ((1, 100), (10, 20)):
        df = pd.concat([base] * copies, ignore_index=True)
        y, p = df["risk"].to_numpy(), (df["credit_amount"] < 4000).astype(int).to_numpy()
        s = np.random.default_rng(0).random(len(df))
        sf = F.audit(y, p, df[["sex", "age"]]).sensitive_features        # the binned groups, shared by both sides
        n = f"{len(df):,} rows, 8 groups"

        def peer_audit():
            mf = flm.MetricFrame(metrics=F.metric_functions(True), y_true=y, y_pred=p, sensitive_features=sf,
                                 sample_params={"roc_auc": {"y_score": s}})
            return mf.by_group, {k: getattr(flm, k)(y, p, sensitive_features=sf) for k in F.SUMMARY_METRICS}
        ours_fn = lambda: F.audit(y, p, sf, y_score=s)
        ta, ma, ours = measure(ours_fn, 3)
        tb, mb, (bg, summ) = measure(peer_audit, 3)
        rows.append({"workload": f"audit + summary, {n}", "workbench": ta, "fairlearn": tb})
        mem.append({"workload": f"audit + summary, {n}", "workbench": ma, "fairlearn": mb})
        agree.append((f"audit, {n}", max(abs(ours.summary[k] - summ[k]) for k in summ),
                      float(np.nanmax(np.abs(ours.by_group[bg.columns].loc[bg.index].to_numpy() - bg.to_numpy())))))

        for with_scores in (False, True):
            label = f"bootstrap {{}}x{' + ROC-AUC' if with_scores else ''}, {n}"
            score = s if with_scores else None
            fns = F.metric_functions(with_scores)
            ours_fn = lambda b: F.audit(y, p, sf, y_score=score, n_boot=b, random_state=7)
            peer_fn = lambda b: flm.MetricFrame(
                metrics=fns, y_true=y, y_pred=p, sensitive_features=sf,
                sample_params={"roc_auc": {"y_score": s}} if with_scores else None,
                n_boot=b, ci_quantiles=[0.025, 0.975], random_state=7)
            ta, _, ours = measure(lambda: ours_fn(n_boot), trace=False)
            tb, _, mf = measure(lambda: peer_fn(n_boot), trace=False)
            rows.append({"workload": label.format(n_boot), "workbench": ta, "fairlearn": tb})
            mem.append({"workload": label.format(10), "workbench": peak_mib(lambda: ours_fn(10)),
                        "fairlearn": peak_mib(lambda: peer_fn(10))})
            bg = ours.ci["by_group"]
            diff = max(float(np.nanmax(np.abs(bg[k].set_axis(ours.group_index).to_numpy()
                       - mf.by_group_ci[k].loc[ours.group_index, bg[k].columns].to_numpy()))) for k in (0, 1))
            ours_dpd = ours.ci["summary"]["demographic_parity_difference"]
            dpd = max(abs(ours_dpd[k] - mf.difference_ci()[k]["selection_rate"]) for k in (0, 1))
            agree.append((label.format(n_boot), dpd, diff))
    print(table("Time (median of 3 runs for audits, 1 run for bootstraps)", rows, peer="fairlearn"))
    print()
    print(table("Peak traced memory", mem, peer="fairlearn", unit="M"))
    print()
    print(f"{'agreement':<44} {'summary/CI max|diff|':>22} {'by-group max|diff|':>20}")
    for label, a, b in agree:
        print(f"{label:<44} {a:>22.2e} {b:>20.2e}")


if __name__ == "__main__":
    main()
