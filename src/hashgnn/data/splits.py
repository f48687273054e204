"""Train / validation / test splits, seeded and cached on disk.

Three kinds:

* ``random`` (the paper, section 5.1): per user, a random 30 % of the interactions are test; of the remaining
  70 %, a random 10 % are validation. Counts are rounded per user, and every user with at least 2 interactions
  keeps at least one train and one test interaction (validation only takes from users with 3 or more).
* ``temporal`` (the paper's Alibaba set): interactions in the last ``test_days`` days (or the last
  ``test_fraction`` of time-ordered interactions) are test, the rest train; validation is the last
  ``valid_ratio`` of train by time.
* ``given``: the dataset's own train/test files (LightGCN format); validation is a random ``valid_ratio``
of each
  user's train interactions.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hashgnn.data.interactions import Interactions
from hashgnn.errors import ConfigError, DataError

SPLIT_KINDS = ("random", "temporal", "given")


@dataclass(frozen=True)
class SplitConfig:
    """How to split.

    Args:
        kind: ``"random"`` | ``"temporal"`` | ``"given"``.
        test_ratio: Per-user test share for ``random`` (paper: 0.3).
        valid_ratio: Share of train moved to validation (paper: 0.1).
        seed: Seed of the random choices.
        test_days: ``temporal``: the last this many days are test (paper's Alibaba: 1).
        test_fraction: ``temporal``: if set, the last this fraction of interactions by time are test instead.
    """

    kind: str = "random"
    test_ratio: float = 0.3
    valid_ratio: float = 0.1
    seed: int = 2020
    test_days: float = 1.0
    test_fraction: float | None = None

    def validate(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise ConfigError(f"unknown split kind {self.kind!r}; choose one of {', '.join(SPLIT_KINDS)}")
        if not 0.0 < self.test_ratio < 1.0:
            raise ConfigError(f"split.test_ratio must be in (0, 1), got {self.test_ratio}")
        if not 0.0 <= self.valid_ratio < 1.0:
            raise ConfigError(f"split.valid_ratio must be in [0, 1), got {self.valid_ratio}")
        if self.test_fraction is not None and not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"split.test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.test_days <= 0:
            raise ConfigError(f"split.test_days must be > 0, got {self.test_days}")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """Row indices of ``interactions`` in each part; ``train``, ``valid``, ``test`` are disjoint and
    sorted."""

    interactions: Interactions
    train_idx: np.ndarray
    valid_idx: np.ndarray
    test_idx: np.ndarray

    @property
    def train(self) -> Interactions:
        return self.interactions.select(self.train_idx)

    @property
    def valid(self) -> Interactions:
        return self.interactions.select(self.valid_idx)

    @property
    def test(self) -> Interactions:
        return self.interactions.select(self.test_idx)

    def summary(self) -> dict[str, int]:
        return {"train": len(self.train_idx), "valid": len(self.valid_idx), "test": len(self.test_idx),
                "test_users": int(len(np.unique(self.interactions.users[self.test_idx])))}


def _rank_within_user(users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random order of each user's rows: returns (rows sorted by user then random key, rank within user)."""
    key = rng.random(len(users))
    order = np.lexsort((key, users))
    u_sorted = users[order]
    starts = np.flatnonzero(np.r_[True, u_sorted[1:] != u_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    return order, rank


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)


def random_split(inter: Interactions, test_ratio: float = 0.3, valid_ratio: float = 0.1,
                 seed: int = 2020) -> Split:
    """The paper's per-user random split (see module docstring)."""
    rng = np.random.default_rng(seed)
    order, rank = _rank_within_user(inter.users, rng)
    deg = np.bincount(inter.users, minlength=inter.n_users)
    n_test = _round_half_up(deg * test_ratio)
    n_test = np.where(deg >= 2, np.clip(n_test, 1, deg - 1), 0)
    n_train_all = deg - n_test
    n_valid = _round_half_up(n_train_all * valid_ratio)
    n_valid = np.where(n_train_all >= 2, np.minimum(n_valid, n_train_all - 1), 0)
    u = inter.users[order]
    is_test = rank < n_test[u]
    is_valid = ~is_test & (rank < n_test[u] + n_valid[u])
    train = order[~is_test & ~is_valid]
    return Split(inter, np.sort(train), np.sort(order[is_valid]), np.sort(order[is_test]))


def _valid_from_train(inter: Interactions, train_rows: np.ndarray, valid_ratio: float,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    users = inter.users[train_rows]
    order, rank = _rank_within_user(users, rng)
    deg = np.bincount(users, minlength=inter.n_users)
    n_valid = _round_half_up(deg * valid_ratio)
    n_valid = np.where(deg >= 2, np.minimum(n_valid, deg - 1), 0)
    is_valid = rank < n_valid[users[order]]
    return np.sort(train_rows[order[~is_valid]]), np.sort(train_rows[order[is_valid]])


def given_split(inter: Interactions, part: np.ndarray, valid_ratio: float = 0.1, seed: int = 2020) -> Split:
    """Split from the dataset's own files: ``part`` is 0 for train rows and 1 for test rows."""
    train_rows = np.flatnonzero(part == 0)
    test_rows = np.flatnonzero(part == 1)
    train, valid = _valid_from_train(inter, train_rows, valid_ratio, seed)
    return Split(inter, train, valid, test_rows)


def temporal_split(inter: Interactions, test_days: float = 1.0, test_fraction: float | None = None,
                   valid_ratio: float = 0.1) -> Split:
    """Global time cut: the last ``test_days`` days (or last ``test_fraction``) are test (module
    docstring)."""
    if inter.timestamps is None:
        raise DataError(f"{inter.name}: a temporal split needs timestamps, and this dataset has none")
    ts = inter.timestamps
    order = np.lexsort((np.arange(len(ts)), ts))
    if test_fraction is not None:
        n_test = max(1, int(round(len(ts) * test_fraction)))
        cut_pos = len(ts) - n_test
    else:
        cutoff = ts.max() - int(test_days * 86400)
        cut_pos = int(np.searchsorted(ts[order], cutoff, side="right"))
    train_sorted, test_rows = order[:cut_pos], order[cut_pos:]
    n_valid = int(round(len(train_sorted) * valid_ratio))
    valid_rows = train_sorted[len(train_sorted) - n_valid:]
    train_rows = train_sorted[: len(train_sorted) - n_valid]
    if len(test_rows) == 0 or len(train_rows) == 0:
        raise DataError(f"{inter.name}: the temporal split left an empty train or test part")
    return Split(inter, np.sort(train_rows), np.sort(valid_rows), np.sort(test_rows))


def make_split(inter: Interactions, config: SplitConfig, part: np.ndarray | None = None) -> Split:
    """Dispatch on ``config.kind``."""
    config.validate()
    if config.kind == "random":
        return random_split(inter, config.test_ratio, config.valid_ratio, config.seed)
    if config.kind == "temporal":
        return temporal_split(inter, config.test_days, config.test_fraction, config.valid_ratio)
    if part is None:
        raise ConfigError(
            f"{inter.name} has no given train/test files; use split kind 'random' or 'temporal'")
    return given_split(inter, part, config.valid_ratio, config.seed)


def _write_npz(fh, **arrays: np.ndarray) -> None:
    """``np.savez`` without the wall-clock time ``zipfile`` stamps on each member, so that the same split
    always gives the same bytes on disk."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())


def save_split(split: Split, path: Path) -> None:
    """Write the three index arrays atomically (byte-identical for identical splits)."""
    from hashgnn.io_utils import atomic_write_bytes

    buf = io.BytesIO()
    _write_npz(buf, train=split.train_idx, valid=split.valid_idx, test=split.test_idx)
    atomic_write_bytes(path, buf.getvalue())


def load_split(inter: Interactions, path: Path) -> Split:
    with np.load(path, allow_pickle=False) as z:
        split = Split(inter, z["train"], z["valid"], z["test"])
    n = len(inter)
    for name, idx in (("train", split.train_idx), ("valid", split.valid_idx), ("test", split.test_idx)):
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"cached split does not match the dataset ({name} index out of range)", path)
    return split
