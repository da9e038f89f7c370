"""Benchmark: drift and profile on a dask cluster vs the single-machine engines (issue 18).

(a) Scale: reference and current of N rows x 20 columns each (10 float64, 4 float32, 2 int32, 4 categorical;
    in current 5 numeric and 2 categorical columns are shifted), written by the benchmark as partitioned
    Parquet (Hive `part=K/` folders, 1,000,000 rows a file) under a temporary folder that is deleted
    afterwards. `drift.detect` runs on a LocalCluster of 2 workers capped at 4 GB each (`client=`) and with
    the single-machine chunked engine (no client, no scheduler). Printed: same verdicts or not, wall time,
    peak RSS of each worker and of the client process (psutil, sampled every 50 ms). Then `eda.profile` of the
    current side, chunked and on the cluster: same findings or not, wall time, workers' peak RSS (dask's figures).
(b) Overhead: M rows per side from Parquet on the already running cluster vs the in-memory engine on the
    same rows in pandas, both from the same files (in memory: `pd.read_parquet` + `detect`; the detect-only
    time is printed too), and the same for `eda.profile` of the current side. Target: dask / in-memory <= 1.5x.
    Cluster start-up time is reported apart.

Run: nice python benchmarks/bench_cluster.py            # 50,000,000 rows per side, needs ~11 GB of disk
     python benchmarks/bench_cluster.py --quick         # 500,000 / 200,000 rows: a smoke test
     nice python benchmarks/bench_cluster.py --only-overhead   # (b) alone, 1,000,000 rows per side: ~1 minute
"""
from __future__ import annotations
import argparse, os, shutil, sys, tempfile, threading, time
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import table  # noqa: E402
from profile_cluster import time_profile, verdicts  # noqa: E402

BYTES_PER_ROW = 10 * 8 + 4 * 4 + 2 * 4 + 4 * 1  # Parquet of random numbers hardly compresses; categories do
FILE_ROWS = 1_000_000


def make(n, seed, shifted):
    "One partition: 20 columns, seeded; `shifted` moves 5 numeric and 2 categorical columns."
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(10):
        cols[f"f64_{i}"] = rng.normal(0.2 if shifted and i < 3 else 0.0, 1 + i / 10, n)
    for i in range(4):
        cols[f"f32_{i}"] = rng.gamma(2 + i, 1, n).astype(np.float32) + np.float32(0.3 if shifted and i < 2 else 0)
    for i in range(2):
        cols[f"i32_{i}"] = rng.integers(0, 1000, n, dtype=np.int32)
    for j in range(4):
        k = 3 + j
        p = np.linspace(1, 4, k) if shifted and j < 2 else np.ones(k)
        cols[f"cat{j}"] = pd.Categorical.from_codes(rng.choice(k, n, p=p / p.sum()), [f"level_{v}" for v in range(k)])
    return pd.DataFrame(cols)


def write_dataset(root: Path, rows: int, seed: int, shifted: bool, file_rows: int = FILE_ROWS) -> Path:
    "A partitioned Parquet dataset of `rows` rows, `file_rows` rows a file, written file by file."
    for k, start in enumerate(range(0, rows, file_rows)):
        (root / f"part={k:04d}").mkdir(parents=True)
        make(min(file_rows, rows - start), seed * 100_000 + k, shifted).to_parquet(
            root / f"part={k:04d}" / "data.parquet", index=False, row_group_size=262_144)
    return root


def check_disk(folder: Path, rows: int):
    "Refuse to start when the two datasets would not fit (with a 30% margin)."
    need, free = 2 * rows * BYTES_PER_ROW * 1.3, shutil.disk_usage(folder).free
    if need > free:
        sys.exit(f"{folder}: {free / 2**30:.1f} GiB free, the datasets need about {need / 2**30:.1f} GiB; "
                 "pass --tmp on a larger disk or fewer --rows.")


class PeakRSS:
    "Peak RSS (MiB) of each of `pids`, sampled in a thread every `every` seconds."
    def __init__(self, pids, every=0.05):
        self.procs = {p: psutil.Process(p) for p in pids}
        self.peak, self.every = dict.fromkeys(pids, 0.0), every
    def _poll(self):
        while self.run:
            for pid, p in self.procs.items():
                try: self.peak[pid] = max(self.peak[pid], p.memory_info().rss / 2**20)
                except psutil.Error: pass  # a worker that died and was replaced
            time.sleep(self.every)
    def __enter__(self):
        self.run = True
        self.t = threading.Thread(target=self._poll, daemon=True)
        self.t.start()
        return self
    def __exit__(self, *a):
        self.run = False
        self.t.join()


