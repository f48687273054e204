"""The recall logic shared by the HTTP service and ``hashgnn recommend``: original ids in, original ids out.

:class:`RecallService` wraps a fitted :class:`~hashgnn.recommender.HashGNN` loaded from a run directory and
answers three questions — top-k for a known user (one or a batch), items similar to an item, top-k for a new
(inductive) user given the items they interacted with — through the same :mod:`hashgnn.index` objects as
evaluation (cached on the model's :class:`~hashgnn.models.base.Embeddings`). Users and items can be *added*
(:meth:`RecallService.add_users`, :meth:`RecallService.add_items`): the trained GNN encodes them from their
interactions with trained items / users, and from then on they are answered and searched like trained ones, in
this process's memory (a restart forgets them). Every problem a caller can cause is raised as
:class:`UnknownIdError` (HTTP 404), :class:`InvalidRequestError` (HTTP 422) or :class:`ConflictError` (HTTP 409:
an id that exists already, or a model that cannot encode new nodes); anything else is a fault of the
server or its run directory (HTTP 500). The run directory is verified when the service starts (manifest,
checksums, invariants across files; see :meth:`~hashgnn.training.rundir.RunDir.verify`), and a corrupt or unsafe
``checkpoints/best.pt`` stops it rather than disabling new users quietly.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashgnn.errors import ArtifactError, ConfigError, HashGNNError
from hashgnn.models.base import SEARCH_MODES, Embeddings

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


class ConflictError(HashGNNError):
    """A request at odds with the service's state (HTTP 409): adding an id that exists, or adding users/items
    to a model that cannot encode them (no inductive encoder, several worker processes)."""


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


@dataclass(frozen=True)
class _Catalog:
    """What a search reads: embeddings with the trained rows first and the added ones after them, and the added
    ids. Replaced whole (never changed in place) when users or items are added, so that a request in flight
    keeps one consistent view while an addition is published."""

    emb: Embeddings
    users: tuple[Any, ...] = ()  # original ids of the added users; user index = n_users + position
    items: tuple[Any, ...] = ()  # original ids of the added items; item index = n_items + position
    user_keys: dict[Any, int] = field(default_factory=dict)  # coerced id → index, for lookups
    item_keys: dict[Any, int] = field(default_factory=dict)
    user_seen: tuple[np.ndarray, ...] = ()  # item indices of each added user: never recommended to it

    @property
    def n_items(self) -> int:
        return int(self.emb.item_z.shape[0])


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
        inductive: Load the trained network for new users and additions (default). ``False`` skips that work,
            for a one-off look-up of known users or items (``hashgnn recommend --user``).
    """

    def __init__(self, model, max_k: int = DEFAULT_MAX_K, inductive: bool = True) -> None:
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
        #: why users/items cannot be added although the model could encode them (several worker processes)
        self.additions_error: str | None = None
        #: most users one batch request may name (None: no bound; the HTTP app sets its --max-batch-users)
        self.max_batch: int | None = None
        self._catalog = _Catalog(self.emb)
        self._add_lock = threading.Lock()
        self._warm(inductive)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, max_k: int = DEFAULT_MAX_K, inductive: bool = True) -> RecallService:
        from hashgnn.recommender import HashGNN
        from hashgnn.training.rundir import RunDir

        if not RunDir(run_dir).exists():
            raise ConfigError(f"{run_dir}: not a hashgnn run directory (no config.json)")
        return cls(HashGNN.load(run_dir), max_k=max_k, inductive=inductive)

    def _warm(self, inductive: bool = True) -> None:
        """Build every search index and the inductive network now, so that no request pays for it."""
        from hashgnn.evaluation.search import build_index

        for mode in self.modes:
            build_index(self.emb, mode, self.model.n_candidates, self.model.tie_seed)
        if not inductive:
            self.inductive_error = "the trained network was not loaded (RecallService(..., inductive=False))"
            return
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
        return self._user_index(user, self._catalog)

    def item_index(self, item: Any) -> int:
        return self._item_index(item, self._catalog)

    def _user_index(self, user: Any, cat: _Catalog) -> int:
        idx = lookup_index(self.user_ids, user)
        if idx is None:
            idx = cat.user_keys.get(_coerce_id(self.user_ids, user))
        if idx is None:
            raise UnknownIdError("user", [user])
        return idx

    def _item_index(self, item: Any, cat: _Catalog) -> int:
        idx = lookup_index(self.item_ids, item)
        if idx is None:
            idx = cat.item_keys.get(_coerce_id(self.item_ids, item))
        if idx is None:
            raise UnknownIdError("item", [item])
        return idx

    def item_indices(self, items: list[Any]) -> np.ndarray:
        """Indices of the given original item ids of the trained graph (duplicates kept once); every unknown one
        named at once."""
        return self._graph_indices("item", items, self._catalog)

    def _graph_indices(self, kind: str, raw: list[Any], cat: _Catalog) -> np.ndarray:
        """Indices of trained users / items that describe a new node: the network encodes a new node from the
        train-graph states of its neighbours, which added nodes do not have (they are named as such)."""
        ids, added_keys = (self.item_ids, cat.item_keys) if kind == "item" else (self.user_ids, cat.user_keys)
        if not raw:
            raise InvalidRequestError(f"{kind}s must name at least one {kind}")
        if len(raw) > MAX_INPUT_ITEMS:
            raise InvalidRequestError(f"at most {MAX_INPUT_ITEMS} {kind}s per request, got {len(raw)}")
        found, unknown, added = [], [], []
        for value in raw:
            idx = lookup_index(ids, value)
            if idx is not None:
                found.append(idx)
            else:
                (added if _coerce_id(ids, value) in added_keys else unknown).append(value)
        if unknown:
            raise UnknownIdError(kind, list(dict.fromkeys(unknown)))
        if added:
            shown = ", ".join(repr(v) for v in dict.fromkeys(added))
            raise InvalidRequestError(f"{kind} {shown} was added to this service and is no node of the trained "
                                      f"graph; describe a new node by trained {kind}s only")
        return np.unique(np.asarray(found, dtype=np.int64))

    def _item_name(self, idx: int, cat: _Catalog) -> Any:
        return _native(self.item_ids[idx]) if idx < self.n_items else cat.items[idx - self.n_items]

    def _user_name(self, idx: int, cat: _Catalog) -> Any:
        return _native(self.user_ids[idx]) if idx < self.n_users else cat.users[idx - self.n_users]

    # -- searches over the catalogue (trained + added rows) -----------------------------------------------------
    def _search(self, cat: _Catalog, mode: str, k: int, codes: np.ndarray | None, z: np.ndarray,
                exclude: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """The search of :func:`~hashgnn.evaluation.search.search_users`, over the catalogue's items.

        Inner products are taken one query at a time: BLAS rounds a matrix product differently from a
        matrix-vector product, and a batch must answer each user bit for bit as its single request does."""
        from hashgnn.evaluation.search import build_index, search_queries

        index = build_index(cat.emb, mode, max(self.model.n_candidates, k), self.model.tie_seed)
        queries = search_queries(mode, codes, np.ascontiguousarray(z, dtype=np.float32))
        return index.search(queries, k, exclude=exclude, batch_size=None if mode == "hamming" else 1)

    def _exclusions(self, rows: list[np.ndarray], n_items: int) -> sp.csr_matrix:
        """One CSR row per query, its nonzeros the item indices never to return."""
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(r) for r in rows])
        indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(rows), n_items))

    def _seen(self, users: np.ndarray, cat: _Catalog) -> sp.csr_matrix:
        """Train + valid items of trained users, the describing items of added users."""
        train = self.model._train_items
        rows = [train.indices[train.indptr[u]:train.indptr[u + 1]] if u < self.n_users
                else cat.user_seen[u - self.n_users] for u in users.tolist()]
        return self._exclusions(rows, cat.n_items)

    def _recommend(self, users: np.ndarray, k: int, mode: str, cat: _Catalog) -> tuple[np.ndarray, np.ndarray]:
        emb = cat.emb
        codes = emb.user_codes[users] if emb.user_codes is not None else None
        return self._search(cat, mode, k, codes, emb.user_z[users], self._seen(users, cat))

    # -- answers -----------------------------------------------------------------------------------------
    def _result(self, query: Any, mode: str, k: int, ids: np.ndarray, scores: np.ndarray, cat: _Catalog) -> Recall:
        keep = ids >= 0
        names = [self._item_name(i, cat) for i in ids[keep].tolist()]
        return Recall(query, mode, k, [(n, float(s)) for n, s in zip(names, scores[keep], strict=True)])

    def recommend_user(self, user: Any, k: int = 10, mode: str | None = None) -> Recall:
        """Top-k unseen items (train and valid items excluded) for a known or added user, by original id."""
        return self.recommend_users([user], k, mode)[0]

    def recommend_users(self, users: list[Any], k: int = 10, mode: str | None = None) -> list[Recall]:
        """:meth:`recommend_user` for each of ``users`` (in order, repeats allowed) in one search; every unknown
        user is named at once, and at most :attr:`max_batch` users are taken."""
        mode, k = self.check_mode(mode), self.check_k(k)
        if not users:
            raise InvalidRequestError("users must name at least one user")
        if self.max_batch is not None and len(users) > self.max_batch:
            raise InvalidRequestError(f"at most {self.max_batch} users per batch (--max-batch-users), "
                                      f"got {len(users)}")
        cat = self._catalog
        found, unknown = [], []
        for user in users:
            try:
                found.append(self._user_index(user, cat))
            except UnknownIdError:
                unknown.append(user)
        if unknown:
            raise UnknownIdError("user", list(dict.fromkeys(unknown)))
        idx = np.asarray(found, dtype=np.int64)
        ids, scores = self._recommend(idx, k, mode, cat)
        return [self._result(self._user_name(u, cat), mode, k, ids[row], scores[row], cat)
                for row, u in enumerate(idx.tolist())]

    def similar_items(self, item: Any, k: int = 10, mode: str | None = None) -> Recall:
        """The k items closest to a known or added item, the item itself excluded."""
        mode, k = self.check_mode(mode), self.check_k(k)
        cat = self._catalog
        iidx = self._item_index(item, cat)
        emb = cat.emb
        codes = emb.item_codes[[iidx]] if emb.item_codes is not None else None
        exclude = self._exclusions([np.array([iidx])], cat.n_items)
        ids, scores = self._search(cat, mode, k, codes, emb.item_z[[iidx]], exclude)
        return self._result(self._item_name(iidx, cat), mode, k, ids[0], scores[0], cat)

    def recommend_new_user(self, items: list[Any], k: int = 10, mode: str | None = None) -> Recall:
        """Top-k for a user the model never saw, from the items they interacted with (excluded from the
        answer): ``HashGNN.recommend(new_user_items=...)`` over the catalogue, so that the service and the
        Python API answer a new user with one implementation. Ids are resolved here, by the service's rules."""
        mode, k = self.check_mode(mode), self.check_k(k)  # a mode with codes: the network gives the user codes too
        cat = self._catalog
        idx = self._graph_indices("item", items, cat)
        if not self.inductive:
            raise InvalidRequestError(f"this run cannot encode new users: {self.inductive_error}")
        ids, scores = self.model._searching(cat.emb).recommend(new_user_items=idx, N=k, mode=mode, ids="index")
        query = [_native(i) for i in self.item_ids[idx]]
        return self._result(query, mode, k, ids, scores, cat)

    # -- additions -----------------------------------------------------------------------------------------
    def add_users(self, users: list[tuple[Any, list[Any]]]) -> list[Any]:
        """Add users, each ``(original id, the trained items it interacted with)``: encoded by the trained
        network (no retraining) and answered by id from then on, those items excluded. Returns the ids."""
        self._check_additions("user", len(users))
        with self._add_lock:
            cat = self._catalog
            keys, names = self._new_ids("user", [u for u, _ in users], cat)
            lists = [self._graph_indices("item", items, cat) for _, items in users]
            new, emb = self._encode("user", lists), cat.emb
            codes = None if emb.user_codes is None else np.concatenate([emb.user_codes, new.user_codes])
            grown = Embeddings(np.concatenate([emb.user_z, new.user_z.astype(np.float32)]), emb.item_z, codes,
                               emb.item_codes, emb.n_bits)
            # the items did not change, so neither did their indexes (build_index caches them on the Embeddings)
            grown.__dict__["_index_cache"] = emb.__dict__.setdefault("_index_cache", {})
            first = self.n_users + len(cat.users)
            self._catalog = replace(cat, emb=grown, users=cat.users + tuple(names), user_seen=cat.user_seen
                                    + tuple(lists), user_keys={**cat.user_keys, **_positions(keys, first)})
        return names

    def add_items(self, items: list[tuple[Any, list[Any]]]) -> list[Any]:
        """Add items, each ``(original id, the trained users who interacted with it)``: encoded by the trained
        network (no retraining), then searchable by every mode and answered by id. Returns the ids."""
        self._check_additions("item", len(items))
        with self._add_lock:
            cat = self._catalog
            keys, names = self._new_ids("item", [i for i, _ in items], cat)
            lists = [self._graph_indices("user", users, cat) for _, users in items]
            new, emb = self._encode("item", lists), cat.emb
            codes = None if emb.item_codes is None else np.concatenate([emb.item_codes, new.item_codes])
            grown = Embeddings(emb.user_z, np.concatenate([emb.item_z, new.item_z]), emb.user_codes, codes,
                               emb.n_bits)
            self._build_indexes(grown)  # before publishing: no request pays for the new indexes
            first = self.n_items + len(cat.items)
            self._catalog = replace(cat, emb=grown, items=cat.items + tuple(names),
                                    item_keys={**cat.item_keys, **_positions(keys, first)})
        return names

    def _check_additions(self, kind: str, n: int) -> None:
        if self.additions_error is not None:
            raise ConflictError(f"this service cannot add {kind}s: {self.additions_error}")
        if not self.inductive:
            raise ConflictError(f"this {self.model.config.model.encoder} model cannot encode new {kind}s from "
                                f"their interactions: {self.inductive_error}")
        if n == 0:
            raise InvalidRequestError(f"name at least one {kind} to add")
        if self.max_batch is not None and n > self.max_batch:
            raise InvalidRequestError(f"at most {self.max_batch} {kind}s per request (--max-batch-users), got {n}")

    def _new_ids(self, kind: str, raw: list[Any], cat: _Catalog) -> tuple[list[Any], list[Any]]:
        """(lookup keys, original ids) of ids to add: each must fit the run's id type and be new."""
        ids, added = (self.user_ids, cat.user_keys) if kind == "user" else (self.item_ids, cat.item_keys)
        keys = [_coerce_id(ids, value) for value in raw]
        bad = [value for value, key in zip(raw, keys, strict=True) if key is None]
        if bad:
            raise InvalidRequestError(f"{kind} id {', '.join(map(repr, bad[:20]))} cannot be an id of this run: "
                                      f"its {kind} ids are {_id_type(ids)}")
        twice = [value for value, n in _counts(keys, raw).items() if n > 1]
        if twice:
            raise InvalidRequestError(f"{kind} id {', '.join(map(repr, twice[:20]))} named more than once")
        taken = [value for value, key in zip(raw, keys, strict=True)
                 if key in added or lookup_index(ids, value) is not None]
        if taken:
            raise ConflictError(f"{kind} id {', '.join(map(repr, taken[:20]))} exists already (trained or added)")
        return keys, [key.decode() if isinstance(key, bytes) else _native(key) for key in keys]

    def _encode(self, kind: str, lists: list[np.ndarray]) -> Embeddings:
        import torch

        with torch.no_grad():
            return self.model.encode_new_users(lists) if kind == "user" else self.model.encode_new_items(lists)

    def _build_indexes(self, emb: Embeddings) -> None:
        from hashgnn.evaluation.search import build_index

        for mode in self.modes:
            build_index(emb, mode, self.model.n_candidates, self.model.tie_seed)

    def health(self) -> dict[str, Any]:
        cat = self._catalog
        return {"status": "ok", "dataset": self.dataset, "method": self.method, "n_users": int(self.n_users),
                "n_items": int(self.n_items), "n_bits": self.n_bits, "modes": list(self.modes),
                "default_mode": self.default_mode,
                "n_candidates": int(self.model.n_candidates), "inductive": self.inductive, "max_k": self.max_k,
                "additions": self.inductive and self.additions_error is None, "n_added_users": len(cat.users),
                "n_added_items": len(cat.items), "max_batch_users": self.max_batch}


def _positions(keys: list[Any], first: int) -> dict[Any, int]:
    return {key: first + i for i, key in enumerate(keys)}


def _counts(keys: list[Any], raw: list[Any]) -> dict[Any, int]:
    """How often each id is named, by its lookup key ("7" and 7 are one integer id), shown as first given."""
    shown: dict[Any, Any] = {}
    counts: dict[Any, int] = {}
    for key, value in zip(keys, raw, strict=True):
        shown.setdefault(key, value)
        counts[key] = counts.get(key, 0) + 1
    return {shown[key]: n for key, n in counts.items()}


def _id_type(ids: np.ndarray) -> str:
    return {"i": "integers", "u": "non-negative integers", "f": "numbers"}.get(ids.dtype.kind, "strings")
