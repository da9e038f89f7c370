"""The cluster module on a real dask `LocalCluster`: the engine rule, connecting, and map-merge under faults."""
import os, signal, socket, time
import pytest
from mlops_workbench.cluster import ClusterError, connect, engine, map_merge, parquet_parts, scheduler_address
from mlops_workbench.core import ConfigError, DataError


def _settings(tmp_path, address):
    p = tmp_path / "settings.ini"
    p.write_text(f"[workbench]\ndask_scheduler = {address}\n")
    return p


def _slow_square(x, delay):
    time.sleep(delay)
    return x * x


def test_engine_rule(tmp_path):
    import pandas as pd, dask.dataframe as dd
    df = pd.DataFrame({"a": range(10)})
    plain = _settings(tmp_path, "")
    assert [engine(df, settings=plain), engine(tmp_path, settings=plain), engine("x/*.parquet", settings=plain)] \
        == ["memory", "chunked", "chunked"]
    assert engine(dd.from_pandas(df, npartitions=2), settings=plain) == "dask"
    assert engine(df, client=object(), settings=plain) == "dask"
    assert engine(df, settings=_settings(tmp_path, "tcp://10.0.0.1:8786")) == "dask"


def test_bad_address_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
        scheduler_address(_settings(tmp_path, "10.0.0.1"))


def test_scheduler_that_does_not_answer_fails_in_seconds(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=f"tcp://127.0.0.1:{port} did not answer within 2 s"):
        with connect(settings=_settings(tmp_path, f"tcp://127.0.0.1:{port}"), timeout=2):
            pass
    assert time.perf_counter() - t0 < 15


def test_configured_scheduler_is_used_and_closed(tmp_path, dask_client):
    address = dask_client.scheduler.address
    with connect(settings=_settings(tmp_path, address)) as c:
        assert c.scheduler.address == address and c is not dask_client
        assert map_merge(c, _slow_square, [1, 2, 3], lambda a, b: a + b, delay=0) == 14
    assert c.status == "closed"
    assert dask_client.status == "running"  # the caller's cluster is untouched


def test_local_cluster_for_the_call_is_stopped(tmp_path):
    import psutil
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with connect(settings=_settings(tmp_path, "")) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        pids = set(c.run(os.getpid).values())
    assert pids and not pids & before
    deadline = time.time() + 10
    while time.time() < deadline and any(psutil.pid_exists(p) for p in pids): time.sleep(0.2)
    assert not any(psutil.pid_exists(p) for p in pids), "worker processes left behind"


def test_given_client_is_left_open(dask_client):
    with connect(dask_client) as c: assert c is dask_client
    assert dask_client.status == "running"


def test_worker_killed_mid_computation_still_gives_the_right_answer(tmp_path):
    # a cluster of its own: killing a worker of the shared one would slow every later test
    with connect(settings=_settings(tmp_path, "")) as c:
        pids = c.run(os.getpid)
        victim = next(iter(pids.values()))
        t0 = time.perf_counter()
        import threading
        killer = threading.Timer(0.8, os.kill, (victim, signal.SIGKILL))
        killer.start()
        try: total = map_merge(c, _slow_square, list(range(12)), lambda a, b: a + b, delay=0.5)
        finally: killer.cancel()
        assert total == sum(i * i for i in range(12))
        assert victim not in c.run(os.getpid).values()  # the worker really died and was replaced
        assert time.perf_counter() - t0 > 0.8


def test_task_error_is_raised_with_its_own_message(dask_client):
    with pytest.raises(TypeError, match="can't multiply sequence"):
        map_merge(dask_client, _slow_square, ["x"], lambda a, b: a + b, delay=0)
    with pytest.raises(DataError, match="no partitions"):
        map_merge(dask_client, _slow_square, [], lambda a, b: a + b, delay=0)


def test_parquet_parts(tmp_path):
    import pandas as pd
    for d in ("day=2", "day=1"):
        (tmp_path / d).mkdir()
        pd.DataFrame({"a": [1]}).to_parquet(tmp_path / d / "p.parquet")
    (tmp_path / "day=1" / ".tmp.parquet").write_text("partial")
    assert [p.parent.name for p in parquet_parts(tmp_path)] == ["day=1", "day=2"]
    with pytest.raises(DataError, match="no Parquet files"):
        parquet_parts(tmp_path / "missing")
