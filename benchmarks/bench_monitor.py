"""Benchmark: `monitor.check` vs Evidently 0.7's `DataDriftPreset` + `ClassificationPreset` run per window.

Workload (issue 15, "Speed"): a log of N predictions x 20 inputs (15 numeric, 5 categorical) over W daily windows,
written by this script as day-partitioned Parquet (`day=YYYY-MM-DD/part-0.parquet`, the inference log's layout) with
`event_time`, `row_id`, `source`, `prediction`, `proba.0`, `proba.1`, `in.<input>` and `label`; the inputs shift in the
last third of the windows. Scores come from a fixed logistic model of the inputs and labels are drawn from those
scores, so they are calibrated. The reference is 100,000 rows of the same generator without the shift.

Ours: `monitor.check(folder, reference, "1D", estimate=False)` reads one window at a time (drift, prediction drift,
quality, realised ROC-AUC); a second run with `estimate=True` adds CBPE and is reported apart. Evidently: for each
window, the same rows read from the same files, then `Report([DataDriftPreset(), ClassificationPreset()])
.run(current, reference)`. Evidently runs on `--evidently-windows` windows (default all); its total is its mean
per-window time x W when it ran on fewer, and the table says so. Drift verdicts are compared column by column on the
windows Evidently ran (`drift_views.evidently_verdicts`).

Memory: process RSS (psutil, sampled every 20 ms) above the level before the call, against the in-memory size of one
window (`DataFrame.memory_usage(deep=True)`): the goal is under 2x one window.

Run: python benchmarks/bench_monitor.py                      (10,000,000 rows, 100 windows)
     python benchmarks/bench_monitor.py --quick              (200,000 rows, 10 windows)
"""
import argparse, gc, os, sys, tempfile, threading, time
from pathlib import Path
import numpy as np
import pandas as pd
import psutil

NUM, CAT = [f"num{i}" for i in range(15)], [f"cat{j}" for j in range(5)]


def rows(n, seed, shifted=False):
    rng = np.random.default_rng(seed)
    X = {c: rng.normal(0.6 if shifted and i < 5 else 0.0, 1 + i / 10, n) for i, c in enumerate(NUM)}
    for j, c in enumerate(CAT):
        k = 3 + j
        p = np.linspace(1, 4, k) if shifted and j < 2 else np.ones(k)
        X[c] = rng.choice(np.array([f"level_{v}" for v in range(k)], dtype=object), n, p=p / p.sum())
    z = sum(0.4 * X[c] for c in NUM[:6]) + (X["cat0"] == "level_0") * 0.8 - 0.3
    p1 = 1 / (1 + np.exp(-z))
    y = (rng.random(n) < p1).astype(int)
    out = pd.DataFrame({"prediction": (p1 >= 0.5).astype(int), "proba.0": 1 - p1, "proba.1": p1})
    return pd.concat([out, pd.DataFrame(X).add_prefix("in.")], axis=1).assign(label=y)


