"""Benchmark `mlops_workbench.eda.profile` against ydata-profiling's minimal report.

    python benchmarks/bench_profile.py            # 100,000 x 20 side by side, then 1,000,000 x 20 (ours alone)
    python benchmarks/bench_profile.py --rows 20000 --big-rows 200000   # a quick run

ydata-profiling pins its own numpy/pandas ranges, so it runs in its own venv,
`benchmarks/.venvs/ydata`, created on first use (python -m venv; pip install ydata-profiling).
Both sides profile the same CSV (read before the clock starts) and write their HTML report.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "ydata"


def make_data(n: int, seed: int = 0):
    "n x 20 mixed columns: 16 numeric (normal, skewed, integer, with NaN) and 4 text columns (with NaN)."
    import numpy as np, pandas as pd
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(6): cols[f"normal_{i}"] = rng.normal(100 * i, 1 + i, n)
    for i in range(4): cols[f"skewed_{i}"] = rng.lognormal(0, 1 + i / 2, n)
    for i in range(4): cols[f"int_{i}"] = rng.integers(0, 10 ** (i + 1), n)
    cols["rate"] = rng.uniform(0, 1, n)
    cols["linked"] = cols["normal_1"] * 2 + rng.normal(0, 0.1, n)
    for i, levels in enumerate([["red", "green", "blue"], ["a", "b", "c", "d", "e", "f"], ["yes", "no", "?"],
                                [f"city_{k}" for k in range(40)]]):
        cols[f"text_{i}"] = rng.choice(levels, n)
    df = pd.DataFrame(cols)
    for c in ["normal_0", "skewed_1", "rate", "text_1", "text_3"]:
        df.loc[rng.random(n) < 0.05, c] = np.nan
    return df


def peer_worker(csv: str, html: str, repeat: int) -> None:
    "Run inside the ydata venv: time ProfileReport(minimal=True) with its HTML written; print JSON."
    import pandas as pd
    from harness import peak_rss_mib
    from ydata_profiling import ProfileReport
    df = pd.read_csv(csv)
    times, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        rep = ProfileReport(df, minimal=True, progress_bar=False)
        rep.to_file(html)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    stats = {}
    try:
        for c, v in rep.get_description().variables.items():
            stats[c] = {k: (float(v[k]) if k in v and v[k] is not None else None)
                        for k in ("n_missing", "n_distinct", "mean")}
    except Exception as e: stats = {"error": repr(e)}
    maxrss_mb = peak_rss_mib()
    print(json.dumps(dict(seconds=min(times), cpu=min(cpus), all=times, maxrss_mb=maxrss_mb, stats=stats)))


def ensure_venv() -> Path:
    "Create benchmarks/.venvs/ydata with ydata-profiling unless it is there already."
    py = VENV / "bin" / "python"
    if py.exists() and subprocess.run([py, "-c", "import ydata_profiling"], capture_output=True).returncode == 0:
        return py
    print(f"creating {VENV} and installing ydata-profiling (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "ydata-profiling"], check=True)
    return py


def time_ours(df, html: Path | None, repeat: int) -> tuple[float, float]:
    "Best wall-clock and CPU seconds of `repeat` runs of profile(df) (plus writing its HTML if `html`)."
    from mlops_workbench.eda import profile
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        p = profile(df)
        if html is not None: p.save_html(html)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu


def peak_ours(df) -> float:
    "Peak memory (bytes) Python and NumPy allocate while profiling `df`, by tracemalloc."
    import tracemalloc
    from mlops_workbench.eda import profile
    tracemalloc.start()
    tracemalloc.reset_peak()
    profile(df)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def agreement(ours, theirs: dict) -> str:
    "How many columns agree with ydata on missing count, distinct count and (numeric) mean."
    if "error" in theirs: return f"n/a ({theirs['error']})"
    f, ok = ours.to_frame(), 0
    for c, v in theirs.items():
        same = v["n_missing"] == f.loc[c, "missing"] and v["n_distinct"] == f.loc[c, "distinct"]
        if v.get("mean") is not None and f.loc[c, "kind"] == "numeric":
            same &= abs(v["mean"] - f.loc[c, "mean"]) <= 1e-9 * max(1, abs(v["mean"]))
        ok += bool(same)
    return f"{ok}/{len(theirs)} columns"


def main(rows: int, big_rows: int, repeat: int, skip_peer: bool) -> None:
    import pandas as pd
    from mlops_workbench.eda import profile
    out = Path(tempfile.mkdtemp(prefix="bench_profile_"))
    df = make_data(rows)
    csv = out / "data.csv"
    df.to_csv(csv, index=False)
    df = pd.read_csv(csv)  # both sides profile exactly what the CSV reader gives
    ours, ours_cpu = time_ours(df, out / "ours.html", repeat)
    lines = [f"{'case':<50}{'wall s':>8}{'cpu s':>8}{'memory MB':>11}{'wall ratio':>12}{'cpu ratio':>11}"]
    lines.append(f"{f'eda.profile + HTML, {rows:,} x 20':<50}{ours:>8.3f}{ours_cpu:>8.3f}"
                 f"{peak_ours(df) / 2**20:>11.0f}{'1.0':>12}{'1.0':>11}")
    if not skip_peer:
        py = ensure_venv()
        res = subprocess.run([py, __file__, "--peer-worker", str(csv), str(out / "ydata.html"), "--repeat", "2"],
                             capture_output=True, text=True, check=True)
        peer = json.loads(res.stdout.strip().splitlines()[-1])
        lines.append(f"{f'ydata ProfileReport(minimal) + HTML, {rows:,} x 20':<50}"
                     f"{peer['seconds']:>8.3f}{peer['cpu']:>8.3f}"
                     f"{peer['maxrss_mb']:>11.0f}{peer['seconds'] / ours:>12.1f}{peer['cpu'] / ours_cpu:>11.1f}")
        lines.append("  memory: ours is the tracemalloc peak during profile; "
                     "ydata's is its process' max RSS (data included)")
        lines.append(f"  agreement with ydata on missing/distinct/mean: {agreement(profile(df), peer['stats'])}")
    big = make_data(big_rows, seed=1)
    size = big.memory_usage(deep=True).sum()
    t_big, c_big = time_ours(big, None, repeat)
    peak = peak_ours(big)
    lines.append(f"{f'eda.profile, {big_rows:,} x 20':<50}{t_big:>8.3f}{c_big:>8.3f}{peak / 2**20:>11.0f}")
    lines.append(f"  DataFrame size (deep) {size / 2**20:,.0f} MB; peak / size = {peak / size:.2f} (goal < 3); "
                 "time goal < 3 s")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines.append(f"  load average during the run: {load} on {os.cpu_count()} CPUs")
    print("\n".join(lines))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--big-rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-peer", action="store_true", help="only time our profile")
    ap.add_argument("--peer-worker", nargs=2, metavar=("CSV", "HTML"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer_worker: peer_worker(*a.peer_worker, repeat=a.repeat)
    else: main(a.rows, a.big_rows, a.repeat, a.skip_peer)
