"""Benchmark: `mlops-workbench serve` vs `mlflow models serve` (MLflow's own scoring server), and batch scoring vs the floor.

Workload (issue 14, "Speed"): the demo's champion, registered in a throwaway workspace with its own SQLite MLflow
store: `models.compare` on german_credit with models "lr,rf", cv=3, the best promoted as `credit-risk@champion`.

Serving, side by side in the same run: `mlflow models serve -m models:/credit-risk@champion --env-manager local
--workers 2` against `mlops-workbench serve credit-risk --workers 2` with the inference log on (every prediction
fsync'd before the answer). Both are real processes on free 127.0.0.1 ports; once every server answers its
health check, the run waits until all their processes are idle (every worker has loaded its model). 8 client
threads (one `requests.Session` each) send one-row and 100-row requests, bounded by a count and a time per phase.
The servers alternate phase by phase, for `--rounds` rounds (the order rotating each round), so all see the same spells of load
from other work on the machine; a server's throughput is the median over its rounds, the ratio the median of the
rounds' ratios, and the latency percentiles pool every round's requests. MLflow gets
`{"dataframe_split": ...}` and answers predictions only; ours gets `{"records": [...]}` and answers predictions,
class probabilities, row ids and the model version. A third server, ours with `--no-log`, runs beside them to show
what the log costs (leave it out with --no-log-off), and a fourth, the floor, shows what the same HTTP stack
costs with no model: FastAPI and uvicorn, 2 workers, parsing each body and answering a constant (--no-floor).
Afterwards every row id our logging server acknowledged is looked up in the inference log (`InferenceLog.read()`,
write-ahead tail included).

Batch scoring: N rows resampled from german_credit, written as Parquet, each measurement in a fresh process:
the floor (load the model, read the whole Parquet file, `predict` and `predict_proba` on the whole frame, no
logging), then `batch.score(...)` with the default chunk size, logging on and off. Peak memory is the process'
own peak RSS (VmHWM, `harness.peak_rss_mib`, which sees Arrow's and numpy's buffers; never tracemalloc, and never
getrusage's ru_maxrss, which on Linux also counts this benchmark's own size at the fork that started the snippet).

Run: python benchmarks/bench_serve.py            (full: 3 rounds of 2,000 requests or 30 s per phase, 1,000,000 batch rows)
     python benchmarks/bench_serve.py --quick    (smoke run: 1 round of 200 requests or 10 s, 50,000 batch rows)
From the repo root, in the project venv. The machine may be shared: look at the load average printed first.
"""
import argparse, itertools, json, os, signal, socket, subprocess, sys, tempfile, textwrap, threading, time
from pathlib import Path
from harness import PEAK_RSS

NAME = "credit-risk"
TARGET = "risk"
BIN = Path(sys.executable).parent


def workspace(root: Path) -> Path:
    "A settings.ini whose MLflow store, artifacts, runs and inference log all live under `root`."
    ini = root / "settings.ini"
    ini.write_text(f"[workbench]\ntracking_uri = sqlite:///{root}/mlflow.db\nartifacts_dir = {root}/artifacts\n"
                   f"runs_dir = {root}/runs\n")
    return ini


def register_champion(ini: Path) -> str:
    "The demo's champion: compare lr and rf on german_credit (cv=3), promote the best. Returns its name."
    os.environ["MLOPS_WORKBENCH_SETTINGS"] = str(ini)
    from mlops_workbench import datasets, models, registry
    df = datasets.load("german_credit")
    lb = models.compare(df.drop(columns=TARGET), df[TARGET], models="lr,rf", cv=3)
    registry.promote(lb.run_ids[lb.best], NAME)
    return lb.best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    "A server process in its own process group: started, waited for, and stopped (terminate, then kill)."
    def __init__(self, label, cmd, env, cwd, health):
        self.label, self.health, self.log, self.t0 = label, health, Path(cwd) / f"{label}.log", time.time()
        with open(self.log, "w") as out:
            self.p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def wait_ready(self, timeout=240):
        import requests
        while time.time() - self.t0 < timeout:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.p.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.health, timeout=2).status_code == 200:
                    return time.time() - self.t0
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.label} did not answer {self.health} in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def _signal(self, sig):
        try:
            os.killpg(self.p.pid, sig)  # the group this process leads: its uvicorn workers too
        except ProcessLookupError:
            pass

    def stop(self):
        if self.p.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.p.wait(10)
        self._signal(signal.SIGKILL)  # any worker that outlived its supervisor


