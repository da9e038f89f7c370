"Tests of mlops_workbench.synthetic against SDV 2 and SDMetrics called directly on the same data."
import numpy as np
import pandas as pd
import pytest

from mlops_workbench.core import DataError, ParameterError, WorkbenchError
from mlops_workbench.datasets import load
from mlops_workbench.synthetic import (SyntheticReport, dcr, detect_metadata, evaluate, fit_synthesizer,
                                       sample, synthesize)


@pytest.fixture(scope="module")
def credit():
    return load("default").sample(2400, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="module")
def split(credit):
    return credit.iloc[:1800].reset_index(drop=True), credit.iloc[1800:].reset_index(drop=True)


@pytest.fixture(scope="module")
def fake(split):
    return synthesize(split[0], seed=0)


def test_gaussian_copula_matches_sdv_directly(split):
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer
    train, _ = split
    md = Metadata.detect_from_dataframes({"table": train})
    ref = GaussianCopulaSynthesizer(md)
    ref.fit({"table": train})
    ref._set_random_state(0)
    pd.testing.assert_frame_equal(synthesize(train, num_rows=300, seed=0), ref.sample(300)["table"])


def test_seed_reproducible_and_shape(split, fake):
    train, _ = split
    pd.testing.assert_frame_equal(fake, synthesize(train, seed=0))
    assert not fake.equals(synthesize(train, seed=1))
    assert fake.shape == train.shape and list(fake.columns) == list(train.columns)
    assert fake.dtypes.equals(train.dtypes)
    assert len(synthesize(train, num_rows=17)) == 17


def test_fitted_synthesizer_samples_reproducibly(split):
    synth = fit_synthesizer(split[0])
    pd.testing.assert_frame_equal(sample(synth, 50, seed=3), sample(synth, 50, seed=3))
    assert not sample(synth, 50, seed=3).equals(sample(synth, 50, seed=4))


def test_metadata_is_detected_and_editable():
    df = load("german_credit").iloc[:400]
    md = detect_metadata(df)
    assert md.to_dict()["tables"]["table"]["columns"]["duration"]["sdtype"] == "numerical"
    assert not set(synthesize(df, num_rows=200).duration) <= set(df.duration)  # new values in between
    md.update_column("duration", sdtype="categorical")
    out = synthesize(df, num_rows=200, metadata=md)
    assert set(out.duration) <= set(df.duration)  # now only the durations seen


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ctgan", "tvae", "copula_gan"])
def test_neural_synthesizers_few_epochs(split, method):
    train = split[0].iloc[:300]
    out = synthesize(train, method, num_rows=100, epochs=2, seed=0)
    assert out.shape == (100, 4) and set(out.default) <= {"No", "Yes"}
    pd.testing.assert_frame_equal(out, synthesize(train, method, num_rows=100, epochs=2, seed=0))


def test_bad_synthesize_arguments(split):
    train, _ = split
    with pytest.raises(ParameterError, match="method='gpt'.*'copula_gan', 'ctgan', 'gaussian_copula', 'tvae'"):
        synthesize(train, "gpt")
    with pytest.raises(ParameterError, match="epochs=0"):
        synthesize(train, "tvae", epochs=0)
    with pytest.raises(ParameterError, match="num_rows=0"):
        synthesize(train, num_rows=0)
    with pytest.raises(DataError, match="df is empty"):
        synthesize(train.iloc[:0])
    with pytest.raises(DataError, match="got ndarray"):
        synthesize(train.to_numpy())


# ---- evaluate ----

def test_quality_and_diagnostic_match_sdmetrics(split, fake):
    from sdmetrics.reports.single_table import DiagnosticReport, QualityReport
    train, holdout = split
    report = evaluate(train, fake, holdout, target="default")
    md = detect_metadata(train).to_dict()["tables"]["table"]
    q, d = QualityReport(), DiagnosticReport()
    q.generate(train, fake, md, verbose=False)
    d.generate(train, fake, md, verbose=False)
    assert report.quality_score == pytest.approx(q.get_score())
    props = q.get_properties().set_index("Property")["Score"]
    assert report.column_shapes_score == pytest.approx(props["Column Shapes"])
    assert report.pair_trends_score == pytest.approx(props["Column Pair Trends"])
    assert report.diagnostic_score == pytest.approx(d.get_score())
    assert list(report.column_shapes.Column) == list(train.columns)


def test_dcr_matches_sdmetrics(split, fake):
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr
    train, holdout = split
    md = detect_metadata(train).to_dict()["tables"]["table"]
    for data in (fake.iloc[:150], holdout.iloc[:150]):
        inside = data[(data.balance.between(train.balance.min(), train.balance.max()))
                      & data.income.between(train.income.min(), train.income.max())]
        ref = calculate_dcr(inside, train, md).to_numpy()
        np.testing.assert_allclose(dcr(inside, train), ref, atol=1e-9)


def test_privacy_exact_copies_and_dcr_ratio(split, fake):
    train, holdout = split
    half = pd.concat([train.iloc[:900], fake.iloc[:900]], ignore_index=True)
    r = evaluate(train, half, holdout)
    assert r.exact_copy_share == pytest.approx(0.5)
    assert r.dcr_synthetic_median < r.dcr_holdout_median
    good = evaluate(train, fake, holdout)
    assert good.exact_copy_share == 0 and 0.5 < good.dcr_ratio < 3
    assert np.isnan(evaluate(train, fake).dcr_ratio)


