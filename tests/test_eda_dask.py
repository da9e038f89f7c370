"""Profiles of partitioned Parquet and dask DataFrames: the chunked and dask engines against each other and
against the in-memory engine, a schema change between files, and a worker killed mid-profile (real LocalClusters)."""
import os, signal, threading, time
import numpy as np, pandas as pd, pytest
from mlops_workbench import datasets
from mlops_workbench.eda import profile
from mlops_workbench.eda_scale import profile_sketched
from mlops_workbench.eda_sketch import FINE_BINS

EXACT = ["kind", "dtype", "count", "missing", "missing_pct", "distinct", "min", "max", "p25", "p50", "p75",
         "top_freq", "zeros", "infinite", "outliers"]
MOMENTS = ["mean", "std", "skew"]


def _mixed(n=3000, seed=0):
    "Numbers (with NaN, inf, zeros, sentinels), nullable and small integers, categories, text with codes, flags."
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(10, 3, n), "lognormal": rng.lognormal(0, 1.5, n),
                       "i": rng.integers(-5, 50, n), "small": rng.integers(0, 3, n).astype("int8"),
                       "nullable": pd.array(rng.integers(0, 9, n), dtype="Int64"),
                       "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
                       "txt": rng.choice(["red", "green", "blue", "?"], n, p=[.5, .3, .15, .05]),
                       "flag": rng.random(n) < 0.3, "y": rng.choice(["no", "yes"], n, p=[.85, .15])})
    df["twin"] = df["x"] * 2 + rng.normal(0, 0.01, n)
    df.loc[rng.random(n) < 0.1, "x"] = np.nan
    df.loc[rng.random(n) < 0.05, "txt"] = None
    df.loc[rng.random(n) < 0.05, "nullable"] = pd.NA
    df.loc[[3, 7], "lognormal"] = [np.inf, -np.inf]
    df.loc[:9, "i"] = 0
    df.loc[20:24, "i"] = -999
    return pd.concat([df, df.iloc[:40]], ignore_index=True)  # 40 duplicate rows


def _split(df, folder, n, hive=True):
    "Write `df` as `n` Parquet files (in Hive `day=...` folders), in row order; return the folder."
    for i, idx in enumerate(np.array_split(np.arange(len(df)), n)):
        d = folder / f"day={i:02d}" if hive else folder
        d.mkdir(parents=True, exist_ok=True)
        df.iloc[idx].to_parquet(d / f"part-{i:02d}.parquet", index=False)
    return folder


def _same(a, b):
    "Two sketched profiles are identical: every number, histogram, level and warning."
    assert a.to_dict() == b.to_dict()
    for (ca, ra), (cb, rb) in zip(a._full.iterrows(), b._full.iterrows()):
        if ra["kind"] == "numeric":
            np.testing.assert_array_equal(ra["hist"][0], rb["hist"][0], err_msg=ca)
            np.testing.assert_array_equal(ra["hist"][1], rb["hist"][1], err_msg=ca)
        else: pd.testing.assert_series_equal(ra["levels"], rb["levels"])


def _like_memory(sk, mem, approx=()):
    "A sketched profile equals the in-memory one: exact numbers equal, moments to 1e-9, the same warnings."
    fs, fm = sk.to_frame(), mem.to_frame()
    assert list(fs.index) == list(fm.index) and (sk.n_rows, sk.n_columns) == (mem.n_rows, mem.n_columns)
    exact = [c for c in fm.index if c not in approx]
    for col in EXACT:
        pd.testing.assert_series_equal(fs.loc[exact, col], fm.loc[exact, col], check_dtype=False, obj=col)
    for col in MOMENTS:
        np.testing.assert_allclose(fs[col].astype(float), fm[col].astype(float), rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=col)
    for c in exact:  # the most frequent value, where it is unique (ties may be ordered differently)
        if fm.loc[c, "top_freq"] and (mem._full.loc[c, "kind"] == "numeric" or
                                      (mem._full.loc[c, "levels"] == fm.loc[c, "top_freq"]).sum() == 1):
            assert fs.loc[c, "top"] == fm.loc[c, "top"], c
    for c in fm.index[fm["kind"] == "numeric"]:
        np.testing.assert_array_equal(sk._full.loc[c, "hist"][0], mem._full.loc[c, "hist"][0], err_msg=c)
        np.testing.assert_allclose(sk._full.loc[c, "hist"][1], mem._full.loc[c, "hist"][1], rtol=0, atol=0)
    assert sk.duplicate_rows == mem.duplicate_rows
    assert [w for w in sk.warnings if w.kind != "approximate"] == mem.warnings


