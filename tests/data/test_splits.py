"""Splits: the paper's per-user 70/30 + 10 % validation, temporal, given; determinism; the disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgnn.data import (
    DataConfig,
    Interactions,
    SplitConfig,
    load_split_for,
    random_split,
    temporal_split,
)
from hashgnn.data.splits import Split, given_split, make_split
from hashgnn.errors import ConfigError, DataError


def check_partition(split: Split) -> None:
    """train/valid/test are sorted, disjoint and together cover every row exactly once."""
    n = len(split.interactions)
    parts = [split.train_idx, split.valid_idx, split.test_idx]
    for p in parts:
        assert np.all(np.diff(p) > 0)
    allrows = np.concatenate(parts)
    assert len(allrows) == n and np.array_equal(np.sort(allrows), np.arange(n))


def check_paper_ratios(split: Split, test_ratio: float = 0.3, valid_ratio: float = 0.1) -> None:
    inter = split.interactions
    deg = inter.user_degrees()
    n_tr = np.bincount(inter.users[split.train_idx], minlength=inter.n_users)
    n_va = np.bincount(inter.users[split.valid_idx], minlength=inter.n_users)
    n_te = np.bincount(inter.users[split.test_idx], minlength=inter.n_users)
    eps = 1e-9
    many = deg >= 2
    # every user with >= 2 interactions has >= 1 train and >= 1 test interaction
    assert np.all(n_tr[many] >= 1) and np.all(n_te[many] >= 1)
    # per-user test share is 30 % within rounding (unless the >= 1 train / >= 1 test guarantee forces it)
    forced = many & ((np.floor(deg * test_ratio + 0.5) < 1) | (np.floor(deg * test_ratio + 0.5) > deg - 1))
    free = many & ~forced
    assert np.all(np.abs(n_te[free] - deg[free] * test_ratio) <= 0.5 + eps)
    assert np.all(n_te[forced] == np.clip(np.floor(deg[forced] * test_ratio + 0.5), 1, deg[forced] - 1))
    # validation is 10 % of the user's 70 % within rounding (users with >= 2 non-test rows)
    rest = n_tr + n_va
    has_valid = rest >= 2
    assert np.all(np.abs(n_va[has_valid] - rest[has_valid] * valid_ratio) <= 0.5 + eps)
    assert np.all(n_va[~has_valid] == 0)


def logs(min_rows: int = 1, max_rows: int = 300):
    return st.lists(st.tuples(st.integers(0, 25), st.integers(0, 40), st.integers(0, 10**6)),
                    min_size=min_rows, max_size=max_rows)


def to_inter(rows: list[tuple[int, int, int]]) -> Interactions:
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return Interactions.from_raw(arr[:, 0], arr[:, 1], arr[:, 2], name="hyp")


@settings(max_examples=80, deadline=None)
@given(rows=logs(), seed=st.integers(0, 2**32 - 1),
       test_ratio=st.sampled_from([0.3, 0.2, 0.5]), valid_ratio=st.sampled_from([0.1, 0.0, 0.25]))
def test_random_split_properties(rows, seed, test_ratio, valid_ratio) -> None:
    inter = to_inter(rows)
    split = random_split(inter, test_ratio, valid_ratio, seed)
    check_partition(split)
    check_paper_ratios(split, test_ratio, valid_ratio)
    again = random_split(inter, test_ratio, valid_ratio, seed)
    for a, b in ((split.train_idx, again.train_idx), (split.valid_idx, again.valid_idx),
                 (split.test_idx, again.test_idx)):
        assert a.tobytes() == b.tobytes()


@settings(max_examples=60, deadline=None)
@given(rows=logs(min_rows=2), test_fraction=st.one_of(st.none(), st.floats(0.05, 0.95)),
       test_days=st.floats(0.001, 5.0))
def test_temporal_split_properties(rows, test_fraction, test_days) -> None:
    inter = to_inter(rows)
    try:
        split = temporal_split(inter, test_days=test_days * 1e5 / 86400, test_fraction=test_fraction)
    except DataError as exc:
        assert "empty" in str(exc)
        return
    check_partition(split)
    ts = inter.timestamps
    assert ts[split.test_idx].min() >= ts[split.train_idx].max()
    if len(split.valid_idx):
        assert ts[split.valid_idx].min() >= ts[split.train_idx].max()
        assert ts[split.test_idx].min() >= ts[split.valid_idx].max()


def test_temporal_split_needs_timestamps() -> None:
    inter = Interactions.from_raw(np.array([0, 1]), np.array([0, 1]))
    with pytest.raises(DataError, match="timestamps"):
        temporal_split(inter)


def test_different_seeds_differ() -> None:
    rng = np.random.default_rng(0)
    inter = Interactions.from_raw(rng.integers(0, 50, 3000), rng.integers(0, 200, 3000))
    a, b = random_split(inter, seed=1), random_split(inter, seed=2)
    assert not np.array_equal(a.test_idx, b.test_idx)


def test_given_split_and_config_validation() -> None:
    inter = Interactions.from_raw(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 1]))
    part = np.array([0, 0, 1, 0, 1], dtype=np.int8)
    split = given_split(inter, part, valid_ratio=0.0)
    assert split.test_idx.tolist() == [2, 4] and split.train_idx.tolist() == [0, 1, 3]
    with pytest.raises(ConfigError, match="no given train/test"):
        make_split(inter, SplitConfig(kind="given"))
    for bad in (SplitConfig(kind="nope"), SplitConfig(test_ratio=1.0), SplitConfig(valid_ratio=-0.1),
                SplitConfig(test_fraction=0.0), SplitConfig(test_days=0)):
        with pytest.raises(ConfigError):
            bad.validate()


def test_split_cache_is_keyed_and_byte_identical(tiny_csv: Path, cache_path: Path) -> None:
    cfg = DataConfig(str(tiny_csv), user_col="user_id", item_col="item_id", timestamp_col="time")
    first = load_split_for(cfg, SplitConfig(seed=7))
    files = sorted((cache_path / "splits").glob("*.npz"))
    assert len(files) == 1
    blob = files[0].read_bytes()
    again = load_split_for(cfg, SplitConfig(seed=7))  # from the cache
    assert again.test_idx.tobytes() == first.test_idx.tobytes()
    files[0].unlink()
    load_split_for(cfg, SplitConfig(seed=7))  # recomputed: the same bytes on disk
    assert files[0].read_bytes() == blob
    load_split_for(cfg, SplitConfig(seed=8))
    load_split_for(cfg, SplitConfig(kind="temporal", test_fraction=0.3))
    assert len(list((cache_path / "splits").glob("*.npz"))) == 3  # one per config


def test_corrupt_split_cache_is_rebuilt(tiny_csv: Path, cache_path: Path) -> None:
    cfg = DataConfig(str(tiny_csv), user_col="user_id", item_col="item_id")
    first = load_split_for(cfg, SplitConfig())
    (path,) = (cache_path / "splits").glob("*.npz")
    path.write_bytes(b"garbage")
    again = load_split_for(cfg, SplitConfig())
    assert np.array_equal(first.test_idx, again.test_idx)


def test_split_of_an_unsplittable_log_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("user,item,t\na,b,1\n")
    with pytest.raises(DataError) as info:
        load_split_for(DataConfig(str(path), timestamp_col="t"), SplitConfig(kind="temporal"))
    assert info.value.path == str(path)


# --- on the real data --------------------------------------------------------------------------------------

@pytest.mark.dataset("movielens-100k", "movielens-1m")
@pytest.mark.parametrize("name", ["movielens-100k", "movielens-1m"])
def test_paper_split_on_real_data(name: str, data_root: Path, cache_path: Path) -> None:
    cfg = DataConfig(name, root=str(data_root))
    split = load_split_for(cfg, SplitConfig(seed=2020))
    check_partition(split)
    check_paper_ratios(split)
    cached = load_split_for(cfg, SplitConfig(seed=2020))
    assert cached.train_idx.tobytes() == split.train_idx.tobytes()
    other = load_split_for(cfg, SplitConfig(seed=2021))
    assert not np.array_equal(other.test_idx, split.test_idx)


@pytest.mark.dataset("movielens-100k")
def test_temporal_split_on_ml100k(data_root: Path) -> None:
    split = load_split_for(DataConfig("movielens-100k", root=str(data_root)),
                           SplitConfig(kind="temporal", test_days=30))
    check_partition(split)
    ts = split.interactions.timestamps
    assert ts[split.test_idx].min() >= ts[np.concatenate([split.train_idx, split.valid_idx])].max()
    assert ts[split.test_idx].min() >= ts.max() - 30 * 86400


@pytest.mark.dataset("movielens-1m", "gowalla", "amazon-cds")
@pytest.mark.parametrize("name", ["movielens-1m", "gowalla", "amazon-cds"])
def test_given_split_reproduces_files(name: str, data_root: Path) -> None:
    from hashgnn.data.datasets import get_dataset

    spec = get_dataset(name)
    split = load_split_for(DataConfig(name, root=str(data_root)), SplitConfig(kind="given", valid_ratio=0.1))
    check_partition(split)
    inter = split.interactions
    train_rows = np.concatenate([split.train_idx, split.valid_idx])
    parts = ((train_rows, data_root / spec.files[0].path), (split.test_idx, data_root / spec.files[1].path))
    for rows, path in parts:
        u, i, _ = spec.reader(path)
        want = np.sort(u * 10**6 + i)
        got = np.sort(inter.user_ids[inter.users[rows]].astype(np.int64) * 10**6
                      + inter.item_ids[inter.items[rows]].astype(np.int64))
        assert np.array_equal(got, want), path
