"""Every reader on small hand-written files: correct parses, and DataError naming file, line and problem."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hashgnn.data import DataConfig, load_interactions
from hashgnn.data import io as dio
from hashgnn.errors import DataError, HashGNNError


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_datae_error_is_hashgnn_error() -> None:
    assert issubclass(DataError, HashGNNError)
    e = DataError("bad thing", "/x/y.csv", 7)
    assert str(e) == "/x/y.csv, line 7: bad thing"


# --- good files -------------------------------------------------------------------------------------------

def test_adjacency(tmp_path: Path) -> None:
    p = write(tmp_path, "train.txt", "0 1 2 3\n1 2\n\n2\n3 0 0\r\n")
    u, i, t = dio.read_adjacency(p)
    assert u.tolist() == [0, 0, 0, 1, 3, 3] and i.tolist() == [1, 2, 3, 2, 0, 0] and t is None


def test_ncf(tmp_path: Path) -> None:
    p = write(tmp_path, "x.train.rating", "0\t5\t4\t978300760\n1\t6\t1\t978300761\n")
    u, i, t = dio.read_ncf(p)
    assert u.tolist() == [0, 1] and i.tolist() == [5, 6] and t.tolist() == [978300760, 978300761]
    p0 = write(tmp_path, "y.test.rating", "0\t5\t1\t0\n1\t6\t1\t0\n")
    assert dio.read_ncf(p0)[2] is None  # all-zero time column = no timestamps


def test_movielens_dat_and_100k(tmp_path: Path) -> None:
    dat = write(tmp_path, "ratings.dat",
                "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n")
    u, i, t = dio.read_movielens_dat(dat)
    assert u.tolist() == [1, 1, 2] and i.tolist() == [1193, 661, 1193] and t.tolist()[0] == 978300760
    udata = write(tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    u, i, t = dio.read_movielens_100k(udata)
    assert u.tolist() == [196, 186] and t.tolist() == [881250949, 891717742]


def test_grouplens_formats_load_through_config(tmp_path: Path) -> None:
    dat = write(tmp_path, "ratings.dat", "1::10::5::3\n1::10::2::1\n2::11::4::2\n")
    inter, part = load_interactions(DataConfig(str(dat)))
    assert part is None and len(inter) == 2  # duplicate (1, 10) counted once
    assert inter.timestamps.tolist() == [1, 2]  # the earliest time of the duplicate pair is kept
    udata = write(tmp_path, "u.data", "5\t7\t1\t9\n")
    assert len(load_interactions(DataConfig(str(udata)))[0]) == 1
    adj = write(tmp_path, "train.txt", "0 1 2\n1 2\n")
    assert len(load_interactions(DataConfig(str(adj)))[0]) == 3
    other = write(tmp_path, "log.anything", "0 1 2\n")
    assert len(load_interactions(DataConfig(str(other), format="adjacency"))[0]) == 2


def test_detect_format() -> None:
    assert dio.detect_format("a/ratings.dat") == "movielens-dat"
    assert dio.detect_format("u.data") == "movielens-100k"
    assert dio.detect_format("ml-1m.test.rating") == "ncf"
    assert dio.detect_format("train.txt") == "adjacency"
    for name in ("x.csv", "x.tsv", "x.parquet", "notes.txt"):
        assert dio.detect_format(name) == "table"


def test_csv_string_ids_round_trip(tiny_csv: Path) -> None:
    cfg = DataConfig(str(tiny_csv), user_col="user_id", item_col="item_id", rating_col="stars",
                     timestamp_col="time")
    inter, _ = load_interactions(cfg)
    assert len(inter) == 9  # 10 rows, one duplicate pair
    assert inter.n_users == 4 and inter.n_items == 5
    assert set(inter.user_ids.tolist()) == {"alice", "bob", "carol", "dave"}
    # every output can speak original ids: index -> id -> index
    for k in range(inter.n_users):
        assert inter.user_index(inter.user_ids[k]) == k
    for k in range(inter.n_items):
        assert inter.item_index(inter.item_ids[k]) == k
    pairs = {(inter.user_ids[u], inter.item_ids[i], t)
             for u, i, t in zip(inter.users, inter.items, inter.timestamps, strict=True)}
    assert ("alice", "i10", 50) in pairs and ("alice", "i10", 100) not in pairs
    with pytest.raises(KeyError):
        inter.user_index("mallory")
    # and the same from the on-disk cache
    again, _ = load_interactions(cfg)
    assert again.user_index("carol") == inter.user_index("carol")
    assert again.item_ids[again.items[0]] == inter.item_ids[inter.items[0]]


def test_min_rating_filter(tiny_csv: Path) -> None:
    cfg = DataConfig(str(tiny_csv), user_col="user_id", item_col="item_id", rating_col="stars", min_rating=4)
    inter, _ = load_interactions(cfg)
    assert len(inter) == 5  # ratings >= 4: (alice,i10) (alice,i30) (bob,i40) (carol,i30) (dave,i10)


def test_ids_keep_their_type(tmp_path: Path) -> None:
    p = write(tmp_path, "a.csv", "user,item\n007,1\n7,2\n")
    u, i, _ = dio.read_table(p)
    assert u.tolist() == ["007", "7"]  # "007" and "7" are different ids
    assert i.dtype == np.int64


def test_tsv_parquet_and_iso_times(tmp_path: Path) -> None:
    tsv = write(tmp_path, "a.tsv", "u\ti\tts\nx\t1\t2020-01-01T00:00:10Z\ny\t2\t2020-01-02\n")
    u, i, t = dio.read_table(tsv, dio.Columns("u", "i", timestamp="ts"))
    assert t.tolist() == [1577836810, 1577923200]
    frame = pd.DataFrame({"who": ["a", "b", "a"], "what": [3, 4, 5],
                          "when": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"])})
    pq = tmp_path / "a.parquet"
    frame.to_parquet(pq)
    u, i, t = dio.read_table(pq, dio.Columns("who", "what", timestamp="when"))
    assert u.tolist() == ["a", "b", "a"] and i.tolist() == [3, 4, 5]
    assert t.tolist() == [1577836800, 1577923200, 1578009600]


# --- bad files: one error type, naming file, line and problem ----------------------------------------------

BAD_CASES = [
    # (file name, content, expected line, words in the problem)
    ("train.txt", "0 1 2\n1 x\n", 2, "item id 'x' is not an integer"),
    ("train.txt", "0 1 2\n-1 3\n", 2, "negative"),
    ("train.txt", "0 1\n1 99999999999999999999\n", 2, "out of range"),
    ("train.txt", "0 1\n1 1_000\n", 2, "not an integer"),
    ("train.txt", "0\n1\n", None, "no interactions"),
    ("x.rating", "0\t1\t1\t0\n0 1 1 0\n", 2, "expected 4 NCF fields"),
    ("x.rating", "0\t1\tnan\t0\n", 1, "finite"),
    ("x.rating", "0\t1\t-2\t0\n", 1, "finite number >= 0"),
    ("x.rating", "0\t1\tinf\t0\n", 1, "finite"),
    ("x.rating", "0\t1\tfive\t0\n", 1, "not a number"),
    ("ratings.dat", "1::2::3::4\n1,2,3,4\n", 2, "expected 4 ratings.dat fields"),
    ("ratings.dat", "1::2::3::\n", 1, "timestamp '' is not an integer"),
    ("u.data", "1\t2\t3\t4\n1\t2\t3\n", 2, "found 3"),
    ("u.data", "1\t2\t3\t4\n1\t2\t3\t4.5\n", 2, "timestamp"),
    ("a.csv", "user,item\n1,2\n3,4,5\n", 3, "malformed line"),
    ("a.csv", "user,item,rating\n1,2,abc\n", 2, "rating 'abc'"),
    ("a.csv", "user,item,rating\n1,2,3\n1,2,-inf\n", 3, "finite number >= 0"),
    ("a.csv", "user,item\n1,\n", 2, "empty 'item' value"),
    ("a.csv", "user,user,item\n1,2,3\n", 1, "duplicate column"),
    ("a.csv", "usr,item\n1,2\n", 1, "missing column(s) ['user']"),
    ("a.csv", "user;item\n1;2\n", 1, "missing column"),  # wrong delimiter
    ("a.csv", "user,item\n", None, "no rows"),
]


@pytest.mark.parametrize(("name", "content", "line", "words"), BAD_CASES)
def test_bad_input_names_file_line_problem(tmp_path: Path, name: str, content: str, line: int | None,
                                          words: str) -> None:
    path = write(tmp_path, name, content)
    cfg = DataConfig(str(path), rating_col="rating" if "rating" in content.split("\n")[0] else None)
    with pytest.raises(DataError) as info:
        load_interactions(cfg)
    err = info.value
    assert err.path == str(path)
    assert err.line == line
    assert words in err.problem
    assert str(path) in str(err) and (line is None or f"line {line}" in str(err))


@pytest.mark.parametrize("name", ["train.txt", "x.rating", "ratings.dat", "u.data", "a.csv", "a.tsv",
                                  "a.parquet"])
def test_empty_and_blank_files(tmp_path: Path, name: str) -> None:
    for content in (b"", b"\n\n  \n"):
        path = write(tmp_path, name, content)
        with pytest.raises(DataError) as info:
            load_interactions(DataConfig(str(path)))
        assert info.value.path == str(path)


def test_bad_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "train.txt", b"0 1\n1 2\n\xff\xfe 3\n")
    with pytest.raises(DataError, match="UTF-8") as info:
        dio.read_adjacency(path)
    assert info.value.line == 3
    csv = write(tmp_path, "a.csv", b"user,item\n\xe9,1\n")
    with pytest.raises(DataError, match="UTF-8"):
        dio.read_table(csv)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "a.parquet", b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="Parquet"):
        load_interactions(DataConfig(str(path)))


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_interactions(DataConfig(str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match="not a regular file"):
        load_interactions(DataConfig(str(tmp_path) + os.sep))
    for reader in (dio.read_adjacency, dio.read_ncf, dio.read_table):
        with pytest.raises(DataError, match="file not found"):
            reader(tmp_path / "nope.txt")


def test_unreadable_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write(tmp_path, "locked.csv", "user,item\n1,2\n")
    adj = write(tmp_path, "train.txt", "0 1\n")
    if os.geteuid() == 0:  # root reads a chmod-000 file: simulate the permission error instead

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Path, "read_bytes", denied)
        monkeypatch.setattr(Path, "open", denied)
        monkeypatch.setattr(pd, "read_csv", denied)
    else:
        locked.chmod(0)
        adj.chmod(0)
    try:
        for path in (locked, adj):
            with pytest.raises(DataError, match="cannot read file") as info:
                load_interactions(DataConfig(str(path), use_cache=False))
            assert info.value.path == str(path)
    finally:
        monkeypatch.undo()
        locked.chmod(0o644)
        adj.chmod(0o644)


def test_empty_after_filtering(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "user,item\n1,1\n1,2\n2,1\n")
    with pytest.raises(DataError, match="no interaction is left after the 5-core") as info:
        load_interactions(DataConfig(str(path), min_degree=5))
    assert info.value.path == str(path)
    rated = write(tmp_path, "b.csv", "user,item,rating\n1,1,1\n")
    with pytest.raises(DataError, match="min_rating"):
        load_interactions(DataConfig(str(rated), rating_col="rating", min_rating=3))


def test_unknown_format(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "user,item\n1,2\n")
    with pytest.raises(DataError, match="unknown format"):
        load_interactions(DataConfig(str(path), format="xml"))
