"""Drift on a real dask cluster: the same sketches as the chunked engine on a partitioned Parquet dataset, the
in-memory verdicts (exact statistics where counts suffice, within `error_bound` where not), dask DataFrames,
partitions whose schema disagrees, a worker killed mid-computation and a scheduler that does not answer."""
import os, signal, socket, threading, time
import numpy as np
import pandas as pd
import pytest
from mlops_workbench.cluster import ClusterError, connect
from mlops_workbench.drift import detect
from mlops_workbench.drift_parquet import detect_parquet


def make(n, seed, shift=0.0):
    "Numbers (many values, few values, small integers), categories and booleans; `shift` moves some of them."
    rng = np.random.default_rng(seed)
    p3 = np.array([0.5, 0.3, 0.2]) if shift == 0 else np.array([0.5 - shift / 2, 0.3, 0.2 + shift / 2])
    df = pd.DataFrame({
        "num": rng.normal(shift, 1, n),
        "big": rng.normal(1e6 + shift, 3, n),                  # large values: the moments' shifts must merge well
        "num_few": rng.choice([0.0, 1.5, 3.0, 4.5], n),
        "int_many": rng.integers(0, 200, n) + int(10 * shift),
        "int_few": rng.choice(np.arange(6), n),
        "cat": rng.choice(["a", "b", "c"], n, p=p3),
        "boolean": rng.random(n) < 0.4 + shift / 5,
    })
    df.loc[df.sample(frac=0.03, random_state=seed).index, "num"] = np.nan
    return df


def write_parts(df, folder, n_parts):
    "`df` as a Hive-style partitioned dataset: folder/day=K/part-0.parquet."
    for k, part in enumerate(np.array_split(np.arange(len(df)), n_parts)):
        (folder / f"day={k}").mkdir(parents=True)
        df.iloc[part].to_parquet(folder / f"day={k}" / "part-0.parquet", index=False)
    return folder


def settings(tmp_path, address=""):
    p = tmp_path / "settings.ini"
    p.write_text(f"[workbench]\ndask_scheduler = {address}\n")
    return p


def same_as_in_memory(rep, mem):
    "Same tests and verdicts; counts-based statistics equal; approximate ones within their error bound."
    a, b = rep.by_column, mem.by_column.loc[rep.by_column.index]
    assert a["test"].to_dict() == b["test"].to_dict()
    assert a["drifted"].to_dict() == b["drifted"].to_dict()
    exact = a["test"].isin(["jensenshannon", "chi2", "z", "kl"])
    assert exact.sum() >= 3
    np.testing.assert_allclose(a.loc[exact, "statistic"], b.loc[exact, "statistic"], rtol=1e-9)
    approx = a["test"].isin(["wasserstein", "ks"])
    assert approx.sum() >= 2
    assert (abs(a.loc[approx, "statistic"] - b.loc[approx, "statistic"]) <= a.loc[approx, "error_bound"]).all()
    assert (a["missing_current"] == b["missing_current"]).all()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    "A reference of 30,000 rows in 6 partitions and a shifted current of 24,000 rows in 5."
    d = tmp_path_factory.mktemp("drift_dask")
    ref, cur = make(30_000, 1), make(24_000, 2, 0.15)
    return ref, cur, write_parts(ref, d / "ref", 6), write_parts(cur, d / "cur", 5)


def test_partitioned_parquet_on_cluster_same_as_chunked_and_in_memory(dataset, dask_client):
    ref, cur, ref_dir, cur_dir = dataset
    on_cluster = detect(ref_dir, cur_dir, chunk_rows=4000, client=dask_client)
    chunked = detect(ref_dir, cur_dir, chunk_rows=4000)  # no client, no scheduler: a fold on this machine
    assert on_cluster.to_dict() == chunked.to_dict()  # the same sketches, merged in the same order
    assert (on_cluster.n_reference, on_cluster.n_current, on_cluster.schema) == (30_000, 24_000, [])
    same_as_in_memory(on_cluster, detect(ref, cur))
    glob = detect(str(ref_dir / "day=*" / "*.parquet"), str(cur_dir / "*" / "*.parquet"), chunk_rows=4000,
                  client=dask_client)
    assert glob.to_dict() == chunked.to_dict()


def test_one_file_and_its_partitions_agree(dataset, tmp_path):
    "Merged partition sketches give the single-file engine's statistics (to rounding of the moment sums)."
    ref, cur, ref_dir, cur_dir = dataset
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    one = detect(tmp_path / "ref.parquet", tmp_path / "cur.parquet").by_column
    parts = detect(ref_dir, cur_dir).by_column
    assert one["drifted"].to_dict() == parts["drifted"].to_dict()
    np.testing.assert_allclose(parts["statistic"], one["statistic"], rtol=1e-9)


def test_forced_ks_and_psi_within_their_bounds(dataset, dask_client):
    ref, cur, ref_dir, cur_dir = dataset
    method = {"num": "ks", "big": "psi", "int_many": "psi", "cat": "psi"}
    cols = list(method)
    rep = detect(ref_dir, cur_dir, columns=cols, method=method, client=dask_client).by_column
    mem = detect(ref, cur, columns=cols, method=method).by_column
    assert rep["test"].to_dict() == mem["test"].to_dict() == method
    assert rep["drifted"].to_dict() == mem["drifted"].to_dict()
    ks = rep.index[rep["test"] == "ks"]
    assert (rep.loc[ks, "error_bound"] > 0).all()
    assert (abs(rep.loc[ks, "statistic"] - mem.loc[ks, "statistic"]) <= rep.loc[ks, "error_bound"]).all()
    assert rep.loc["cat", "statistic"] == pytest.approx(mem.loc["cat", "statistic"], rel=1e-9)  # counts: exact
    psi = ["big", "int_many"]      # rich numeric columns: cut at the fine bins, with a bound
    assert (rep.loc[psi, "error_bound"] > 0).all()
    assert (abs(rep.loc[psi, "statistic"] - mem.loc[psi, "statistic"]) <= rep.loc[psi, "error_bound"]).all()


