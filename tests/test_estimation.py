"""CBPE (`mlops_workbench.estimation`): estimates checked against independent oracles (scikit-learn's
isotonic regression and weighted metrics, labels drawn from the scores), NannyML's chunking and
calibration rule, concept drift that the estimate cannot see, and the refusals of bad input.
(Equality with NannyML itself is checked by benchmarks/bench_cbpe.py, which needs NannyML's own venv.)"""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from mlops_workbench.core import WorkbenchError
from mlops_workbench.estimation import CBPE, CBPE_METRICS, EstimationError, chunk_bounds, needs_calibration
from mlops_workbench.metrics import MetricError


def draw(n, seed=0, power=1.0):
    "Scores uniform on [0, 1] and labels drawn with probability score**power (calibrated when power is 1)."
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    return p, (rng.uniform(size=n) < p ** power).astype(int)


def test_estimates_track_realised_performance_on_calibrated_scores():
    ref_p, ref_y = draw(5000, 0)
    p, y = draw(20000, 1)
    est = CBPE(metrics=list(CBPE_METRICS)).fit(ref_y, ref_p)
    frame = est.estimate_chunks(p, chunk_size=2000, y_true=y)
    assert len(frame) == 10
    for m in CBPE_METRICS:
        inside = ((frame[f"{m}_lower"] <= frame[f"{m}_realised"]) & (frame[f"{m}_realised"] <= frame[f"{m}_upper"]))
        assert inside.mean() >= 0.9, m
        assert abs(frame[m].mean() - frame[f"{m}_realised"].mean()) < 0.01, m


def test_ranking_estimates_equal_weighted_sklearn_metrics():
    "Expected ROC-AUC / AP = the metric over each row counted as positive with weight c and negative with 1-c."
    ref_p, ref_y = draw(3000, 2, power=2)
    p = draw(4000, 3)[0]
    est = CBPE(metrics=["roc_auc", "average_precision"], calibrate="always").fit(ref_y, ref_p)
    c = IsotonicRegression(out_of_bounds="clip").fit(ref_p, ref_y).predict(p)
    twice, labels, weights = np.r_[p, p], np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[c, 1 - c]
    out = est.estimate(p)
    assert abs(out["roc_auc"] - roc_auc_score(labels, twice, sample_weight=weights)) < 1e-4
    assert abs(out["average_precision"] - average_precision_score(labels, twice, sample_weight=weights)) < 1e-4


def test_calibration_is_sklearn_isotonic_and_confusion_estimates_follow():
    ref_p, ref_y = draw(3000, 4, power=3)
    p = draw(1000, 5)[0]
    est = CBPE(metrics=["accuracy", "precision"], calibrate="always", threshold=0.4).fit(ref_y, ref_p)
    c = IsotonicRegression(out_of_bounds="clip").fit(ref_p, ref_y).predict(p)
    d = p >= 0.4
    out = est.estimate(p)
    assert out["accuracy"] == pytest.approx((c[d].sum() + (1 - c[~d]).sum()) / len(p), abs=1e-12)
    assert out["precision"] == pytest.approx(c[d].mean(), abs=1e-12)
    assert out["accuracy_reference"] == pytest.approx(accuracy_score(ref_y, ref_p >= 0.4))
    assert out["accuracy_drop"] == pytest.approx(out["accuracy_reference"] - out["accuracy"])
    # NannyML's accuracy sampling error: std of reference hits / sqrt(n)
    hits = (ref_y == (ref_p >= 0.4)).astype(float)
    assert out["accuracy_sampling_error"] == pytest.approx(hits.std() / np.sqrt(len(p)))
    assert out["accuracy_lower"] == pytest.approx(out["accuracy"] - 3 * out["accuracy_sampling_error"])


