"""The user–item interaction log every other module works on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from hashgnn.errors import DataError


@dataclass(frozen=True)
class Interactions:
    """Implicit-feedback interactions with contiguous indices and the original ids they came from.

    Args:
        users: ``int64 [n]`` user index of each interaction, in ``0..n_users-1``.
        items: ``int64 [n]`` item index of each interaction, in ``0..n_items-1``.
        user_ids: ``[n_users]`` original user id of each user index (any dtype, strings too).
        item_ids: ``[n_items]`` original item id of each item index.
        timestamps: optional ``int64 [n]`` Unix time of each interaction.
        name: Dataset name, for messages and cache keys.
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    timestamps: np.ndarray | None = None
    name: str = "interactions"
    _user_index: dict = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.users.shape != self.items.shape:
            raise DataError(f"{self.name}: users and items have different lengths")
        if self.timestamps is not None and self.timestamps.shape != self.users.shape:
            raise DataError(f"{self.name}: timestamps and interactions have different lengths")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def from_raw(
        cls,
        raw_users: np.ndarray,
        raw_items: np.ndarray,
        timestamps: np.ndarray | None = None,
        name: str = "interactions",
    ) -> Interactions:
        """Map arbitrary ids to contiguous indices (sorted order of the original ids) and drop duplicates.

        A duplicated (user, item) pair keeps its earliest timestamp: implicit feedback counts a pair once.
        """
        raw_users = np.asarray(raw_users)
        raw_items = np.asarray(raw_items)
        user_ids, users = np.unique(raw_users, return_inverse=True)
        item_ids, items = np.unique(raw_items, return_inverse=True)
        inter = cls(
            users=users.astype(np.int64).reshape(-1),
            items=items.astype(np.int64).reshape(-1),
            user_ids=user_ids,
            item_ids=item_ids,
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.int64),
            name=name,
        )
        return inter.deduplicated()

    def deduplicated(self) -> Interactions:
        """Keep one row per (user, item) pair (the earliest when timestamps exist), sorted by user then
        item."""
        if self.timestamps is not None:
            order = np.lexsort((self.timestamps, self.items, self.users))
        else:
            order = np.lexsort((self.items, self.users))
        u, i = self.users[order], self.items[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
        keep = order[first]
        return self.select(keep)

    def select(self, index: np.ndarray) -> Interactions:
        """Rows ``index`` (indices or a boolean mask), keeping all users and items."""
        return Interactions(
            users=self.users[index],
            items=self.items[index],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            timestamps=None if self.timestamps is None else self.timestamps[index],
            name=self.name,
        )

    def compact(self) -> Interactions:
        """Drop users and items that have no interaction left, re-indexing contiguously."""
        used_u = np.unique(self.users)
        used_i = np.unique(self.items)
        remap_u = np.full(self.n_users, -1, dtype=np.int64)
        remap_u[used_u] = np.arange(len(used_u))
        remap_i = np.full(self.n_items, -1, dtype=np.int64)
        remap_i[used_i] = np.arange(len(used_i))
        return Interactions(
            users=remap_u[self.users],
            items=remap_i[self.items],
            user_ids=self.user_ids[used_u],
            item_ids=self.item_ids[used_i],
            timestamps=self.timestamps,
            name=self.name,
        )

    def to_csr(self) -> sp.csr_matrix:
        """``[n_users, n_items]`` binary CSR matrix of the interactions."""
        data = np.ones(len(self), dtype=np.float32)
        m = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def user_degrees(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_degrees(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def user_index(self, original_id: object) -> int:
        """Index of an original user id; raises ``KeyError`` when unknown."""
        return _lookup(self.user_ids, original_id, "user")

    def item_index(self, original_id: object) -> int:
        """Index of an original item id; raises ``KeyError`` when unknown."""
        return _lookup(self.item_ids, original_id, "item")

    def stats(self) -> dict[str, float | int]:
        """Users, items, interactions, density and degree quantiles."""
        ud, idg = self.user_degrees(), self.item_degrees()
        out: dict[str, float | int] = {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": len(self),
            "density": len(self) / max(1, self.n_users * self.n_items),
        }
        for who, deg in (("user", ud), ("item", idg)):
            q = np.quantile(deg, [0.0, 0.25, 0.5, 0.75, 1.0]) if len(deg) else np.zeros(5)
            for name, v in zip(("min", "q25", "median", "q75", "max"), q, strict=False):
                out[f"{who}_degree_{name}"] = float(v)
            out[f"{who}_degree_mean"] = float(deg.mean()) if len(deg) else 0.0
        out["has_timestamps"] = int(self.timestamps is not None)
        return out


def _lookup(ids: np.ndarray, original_id: object, kind: str) -> int:
    """Binary search in the sorted id array, accepting ids given as strings for numeric id arrays."""
    key = original_id
    if ids.dtype.kind in "iu" and isinstance(original_id, str):
        try:
            key = int(original_id)
        except ValueError:
            raise KeyError(f"unknown {kind} id {original_id!r}") from None
    elif ids.dtype.kind in "OUS" and not isinstance(original_id, str):
        key = str(original_id)
    pos = int(np.searchsorted(ids, key))
    if pos < len(ids) and ids[pos] == key:
        return pos
    raise KeyError(f"unknown {kind} id {original_id!r}")
