"""Time `eda.profile` on a Parquet path with a given dask client: the function `bench_cluster.py` calls.

    sys.path.insert(0, "benchmarks"); from profile_cluster import time_profile, verdicts
    row, prof = time_profile("/data/big", client, target="y")

`row` has engine, seconds, rows, columns, warnings, duplicate_rows and `worker_peak_mib` (each worker's
peak RSS during the call, MiB, from dask's own worker memory figures, sampled every 0.1 s); `prof` is the
`Profile`, so its verdicts can be compared with the chunked engine's: `verdicts(a) == verdicts(b)`.
Pass `client=None` to time the chunked engine on this machine instead.

    python benchmarks/profile_cluster.py --quick                  # smoke run: 20,000 rows x 20 in 4 files
    python benchmarks/profile_cluster.py --rows 1000000 --files 8  # memory vs chunked vs dask, ratios
"""
from __future__ import annotations
import argparse, os, sys, tempfile, threading, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _worker_mib(client) -> dict:
    "Each worker's memory (process RSS, MiB) as dask's scheduler last heard it."
    return {a: w["metrics"]["memory"] / 2**20 for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}


class _PeakSampler(threading.Thread):
    "Samples the workers' RSS every `every` seconds until stopped; `peak` holds each worker's highest."
    def __init__(self, client, every=0.1):
        super().__init__(daemon=True)
        self.client, self.every, self.peak, self.done = client, every, {}, threading.Event()

    def run(self):
        while not self.done.is_set():
            for a, m in _worker_mib(self.client).items(): self.peak[a] = max(self.peak.get(a, 0.0), m)
            self.done.wait(self.every)


def verdicts(prof) -> set:
    "What a profile concludes, engine aside: (kind, columns) of every finding but the `approximate` notes."
    return {(w.kind, w.columns) for w in prof.warnings if w.kind != "approximate"}


def time_profile(path, client, target=None, repeat: int = 1):
    "Seconds (best of `repeat`) of `eda.profile(path, target, client=client)`, worker peak RSS, and the profile."
    from mlops_workbench.eda import profile
    best, sampler = float("inf"), _PeakSampler(client) if client is not None else None
    if sampler: sampler.start()
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            prof = profile(path, target, client=client)
            best = min(best, time.perf_counter() - t)
    finally:
        if sampler:
            sampler.done.set()
            sampler.join()
    row = dict(engine="dask" if client is not None else "chunked", seconds=best, rows=prof.n_rows,
               columns=prof.n_columns, warnings=len(prof.warnings), duplicate_rows=prof.duplicate_rows,
               worker_peak_mib=dict(sampler.peak) if sampler else {})
    return row, prof


def write_parts(df, folder: Path, files: int) -> Path:
    "`df` as `files` Parquet files in `folder`."
    import numpy as np
    folder.mkdir(parents=True, exist_ok=True)
    for i, idx in enumerate(np.array_split(np.arange(len(df)), files)):
        df.iloc[idx].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return folder


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 20,000 rows, 4 files, one repeat")
    a = ap.parse_args(argv)
    if a.quick: a.rows, a.files, a.repeat = 20_000, 4, 1
    import pandas as pd
    from distributed import Client, LocalCluster
    from bench_profile import make_data
    from mlops_workbench.eda import profile
    with tempfile.TemporaryDirectory() as d:
        folder = write_parts(make_data(a.rows), Path(d) / "data", a.files)
        t = time.perf_counter()
        mem = profile(pd.read_parquet(folder))
        t_mem = time.perf_counter() - t
        chunked, p_chunked = time_profile(folder, None, repeat=a.repeat)
        t = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="4GB", dashboard_address=":0") as lc, \
                Client(lc, set_as_default=False) as c:
            startup = time.perf_counter() - t
            on_dask, p_dask = time_profile(folder, c, repeat=a.repeat)
    print(f"profile of {a.rows:,} rows x 20 columns in {a.files} Parquet files (pid {os.getpid()})")
    print(f"{'engine':<10} {'seconds':>9} {'vs memory':>10}")
    print(f"{'memory':<10} {t_mem:>9.3f} {'1.00x':>10}   (read_parquet + profile)")
    for r in (chunked, on_dask): print(f"{r['engine']:<10} {r['seconds']:>9.3f} {r['seconds'] / t_mem:>9.2f}x")
    print(f"LocalCluster start-up (apart): {startup:.2f} s; worker peak RSS (MiB): "
          + ", ".join(f"{m:.0f}" for m in on_dask["worker_peak_mib"].values()))
    same = verdicts(p_chunked) == verdicts(p_dask) == verdicts(mem)
    print(f"same verdicts (memory, chunked, dask): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
