"""Side-by-side benchmark harness: run a workload with the workbench and with a peer, print ratios.

Peers that pin old dependencies (PyCaret 3.3 pins scikit-learn 1.4) get their own virtual
environment under benchmarks/.venvs/NAME, created on first use (ignored by git)."""
from __future__ import annotations
import inspect, statistics, subprocess, sys, textwrap, time, tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
CONSTRAINTS = HERE.parent / "constraints.txt"


def peer_python(name: str, requirements: list[str], python: str = sys.executable) -> str:
    "The Python of peer venv `name`, created and filled with `requirements` on first use."
    venv = VENVS / name
    py = venv / "bin" / "python"
    stamp = venv / ".requirements"
    want = "\n".join(requirements)
    if not py.exists() or not stamp.exists() or stamp.read_text() != want:
        print(f"[harness] creating peer environment {venv} with {' '.join(requirements)}", file=sys.stderr)
        subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), *requirements], check=True)
        stamp.write_text(want)
    return str(py)


def peak_rss_mib() -> float:
    """This process's own peak resident set in MiB: VmHWM from /proc (Linux); elsewhere getrusage's ru_maxrss.
    On Linux ru_maxrss also counts the resident set its parent had when it forked this process, so a snippet
    started by a benchmark that holds a gigabyte would report at least a gigabyte whatever it did itself."""
    try:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PEAK_RSS = inspect.getsource(peak_rss_mib)  # to prepend to snippets run in fresh processes (peer venvs too)


def run_snippet(python: str, code: str, timeout: float = 3600) -> str:
    "Run `code` in a fresh process of `python`; return its stdout (the snippet prints its measurement)."
    r = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"benchmark snippet failed:\n{r.stderr[-3000:]}")
    return r.stdout.strip().splitlines()[-1]


def median_seconds(python: str, code: str, repeat: int = 5) -> float:
    "Median over `repeat` fresh processes of the seconds a snippet prints."
    return statistics.median(float(run_snippet(python, code)) for _ in range(repeat))


def peak_mib(fn) -> float:
    "tracemalloc's peak (MiB) during one call of `fn`; tracing slows the call, so it is never the timed one."
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(fn, repeat: int = 1, trace: bool = True):
    "Median seconds of `repeat` untraced calls, the peak traced memory (MiB) of one more (NaN without `trace`), the last result."
    secs = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        secs.append(time.perf_counter() - t)
    return statistics.median(secs), peak_mib(fn) if trace else float("nan"), out


def table(title: str, rows: list[dict], ours: str = "workbench", peer: str = "peer", unit: str = "s") -> str:
    "Format rows of {'workload', ours, peer} as a table with the ratio peer/ours."
    lines = [title, f"{'workload':<60} {ours:>12} {peer:>12} {'ratio':>8}"]
    for r in rows:
        a, b = r[ours], r[peer]
        ratio = f"{b / a:.1f}x" if a and b else "n/a"
        lines.append(f"{r['workload']:<60} {a:>11.3f}{unit} {b:>11.3f}{unit} {ratio:>8}")
    better = "uses less memory" if unit == "M" else "is faster"
    lines.append(f"(ratio = {peer} / {ours}; above 1 means the workbench {better})")
    return "\n".join(lines)
