"""Shared fixtures.

* Every test runs with its own empty ``HASHGNN_CACHE`` (never a stale cache from an earlier run).
* ``@pytest.mark.dataset("movielens-1m", ...)`` marks a test that reads real files under ``$HASHGNN_DATA``;
  it is skipped, with the missing path as the reason, when those files are absent. A bare
  ``@pytest.mark.dataset`` only needs ``$HASHGNN_DATA`` to be set. Under CI (``CI=true``) an absent dataset
  fails the test instead: CI runs beside ``../shared/data``, and a CI that silently skipped every dataset test
  would pass without having checked anything on real data.
* ``tiny_log`` / ``tiny_csv``: a small interaction log with string ids, ratings, timestamps and one duplicate.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_ENV = os.environ.get("HASHGNN_DATA")


def _dataset_skip_reason(names: tuple[str, ...]) -> str | None:
    if not DATA_ENV:
        return "HASHGNN_DATA is not set (the real datasets are not available)"
    from hashgnn.data.datasets import get_dataset

    for name in names:
        spec = get_dataset(name)
        # pinterest-20: only its NCF test half exists anywhere here
        files = [Path(DATA_ENV) / spec.files[1].path] if spec.name == "pinterest-20" else spec.paths(DATA_ENV)
        absent = [str(p) for p in files if not p.is_file()]
        if absent:
            return f"dataset {name!r} not in HASHGNN_DATA: missing {', '.join(absent)}"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("dataset")
    if marker is not None:
        reason = _dataset_skip_reason(tuple(marker.args))
        if reason and in_ci():
            pytest.fail(f"CI=true but {reason}; CI expects ../shared/data (HASHGNN_DATA)", pytrace=False)
        if reason:
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty ``HASHGNN_CACHE`` for every test."""
    cache = tmp_path_factory.mktemp("hashgnn_cache")
    monkeypatch.setenv("HASHGNN_CACHE", str(cache))
    return cache


@pytest.fixture
def cache_path(_isolated_cache: Path) -> Path:
    return _isolated_cache


@pytest.fixture
def data_root() -> Path:
    """The real data root (tests using it must carry ``@pytest.mark.dataset``)."""
    if not DATA_ENV:
        if in_ci():
            pytest.fail("CI=true but HASHGNN_DATA is not set; CI expects ../shared/data", pytrace=False)
        pytest.skip("HASHGNN_DATA is not set")
    return Path(DATA_ENV)


TINY_ROWS = [
    # user, item, rating, timestamp
    ("alice", "i10", 5, 100),
    ("alice", "i20", 3, 200),
    ("alice", "i30", 4, 300),
    ("alice", "i10", 2, 50),  # duplicate pair: implicit feedback keeps one row (the earliest)
    ("bob", "i20", 1, 150),
    ("bob", "i40", 5, 250),
    ("carol", "i30", 4, 120),
    ("carol", "i40", 2, 220),
    ("carol", "i50", 3, 320),
    ("dave", "i10", 4, 400),
]


@pytest.fixture
def tiny_log() -> list[tuple[str, str, int, int]]:
    return list(TINY_ROWS)


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    lines = ["user_id,item_id,stars,time"] + [f"{u},{i},{r},{t}" for u, i, r, t in TINY_ROWS]
    path.write_text("\n".join(lines) + "\n")
    return path