@pytest.mark.slow
@pytest.mark.parametrize("name", ["german_credit", "mixed"])
def test_chunked_and_dask_equal_memory(tmp_path, dask_client, name):
    df = datasets.read("german_credit") if name == "german_credit" else _mixed()
    target = "risk" if name == "german_credit" else "y"
    folder = _split(df, tmp_path, 5)
    mem = profile(pd.read_parquet(folder).drop(columns="day"), target)  # the Hive key is a folder, not a column
    chunked = profile(folder, target)
    on_dask = profile(folder, target, client=dask_client)
    _same(chunked, on_dask)
    _like_memory(chunked, mem)
    assert not chunked.warnings_of("schema") and not chunked.warnings_of("approximate")
    small_chunks = profile_sketched(str(folder / "day=*" / "*.parquet"), target, chunk_rows=97)
    _like_memory(small_chunks, mem)
    if name == "mixed":
        kinds = {w.kind for w in mem.warnings}
        assert {"duplicates", "correlated", "imbalance", "disguised_missing", "infinite", "missing"} <= kinds
        assert on_dask._repr_html_() == chunked._repr_html_()
        on_dask.save_html(tmp_path / "p.html")
        assert all(f"<b>{c}</b>" in (tmp_path / "p.html").read_text() for c in df.columns)


@pytest.mark.slow
def test_past_the_cap_within_the_stated_bounds(tmp_path, dask_client):
    df = datasets.read("default")
    folder = _split(df, tmp_path, 4, hive=False)
    cap = 500
    chunked = profile_sketched(folder, "default", cap=cap)
    on_dask = profile_sketched(folder, "default", client=dask_client, cap=cap)
    _same(chunked, on_dask)
    mem = profile(df, "default")
    cont = [c for c in df.columns if df[c].nunique() > cap]
    assert cont == ["balance", "income"]
    _like_memory(chunked, mem, approx=cont)
    assert [w.columns[0] for w in chunked.warnings_of("approximate")] == cont
    fs, fm = chunked.to_frame(), mem.to_frame()
    for c in cont:
        x = df[c].to_numpy(float)
        w = (x.max() - x.min()) / FINE_BINS
        for q in ("p25", "p50", "p75"):
            assert abs(fs.loc[c, q] - fm.loc[c, q]) <= w, (c, q, fs.loc[c, q], fm.loc[c, q], w)
        assert f"{w:.4g}" in str(chunked.warnings_of("approximate")[cont.index(c)])
        q1, q3 = np.quantile(x, [0.25, 0.75])
        lo, hi = q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)
        outside = lambda a, b: int(((x < a) | (x > b)).sum())
        assert outside(lo - 8 * w, hi + 8 * w) <= fs.loc[c, "outliers"] <= outside(lo + 8 * w, hi - 8 * w)
        assert abs(fs.loc[c, "distinct"] / fm.loc[c, "distinct"] - 1) < 0.05
        assert 1 <= fs.loc[c, "top_freq"] <= fm.loc[c, "top_freq"]
    # a cap under the categories' count: exact numbers stay exact, the note names the column
    low = profile_sketched(folder, cap=1)
    assert {w.columns[0] for w in low.warnings_of("approximate")} == set(df.columns)
    np.testing.assert_allclose(low.to_frame()["mean"].astype(float), fm["mean"].astype(float), rtol=1e-9)


@pytest.mark.slow
def test_files_read_once_when_their_statistics_give_the_range(tmp_path, dask_client):
    """Past the cap, Parquet files whose footers bound every numeric column are read once; without statistics a
    second pass reads them again, and the profiles are the same."""
    from distributed import get_task_stream
    df = datasets.read("default")
    stats = _split(df, tmp_path / "stats", 4, hive=False)
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in sorted(stats.glob("*.parquet")):
        pd.read_parquet(f).to_parquet(bare / f.name, index=False, write_statistics=False)
    got, second = {}, {}
    for name, folder in (("stats", stats), ("bare", bare)):
        with get_task_stream(client=dask_client) as stream:
            got[name] = profile_sketched(folder, "default", client=dask_client, cap=500)
        second[name] = sum("_hist_part" in str(t["key"]) for t in stream.data)
    assert second == {"stats": 0, "bare": 4}
    assert [w.columns[0] for w in got["stats"].warnings_of("approximate")] == ["balance", "income"]
    _same(got["stats"], got["bare"])
    _same(got["stats"], profile_sketched(stats, "default", cap=500))  # the chunked engine, first-pass bins too
    _same(got["stats"], profile_sketched(bare, "default", cap=500))


@pytest.mark.slow
def test_duplicates_counted_in_a_task_per_worker(dask_client):
    "On small data the duplicate count is one task per worker (not one per hash bucket), and still exact."
    from distributed import get_task_stream
    df = _mixed(seed=2)
    with get_task_stream(client=dask_client) as stream:
        on_dask = profile(df, "y", client=dask_client)
    assert sum("_group_distinct" in str(t["key"]) for t in stream.data) == len(dask_client.scheduler_info()["workers"])
    assert on_dask.duplicate_rows == profile(df, "y").duplicate_rows == 40