FLOOR_APP = """from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
import json

api = FastAPI()


@api.post("/predict")
async def predict(request: Request):
    n = len(json.loads(await request.body())["records"])
    return JSONResponse({"predictions": [0] * n})


@api.get("/health")
def health():
    return {}
"""


def settle(procs: list, timeout: float = 120) -> float:
    """Wait until the servers' processes, workers included, use under 5% of a core: the first worker to load answers
    the health check while the others are still loading their model. Returns the seconds waited."""
    import psutil

    def cpu() -> float:
        total = 0.0
        for p in procs:
            try:
                root = psutil.Process(p.p.pid)
                for q in [root, *root.children(recursive=True)]:
                    t = q.cpu_times()
                    total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total
    t0 = time.time()
    last = cpu()
    while time.time() - t0 < timeout:
        time.sleep(1)
        now = cpu()
        if now - last < 0.05:
            break
        last = now
    return time.time() - t0


def bodies(X, rows: int, kind: str, n: int = 64) -> list:
    "`n` request bodies of `rows` consecutive rows each (cycling through X), in our or MLflow's format."
    out = []
    for i in range(n):
        start = (i * rows) % len(X)
        part = X.iloc[list(range(start, start + rows))] if start + rows <= len(X) else X.sample(rows, random_state=i)
        recs = json.loads(part.to_json(orient="records"))
        if kind == "ours":
            out.append(json.dumps({"records": recs}).encode())
        else:
            out.append(json.dumps({"dataframe_split": {"columns": list(part.columns),
                                                       "data": [list(r.values()) for r in recs]}}).encode())
    return out


def load(url: str, payloads: list, rows: int, clients: int, max_requests: int, max_seconds: float) -> dict:
    "Send requests from `clients` threads until `max_requests` are sent or `max_seconds` pass."
    import numpy as np
    import requests
    counter, lock = itertools.count(), threading.Lock()
    lat, ids, errors, ok = [], [], [], [0]
    t_start = time.perf_counter()
    deadline = t_start + max_seconds

    def client():
        s, my_lat, my_ids, my_err, my_ok = requests.Session(), [], [], [], 0
        headers = {"Content-Type": "application/json"}
        while True:
            i = next(counter)
            if i >= max_requests or time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            try:
                r = s.post(url, data=payloads[i % len(payloads)], headers=headers, timeout=60)
                dt = time.perf_counter() - t0
                d = r.json() if r.status_code == 200 else None
                if d is None or len(d.get("predictions", [])) != rows:
                    my_err.append(f"{r.status_code}: {r.text[:200]}")
                    continue
                my_lat.append(dt)
                my_ok += 1
                my_ids.extend(d.get("row_ids", []))
            except requests.RequestException as e:
                my_err.append(f"{type(e).__name__}: {e}")
        with lock:
            lat.extend(my_lat)
            ids.extend(my_ids)
            errors.extend(my_err)
            ok[0] += my_ok

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    ms = np.array(lat) * 1000 if lat else np.array([float("nan")])
    return dict(requests=ok[0], errors=len(errors), first_error=errors[0] if errors else "", wall=wall,
                rps=ok[0] / wall, ms=ms, ids=ids)


def pooled(phases: list, rows: int, mlflow_phases: list | None) -> dict:
    "One server's rounds at one request size: median throughput, pooled latency percentiles, median ratio."
    import numpy as np
    ms = np.concatenate([p["ms"] for p in phases])
    rps = float(np.median([p["rps"] for p in phases]))
    out = dict(rps=rps, rows_s=rps * rows, errors=sum(p["errors"] for p in phases), rounds=len(phases),
               p50=float(np.percentile(ms, 50)), p95=float(np.percentile(ms, 95)), p99=float(np.percentile(ms, 99)))
    if mlflow_phases:
        out["ratios"] = [p["rps"] / m["rps"] for p, m in zip(phases, mlflow_phases)]
        out["ratio"] = float(np.median(out["ratios"]))
    return out


