"""Benchmark: `mlops_workbench.estimation.CBPE` vs NannyML 0.13.1 `CBPE` (binary), same data and chunks.

Data (seeded, written once to .npy files both sides read): a reference of `--reference` rows and an
analysis stream of `--analysis` rows. Scores are uniform; labels are drawn with probability
score**1.5, so the scores are miscalibrated and both sides fit the isotonic calibrator (the
rule's verdict is printed). Decisions: score >= 0.5 (NannyML's `y_pred` column). Metrics:
roc_auc, average_precision, accuracy, f1, precision, recall; chunks of `--chunk-size` rows.
With `--classes K` (K > 2) the model is multiclass: it gives softmax(z) of normal logits z while the
labels are drawn from softmax(z / 2) (overconfident, so each class is calibrated); decisions are the
largest probability; metrics accuracy, balanced_accuracy, f1_macro, roc_auc_ovr (NannyML's accuracy,
recall, f1, roc_auc, all macro one-vs-rest).

Each side runs in its own fresh process: NannyML in its own venv under benchmarks/.venvs/nannyml
(pandas < 3, numpy < 2.3, scikit-learn < 1.7, statsmodels, created on first use), with
NML_DISABLE_USAGE_LOGGING=1 so it reports nothing over the network. Timed: `fit` on the reference and
`estimate` over the stream (median of `--repeat` runs in one process, import excluded); memory is the
process's peak RSS. Agreement: per chunk and metric, the max |difference| of the estimate, the sampling
error and the band (NannyML's seed for the average-precision bootstrap is set with np.random.seed(0),
ours with random_state=0). The compute floor is the numpy work no implementation can skip: one sort of
the reference and the random numbers of the calibration rule's splits and of the bootstrap (`fit`), and
one sort of each chunk, calibrating it and its cumulative sums (`estimate`).

Run:   python benchmarks/bench_cbpe.py            (100,000 reference rows, 2,000,000 analysis rows)
       python benchmarks/bench_cbpe.py --quick    (smoke run: 5,000 / 50,000 rows, 1 repeat)
       python benchmarks/bench_cbpe.py --quick --decimals 2    (tied scores, as tree models give)
       python benchmarks/bench_cbpe.py --quick --classes 4     (multiclass: accuracy, balanced_accuracy, f1_macro,
                                                                roc_auc_ovr = NannyML's accuracy, recall, f1, roc_auc)
"""
import argparse, json, os, subprocess, sys, tempfile, textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import PEAK_RSS, peer_python, table

# our metric name: NannyML's (binary; multiclass)
METRICS = {m: m for m in ["roc_auc", "average_precision", "accuracy", "f1", "precision", "recall"]}
MULTICLASS_METRICS = {"accuracy": "accuracy", "balanced_accuracy": "recall", "f1_macro": "f1", "roc_auc_ovr": "roc_auc"}
PEER_REQUIREMENTS = ["nannyml==0.13.1", "pandas<3", "numpy<2.3", "scikit-learn<1.7", "statsmodels<0.15"]

COMMON = PEAK_RSS + """
import json, statistics, sys, time
import numpy as np
folder, chunk_size, repeat, METRICS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
ref_y, ref_p, p = (np.load(f"{folder}/{k}.npy") for k in ("ref_y", "ref_p", "p"))
def timed(fn):
    secs, out = [], None
    for _ in range(repeat):
        t = time.perf_counter(); out = fn(); secs.append(time.perf_counter() - t)
    return statistics.median(secs), out
"""

PEER = COMMON + """
import warnings; warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml
from nannyml.calibration import NoopCalibrator
def frame(q):
    if q.ndim == 1: return pd.DataFrame({"p": q, "d": (q >= 0.5).astype(int)})
    return pd.DataFrame({f"p{k}": q[:, k] for k in range(q.shape[1])}).assign(d=q.argmax(axis=1))
ref, ana = frame(ref_p).assign(y=ref_y), frame(p)
multi = ref_p.ndim == 2
proba = {k: f"p{k}" for k in range(ref_p.shape[1])} if multi else "p"
def fit():
    np.random.seed(0)
    return nml.CBPE(metrics=list(METRICS.values()), y_pred_proba=proba, y_pred="d", y_true="y", chunk_size=chunk_size,
                    problem_type="classification_multiclass" if multi else "classification_binary").fit(ref)
fit_s, est = timed(fit)
est_s, res = timed(lambda: est.estimate(ana))
df = res.filter(period="analysis").to_df()
calibrated = [not isinstance(est._calibrators[k], NoopCalibrator) for k in sorted(proba)] if multi else \
    bool(est.needs_calibration)
out = {"keys": df[("chunk", "key")].tolist(), "calibrated": calibrated}
for m, theirs_m in METRICS.items():
    for ours, theirs in (("", "value"), ("_sampling_error", "sampling_error"),
                         ("_lower", "lower_confidence_boundary"), ("_upper", "upper_confidence_boundary")):
        out[m + ours] = df[(theirs_m, theirs)].astype(float).tolist()
json.dump(out, open(f"{folder}/peer.json", "w"))
print(json.dumps({"fit": fit_s, "estimate": est_s, "rss": peak_rss_mib()}))
"""