def test_calibration_rule_follows_nannyml():
    p, y = draw(5000, 6)
    assert needs_calibration(y, p ** 4) is True                 # squashed: calibrate
    assert needs_calibration(y, np.where(y == 1, 0.9, 0.1)) is False  # ROC-AUC above 0.999: leave alone
    assert CBPE(calibrate="never").fit(y, p ** 4).calibrated_ is False
    assert CBPE().fit(y, p ** 4).calibrated_ is True


def test_uncalibrated_scores_mislead_unless_calibrated():
    ref_p, ref_y = draw(5000, 7, power=4)                       # scores overstate every risk
    p, y = draw(5000, 8, power=4)
    realised = accuracy_score(y, p >= 0.5)
    never = CBPE(metrics="accuracy", calibrate="never").fit(ref_y, ref_p).estimate(p)["accuracy"]
    auto = CBPE(metrics="accuracy").fit(ref_y, ref_p).estimate(p)["accuracy"]
    assert abs(auto - realised) < 0.02 < abs(never - realised)


def test_concept_drift_leaves_the_estimate_flat_while_realised_performance_falls():
    ref_p, ref_y = draw(4000, 9)
    p, y = draw(4000, 10)
    drifted = np.where(np.arange(4000) >= 2000, 1 - y, y)       # the labels' relation to the scores flips
    est = CBPE(metrics=["accuracy", "roc_auc"]).fit(ref_y, ref_p)
    before = est.estimate_chunks(p, chunks=4, y_true=y)
    after = est.estimate_chunks(p, chunks=4, y_true=drifted)
    np.testing.assert_allclose(after["accuracy"], before["accuracy"])
    assert (after["accuracy_realised"].iloc[2:] < after["accuracy_lower"].iloc[2:]).all()
    assert (after["roc_auc_realised"].iloc[2:] < 0.5).all()


def test_chunks_are_cut_as_nannyml_cuts_them():
    assert chunk_bounds(10, chunk_size=4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(10, chunks=3) == [(0, 3), (3, 6), (6, 9), (9, 10)]   # size 10 // 3, remainder kept
    assert len(chunk_bounds(105)) == 11
    p, y = draw(1000, 11)
    frame = CBPE(metrics="f1").fit(y, p).estimate_chunks(p[:250], chunk_size=100)
    assert frame.index.tolist() == ["[0:99]", "[100:199]", "[200:249]"]
    assert frame["n"].tolist() == [100, 100, 50] and frame["end"].tolist() == [99, 199, 249]


def test_estimate_returns_a_flat_dict_and_the_estimator_clones():
    p, y = draw(1000, 12)
    est = CBPE(metrics=["roc_auc", "f1"]).fit(["no" if v == 0 else "yes" for v in y], p)
    out = est.estimate(p[:300])
    fields = ("", "_sampling_error", "_lower", "_upper", "_reference", "_drop")
    assert set(out) == {"n"} | {m + f for m in ("roc_auc", "f1") for f in fields}
    assert out["n"] == 300 and all(isinstance(v, (int, float)) for v in out.values())
    assert est.classes_.tolist() == ["no", "yes"] and est.reference_.keys() == {"roc_auc", "f1"}
    assert clone(est).get_params() == est.get_params()
    assert est.estimate(p[:300], threshold=0.2)["f1"] != out["f1"]


def test_window_with_one_class_still_estimates_and_realised_auc_is_nan():
    p, y = draw(1000, 13)
    out = CBPE(metrics=["roc_auc", "accuracy"]).fit(y, p).estimate(p[:40], y_true=np.ones(40, int))
    assert np.isnan(out["roc_auc_realised"]) and 0 < out["roc_auc"] < 1
    assert out["accuracy_realised"] == accuracy_score(np.ones(40), p[:40] >= 0.5)


@pytest.mark.parametrize("call, message", [
    (lambda e, p, y: CBPE().fit(np.ones(len(p), int), p), "the reference has 1 class(es) 1"),
    (lambda e, p, y: CBPE().fit(y[:10], p[:10]), "needs at least 20 rows and 2 of each class"),
    (lambda e, p, y: CBPE().fit(y, np.r_[p[:-1], np.nan]), "value nan at row 999 is not a probability"),
    (lambda e, p, y: CBPE().fit(y, p * 2), "is not a probability"),
    (lambda e, p, y: CBPE().fit(y[:-1], p), "y_true has 999 rows but proba has 1000"),
    (lambda e, p, y: CBPE(calibrate="sometimes").fit(y, p), "got 'sometimes'"),
    (lambda e, p, y: CBPE(threshold=1.5).fit(y, p), "strictly between 0 and 1, got 1.5"),
    (lambda e, p, y: CBPE().estimate(p), "not fitted; call fit(y_true, proba)"),
    (lambda e, p, y: e.estimate([]), "the window has no rows"),
    (lambda e, p, y: e.estimate([0.2, -0.1]), "value -0.1 at row 1"),
    (lambda e, p, y: e.estimate([0.2, 0.3], y_true=[0, 5]), "label 5 is not a reference class"),
    (lambda e, p, y: e.estimate_chunks(p, chunk_size=10, chunks=2), "not both"),
    (lambda e, p, y: e.estimate_chunks(p[:5], chunks=10), "5 rows cannot be cut into 10 chunks"),
])
def test_bad_input_is_refused_with_a_workbench_error(call, message):
    p, y = draw(1000, 14)
    est = CBPE().fit(y, p)
    with pytest.raises(EstimationError) as e:
        call(est, p, y)
    assert message in str(e.value) and isinstance(e.value, WorkbenchError)


def test_unknown_or_label_only_metrics_are_refused():
    p, y = draw(200, 15)
    with pytest.raises(MetricError, match="did you mean"):
        CBPE(metrics=["rocauc"]).fit(y, p)
    with pytest.raises(MetricError, match="'log_loss' cannot be estimated without labels"):
        CBPE(metrics=["log_loss"]).fit(y, p)


def draw_multiclass(n, seed, classes=3):
    "An overconfident model: it says softmax(z); the labels are drawn from softmax(z / 2)."
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, classes))
    soft = lambda a: np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    return soft(z), (rng.uniform(size=(n, 1)) > soft(z / 2).cumsum(axis=1)).sum(axis=1)