def serve_benchmark(ws: Path, ini: Path, X, args) -> tuple:
    "Both servers side by side; returns (rows of results, log check line)."
    env = {**os.environ, "MLOPS_WORKBENCH_SETTINGS": str(ini), "MLFLOW_TRACKING_URI": f"sqlite:///{ws}/mlflow.db"}
    pm, po = free_port(), free_port()
    procs = []
    try:
        procs.append(Proc("mlflow", [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{NAME}@champion",
                                     "--env-manager", "local", "--workers", "2", "-p", str(pm), "-h", "127.0.0.1"],
                          env, ws, f"http://127.0.0.1:{pm}/ping"))
        ours = [str(BIN / "mlops-workbench"), "serve", NAME, "--workers", "2", "--port"]
        procs.append(Proc("ours", ours + [str(po)], env, ws, f"http://127.0.0.1:{po}/health"))
        urls = dict(mlflow=f"http://127.0.0.1:{pm}/invocations", ours=f"http://127.0.0.1:{po}/predict")
        if args.log_off_too:
            pn = free_port()
            procs.append(Proc("ours_nolog", ours + [str(pn), "--no-log"], env, ws, f"http://127.0.0.1:{pn}/health"))
            urls["ours_nolog"] = f"http://127.0.0.1:{pn}/predict"
        if args.floor:
            pf = free_port()
            (ws / "floor_app.py").write_text(FLOOR_APP)
            procs.append(Proc("floor", [str(BIN / "uvicorn"), "floor_app:api", "--app-dir", str(ws), "--workers", "2",
                                        "--port", str(pf), "--log-level", "warning"], env, ws,
                              f"http://127.0.0.1:{pf}/health"))
            urls["floor"] = f"http://127.0.0.1:{pf}/predict"
        for p in procs:
            print(f"  {p.label} server ready {p.wait_ready():.1f} s after its start", flush=True)
        print(f"  servers idle {settle(procs):.1f} s later (every worker loaded)", flush=True)
        phases, acked, labels = {}, [], list(urls)
        for rows in (1, 100):
            payloads = {label: bodies(X, rows, "mlflow" if label == "mlflow" else "ours") for label in labels}
            for label in labels:
                warm = load(urls[label], payloads[label], rows, args.clients, 4 * args.clients, 60)
                if warm["errors"]:
                    raise RuntimeError(f"{label} refused warm-up requests: {warm['first_error']}")
                acked += warm["ids"] if label == "ours" else []
            for k in range(args.rounds):  # alternate, rotating the order: all see the same spells of outside load
                for label in labels[k % len(labels):] + labels[:k % len(labels)]:
                    r = load(urls[label], payloads[label], rows, args.clients, args.requests, args.seconds)
                    acked += r["ids"] if label == "ours" else []
                    phases.setdefault((label, rows), []).append(r)
                    print(f"  round {k + 1} {label:10s} {rows:3d}-row requests: {r['requests']} in {r['wall']:.1f} s "
                          f"({r['rps']:.0f}/s), {r['errors']} errors {r['first_error'][:120]}", flush=True)
        results = [dict(pooled(ph, rows, phases.get(("mlflow", rows)) if label != "mlflow" else None),
                        server=label, rows=rows) for (label, rows), ph in phases.items()]
        check = log_check(ini, acked)
    finally:
        for p in procs:
            p.stop()
    return results, check


def log_check(ini: Path, acked: list) -> str:
    "Every row id our server acknowledged, looked up in the inference log (write-ahead tail included)."
    from mlops_workbench.config import load_settings
    from mlops_workbench.inference_log import InferenceLog
    logged = InferenceLog(load_settings(ini).inference_log).read(source="live")
    missing = set(acked) - set(logged["row_id"])
    verdict = "every acknowledged row is in the log" if not missing else f"{len(missing)} ACKNOWLEDGED ROWS MISSING"
    return (f"inference log: {len(logged):,} live rows logged, {len(acked):,} rows acknowledged "
            f"(warm-up included), {len(acked) - len(missing):,}/{len(acked):,} found: {verdict}")