def write_log(root: Path, n: int, windows: int, t0: pd.Timestamp):
    per = n // windows
    for w in range(windows):
        df = rows(per, 1000 + w, shifted=w >= windows * 2 // 3)
        ts = t0 + pd.Timedelta(days=w) + pd.to_timedelta(np.sort(np.random.default_rng(w).uniform(0, 86399, per)), "s")
        df.insert(0, "event_time", ts)
        df.insert(1, "row_id", [f"{w}-{i}" for i in range(per)])
        df.insert(2, "source", "live")
        d = root / f"day={(t0 + pd.Timedelta(days=w)):%Y-%m-%d}"
        d.mkdir(parents=True)
        df.to_parquet(d / "part-0.parquet", index=False)
    return per


class PeakRSS:
    "Peak resident memory above the level at entry (MiB), sampled every 20 ms in a thread."
    def __enter__(self):
        gc.collect()
        self.p = psutil.Process()
        self.base = self.peak = self.p.memory_info().rss
        self.done = threading.Event()
        def watch():
            while not self.done.wait(0.02): self.peak = max(self.peak, self.p.memory_info().rss)
        self.t = threading.Thread(target=watch, daemon=True)
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.t.join()
        self.peak = max(self.peak, self.p.memory_info().rss)
        self.mib = (self.peak - self.base) / 2**20


def evidently_window(cur, ref):
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset
    cols = [f"in.{c}" for c in NUM + CAT]
    dd = DataDefinition(numerical_columns=[f"in.{c}" for c in NUM], categorical_columns=[f"in.{c}" for c in CAT],
                        classification=[BinaryClassification(target="label", prediction_probas="proba.1")])
    keep = cols + ["label", "proba.1"]
    c, r = (Dataset.from_pandas(d[keep], data_definition=dd) for d in (cur, ref))
    return Report([DataDriftPreset(columns=cols), ClassificationPreset()]).run(c, r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--windows", type=int, default=100)
    ap.add_argument("--evidently-windows", type=int, default=None, help="windows Evidently runs on (default all)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick: a.rows, a.windows = 200_000, 10
    ev_n = min(a.evidently_windows or a.windows, a.windows)
    from mlops_workbench import monitor
    from mlops_workbench.drift_views import evidently_verdicts
    print(f"load average {os.getloadavg()}; {a.rows:,} rows over {a.windows} windows; Evidently on {ev_n}")
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "log"
        per = write_log(root, a.rows, a.windows, t0)
        ref = rows(100_000, 7)
        one = pd.read_parquet(next(root.glob("day=*/part-0.parquet")))
        window_mib = one.memory_usage(deep=True).sum() / 2**20
        del one
        monitor.check(root, ref.head(2000), "1D", end=t0 + pd.Timedelta(days=1), estimate=False)  # warm up imports
        with PeakRSS() as mem:
            t = time.perf_counter()
            rep = monitor.check(root, ref, "1D", estimate=False)
            ours = time.perf_counter() - t
        t = time.perf_counter()
        monitor.check(root, ref, "1D", estimate=True)
        ours_cbpe = time.perf_counter() - t
        import pyarrow.dataset as ds
        data, f = ds.dataset(root, format="parquet", partitioning="hive"), ds.field("event_time")
        ev_secs, agree, total = [], 0, 0
        for w in range(ev_n):
            a_, b_ = t0 + pd.Timedelta(days=w), t0 + pd.Timedelta(days=w + 1)
            t = time.perf_counter()
            cur = data.to_table(filter=(f >= a_.to_pydatetime()) & (f < b_.to_pydatetime())).to_pandas()
            snap = evidently_window(cur, ref)
            ev_secs.append(time.perf_counter() - t)
            ev = evidently_verdicts(snap)
            theirs = {c[3:] for c in ev.index[ev["drifted"].astype(bool)]}
            mine = set(rep.details[a_.isoformat()]["drifted_columns"])
            agree += len(NUM + CAT) - len(theirs ^ mine)
            total += len(NUM + CAT)
        ev_total = float(np.mean(ev_secs)) * a.windows
    est = "" if ev_n == a.windows else f" (mean of {ev_n} windows x {a.windows})"
    print(f"\nmonitor.check over {a.rows:,} rows in {a.windows} daily windows of {per:,} rows")
    print(f"{'':<46}{'seconds':>10}{'ratio':>10}")
    print(f"{'Evidently DataDrift+Classification per window' + est:<46}{ev_total:>10.1f}{'1.0x':>10}")
    print(f"{'monitor.check (drift, quality, realised)':<46}{ours:>10.1f}{ev_total / ours:>9.1f}x")
    print(f"{'monitor.check + CBPE estimate':<46}{ours_cbpe:>10.1f}{ev_total / ours_cbpe:>9.1f}x")
    print(f"drift verdicts equal to Evidently's: {agree}/{total} column-windows")
    print(f"peak RSS growth during check: {mem.mib:.0f} MiB; one window in memory: {window_mib:.0f} MiB "
          f"({mem.mib / window_mib:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