@pytest.mark.slow
def test_dask_dataframe_input(dask_client):
    import dask.dataframe as dd
    df = _mixed(seed=1)
    ddf = dd.from_pandas(df, npartitions=4)
    on_dask = profile(ddf, "y", client=dask_client)
    _like_memory(on_dask, profile(ddf.compute(), "y"))  # dask may store text as pyarrow strings: the same data
    _like_memory(profile(df, "y", client=dask_client), profile(df, "y"))  # a pandas frame sent to the cluster


@pytest.mark.slow
def test_partition_with_a_column_missing_or_of_another_type(tmp_path, dask_client):
    df = datasets.read("german_credit")
    folder = _split(df, tmp_path, 4, hive=False)
    files = sorted(folder.glob("*.parquet"))
    part1 = pd.read_parquet(files[1])
    part1.drop(columns="age").to_parquet(files[1], index=False)
    part2 = pd.read_parquet(files[2])
    part2.assign(duration=part2.duration.astype(str), extra=1).to_parquet(files[2], index=False)
    chunked = profile(folder, "risk")
    _same(chunked, profile(folder, "risk", client=dask_client))
    schema = [str(w) for w in chunked.warnings_of("schema")]
    assert len(schema) == 3 and str(files[1]) in schema[0] and "'age' is absent" in schema[0]
    assert f"'duration' is object in {files[2]} but int64 elsewhere" in schema[1]
    assert "'extra'" in schema[2] and str(files[2]) in schema[2]
    f = chunked.to_frame()
    assert (f.loc["age", "count"], f.loc["age", "missing"]) == (len(df) - len(part1), len(part1))
    assert f.loc["duration", "count"] == len(df) - len(part2) and f.loc["duration", "dtype"] == "int64"
    kept = pd.concat([pd.read_parquet(p) for i, p in enumerate(files) if i != 2]).duration
    assert f.loc["duration", "mean"] == pytest.approx(kept.mean(), rel=1e-12)
    assert "extra" not in f.index


@pytest.mark.slow
def test_worker_killed_mid_profile_still_right(tmp_path):
    from distributed import Client, LocalCluster
    df = datasets.read("default")
    folder = _split(df, tmp_path, 24, hive=False)
    expected = profile_sketched(folder, "default", chunk_rows=50)
    # a cluster of its own: killing a worker of the shared one would slow every later test
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="2GB", dashboard_address=":0") as lc, \
            Client(lc, set_as_default=False) as c:
        victim = next(iter(c.run(os.getpid).values()))
        killer = threading.Timer(0.8, os.kill, (victim, signal.SIGKILL))
        t0 = time.perf_counter()
        killer.start()
        try: got = profile_sketched(folder, "default", client=c, chunk_rows=50)
        finally: killer.cancel()
        assert time.perf_counter() - t0 > 0.8, "the profile ended before the worker was killed"
        assert victim not in c.run(os.getpid).values()  # the worker really died and was replaced
    _same(got, expected)


@pytest.mark.slow
def test_configured_scheduler_profiles_on_the_cluster(tmp_path, dask_client):
    "`[workbench] dask_scheduler` sends a DataFrame and a Parquet path to that cluster: its workers do the reading."
    df = datasets.read("german_credit")
    folder = _split(df, tmp_path / "data", 3, hive=False)
    ini = tmp_path / "settings.ini"
    ini.write_text(f"[workbench]\ndask_scheduler = {dask_client.scheduler.address}\n")
    from distributed import get_task_stream
    with get_task_stream(client=dask_client) as stream:
        on_path = profile(folder, "risk", settings=ini)
    assert sum("_sketch_part" in t["key"] for t in stream.data) == 3  # one task per file ran on that cluster
    _same(on_path, profile(folder, "risk"))
    _like_memory(profile(df, "risk", settings=ini), profile(df, "risk"))


def test_list_and_map_columns_counted_as_tuples(tmp_path, dask_client):
    "Parquet list and map columns (values read back as arrays) profile on both engines as in memory, not crash."
    df = pd.DataFrame({"x": np.arange(8.0), "tags": [[1, 2], [3], [], [1, 2], None, [4], [1, 2], [3]],
                       "attrs": [{"k": 1}, {"k": 2}, None, {"k": 1}, {"k": 1}, {"k": 3}, {"k": 2}, {"k": 1}]})
    folder = _split(df, tmp_path, 2, hive=False)
    mem = profile(df).to_frame()
    for got in (profile(folder), profile(folder, client=dask_client)):
        f = got.to_frame()
        for col in ("tags", "attrs"):
            assert (f.loc[col, "count"], f.loc[col, "missing"], f.loc[col, "distinct"], f.loc[col, "top_freq"]) == \
                (mem.loc[col, "count"], mem.loc[col, "missing"], mem.loc[col, "distinct"], mem.loc[col, "top_freq"]), col
        assert f.loc["tags", "top"] == (1, 2) and mem.loc["tags", "top"] == [1, 2]