def test_dask_dataframe_input(dataset, dask_client):
    import dask.dataframe as dd
    ref, cur, ref_dir, cur_dir = dataset
    mem = detect(ref, cur)
    both = detect(dd.from_pandas(ref, npartitions=4), dd.from_pandas(cur, npartitions=3), client=dask_client)
    same_as_in_memory(both, mem)
    mixed = detect(dd.from_pandas(ref, npartitions=2), cur_dir, client=dask_client)
    same_as_in_memory(mixed, mem)
    assert (both.n_reference, mixed.n_current) == (len(ref), len(cur))


def test_pandas_on_the_cluster_same_as_chunked_slices(dataset, dask_client, tmp_path):
    "A pandas DataFrame with a client, or a scheduler in settings.ini, goes to the cluster in `chunk_rows` slices."
    ref, cur, _, _ = dataset
    on_cluster = detect(ref, cur, chunk_rows=7000, client=dask_client)
    folded = detect_parquet(ref, cur, chunk_rows=7000)
    np.testing.assert_allclose(on_cluster.by_column["statistic"], folded.by_column["statistic"], rtol=1e-12)
    same_as_in_memory(on_cluster, detect(ref, cur))
    configured = detect(ref, cur, chunk_rows=7000, settings=settings(tmp_path, dask_client.scheduler.address))
    assert configured.to_dict() == on_cluster.to_dict()


def test_partitions_that_disagree_are_schema_changes(dataset, tmp_path, dask_client):
    ref, cur, ref_dir, _ = dataset
    cur_dir = write_parts(cur, tmp_path / "cur", 4)
    gone, text = cur_dir / "day=1" / "part-0.parquet", cur_dir / "day=3" / "part-0.parquet"
    pd.read_parquet(gone).drop(columns="cat").to_parquet(gone, index=False)
    pd.read_parquet(text).astype({"num_few": str}).to_parquet(text, index=False)
    reports = [detect(ref_dir, cur_dir, client=dask_client), detect(ref_dir, cur_dir)]
    assert reports[0].to_dict() == reports[1].to_dict()
    rep = reports[0]
    within = {s["column"]: s for s in rep.schema if s["change"] != "unseen categories"}
    assert within["cat"]["change"] == "missing in partition" and str(gone) in within["cat"]["detail"]
    assert within["num_few"]["change"] == "type changed" and str(text) in within["num_few"]["detail"]
    assert within["num_few"]["detail"].startswith("current: numeric in ")
    row = rep.by_column.loc["num_few"]
    assert (row["test"], bool(row["drifted"])) == ("schema", True)  # not tested: types are never mixed
    n_gone = len(pd.read_parquet(gone))
    assert rep.by_column.loc["cat", "missing_current"] == n_gone
    assert rep.by_column.loc["cat", "test"] == "jensenshannon"  # still tested on the partitions that have it
    html = rep._repr_html_()
    assert "missing in partition" in html and "day=3" in html


def kill_when_busy(client, address, pid, stop, killed):
    "SIGKILL worker `pid` as soon as the scheduler says it is running a task (of the drift: nothing else runs)."
    while not stop.is_set():
        if client.processing(workers=[address]).get(address):
            os.kill(pid, signal.SIGKILL)
            killed.set()
            return
        time.sleep(0.005)


@pytest.mark.slow
def test_worker_killed_in_the_middle_of_drift(tmp_path):
    "SIGKILL one worker of a cluster of our own while the passes run: the result is still the chunked one."
    ref, cur = make(150_000, 3), make(150_000, 4, 0.2)
    ref_dir, cur_dir = write_parts(ref, tmp_path / "ref", 30), write_parts(cur, tmp_path / "cur", 30)
    expected = detect(ref_dir, cur_dir, chunk_rows=500).to_dict()
    with connect(settings=settings(tmp_path)) as c:
        address, victim = next(iter(c.run(os.getpid).items()))
        stop, killed = threading.Event(), threading.Event()
        killer = threading.Thread(target=kill_when_busy, args=(c, address, victim, stop, killed))
        killer.start()
        try: got = detect(ref_dir, cur_dir, chunk_rows=500, client=c)
        finally:
            stop.set()
            killer.join()
        assert killed.is_set(), "the worker was never seen running a drift task"
        assert victim not in c.run(os.getpid).values()  # the worker really died (and the nanny replaced it)
    assert got.to_dict() == expected


def test_scheduler_that_does_not_answer_gives_a_cluster_error_in_seconds(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    df = make(200, 5)
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=f"tcp://127.0.0.1:{port} did not answer within"):
        detect(df, df, settings=settings(tmp_path, f"tcp://127.0.0.1:{port}"))
    assert time.perf_counter() - t0 < 20


@pytest.mark.slow
def test_dask_dataframe_without_client_starts_and_stops_a_local_cluster(dataset, tmp_path):
    import dask.dataframe as dd, psutil
    ref, cur, _, _ = dataset
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    rep = detect(dd.from_pandas(ref, npartitions=2), cur, settings=settings(tmp_path))
    same_as_in_memory(rep, detect(ref, cur))
    deadline = time.time() + 10
    while time.time() < deadline and {p.pid for p in psutil.Process().children(recursive=True)} - before:
        time.sleep(0.2)
    assert not {p.pid for p in psutil.Process().children(recursive=True)} - before, "worker processes left behind"
