"""Benchmark: `mlops_workbench.estimation.CBPE` vs NannyML 0.13.1 `CBPE` (binary), same data and chunks.

Data (seeded, written once to .npy files both sides read): a reference of `--reference` rows and an
analysis stream of `--analysis` rows. Scores are uniform; labels are drawn with probability
score**1.5, so the scores are miscalibrated and both sides fit the isotonic calibrator (the
rule's verdict is printed). Decisions: score >= 0.5 (NannyML's `y_pred` column). Metrics:
roc_auc, average_precision, accuracy, f1, precision, recall; chunks of `--chunk-size` rows.

Each side runs in its own fresh process: NannyML in its own venv under benchmarks/.venvs/nannyml
(pandas < 3, numpy < 2.3, scikit-learn < 1.7, statsmodels, created on first use), with
NML_DISABLE_USAGE_LOGGING=1 so it reports nothing over the network. Timed: `fit` on the reference and
`estimate` over the stream (median of `--repeat` runs in one process, import excluded); memory is the
process's peak RSS. Agreement: per chunk and metric, the max |difference| of the estimate, the sampling
error and the band (NannyML's seed for the average-precision bootstrap is set with np.random.seed(0),
ours with random_state=0). The compute floor is the numpy work no implementation can skip: sorting
the reference for the 11 isotonic fits of the calibration rule (`fit`), and calibrating, one argsort
per chunk and the per-chunk sums (`estimate`).

Run:   python benchmarks/bench_cbpe.py            (100,000 reference rows, 2,000,000 analysis rows)
       python benchmarks/bench_cbpe.py --quick    (smoke run: 5,000 / 50,000 rows, 1 repeat)
       python benchmarks/bench_cbpe.py --quick --decimals 2    (tied scores, as tree models give)
"""
import argparse, json, os, subprocess, sys, tempfile, textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import peer_python, table

METRICS = ["roc_auc", "average_precision", "accuracy", "f1", "precision", "recall"]
PEER_REQUIREMENTS = ["nannyml==0.13.1", "pandas<3", "numpy<2.3", "scikit-learn<1.7", "statsmodels<0.15"]

COMMON = """
import json, resource, statistics, sys, time
import numpy as np
folder, chunk_size, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ref_y, ref_p, p = (np.load(f"{folder}/{k}.npy") for k in ("ref_y", "ref_p", "p"))
METRICS = %r
def timed(fn):
    secs, out = [], None
    for _ in range(repeat):
        t = time.perf_counter(); out = fn(); secs.append(time.perf_counter() - t)
    return statistics.median(secs), out
""" % METRICS

PEER = COMMON + """
import warnings; warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml
ref = pd.DataFrame({"y": ref_y, "p": ref_p, "d": (ref_p >= 0.5).astype(int)})
ana = pd.DataFrame({"p": p, "d": (p >= 0.5).astype(int)})
def fit():
    np.random.seed(0)
    return nml.CBPE(metrics=METRICS, y_pred_proba="p", y_pred="d", y_true="y", problem_type="classification_binary",
                    chunk_size=chunk_size).fit(ref)
fit_s, est = timed(fit)
est_s, res = timed(lambda: est.estimate(ana))
df = res.filter(period="analysis").to_df()
out = {"keys": df[("chunk", "key")].tolist(), "calibrated": bool(est.needs_calibration)}
for m in METRICS:
    for ours, theirs in (("", "value"), ("_sampling_error", "sampling_error"),
                         ("_lower", "lower_confidence_boundary"), ("_upper", "upper_confidence_boundary")):
        out[m + ours] = df[(m, theirs)].astype(float).tolist()
json.dump(out, open(f"{folder}/peer.json", "w"))
print(json.dumps({"fit": fit_s, "estimate": est_s, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

OURS = COMMON + """
import pandas as pd
from mlops_workbench.estimation import CBPE, chunk_bounds
import scipy.optimize, sklearn.metrics, sklearn.model_selection   # imported up front, as `import nannyml` does
fit_s, est = timed(lambda: CBPE(metrics=METRICS, random_state=0).fit(ref_y, ref_p))
est_s, df = timed(lambda: est.estimate_chunks(p, chunk_size=chunk_size))
out = {"keys": df.index.tolist(), "calibrated": bool(est.calibrated_)}
out.update({c: df[c].astype(float).tolist() for m in METRICS for c in (m, m + "_sampling_error", m + "_lower", m + "_upper")})
json.dump(out, open(f"{folder}/ours.json", "w"))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the compute floor: sorting the reference for the 10 + 1 isotonic fits of the calibration rule; calibrating the
# stream, one argsort per chunk and the per-chunk sums
floor_fit_s = timed(lambda: [np.argsort(ref_p) for _ in range(11)])[0]
def floor_estimate():
    c, b = np.interp(p, np.sort(ref_p[:1000]), np.linspace(0, 1, 1000)), chunk_bounds(len(p), chunk_size)
    [np.argsort(p[s:e]) for s, e in b]
    return np.add.reduceat(c, np.array([s for s, _ in b]))