# Both sides import the same libraries before the clock starts: importing MLflow takes seconds, and is no scoring.
IMPORTS = PEAK_RSS + """
import json, sys, time
import mlflow, mlflow.sklearn, pandas as pd, pyarrow.parquet, sklearn.pipeline
from mlops_workbench import batch, inference_log, registry
imports_mib = peak_rss_mib()
"""

FLOOR = IMPORTS + """
t0 = time.perf_counter()
model = registry.load_champion(sys.argv[1])
t1 = time.perf_counter()
X = pd.read_parquet(sys.argv[2])
t2 = time.perf_counter()
pred = model.predict(X)
t3 = time.perf_counter()
proba = model.predict_proba(X)
t4 = time.perf_counter()
rss = peak_rss_mib()
print("RESULT", json.dumps(dict(load=t1 - t0, read=t2 - t1, predict=t3 - t2, proba=t4 - t3, total=t4 - t0,
      rows=len(pred), rss_mib=rss, imports_mib=imports_mib)))
"""

OURS = IMPORTS + """
t0 = time.perf_counter()
res = batch.score(sys.argv[1], sys.argv[2], sys.argv[3], log=sys.argv[4] == "log", progress=False)
t1 = time.perf_counter()
rss = peak_rss_mib()
print("RESULT", json.dumps(dict(total=t1 - t0, rows=res["rows"], rss_mib=rss, imports_mib=imports_mib)))
"""


def run_snippet(code: str, *argv, env) -> dict:
    "Run `code` in a fresh process; return the dict it prints after RESULT."
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, argv)], env=env,
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"batch snippet failed:\n{r.stderr[-3000:]}")
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def batch_benchmark(ws: Path, ini: Path, X, args) -> dict:
    "Floor, batch.score with the log and without, each the fastest of `--repeat` fresh processes."
    import pandas as pd
    src, env = ws / "batch.parquet", {**os.environ, "MLOPS_WORKBENCH_SETTINGS": str(ini)}
    X.sample(args.batch_rows, replace=True, random_state=0).reset_index(drop=True).to_parquet(src)
    print(f"  wrote {args.batch_rows:,} rows to {src.name} ({src.stat().st_size / 2**20:.1f} MiB)", flush=True)
    runs = dict(floor=[], log=[], nolog=[])
    for i in range(args.repeat):  # alternate, as above
        runs["floor"].append(run_snippet(FLOOR, NAME, src, env=env))
        runs["log"].append(run_snippet(OURS, NAME, src, ws / f"scored-{i}.parquet", "log", env=env))
        runs["nolog"].append(run_snippet(OURS, NAME, src, ws / f"scored-nolog-{i}.parquet", "nolog", env=env))
        for k, rs in runs.items():
            print(f"  {k:6s} run {i + 1}: {rs[-1]['total']:.2f} s, peak RSS {rs[-1]['rss_mib']:.0f} MiB", flush=True)
    best = {k: min(rs, key=lambda r: r["total"]) for k, rs in runs.items()}
    scored = pd.read_parquet(ws / "scored-0.parquet", columns=["row_id"])
    if len(scored) != args.batch_rows:
        raise RuntimeError(f"batch.score wrote {len(scored)} rows, expected {args.batch_rows}")
    return best


def machine() -> str:
    import platform
    import psutil
    la = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
            f"load average {la}")


