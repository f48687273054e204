"""The recall logic shared by the HTTP service and ``hashgnn recommend``: original ids in, original ids out.

:class:`RecallService` wraps a fitted :class:`~hashgnn.recommender.HashGNN` loaded from a run directory and
answers three questions — top-k for a known user, items similar to an item, top-k for a new (inductive) user
given the items they interacted with — through the same :mod:`hashgnn.index` objects as evaluation (cached on
the model's :class:`~hashgnn.models.base.Embeddings`). Every problem a caller can cause is raised as
:class:`UnknownIdError` (HTTP 404) or :class:`InvalidRequestError` (HTTP 422); anything else is a fault of the
server or its run directory (HTTP 500). The run directory is verified when the service starts (manifest,
checksums, invariants across files; see :meth:`~hashgnn.training.rundir.RunDir.verify`), and a corrupt or unsafe
``checkpoints/best.pt`` stops it rather than disabling new users quietly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashgnn.errors import ArtifactError, ConfigError, HashGNNError
from hashgnn.models.base import SEARCH_MODES

DEFAULT_MAX_K = 1000
MAX_INPUT_ITEMS = 10_000


class UnknownIdError(HashGNNError):
    """A user or item id that is not in the run's id maps (HTTP 404)."""

    def __init__(self, kind: str, ids: list[Any]) -> None:
        self.kind = kind
        self.ids = list(ids)
        shown = ", ".join(repr(i) for i in self.ids[:20])
        more = f" (and {len(self.ids) - 20} more)" if len(self.ids) > 20 else ""
        noun = kind if len(self.ids) == 1 else f"{kind}s"
        super().__init__(f"unknown {noun} {shown}{more}")


class InvalidRequestError(HashGNNError):
    """A request the model cannot answer as asked: bad k, unavailable mode, empty item list (HTTP 422)."""


@dataclass(frozen=True)
class Recall:
    """One answer: the query, the search mode used, the k asked for and the ranked (item id, score) pairs.

    ``items`` may hold fewer than ``k`` entries: when fewer unseen items exist, and in ``hierarchical`` mode,
    which re-ranks only the Hamming top-``n_candidates`` (M of the paper, ``eval.n_candidates``).
    """

    query: Any
    mode: str
    k: int
    items: list[tuple[Any, float]]


def _native(value: Any) -> Any:
    """A numpy scalar id → the plain Python value (int / str / float) for JSON and tables."""
    return value.item() if isinstance(value, np.generic) else value


_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
# more significant digits than any int64/uint64 has: such an id is unknown, and never reaches int(), which
# refuses strings of over 4,300 digits with a ValueError
_MAX_ID_DIGITS = 20


def _coerce_id(ids: np.ndarray, raw: Any) -> Any:
    """``raw`` (a path string or a JSON scalar) as a key comparable with the id array, or None if impossible."""
    kind = ids.dtype.kind
    if isinstance(raw, bool):
        raw = str(raw).lower()
    if kind in "iu":
        if isinstance(raw, float):
            if not raw.is_integer():
                return None
            raw = int(raw)
        if isinstance(raw, str):
            text = raw.strip()
            # ASCII only: str.isdigit() also accepts "²" and other digits int() rejects.
            if not _ASCII_INTEGER.fullmatch(text):
                return None
            sign, digits = ("-" if text.startswith("-") else ""), text.lstrip("+-").lstrip("0") or "0"
            if len(digits) > _MAX_ID_DIGITS:
                return None
            raw = int(sign + digits)
        if not isinstance(raw, int):
            return None
        info = np.iinfo(ids.dtype)
        return raw if info.min <= raw <= info.max else None
    if kind == "f":
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond the float range
            return None
        return value if np.isfinite(value) else None
    try:
        text = str(raw)
    except ValueError:  # an int of over 4,300 digits has no str() either; no string id is that long
        return None
    return text.encode() if kind == "S" else text


