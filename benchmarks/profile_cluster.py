"""Time `eda.profile` on a Parquet path with a given dask client: what `bench_cluster.py` calls for its profile rows.

    sys.path.insert(0, "benchmarks"); from profile_cluster import time_profile, verdicts
    row, prof = time_profile("/data/big", client, target="y")

`row` has engine, seconds, rows, columns, warnings, duplicate_rows and `worker_peak_mib` (each worker's
peak RSS during the call, MiB, from dask's own worker memory figures, sampled every 0.1 s); `prof` is the
`Profile`, so its verdicts can be compared with the chunked engine's: `verdicts(a) == verdicts(b)`.
Pass `client=None` to time the chunked engine on this machine instead.
"""
from __future__ import annotations
import sys, threading, time
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
