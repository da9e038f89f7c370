"""Benchmark: `mlops_workbench.drift.detect` vs Evidently 0.7 `Report([DataDriftPreset()]).run(current, reference)`.

Workload (issue 7): reference and current of N rows x 25 columns (20 float, 5 string categorical with
3-8 values), seeded; in current, 6 numeric and 2 categorical columns are shifted, the rest are not.
Both run in the same process on the same DataFrames (Evidently is already a main dependency, so no
separate venv). Memory is the peak resident-set growth during each call (sampled every 20 ms),
compared with the in-memory size of reference + current. Verdict agreement compares per-column test
and drifted flag with Evidently's (`drift_views.evidently_verdicts`).

Both sides are warmed up on a 2,000-row table first, so lazy imports are not timed. Wall and CPU
time are both printed: on a shared machine the CPU ratio is the steadier figure.

Run: nice python benchmarks/bench_drift.py [--rows 1000000 200000] [--skip-evidently]
"""
import argparse, gc, tempfile, threading, time
import numpy as np
import pandas as pd
import psutil


def make(n, seed, shifted):
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(20):
        shift = 0.25 * (i % 3 + 1) if shifted and i < 6 else 0.0
        cols[f"num{i}"] = rng.normal(shift, 1 + i / 10, n) if i % 2 else rng.gamma(2 + i / 10, 1, n) + shift
    for j in range(5):
        k = 3 + j
        p = np.full(k, 1 / k)
        if shifted and j < 2:
            p = np.linspace(1, 4, k)
            p /= p.sum()
        cols[f"cat{j}"] = rng.choice(np.array([f"level_{v}" for v in range(k)], dtype=object), n, p=p)
    return pd.DataFrame(cols)


class PeakRSS:
    "Peak resident memory above the level at entry, sampled in a thread."
    def __enter__(self):
        self.p = psutil.Process()
        gc.collect()
        self.base = self.peak = self.p.memory_info().rss
        self.run = True
        self.t = threading.Thread(target=self._poll, daemon=True)
        self.t.start()
        return self
    def _poll(self):
        while self.run:
            self.peak = max(self.peak, self.p.memory_info().rss)
            time.sleep(0.02)
    def __exit__(self, *a):
        self.run = False
        self.t.join()
        self.peak = max(self.peak, self.p.memory_info().rss)
    @property
    def extra_mb(self): return (self.peak - self.base) / 2**20
    @property
    def peak_mb(self): return self.peak / 2**20


def warm_up(skip_evidently):
    "Pay both sides' lazy imports (SciPy, Evidently internals) before anything is timed."
    from mlops_workbench import drift
    small_ref, small_cur = make(2000, 5, False), make(2000, 6, True)
    drift.detect(small_ref, small_cur)
    if not skip_evidently:
        import warnings
        warnings.filterwarnings("ignore")
        from evidently import Report
        from evidently.presets import DataDriftPreset
        Report([DataDriftPreset()]).run(small_cur, small_ref)


def run(n, skip_evidently):
    from mlops_workbench import drift, drift_views
    ref, cur = make(n, 0, False), make(n, 1, True)
    data_mb = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**20
    with PeakRSS() as m_ours:
        t, c = time.perf_counter(), time.process_time()
        ours = drift.detect(ref, cur)
        t_ours, c_ours = time.perf_counter() - t, time.process_time() - c
    row = dict(rows=n, data_mb=data_mb, ours_s=t_ours, ours_cpu_s=c_ours, ours_mem_mb=m_ours.extra_mb,
               ours_peak_rss_mb=m_ours.peak_mb, ours_drifted=ours.n_drifted)
    with tempfile.TemporaryDirectory() as d:  # the same tables as Parquet files, read in chunks
        ref.to_parquet(f"{d}/ref.parquet", row_group_size=131_072)
        cur.to_parquet(f"{d}/cur.parquet", row_group_size=131_072)
        with PeakRSS() as m_pq:
            t = time.perf_counter()
            pq = drift.detect(f"{d}/ref.parquet", f"{d}/cur.parquet", chunk_rows=131_072)
            t_pq = time.perf_counter() - t
    same = int((pq.by_column["drifted"] == ours.by_column["drifted"]).sum())
    row |= dict(parquet_s=t_pq, parquet_mem_mb=m_pq.extra_mb, parquet_agree=f"{same}/{len(ours.by_column)}")
    if not skip_evidently:
        import warnings
        warnings.filterwarnings("ignore")
        from evidently import Report
        from evidently.presets import DataDriftPreset
        with PeakRSS() as m_ev:
            t, c = time.perf_counter(), time.process_time()
            snap = Report([DataDriftPreset()]).run(cur, ref)
            t_ev, c_ev = time.perf_counter() - t, time.process_time() - c
        ev = drift_views.evidently_verdicts(snap)
        both = ours.by_column.join(ev, rsuffix="_ev", how="inner")
        agree = int(((both["test"] == both["test_ev"]) & (both["drifted"] == both["drifted_ev"])).sum())
        row |= dict(evidently_s=t_ev, evidently_cpu_s=c_ev, ratio=t_ev / t_ours, cpu_ratio=c_ev / c_ours, evidently_mem_mb=m_ev.extra_mb, evidently_drifted=int(ev["drifted"].sum()),
                    agree=f"{agree}/{len(ev)}")
        bad = both[(both["test"] != both["test_ev"]) | (both["drifted"] != both["drifted_ev"])]
        if len(bad): print(bad[["test", "statistic", "drifted", "test_ev", "statistic_ev", "drifted_ev"]])
    return row


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--skip-evidently", action="store_true")
    a = ap.parse_args()
    warm_up(a.skip_evidently)
    rows = []
    for n in a.rows:
        rows.append(run(n, a.skip_evidently))
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).round(2).to_string(index=False))
    for r in rows:
        print(f"rows={r['rows']:,}: ours {r['ours_s']:.2f} s ({r['ours_cpu_s']:.2f} s CPU), peak extra memory {r['ours_mem_mb']:.0f} MB "
              f"= {r['ours_mem_mb'] / r['data_mb']:.2f}x the data ({r['data_mb']:.0f} MB); peak process RSS "
              f"{r['ours_peak_rss_mb']:.0f} MB = {r['ours_peak_rss_mb'] / r['data_mb']:.2f}x the data"
              + f"; Parquet chunked {r['parquet_s']:.2f} s, {r['parquet_mem_mb']:.0f} MB, same verdicts as in memory {r['parquet_agree']}"
              + (f"; Evidently {r['evidently_s']:.1f} s ({r['ratio']:.1f}x slower; CPU {r['evidently_cpu_s']:.1f} s, {r['cpu_ratio']:.1f}x), "
                 f"{r['evidently_mem_mb']:.0f} MB extra; verdicts agree {r['agree']}"
                 if "ratio" in r else ""))
