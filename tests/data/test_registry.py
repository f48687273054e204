"""The registry against the real files in $HASHGNN_DATA (numbers from /work/shared/data/MANIFEST.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashgnn.data import DATASETS, DataConfig, get_dataset, load_interactions
from hashgnn.data import io as dio
from hashgnn.data.download import sha256_of
from hashgnn.errors import DatasetNotFoundError, HashGNNError

# MANIFEST.md: users, items, interactions, and the given split's train/test rows (None: no given split).
MANIFEST = {
    "movielens-1m": (6040, 3706, 1_000_209, (797_758, 202_451)),
    "gowalla": (29_858, 40_981, 1_027_370, (810_128, 217_242)),
    "movielens-100k": (943, 1682, 100_000, None),
    "amazon-cds": (43_169, 35_648, 777_426, (604_475, 172_951)),
}


def test_registry_covers_every_shared_set() -> None:
    for name in ("movielens-1m", "movielens-1m-raw", "movielens-1m-ncf", "gowalla", "pinterest-20",
                 "movielens-100k", "amazon-cds"):
        spec = get_dataset(name)
        assert spec.files, name
        for f in spec.files + spec.extras:
            assert f.url.startswith("https://"), f
            assert f.sha256 is None or len(f.sha256) == 64


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(HashGNNError, match="movielens-1m"):
        get_dataset("no-such-set")


def test_missing_dataset_says_where_to_put_which_file(tmp_path: Path) -> None:
    spec = DATASETS["gowalla"]
    with pytest.raises(DatasetNotFoundError) as info:
        load_interactions(DataConfig("gowalla", root=str(tmp_path)))
    msg = str(info.value)
    for f in spec.files:
        assert str(tmp_path / f.path) in msg
        assert f.url in msg
        assert f.sha256 in msg
    assert "HASHGNN_DATA" in msg


def test_missing_dataset_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHGNN_DATA", str(tmp_path / "empty"))
    with pytest.raises(DatasetNotFoundError, match="ml-100k/u.data"):
        load_interactions(DataConfig("movielens-100k"))


@pytest.mark.dataset("movielens-1m", "gowalla", "movielens-100k", "amazon-cds")
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_statistics_match_manifest(name: str, data_root: Path) -> None:
    users, items, n, given = MANIFEST[name]
    inter, part = load_interactions(DataConfig(name, root=str(data_root)))
    stats = inter.stats()
    assert (stats["users"], stats["items"], stats["interactions"]) == (users, items, n)
    if given is None:
        assert part is None
    else:
        assert (int((part == 0).sum()), int((part == 1).sum())) == given


@pytest.mark.dataset("movielens-1m", "gowalla", "movielens-100k", "amazon-cds", "pinterest-20")
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sha256_of_present_files_matches_registry(name: str, data_root: Path) -> None:
    spec = DATASETS[name]
    checked = 0
    for f in spec.files + spec.extras:
        path = data_root / f.path
        if path.is_file() and f.sha256 is not None:
            assert sha256_of(path) == f.sha256, f.path
            checked += 1
    if name != "movielens-1m-raw":  # GroupLens' ratings.dat is not in shared/data
        assert checked >= 1


@pytest.mark.dataset("pinterest-20")
def test_pinterest_ncf_reader_on_test_half(data_root: Path) -> None:
    spec = DATASETS["pinterest-20"]
    users, items, times = spec.reader(data_root / spec.files[1].path)
    assert len(users) == 55_187
    assert len(np.unique(users)) == 55_187
    assert len(np.unique(items)) == 8_614
    assert times is None  # the column is 0 everywhere: no timestamps


@pytest.mark.dataset("movielens-1m")
def test_ml1m_ncf_test_half_has_timestamps(data_root: Path) -> None:
    path = data_root / "ml-1m/ncf/ml-1m.test.rating"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    users, _, times = dio.read_ncf(path)
    assert len(users) == 6040
    assert times is not None and times.min() == 956712388 and times.max() == 1046454590


@pytest.mark.dataset("movielens-100k")
def test_ml100k_has_timestamps_and_original_ids(data_root: Path) -> None:
    inter, _ = load_interactions(DataConfig("movielens-100k", root=str(data_root)))
    assert inter.timestamps is not None
    assert inter.timestamps.min() == 874724710 and inter.timestamps.max() == 893286638
    assert inter.user_ids[0] == 1 and inter.user_ids[-1] == 943  # 1-based GroupLens ids are kept


@pytest.mark.dataset("movielens-1m")
def test_second_load_comes_from_cache(data_root: Path, cache_path: Path) -> None:
    cfg = DataConfig("movielens-1m", root=str(data_root))
    first, part1 = load_interactions(cfg)
    assert list((cache_path / "processed").glob("*.npz"))
    second, part2 = load_interactions(cfg)
    assert np.array_equal(first.users, second.users) and np.array_equal(first.items, second.items)
    assert np.array_equal(first.user_ids, second.user_ids) and np.array_equal(part1, part2)
