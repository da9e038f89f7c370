"""Benchmark: `mlops_workbench.synthetic` vs SDV 2.0 / SDMetrics 0.32 called directly.

SDV and SDMetrics are main dependencies, so both sides run in this process on the same data.
Workloads (Default table, 10,000 rows, unless said otherwise):
- gaussian_copula: `synthesize(df)` (detect metadata, fit, sample 10,000 rows) vs
  `Metadata.detect_from_dataframes` + `GaussianCopulaSynthesizer.fit` + `.sample`; outputs must be identical.
- ctgan: the same with CTGAN and `epochs` epochs on the CPU (a few: this measures cost per epoch,
  not a usable model).
- evaluate: our full report (quality, diagnostic, privacy, utility) vs SDMetrics' `QualityReport`
  + `DiagnosticReport` alone (the part the peer offers).
- dcr: our nearest-neighbour distance to closest record vs SDMetrics' `calculate_dcr` (pairwise
  cross join) on 2,000 synthetic x 7,500 real rows; agreement is the largest |difference|.
Times are single calls after a warm-up import (the SDV/torch import, about 6 s, is not counted).
Memory: tracemalloc's peak during a second call for the copula and DCR workloads (torch tensors are
not traced, so no memory figure is given for CTGAN).

Run: python benchmarks/bench_synthetic.py [epochs]   (from the repo root, in the project venv)
"""
import sys, warnings
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, table

warnings.filterwarnings("ignore")


def sdv_direct(df, cls, **params):
    "Detect metadata, fit and sample with SDV 2 directly, seeded like `synthesize`."
    import torch
    from sdv.metadata import Metadata
    import sdv.single_table as st
    md = Metadata.detect_from_dataframes({"table": df})
    s = getattr(st, cls)(md, **params)
    np.random.seed(0)
    torch.manual_seed(0)
    s.fit({"table": df})
    s._set_random_state(0)
    return s.sample(len(df))["table"]


def main(epochs=5):
    import sdv.single_table  # noqa: F401  (warm the import: not part of the timings)
    from sdmetrics.reports.single_table import DiagnosticReport, QualityReport
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr
    from mlops_workbench import datasets
    from mlops_workbench.synthetic import dcr, detect_metadata, evaluate, synthesize
    df = datasets.load("default")
    times, mem, agree = [], [], []

    ta, ma, ours = measure(lambda: synthesize(df))
    tb, mb, ref = measure(lambda: sdv_direct(df, "GaussianCopulaSynthesizer"))
    times.append({"workload": "gaussian_copula fit + sample, 10,000 rows", "workbench": ta, "SDV": tb})
    mem.append({"workload": "gaussian_copula fit + sample, 10,000 rows", "workbench": ma, "SDV": mb})
    agree.append(("gaussian_copula rows differing", int((ours != ref).any(axis=1).sum())))

    ta, _, ours_gan = measure(lambda: synthesize(df, "ctgan", epochs=epochs), trace=False)
    tb, _, ref_gan = measure(lambda: sdv_direct(df, "CTGANSynthesizer", epochs=epochs, enable_gpu=False), trace=False)
    times.append({"workload": f"ctgan {epochs} epochs fit + sample, 10,000 rows", "workbench": ta, "SDV": tb})
    agree.append(("ctgan rows differing", int((ours_gan != ref_gan).any(axis=1).sum())))

    train, holdout = df.iloc[:7500], df.iloc[7500:]
    fake = synthesize(train)
    md = detect_metadata(train).to_dict()["tables"]["table"]
    def peer_reports():
        q, d = QualityReport(), DiagnosticReport()
        q.generate(train, fake, md, verbose=False)
        d.generate(train, fake, md, verbose=False)
        return q.get_score(), d.get_score()
    ta, ma, rep = measure(lambda: evaluate(train, fake, holdout, target="default"))
    tb, mb, (qs, ds) = measure(peer_reports)
    times.append({"workload": "evaluate (ours: + privacy + utility), 7,500", "workbench": ta, "SDV": tb})
    mem.append({"workload": "evaluate (ours: + privacy + utility), 7,500", "workbench": ma, "SDV": mb})
    agree.append(("quality score |difference|", abs(rep.quality_score - qs)))
    agree.append(("diagnostic score |difference|", abs(rep.diagnostic_score - ds)))

    few = fake.iloc[:2000]
    ta, ma, d_ours = measure(lambda: dcr(few, train))
    tb, mb, d_ref = measure(lambda: calculate_dcr(few, train, md).to_numpy())
    times.append({"workload": "DCR 2,000 synthetic x 7,500 real", "workbench": ta, "SDV": tb})
    mem.append({"workload": "DCR 2,000 synthetic x 7,500 real", "workbench": ma, "SDV": mb})
    agree.append(("DCR max |difference|", float(np.abs(d_ours - d_ref).max())))

    print(table("Time (one call each; SDV column = SDV 2.0 / SDMetrics 0.32 directly)", times, peer="SDV"))
    print()
    print(table("Peak traced memory", mem, peer="SDV", unit="M"))
    print()
    print("Agreement (0 = identical)")
    for name, v in agree: print(f"  {name:<40} {v}")
    print()
    print("Report on the Default data (train 7,500 / holdout 2,500):", repr(rep))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