OURS = COMMON + """
import pandas as pd
from mlops_workbench.estimation import CBPE, chunk_bounds
import scipy.optimize, sklearn.metrics, sklearn.model_selection   # imported up front, as `import nannyml` does
fit_s, est = timed(lambda: CBPE(metrics=list(METRICS), random_state=0).fit(ref_y, ref_p))
est_s, df = timed(lambda: est.estimate_chunks(p, chunk_size=chunk_size))
out = {"keys": df.index.tolist(), "calibrated": est.calibrated_}
out.update({c: df[c].astype(float).tolist() for m in METRICS for c in (m, m + "_sampling_error", m + "_lower", m + "_upper")})
json.dump(out, open(f"{folder}/ours.json", "w"))
rss = peak_rss_mib()
# the compute floor: the work no implementation can skip to give NannyML's numbers. fit: one sort of the reference and
# the random numbers of the calibration rule's 10 stratified splits (per class), and of the 50 bootstrap samples of
# average precision (binary); estimate: one sort of each chunk, calibrating it and its cumulative sums
def floor_fit():
    rng, cols = np.random.RandomState(42), ref_p.reshape(len(ref_p), -1).T
    for q in cols:
        np.argsort(q, kind="stable")
        for _ in range(10): rng.permutation(len(q)), rng.permutation(len(q))
    if ref_p.ndim == 1: rng.randint(0, len(ref_p), size=(50, min(len(ref_p) // 2, 50_000)))
floor_fit_s = timed(floor_fit)[0]
def floor_estimate():
    b, cols = chunk_bounds(len(p), chunk_size), p.reshape(len(p), -1).T
    for q in cols:
        knots = np.sort(q[:1000]), np.linspace(0, 1, 1000)
        for s, e in b: np.cumsum(np.interp(np.sort(q[s:e]), *knots))
floor_est_s = timed(floor_estimate)[0]
print(json.dumps({"fit": fit_s, "estimate": est_s, "rss": rss, "floor_fit": floor_fit_s, "floor_estimate": floor_est_s}))
"""


def run(python: str, code: str, args: list, env: dict | None = None) -> dict:
    "Run `code` in a fresh process of `python`; return the JSON its last line prints."
    r = subprocess.run([python, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=7200)
    if r.returncode != 0: raise RuntimeError(f"benchmark process failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_data(folder: str, n_ref: int, n: int, decimals: int | None = None, classes: int = 2, seed: int = 0):
    """Binary: uniform scores, labels drawn with probability score**1.5. Multiclass: softmax of normal logits,
    labels drawn from the softmax of half the logits (overconfident). Both miscalibrated; `decimals` ties scores."""
    import numpy as np
    rng = np.random.default_rng(seed)
    softmax = lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    for prefix, size in (("ref_", n_ref), ("", n)):
        z = rng.normal(size=(size, classes))
        p = rng.uniform(size=size) if classes == 2 else softmax(z)
        if decimals is not None: p = np.round(p, decimals)
        if classes > 2:
            cum = softmax(z / 2).cumsum(axis=1)
            y = (rng.uniform(size=(size, 1)) > cum).sum(axis=1)
            np.save(f"{folder}/{prefix}p.npy", p)
            if prefix: np.save(f"{folder}/ref_y.npy", y)
            continue
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
    ap.add_argument("--classes", type=int, default=2, help="classes of the model (above 2: multiclass CBPE)")
    args = ap.parse_args()
    n_ref = args.reference or (5_000 if args.quick else 100_000)
    n = args.analysis or (50_000 if args.quick else 2_000_000)
    chunk = args.chunk_size or (5_000 if args.quick else 20_000)
    repeat = args.repeat or (1 if args.quick else 3)
    peer = peer_python("nannyml", PEER_REQUIREMENTS)
    with tempfile.TemporaryDirectory() as folder:
        write_data(folder, n_ref, n, args.decimals, args.classes)
        metrics = json.dumps(METRICS if args.classes == 2 else MULTICLASS_METRICS)
        ours = run(sys.executable, OURS, [folder, chunk, repeat, metrics])
        theirs = run(peer, PEER, [folder, chunk, repeat, metrics], env={"NML_DISABLE_USAGE_LOGGING": "1"})
        agree = agreement(folder)
        calibrated = json.load(open(f"{folder}/ours.json"))["calibrated"]
    size = f"{n_ref:,} reference rows, {n:,} analysis rows in chunks of {chunk:,}" + \
        (f", scores rounded to {args.decimals} decimals" if args.decimals is not None else "")
    rows = [{"workload": k, "workbench": ours[k], "nannyml": theirs[k]} for k in ("fit", "estimate")]
    rows.append({"workload": "fit + estimate", "workbench": ours["fit"] + ours["estimate"],
                 "nannyml": theirs["fit"] + theirs["estimate"]})
    print(f"CBPE, {'binary, 6' if args.classes == 2 else f'{args.classes} classes, 4'} metrics: {size}")
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