def lookup_index(ids: np.ndarray, raw: Any) -> int | None:
    """Index of original id ``raw`` in the sorted id array ``ids`` (any dtype; ``raw`` may be a string for
    numeric ids), or None when unknown."""
    key = _coerce_id(ids, raw)
    if key is None or len(ids) == 0:
        return None
    try:
        pos = int(np.searchsorted(ids, key))
    except (TypeError, ValueError, OverflowError):
        return None
    if pos < len(ids) and ids[pos] == key:
        return pos
    return None


class RecallService:
    """Recommendations by original id from one run directory.

    Args:
        model: A fitted model (``HashGNN.load(run_dir)``).
        max_k: The largest k a request may ask for (also capped by the number of items).
    """

    def __init__(self, model, max_k: int = DEFAULT_MAX_K) -> None:
        if model.split is None:
            raise ConfigError("RecallService needs a fitted model (HashGNN.load(run_dir))")
        self.model = model
        self.emb = model.embeddings()
        inter = model.split.interactions
        self.user_ids = np.asarray(model.user_ids)
        self.item_ids = np.asarray(model.item_ids)
        self.n_users, self.n_items = inter.n_users, inter.n_items
        self.dataset = inter.name
        self.method = model.config.model.method
        self.n_bits = self.emb.n_bits if self.emb.has_codes else None
        self.modes = tuple(m for m in SEARCH_MODES if m == "continuous" or self.emb.has_codes)
        self.default_mode = model.default_mode()
        self.max_k = int(max_k)
        if self.max_k <= 0:
            raise ConfigError(f"max_k must be > 0, got {max_k}")
        self.inductive_error: str | None = None
        self._warm()

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, max_k: int = DEFAULT_MAX_K) -> RecallService:
        from hashgnn.recommender import HashGNN
        from hashgnn.training.rundir import RunDir

        if not RunDir(run_dir).exists():
            raise ConfigError(f"{run_dir}: not a hashgnn run directory (no config.json)")
        return cls(HashGNN.load(run_dir), max_k=max_k)

    def _warm(self) -> None:
        """Build every search index and the inductive network now, so that no request pays for it."""
        from hashgnn.evaluation.search import build_index

        for mode in self.modes:
            build_index(self.emb, mode, self.model.n_candidates, self.model.tie_seed)
        best = self.model.run_dir.checkpoints / "best.pt" if getattr(self.model, "run_dir", None) else None
        if best is not None and not best.is_file():
            self.inductive_error = f"{best}: missing, so the trained network cannot encode new users"
            return
        try:
            self.model.load_network()
        except ArtifactError:
            raise  # present but corrupt, tampered with or unsafe to unpickle: refuse to serve, never run it
        except HashGNNError as exc:
            self.inductive_error = str(exc)
        except (OSError, KeyError, RuntimeError, ValueError) as exc:  # an old or foreign checkpoint
            self.inductive_error = f"cannot load the trained network for inductive users ({exc})"

    @property
    def inductive(self) -> bool:
        return self.inductive_error is None

    # -- argument checks ---------------------------------------------------------------------------------
    def check_mode(self, mode: str | None) -> str:
        mode = self.default_mode if mode is None else str(mode)
        if mode not in SEARCH_MODES:
            raise InvalidRequestError(f"unknown search mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
        if mode not in self.modes:
            raise InvalidRequestError(f"search mode {mode!r} needs hash codes, and this {self.method} model has "
                                      f"only continuous embeddings; available: {', '.join(self.modes)}")
        return mode

    def check_k(self, k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise InvalidRequestError(f"k must be a positive integer, got {k!r}")
        limit = min(self.max_k, self.n_items)
        if not 1 <= k <= limit:
            raise InvalidRequestError(f"k must be between 1 and {limit} (max_k={self.max_k}, "
                                      f"n_items={self.n_items}), got {k}")
        return int(k)

    def user_index(self, user: Any) -> int:
        idx = lookup_index(self.user_ids, user)
        if idx is None:
            raise UnknownIdError("user", [user])
        return idx

    def item_index(self, item: Any) -> int:
        idx = lookup_index(self.item_ids, item)
        if idx is None:
            raise UnknownIdError("item", [item])
        return idx

    def item_indices(self, items: list[Any]) -> np.ndarray:
        """Indices of the given original item ids (duplicates kept once); every unknown one named at once."""
        if not items:
            raise InvalidRequestError("items must name at least one item")
        if len(items) > MAX_INPUT_ITEMS:
            raise InvalidRequestError(f"at most {MAX_INPUT_ITEMS} items per request, got {len(items)}")
        found, unknown = [], []
        for raw in items:
            idx = lookup_index(self.item_ids, raw)
            (unknown.append(raw) if idx is None else found.append(idx))
        if unknown:
            raise UnknownIdError("item", list(dict.fromkeys(unknown)))
        return np.unique(np.asarray(found, dtype=np.int64))

    # -- answers -----------------------------------------------------------------------------------------
    def _result(self, query: Any, mode: str, k: int, ids: np.ndarray, scores: np.ndarray) -> Recall:
        keep = ids >= 0
        names = self.item_ids[ids[keep]]
        return Recall(query, mode, k, [(_native(n), float(s)) for n, s in zip(names, scores[keep], strict=True)])

    def recommend_user(self, user: Any, k: int = 10, mode: str | None = None) -> Recall:
        """Top-k unseen items (train and valid items excluded) for a known user, by original id."""
        mode, k = self.check_mode(mode), self.check_k(k)
        uidx = self.user_index(user)
        ids, scores = self.model.recommend(uidx, N=k, mode=mode, filter_already_liked_items=True,
                                           ids="index")
        return self._result(_native(self.user_ids[uidx]), mode, k, ids, scores)

    def similar_items(self, item: Any, k: int = 10, mode: str | None = None) -> Recall:
        """The k items closest to a known item, the item itself excluded."""
        mode, k = self.check_mode(mode), self.check_k(k)
        iidx = self.item_index(item)
        ids, scores = self.model.similar_items(iidx, N=k, mode=mode, ids="index")
        return self._result(_native(self.item_ids[iidx]), mode, k, ids, scores)

    def recommend_new_user(self, items: list[Any], k: int = 10, mode: str | None = None) -> Recall:
        """Top-k for a user the model never saw, from the items they interacted with (excluded from the
        answer); the user's codes come from the trained network (``HashGNN.encode_new_users``)."""
        from hashgnn.evaluation.search import build_index, search_queries

        mode, k = self.check_mode(mode), self.check_k(k)  # a mode with codes: the network gives the user codes too
        idx = self.item_indices(items)
        if not self.inductive:
            raise InvalidRequestError(f"this run cannot encode new users: {self.inductive_error}")
        import torch

        with torch.no_grad():
            new = self.model.encode_new_users([idx])
        # the model's own (cached) index: encode_new_users returns a fresh Embeddings without the cache
        index = build_index(self.emb, mode, max(self.model.n_candidates, k), self.model.tie_seed)
        queries = search_queries(mode, new.user_codes, np.ascontiguousarray(new.user_z, dtype=np.float32))
        exclude = sp.csr_matrix((np.ones(len(idx), dtype=np.float32), (np.zeros(len(idx), dtype=np.int64), idx)),
                                shape=(1, self.n_items))
        ids, scores = index.search(queries, k, exclude=exclude)
        query = [_native(i) for i in self.item_ids[idx]]
        return self._result(query, mode, k, ids[0], scores[0])

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "dataset": self.dataset, "method": self.method, "n_users": int(self.n_users),
                "n_items": int(self.n_items), "n_bits": self.n_bits, "modes": list(self.modes),
                "default_mode": self.default_mode,
                "n_candidates": int(self.model.n_candidates), "inductive": self.inductive, "max_k": self.max_k}