floor_est_s = timed(floor_estimate)[0]
print(json.dumps({"fit": fit_s, "estimate": est_s, "rss": rss, "floor_fit": floor_fit_s, "floor_estimate": floor_est_s}))
"""


def run(python: str, code: str, args: list, env: dict | None = None) -> dict:
    "Run `code` in a fresh process of `python`; return the JSON its last line prints."
    r = subprocess.run([python, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=7200)
    if r.returncode != 0: raise RuntimeError(f"benchmark process failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_data(folder: str, n_ref: int, n: int, decimals: int | None = None, seed: int = 0):
    "Uniform scores (rounded to `decimals`: tied scores), labels drawn with probability score**1.5 (miscalibrated)."
    import numpy as np
    rng = np.random.default_rng(seed)
    for prefix, size in (("ref_", n_ref), ("", n)):
        p = rng.uniform(size=size)
        if decimals is not None: p = np.round(p, decimals)
        y = (rng.uniform(size=size) < p ** 1.5).astype(int)
        np.save(f"{folder}/{prefix}p.npy", p)
        if prefix: np.save(f"{folder}/ref_y.npy", y)


def agreement(folder: str) -> list[tuple[str, float]]:
    "Max |ours - NannyML| per column over all chunks (NaN on both sides counts as equal)."
    import numpy as np
    a, b = (json.load(open(f"{folder}/{side}.json")) for side in ("ours", "peer"))
    assert a["keys"] == b["keys"], f"chunks differ: {a['keys'][:3]} vs {b['keys'][:3]}"
    assert a["calibrated"] == b["calibrated"], f"calibration verdicts differ: {a['calibrated']} vs {b['calibrated']}"
    out = []
    for col in (k for k in a if k not in ("keys", "calibrated")):
        x, y = np.array(a[col], float), np.array(b[col], float)
        both_nan = np.isnan(x) & np.isnan(y)
        out.append((col, float(np.max(np.where(both_nan, 0, np.abs(x - y))))))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 5,000 reference rows, 50,000 analysis rows")
    ap.add_argument("--reference", type=int, help="reference rows (default 100,000; quick 5,000)")
    ap.add_argument("--analysis", type=int, help="analysis rows (default 2,000,000; quick 50,000)")
    ap.add_argument("--chunk-size", type=int, help="rows per chunk (default 20,000; quick 5,000)")
    ap.add_argument("--repeat", type=int, help="timed runs per side, median reported (default 3; quick 1)")
    ap.add_argument("--decimals", type=int, help="round the scores to this many decimals (tied scores, as trees give)")
    args = ap.parse_args()
    n_ref = args.reference or (5_000 if args.quick else 100_000)
    n = args.analysis or (50_000 if args.quick else 2_000_000)
    chunk = args.chunk_size or (5_000 if args.quick else 20_000)
    repeat = args.repeat or (1 if args.quick else 3)
    peer = peer_python("nannyml", PEER_REQUIREMENTS)
    with tempfile.TemporaryDirectory() as folder:
        write_data(folder, n_ref, n, args.decimals)
        ours = run(sys.executable, OURS, [folder, chunk, repeat])
        theirs = run(peer, PEER, [folder, chunk, repeat], env={"NML_DISABLE_USAGE_LOGGING": "1"})
        agree = agreement(folder)
        calibrated = json.load(open(f"{folder}/ours.json"))["calibrated"]
    size = f"{n_ref:,} reference rows, {n:,} analysis rows in chunks of {chunk:,}" + \
        (f", scores rounded to {args.decimals} decimals" if args.decimals is not None else "")
    rows = [{"workload": k, "workbench": ours[k], "nannyml": theirs[k]} for k in ("fit", "estimate")]
    rows.append({"workload": "fit + estimate", "workbench": ours["fit"] + ours["estimate"],
                 "nannyml": theirs["fit"] + theirs["estimate"]})
    print(f"CBPE, 6 metrics: {size}")
    print(table(f"Time, median of {repeat} run(s) in one process each (import excluded)", rows, peer="nannyml"))
    print(f"\ncompute floor: fit {ours['floor_fit']:.3f}s (workbench {ours['fit'] / ours['floor_fit']:.1f}x it), "
          f"estimate {ours['floor_estimate']:.3f}s (workbench {ours['estimate'] / ours['floor_estimate']:.1f}x it)")
    print(f"peak RSS: workbench {ours['rss']:.0f} MiB, nannyml {theirs['rss']:.0f} MiB")
    print(f"\ncalibration rule (both sides agree): calibrate = {calibrated}")
    print(f"{'agreement per chunk':<40} {'max |ours - nannyml|':>22}")
    for col, d in agree: print(f"{col:<40} {d:>22.2e}")
    worst = max(d for _, d in agree)
    print(f"{'ALL':<40} {worst:>22.2e}  ({'equal to 1e-6' if worst <= 1e-6 else 'NOT EQUAL to 1e-6'})")


if __name__ == "__main__":
    main()