def serving_table(serving: list, check: str, args, best_model: str) -> list:
    import mlflow
    by = {(r["server"], r["rows"]): r for r in serving}
    lines = [f"\n## Serving `{NAME}@champion` ({best_model}), {args.clients} clients, 2 workers each, "
             f"up to {args.requests:,} requests or {args.seconds:g} s per phase, {args.rounds} rounds", "",
             "| server | rows/request | requests/s (median) | rows/s | p50 ms | p95 ms | p99 ms | errors "
             "| ours/MLflow throughput: median (each round) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for rows in (1, 100):
        for label, title in (("mlflow", f"mlflow models serve {mlflow.__version__}"),
                             ("ours", "mlops-workbench serve (log on)"),
                             ("ours_nolog", "mlops-workbench serve --no-log (for scale)"),
                             ("floor", "floor: FastAPI + uvicorn parsing the body, no model (for scale)")):
            if (label, rows) not in by:
                continue
            r = by[(label, rows)]
            ratio = (f"{r['ratio']:.2f}x ({', '.join(f'{x:.2f}' for x in r['ratios'])})" if label != "mlflow"
                     else "")
            lines.append(f"| {title} | {rows} | {r['rps']:.0f} | {r['rows_s']:.0f} | {r['p50']:.1f} | "
                         f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} | {ratio} |")
    return lines + ["", check, "(goal: ours at least MLflow's throughput while logging every row; "
                    "p99 for one row under 20 ms)"]


def batch_table(batch: dict, args) -> list:
    floor = batch["floor"]
    lines = [f"\n## Batch scoring {args.batch_rows:,} rows from Parquet (fastest of {args.repeat})", "",
             "| run | seconds | / floor | peak RSS MiB | of which after imports MiB |", "|---|---:|---:|---:|---:|"]
    fl = ("floor: load model + read whole file + predict + predict_proba, no log (load {load:.2f} s, read {read:.2f} s, "
          "predict {predict:.2f} s, predict_proba {proba:.2f} s)").format(**floor)
    for k, title in (("floor", fl), ("log", "batch.score, log on (default chunk 100,000)"),
                     ("nolog", "batch.score, log off (log=False)")):
        r = batch[k]
        lines.append(f"| {title} | {r['total']:.2f} | {r['total'] / floor['total']:.2f}x | {r['rss_mib']:.0f} | "
                     f"{r['rss_mib'] - r['imports_mib']:.0f} |")
    return lines + ["", "(seconds exclude importing the libraries, the same for every run; peak RSS is the process' "
                    "own peak, the last column its growth past the imports. Goal: batch.score with the log within "
                    "1.2x of the floor, peak memory bounded by the chunk size)"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 requests or 10 s per phase, 50,000 rows")
    ap.add_argument("--requests", type=int, help="requests per phase (default 2000; quick 200)")
    ap.add_argument("--seconds", type=float, help="seconds per phase at most (default 30; quick 10)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    ap.add_argument("--rounds", type=int, help="phases per server and request size (default 3; quick 1)")
    ap.add_argument("--batch-rows", type=int, help="rows to batch-score (default 1,000,000; quick 50,000)")
    ap.add_argument("--repeat", type=int, default=1, help="batch measurements per kind; the fastest is reported")
    ap.add_argument("--no-log-off", dest="log_off_too", action="store_false",
                    help="leave out the third server (ours with --no-log, shown for scale)")
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="leave out the floor server (FastAPI and uvicorn answering without a model)")
    ap.add_argument("--skip-serve", action="store_true", help="batch scoring only")
    ap.add_argument("--skip-batch", action="store_true", help="serving only")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a terminated benchmark still stops its servers
    args.requests = args.requests or (200 if args.quick else 2000)
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.batch_rows = args.batch_rows or (50_000 if args.quick else 1_000_000)
    start = machine().replace("load average", "load average at start")
    print(start, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        ws = Path(tmp)
        ini = workspace(ws)
        t0 = time.perf_counter()
        best = register_champion(ini)
        print(f"registered {NAME}@champion ({best}) in {time.perf_counter() - t0:.1f} s", flush=True)
        from mlops_workbench import datasets
        X = datasets.load("german_credit").drop(columns=TARGET)
        serving, check = serve_benchmark(ws, ini, X, args) if not args.skip_serve else ([], "")
        batch = batch_benchmark(ws, ini, X, args) if not args.skip_batch else {}
    lines = (serving_table(serving, check, args, best) if serving else []) + (batch_table(batch, args) if batch else [])
    print("\n".join(lines + ["", start, machine().replace("load average", "load average at end")]))


if __name__ == "__main__":
    main()
