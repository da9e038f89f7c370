from pathlib import Path
import pandas as pd
import pytest
from mlops_workbench import datasets
from mlops_workbench.core import DataError, WorkbenchError

DATA = Path(__file__).parents[1] / "data"


def test_list_matches_the_files():
    listed = datasets.list_datasets().set_index("name")
    assert list(listed.columns) == ["rows", "columns", "target", "description", "source"]
    assert set(listed.index) == {p.stem for p in DATA.glob("*.csv")}
    for name, row in listed.iterrows():
        df = pd.read_csv(DATA / f"{name}.csv")
        assert (row.rows, row.columns) == df.shape
        assert row.target in df.columns
        pd.testing.assert_frame_equal(datasets.load(name), df)


def test_provenance_ships_with_the_data():
    text = (DATA / "PROVENANCE.md").read_text()
    for name in datasets.DATASETS:
        assert f"{name}.csv" in text


def test_read_takes_a_name_or_a_path(tmp_path):
    df = datasets.load("default")
    df.to_parquet(tmp_path / "d.parquet")
    df.to_csv(tmp_path / "d.csv.gz", index=False)
    pd.testing.assert_frame_equal(datasets.read(tmp_path / "d.parquet"), df)
    pd.testing.assert_frame_equal(datasets.read(str(tmp_path / "d.csv.gz")), df)


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "does not exist"),
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("header.csv", b"a,b\n", "has a header but no rows"),
    ("bad.parquet", b"PAR1 nonsense", "could not be read as parquet"),
    ("table.xlsx", b"PK\x03\x04", "has extension '.xlsx'"),
    ("quote.csv", b'a,b\n1,"unterminated\n', "could not be read as csv"),
])
def test_bad_files_get_clear_errors(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as e:
        datasets.load_table(tmp_path / name)
    assert message in str(e.value) and name in str(e.value)
    assert isinstance(e.value, (WorkbenchError, ValueError))


def test_unknown_dataset_lists_the_bundled_ones():
    with pytest.raises(DataError, match="choose one of 'bikeshare', 'default', 'german_credit', 'hitters', 'titanic'"):
        datasets.load("iris")