@dataclass
class Run:
    name: str
    seconds: float
    client_mb: float
    worker_mb: list = field(default_factory=list)
    report: object = None


def _timed(name, fn, worker_pids=()):
    with PeakRSS([os.getpid(), *worker_pids]) as m:
        t = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t
    return Run(name, secs, m.peak[os.getpid()], [m.peak[p] for p in worker_pids], out)


def run_chunked(ref, cur, plain_settings) -> Run:
    "The single-machine chunked engine (no client, no scheduler configured)."
    from mlops_workbench.drift import detect
    return _timed("chunked (this machine)", lambda: detect(ref, cur, settings=plain_settings))


def run_dask(client, ref, cur) -> Run:
    "The dask engine on `client`'s cluster; worker RSS sampled by pid."
    from mlops_workbench.drift import detect
    pids = list(client.run(os.getpid).values())
    return _timed("dask (2 workers)", lambda: detect(ref, cur, client=client), pids)


def run_memory(ref, cur) -> tuple[Run, Run]:
    "The in-memory engine on the same rows: read from Parquet + detect, and detect alone."
    from mlops_workbench.drift import detect
    frames = {}
    read = _timed("in memory: read Parquet", lambda: frames.update(r=pd.read_parquet(ref), c=pd.read_parquet(cur)))
    run = _timed("in memory: detect", lambda: detect(frames["r"], frames["c"]))
    return Run("in memory (read + detect)", read.seconds + run.seconds, max(read.client_mb, run.client_mb),
               report=run.report), run


def start_cluster(workers, memory_limit):
    "A LocalCluster and its client, and the seconds they took to start."
    from distributed import Client, LocalCluster
    t = time.perf_counter()
    lc = LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=memory_limit, dashboard_address=":0")
    client = Client(lc, set_as_default=False)
    client.wait_for_workers(workers)
    return lc, client, time.perf_counter() - t


def same_verdicts(a, b) -> str:
    da, db = a.by_column["drifted"], b.by_column["drifted"].reindex(a.by_column.index)
    return f"{int((da == db).sum())}/{len(da)}" + ("" if a.dataset_drift == b.dataset_drift else " (dataset verdict differs!)")


def warm_up(root, client, plain):
    "Pay the lazy imports (pyarrow, SciPy, the workbench) here and on the workers before anything is timed."
    from mlops_workbench.drift import detect
    ref, cur = (write_dataset(root / f"warm_{s}", 2000, s, s == 6, 1000) for s in (5, 6))
    detect(ref, cur, settings=plain)
    detect(ref, cur, client=client)


def scale(root, client, rows, file_rows, plain) -> list:
    "(a): the big partitioned dataset, chunked here vs on the cluster."
    ref, cur = (write_dataset(root / side, rows, seed, seed == 2, file_rows) for side, seed in (("ref", 1), ("cur", 2)))
    runs = [run_chunked(ref, cur, plain), run_dask(client, ref, cur)]
    print(f"(a) {rows:,} rows x 20 columns per side, {len(list(ref.iterdir()))} files per side; "
          f"same verdicts dask vs chunked: {same_verdicts(runs[1].report, runs[0].report)}; "
          f"drifted columns: {runs[1].report.n_drifted}")
    (pc, prof_c), (pdk, prof_d) = time_profile(cur, None), time_profile(cur, client)
    print(f"(a) profile of the current side: same findings dask vs chunked: {verdicts(prof_c) == verdicts(prof_d)}")
    runs += [pc, pdk]
    shutil.rmtree(ref)
    shutil.rmtree(cur)
    return runs