def test_multiclass_calibrates_each_class_and_estimates_expected_accuracy():
    ref_p, ref_y = draw_multiclass(3000, 20)
    p, y = draw_multiclass(3000, 21)
    est = CBPE().fit(ref_y, ref_p)
    assert est.metrics_ == ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr"]
    assert est.calibrated_ == [True, True, True]
    # oracle: scikit-learn's isotonic regression per class (one against the rest), rows scaled to sum to 1
    c = np.column_stack([IsotonicRegression(out_of_bounds="clip").fit(ref_p[:, k], ref_y == k).predict(p[:, k])
                         for k in range(3)])
    c /= c.sum(axis=1, keepdims=True)
    out = est.estimate(p, y_true=y)
    assert out["accuracy"] == pytest.approx(c[np.arange(len(p)), p.argmax(axis=1)].mean(), abs=1e-12)
    for m in est.metrics_:
        assert out[f"{m}_lower"] <= out[f"{m}_realised"] <= out[f"{m}_upper"], m
        assert abs(out[m] - out[f"{m}_realised"]) < 0.03, m


def test_multiclass_refuses_mismatched_probabilities():
    ref_p, ref_y = draw_multiclass(500, 22, classes=4)
    est = CBPE(metrics=["accuracy"]).fit(ref_y, ref_p)
    with pytest.raises(EstimationError, match="proba is for 3 classes but this CBPE was fitted on 4"):
        est.estimate(ref_p[:, :3])
    with pytest.raises(EstimationError, match="has 4 class"):
        CBPE().fit(ref_y, ref_p[:, :3])
    with pytest.raises(MetricError, match="for a multiclass model"):
        CBPE(metrics="roc_auc").fit(ref_y, ref_p)
