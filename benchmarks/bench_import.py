"""Import time of mlops_workbench against PyCaret 3.3.2 (in its own venv), each in fresh processes.

    python benchmarks/bench_import.py [--repeat 7]
"""
import argparse, sys
from harness import median_seconds, peer_python, table

SNIPPET = """
import time
t0 = time.perf_counter()
import {module}
print(time.perf_counter() - t0)
"""

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    pycaret = peer_python("pycaret", ["pycaret==3.3.2", "six"], python="python3.11")
    rows = []
    for ours, theirs in (("mlops_workbench", "pycaret"), ("mlops_workbench.cli", "pycaret.classification")):
        rows.append(dict(workload=f"import {ours} | import {theirs}",
                         workbench=median_seconds(sys.executable, SNIPPET.format(module=ours), args.repeat),
                         peer=median_seconds(pycaret, SNIPPET.format(module=theirs), args.repeat)))
    print(table("Import time, median of fresh processes", rows))
    print(f"goal: import mlops_workbench under 0.3 s -> {'met' if rows[0]['workbench'] < 0.3 else 'NOT met'}")