def overhead(root, client, rows) -> list:
    "(b): a small dataset from Parquet on the running cluster vs in memory."
    per_file = -(-rows // 4)  # 4 files a side, so both workers have work
    ref, cur = write_dataset(root / "ref_b", rows, 3, False, per_file), write_dataset(root / "cur_b", rows, 4, True, per_file)
    mem, mem_detect = run_memory(ref, cur)
    dsk = run_dask(client, ref, cur)
    print(f"(b) {rows:,} rows per side: same verdicts dask vs in memory: {same_verdicts(dsk.report, mem.report)}")
    from mlops_workbench.eda import profile
    frame = {}
    read = _timed("read", lambda: frame.update(c=pd.read_parquet(cur)))
    prof_m = _timed("profile", lambda: profile(frame["c"]))
    pdk, prof_d = time_profile(cur, client, repeat=2)
    print(f"(b) profile: same findings dask vs in memory: {verdicts(prof_m.report) == verdicts(prof_d)}")
    return [mem, mem_detect, dsk, read.seconds + prof_m.seconds, prof_m.seconds, pdk]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000_000, help="rows per side for (a)")
    ap.add_argument("--small-rows", type=int, default=1_000_000, help="rows per side for (b)")
    ap.add_argument("--file-rows", type=int, default=FILE_ROWS, help="rows per Parquet file for (a)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--tmp", default=tempfile.gettempdir(), help="where the datasets are written (then deleted)")
    ap.add_argument("--quick", action="store_true", help="500,000 / 200,000 rows, 100,000 a file: a smoke test")
    ap.add_argument("--only-overhead", action="store_true", help="run (b) alone (--small-rows per side), not (a)")
    a = ap.parse_args()
    rows, small, file_rows = (500_000, 200_000, 100_000) if a.quick else (a.rows, a.small_rows, a.file_rows)
    check_disk(Path(a.tmp), small if a.only_overhead else rows)
    root = Path(tempfile.mkdtemp(prefix="bench_cluster_", dir=a.tmp))
    plain = root / "settings.ini"
    plain.write_text("[workbench]\ndask_scheduler =\n")
    os.environ["MLOPS_WORKBENCH_SETTINGS"] = str(plain)  # no scheduler configured: the chunked runs stay here
    lc, client, startup = start_cluster(a.workers, a.memory_limit)
    try:
        warm_up(root, client, plain)
        runs_a = None if a.only_overhead else scale(root, client, rows, file_rows, plain)
        runs_b = overhead(root, client, small)
    finally:
        client.close()
        lc.close()
        shutil.rmtree(root, ignore_errors=True)
    if runs_a: report_scale(runs_a, rows, a)
    report_overhead(runs_b, startup, small)


def report_scale(runs_a, rows, a):
    chunked, dsk, prof_c, prof_d = runs_a
    print(table(f"(a) drift, {rows:,} rows x 20 columns per side, wall time", [
        dict(workload="partitioned Parquet", dask=dsk.seconds, chunked=chunked.seconds)], ours="dask", peer="chunked"))
    print(f"peak RSS: client (with the LocalCluster's scheduler) {dsk.client_mb:.0f} MiB, workers " + ", ".join(f"{w:.0f}" for w in dsk.worker_mb)
          + f" MiB (cap {a.memory_limit} each); chunked engine's process {chunked.client_mb:.0f} MiB")
    print(table(f"(a) profile of one side, {rows:,} rows x 20 columns, wall time", [
        dict(workload="partitioned Parquet", dask=prof_d["seconds"], chunked=prof_c["seconds"])], ours="dask",
        peer="chunked"))
    print("peak RSS of the workers during the profile (dask's figures): "
          + ", ".join(f"{m:.0f}" for m in prof_d["worker_peak_mib"].values()) + " MiB")


def report_overhead(runs_b, startup, small):
    mem, mem_detect, dsk_b, prof_read, prof_mem, prof_dsk = runs_b
    print(table(f"(b) drift, {small:,} rows per side from Parquet, cluster already running, wall time", [
        dict(workload="in memory: read Parquet + detect", dask=dsk_b.seconds, memory=mem.seconds),
        dict(workload="in memory: detect only (frames already loaded)", dask=dsk_b.seconds, memory=mem_detect.seconds)],
        ours="dask", peer="memory"))
    print(f"dask / in memory (read + detect) = {dsk_b.seconds / mem.seconds:.2f}x, "
          f"dask / detect only = {dsk_b.seconds / mem_detect.seconds:.2f}x (target <= 1.5x); "
          f"cluster start-up {startup:.1f} s, not included")
    print(table(f"(b) profile, {small:,} rows from Parquet, cluster already running, wall time", [
        dict(workload="in memory: read Parquet + profile", dask=prof_dsk["seconds"], memory=prof_read),
        dict(workload="in memory: profile only (frame already loaded)", dask=prof_dsk["seconds"], memory=prof_mem)],
        ours="dask", peer="memory"))
    print(f"profile: dask / in memory (read + profile) = {prof_dsk['seconds'] / prof_read:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