def test_utility_tstr_vs_trtr(split, fake):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    train, holdout = split
    r = evaluate(train, fake, holdout, target="default")
    assert r.utility_metric == "roc_auc"
    enc = lambda t: pd.get_dummies(t.drop(columns="default"), dtype=float)
    m = LogisticRegression(max_iter=1000).fit(enc(train), train.default)
    # our pipeline scales numbers first; the ranking quality must be close to plain sklearn
    positive = holdout.default == "Yes"
    assert r.trtr == pytest.approx(roc_auc_score(positive, m.predict_proba(enc(holdout))[:, 1]), abs=0.03)
    m = LogisticRegression(max_iter=1000).fit(enc(fake), fake.default)
    assert r.tstr == pytest.approx(roc_auc_score(positive, m.predict_proba(enc(holdout))[:, 1]), abs=0.03)
    assert r.tstr_over_trtr == pytest.approx(r.tstr / r.trtr)
    same = evaluate(train, train.sample(frac=1, random_state=0), holdout, target="default")
    assert same.tstr == pytest.approx(same.trtr) and same.tstr_over_trtr == pytest.approx(1)


def test_utility_regression_and_multiclass():
    df = load("german_credit").iloc[:600]
    tr, ho = df.iloc[:450], df.iloc[450:]
    fake = synthesize(tr, seed=0)
    assert evaluate(tr, fake, ho, target="credit_amount").utility_metric == "r2"
    assert evaluate(tr, fake, ho, target="housing").utility_metric == "balanced_accuracy"


# ---- bad input ----

def test_mismatched_columns(split, fake):
    train, holdout = split
    msg = r"synthetic does not have the columns of real: missing \['income'\], extra \[\]"
    with pytest.raises(DataError, match=msg):
        evaluate(train, fake.drop(columns="income"))
    with pytest.raises(DataError, match=r"extra \['id'\]"):
        evaluate(train, fake.assign(id=1))
    with pytest.raises(DataError, match="holdout does not have"):
        evaluate(train, fake, holdout.rename(columns={"student": "is_student"}))
    with pytest.raises(DataError, match="target='Default'.*'default'"):
        evaluate(train, fake, holdout, target="Default")
    with pytest.raises(WorkbenchError):
        evaluate(train, fake.to_dict())


def test_column_order_is_aligned(split, fake):
    train, holdout = split
    a = evaluate(train, fake, holdout).to_dict()
    b = evaluate(train, fake[fake.columns[::-1]], holdout).to_dict()
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float): assert a[k] == pytest.approx(b[k], nan_ok=True), k


def test_report_object(split, fake):
    train, holdout = split
    r = evaluate(train, fake, holdout, target="default")
    assert isinstance(r, SyntheticReport)
    f = r.to_frame()
    assert list(f.columns) == ["value", "meaning"] and "dcr_ratio" in f.index and "tstr" in f.index
    assert r.to_dict()["utility_metric"] == "roc_auc"
    assert repr(r).startswith("SyntheticReport(quality ")
    assert "<details>" in r._repr_html_()
    with pytest.raises(AttributeError):
        r.nonexistent


def test_html_escapes_column_names(split, fake):
    train, _ = split
    cols = {"student": "<script>alert(1)</script>"}
    html = evaluate(train.rename(columns=cols), fake.rename(columns=cols))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_tables_with_missing_values():
    df = load("titanic").iloc[:800].copy()
    df.loc[::7, "age"] = np.nan
    df.loc[::11, "embarked"] = np.nan
    tr, ho = df.iloc[:600], df.iloc[600:]
    fake = synthesize(tr, seed=0)
    r = evaluate(tr, fake, ho, target="survived")
    assert r.utility_metric == "roc_auc" and 0.6 < r.trtr <= 1 and not np.isnan(r.tstr)
    assert 0 <= r.dcr_synthetic_median <= 1 and not np.isnan(r.dcr_ratio)


# ---- to_metrics and the one table rule ----

def test_to_metrics_uses_the_vocabulary_and_skips_unmeasured(split, fake):
    from mlops_workbench.metrics import metric_names
    train, holdout = split
    full = evaluate(train, fake, holdout, target="default")
    m = full.to_metrics()
    assert set(m) == set(metric_names(kind="synthetic")) and all(isinstance(v, float) for v in m.values())
    assert m["quality_score"] == full.quality_score and m["tstr_over_trtr"] == pytest.approx(full.tstr / full.trtr)
    assert "dcr_synthetic_median" not in m and "tstr" not in m  # descriptive numbers, not vocabulary metrics
    bare = evaluate(train, fake).to_metrics()
    assert "dcr_ratio" not in bare and "tstr_over_trtr" not in bare and "quality_score" in bare
    assert np.isnan(evaluate(train, fake).tstr)  # an unmeasured score reads as NaN


def test_non_string_column_names_are_refused_with_the_fix(split):
    train, _ = split
    with pytest.raises(DataError, match=r"non-string column names \[0, 1, 2, 3\].*columns.map\(str\)"):
        synthesize(train.set_axis(range(4), axis=1))
