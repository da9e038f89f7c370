"""The inference log from the installed package: contract, durability across processes and SIGKILL, labels, a full disk."""
import signal, struct, subprocess, sys, textwrap, threading, zlib
import pandas as pd
import pytest
from mlops_workbench.inference_log import InferenceLog, LogError

ROWS = """
import sys, uuid
import pandas as pd
from mlops_workbench.inference_log import InferenceLog
def rows(n, tag):
    ids = [f"{tag}-{uuid.uuid4().hex}" for _ in range(n)]
    return pd.DataFrame({"event_time": pd.Timestamp.now("UTC"), "row_id": ids, "model_name": "credit",
                         "model_version": "3", "source": "live", "prediction": "good", "proba.good": 0.75,
                         "in.age": 41, "x.sex": "female"})
log = InferenceLog(sys.argv[1])
"""


def frame(ids, day="2026-03-01 12:00", source="live"):
    return pd.DataFrame({"event_time": pd.Timestamp(day, tz="UTC"), "row_id": ids, "model_name": "credit",
                         "model_version": "3", "source": source, "prediction": ["good", "bad"] * (len(ids) // 2),
                         "proba.bad": 0.25, "proba.good": 0.75, "in.age": 41, "in.purpose": "car",
                         "x.sex": "female", "unseen": ""})


def script(body):
    return [sys.executable, "-c", ROWS + textwrap.dedent(body)]


def test_round_trip_keeps_the_schema(tmp_path):
    log = InferenceLog(tmp_path / "log")
    assert log.append(frame(["a", "b"])) == 2
    for got in (log.read(), (log.compact(), log.read())[1], log.read(include_tail=False)):
        assert list(got.columns) == ["event_time", "row_id", "model_name", "model_version", "source", "prediction",
                                     "proba.bad", "proba.good", "in.age", "in.purpose", "x.sex", "unseen", "label"]
        assert str(got["event_time"].dt.tz) == "UTC" and got["event_time"].iloc[0] == pd.Timestamp("2026-03-01 12:00Z")
        assert got["row_id"].tolist() == ["a", "b"] and got["prediction"].tolist() == ["good", "bad"]
        assert got["proba.good"].tolist() == [0.75, 0.75] and got["in.age"].tolist() == [41, 41]
    assert [p.relative_to(tmp_path / "log").parent.as_posix() for p in (tmp_path / "log").rglob("*.parquet")] \
        == ["day=2026-03-01"]
    assert list((tmp_path / "log" / "wal").iterdir()) == []


def test_threads_of_one_process_share_a_segment(tmp_path):
    log = InferenceLog(tmp_path)
    ts = [threading.Thread(target=lambda t=t: [log.append(frame([f"{t}-{i}", f"{t}-{i}b"])) for i in range(25)])
          for t in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert len(list((tmp_path / "wal").glob("*.arrows"))) == 1
    assert log.read()["row_id"].nunique() == 200


def test_processes_append_concurrently(tmp_path):
    procs = [subprocess.Popen(script(f"for i in range(40): log.append(rows(5, 'p{k}'))\n") + [str(tmp_path)])
             for k in range(4)]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    finally:
        for p in procs: p.kill()
    log = InferenceLog(tmp_path)
    got = log.read()
    assert len(got) == 800 and got["row_id"].nunique() == 800
    assert got["row_id"].str[:2].value_counts().to_dict() == {"p0": 200, "p1": 200, "p2": 200, "p3": 200}
    assert len(list((tmp_path / "wal").glob("*.arrows"))) == 4  # one segment per process
    assert log.compact() == 800  # the writers have exited: their segments are taken
    assert sorted(log.read(include_tail=False)["row_id"]) == sorted(got["row_id"])


def test_every_acknowledged_row_survives_sigkill(tmp_path):
    body = """
    while True:
        df = rows(20, "k")
        log.append(df)
        print(" ".join(df.row_id), flush=True)
    """
    p = subprocess.Popen(script(body) + [str(tmp_path)], stdout=subprocess.PIPE, text=True)
    acked = []
    try:
        while len(acked) < 2000:
            line = p.stdout.readline()
            assert line, "the writer stopped early"
            acked += line.split()
        p.send_signal(signal.SIGKILL)
        assert p.wait(timeout=30) == -signal.SIGKILL
        acked += [i for line in p.stdout.read().splitlines() if line.endswith(tuple("0123456789abcdef"))
                  for i in line.split()]
    finally:
        p.kill()
        p.stdout.close()
    log = InferenceLog(tmp_path)
    got = set(log.read()["row_id"])
    assert set(acked) <= got, f"{len(set(acked) - got)} acknowledged rows lost"
    moved = log.compact()
    assert moved == len(got)  # the dead writer's segment is compacted, a torn last line left out
    assert set(log.read(include_tail=False)["row_id"]) == got
    assert list((tmp_path / "wal").iterdir()) == []


def test_labels_join_latest_per_key(tmp_path):
    log = InferenceLog(tmp_path)
    log.append(frame(["r1", "r2"]))
    log.append(frame(["r1", "r2"], source="shadow"))
    log.compact()
    log.append(frame(["r3", "r4"]))
    assert log.add_labels(pd.DataFrame({"key": ["r1", "r3"], "y": ["bad", "good"]}), key="key", label="y") == 2
    assert log.add_labels(pd.DataFrame({"row_id": ["r1"], "label": ["good"]})) == 1  # a correction
    got = log.read()
    assert got.dropna(subset="label").groupby("row_id")["label"].first().to_dict() == {"r1": "good", "r3": "good"}
    assert got.loc[got.row_id == "r1", "label"].tolist() == ["good", "good"]  # live and shadow both labelled
    assert got["label"].isna().sum() == 3


def test_bad_rows_are_refused_and_nothing_is_written(tmp_path):
    log = InferenceLog(tmp_path)
    with pytest.raises(LogError, match=r"lack the required column\(s\) \['model_version', 'source'\]"):
        log.append(frame(["a", "b"]).drop(columns=["model_version", "source"]))
    with pytest.raises(LogError, match=r"\['age'\] are not log columns; name model inputs 'in.<column>'"):
        log.append(frame(["a", "b"]).assign(age=3))
    with pytest.raises(LogError, match="source 'prod' is unknown; use one of 'batch', 'evaluation', 'live', 'shadow'"):
        log.append(frame(["a", "b"], source="prod"))
    with pytest.raises(LogError, match="naive"):
        log.append(frame(["a", "b"]).assign(event_time=pd.Timestamp("2026-01-01")))
    with pytest.raises(LogError, match="must be a pandas DataFrame"):
        log.append([{"row_id": "a"}])
    with pytest.raises(LogError, match=r"labels lack column\(s\) \['label'\]"):
        log.add_labels(pd.DataFrame({"row_id": ["a"]}))
    assert len(log.read()) == 0 and not (tmp_path / "wal").exists()


def test_full_disk_names_the_cause_and_keeps_nothing_partial(small_fs):
    log, acked = InferenceLog(small_fs / "log"), []
    with pytest.raises(LogError, match="no space left on the device while writing the inference log") as e:
        for i in range(10_000):
            ids = [f"{i}-{j}" for j in range(30)]
            log.append(frame(ids))
            acked += ids
    assert "Free some space or point [workbench] inference_log at a larger disk" in str(e.value)
    assert acked and sorted(log.read()["row_id"]) == sorted(acked)  # every acknowledged row, no part of the refused batch
    seg = next((small_fs / "log" / "wal").glob("*.arrows"))
    raw, pos = seg.read_bytes(), 0
    while pos < len(raw):  # whole records (length, CRC-32, body) to the last byte: nothing of the refused rows
        size, crc = struct.unpack_from("<II", raw, pos)
        assert zlib.crc32(raw[pos + 8:pos + 8 + size]) == crc
        pos += 8 + size
    assert pos == len(raw)
    with pytest.raises(LogError, match="no space left"):  # compaction cannot write Parquet: the segment is kept
        log.compact()
    assert seg.exists() and not list((small_fs / "log").rglob("*.partial"))
    assert sorted(log.read()["row_id"]) == sorted(acked)
    subprocess.run(["mount", "-o", "remount,size=1m", str(small_fs)], check=True)  # space freed
    assert log.compact() == len(acked) and sorted(log.read(include_tail=False)["row_id"]) == sorted(acked)


def test_read_gives_one_time_dtype_and_integer_labels(tmp_path):
    "Compacted nanosecond times and microsecond tail times read back as one UTC dtype; 0/1 labels stay integers."
    import pandas as pd
    from mlops_workbench.inference_log import InferenceLog
    log = InferenceLog(tmp_path / "log")
    def rows(ids, t):
        return pd.DataFrame({"event_time": t, "row_id": ids, "model_name": "m", "model_version": "1",
                             "source": "live", "prediction": 1})
    log.append(rows(["a"], pd.Series([pd.Timestamp("2024-01-01T00:00:00.123456789Z")])))
    log.compact()
    log.append(rows(["b"], pd.Series([pd.Timestamp("2024-01-01T01:00:00Z")]).astype("datetime64[us, UTC]")))
    log.add_labels(pd.DataFrame({"row_id": ["a"], "label": [1]}))
    df = log.read()
    assert str(df["event_time"].dtype) == "datetime64[ns, UTC]" and df["row_id"].tolist() == ["a", "b"]
    assert df["label"].iloc[0] == 1 and type(df["label"].iloc[0]) is not float and pd.isna(df["label"].iloc[1])
