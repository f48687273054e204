"""The one search interface, the shared tie rule, argument checks, the brute-force oracle and the file format.

Tie rule (shared with evaluation): among equal scores the item with the smaller ``tie_rank[item]`` comes
first, ``tie_rank = np.random.default_rng(tie_seed).permutation(n_items)`` (``arange`` when ``tie_seed`` is
None). Indexes store items physically in tie-rank order — the *position* of item ``i`` is ``tie_rank[i]`` —
so "smaller position wins" is the tie rule, and results are mapped back to item ids.

File format (one file per index): ``MAGIC`` (8 bytes), format version (uint32 LE), payload length (uint64
LE), sha256 of the payload (32 bytes), then the payload: an ``np.savez`` archive (no pickles) holding the
index kind, its parameters and its input arrays. Writes are atomic (temp file, fsync, ``os.replace``).
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.io_utils import atomic_write_bytes

MAGIC = b"HGNNIDX\x00"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQ32s")

_REGISTRY: dict[str, type[SearchIndex]] = {}


def tie_ranks(n_items: int, tie_seed: int | None) -> np.ndarray:
    """THE shared tie rule: ``tie_rank[item]``; among equal scores the smaller rank comes first."""
    if tie_seed is None:
        return np.arange(n_items, dtype=np.int64)
    return np.random.default_rng(tie_seed).permutation(n_items).astype(np.int64)


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    if k <= 0:
        raise ConfigError(f"k must be > 0, got {k}")
    return int(k)


def check_tie_seed(tie_seed: Any) -> int | None:
    if tie_seed is None:
        return None
    if isinstance(tie_seed, bool) or not isinstance(tie_seed, (int, np.integer)) or tie_seed < 0:
        raise ConfigError(f"tie_seed must be a non-negative integer or None, got {tie_seed!r}")
    return int(tie_seed)


def check_packed(codes: Any, name: str, n_bytes: int | None = None) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        raise ConfigError(f"{name} must be packed uint8 codes [n, K/8] (see pack_codes), got dtype {codes.dtype}")
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise ConfigError(f"{name} must be 2-D [n, K/8] with K/8 > 0, got shape {codes.shape}")
    if n_bytes is not None and codes.shape[1] != n_bytes:
        raise ConfigError(f"{name} have {codes.shape[1] * 8} bits but the index holds {n_bytes * 8}-bit codes")
    return np.ascontiguousarray(codes)


def check_float(x: Any, name: str, dim: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise ConfigError(f"{name} must be a 2-D float array [n, d], got dtype {x.dtype} shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ConfigError(f"{name} have dimension {x.shape[1]} but the index holds dimension {dim}")
    return np.ascontiguousarray(x, dtype=np.float32)


def exclusion_positions(exclude: Any, n_queries: int, n_items: int,
                        tie_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``exclude`` (CSR ``[n_queries, n_items]``, nonzeros = excluded items) → CSR arrays ``(indptr,
    positions)`` in position space, sorted and de-duplicated per row. ``None`` → empty."""
    if exclude is None:
        return np.zeros(n_queries + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not sp.issparse(exclude):
        raise ConfigError(f"exclude must be a scipy.sparse CSR matrix or None, got {type(exclude).__name__}")
    if exclude.shape != (n_queries, n_items):
        raise ConfigError(f"exclude has shape {exclude.shape}, expected ({n_queries}, {n_items}) = "
                          "(number of queries, number of items)")
    ex = sp.csr_matrix(exclude)
    if ex.nnz and (ex.data == 0).any():
        ex = ex.copy()
        ex.eliminate_zeros()
    pos = tie_rank[ex.indices]
    m = sp.csr_matrix((np.ones(len(pos), dtype=np.int8), pos, ex.indptr), shape=ex.shape)
    m.sum_duplicates()  # sorts indices and merges duplicates
    return m.indptr.astype(np.int64), m.indices.astype(np.int64)


def exact_topk_reference(scores_matrix: np.ndarray, k: int, exclude: sp.spmatrix | None = None,
                         tie_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force oracle: top-``k`` of each row of ``scores_matrix`` ``[B, n_items]`` (higher is better),
    ties by the shared tie rule, excluded items dropped, ``-1`` / ``-inf`` padding."""
    k = check_k(k)
    scores = np.asarray(scores_matrix, dtype=np.float64)
    if scores.ndim != 2:
        raise ConfigError(f"scores_matrix must be 2-D [B, n_items], got shape {scores.shape}")
    b, n = scores.shape
    rank = tie_ranks(n, tie_seed)
    excluded = np.zeros((b, n), dtype=bool)
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        if ex.shape != (b, n):
            raise ConfigError(f"exclude has shape {ex.shape}, expected ({b}, {n})")
        excluded = ex.toarray() != 0
    order = np.lexsort((np.broadcast_to(rank, (b, n)), -scores, excluded), axis=-1)[:, :k]
    ids = np.full((b, k), -1, dtype=np.int64)
    out = np.full((b, k), -np.inf, dtype=np.float32)
    kk = min(k, n)
    valid = ~np.take_along_axis(excluded, order, axis=1)
    ids[:, :kk] = np.where(valid, order, -1)
    out[:, :kk] = np.where(valid, np.take_along_axis(scores, order, axis=1), -np.inf)
    return ids, out


@contextmanager
def _torch_threads_kept() -> Iterator[None]:
    """Keep torch's intra-op thread count across a numba kernel call.

    numba's OpenMP threading layer shares libgomp with torch and sets the calling thread's OpenMP thread count to
    numba's; without this, a process limited to one torch thread (``train.threads=1``) ran on every core after its
    first validation, and two such processes on two cores spun in OpenMP barriers at a seventh of their speed.
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if torch is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


class SearchIndex(ABC):
    """One search interface. Scores are higher-is-better. ids are item indices 0..n_items-1, -1 padding with
    score -inf when fewer than k candidates exist."""

    kind: ClassVar[str] = ""
    n_items: int
    tie_seed: int | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    def _setup_ties(self, n_items: int, tie_seed: int | None) -> None:
        self.n_items = int(n_items)
        self.tie_seed = check_tie_seed(tie_seed)
        self._rank = tie_ranks(self.n_items, self.tie_seed)  # position of each item
        self._item_at = np.argsort(self._rank).astype(np.int64)  # item at each position

    def _ids_from_positions(self, pos: np.ndarray) -> np.ndarray:
        ids = self._item_at[np.maximum(pos, 0)]
        ids[pos < 0] = -1
        return ids

    @abstractmethod
    def _n_queries(self, queries: Any) -> int: ...

    @abstractmethod
    def _slice_queries(self, queries: Any, start: int, stop: int) -> Any: ...

    @abstractmethod
    def _search(self, queries: Any, k: int, ex_ptr: np.ndarray, ex_pos: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]: ...

    def _check_queries(self, queries: Any) -> Any:
        return queries

    def search(self, queries: Any, k: int, exclude: sp.csr_matrix | None = None,
               batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per query: ``(ids int64 [B, k], scores float32 [B, k])``.

        ``exclude``: CSR ``[B, n_items]`` aligned with the queries; nonzero entries are never returned.
        ``batch_size``: queries per kernel call (bounds temporary memory); ``None`` = the index's default.
        """
        with _torch_threads_kept():
            return self._search_all(queries, k, exclude, batch_size)

    def _search_all(self, queries: Any, k: int, exclude: sp.csr_matrix | None,
                    batch_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        k = check_k(k)
        queries = self._check_queries(queries)
        nq = self._n_queries(queries)
        ex_ptr, ex_pos = exclusion_positions(exclude, nq, self.n_items, self._rank)
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) <= 0):
            raise ConfigError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        bs = int(batch_size) if batch_size is not None else self._default_batch(nq, k)
        ids = np.empty((nq, k), dtype=np.int64)
        scores = np.empty((nq, k), dtype=np.float32)
        for start in range(0, nq, max(bs, 1)):
            stop = min(nq, start + bs)
            ptr = ex_ptr[start:stop + 1]
            pos = ex_pos[ptr[0]:ptr[-1]]
            p, s = self._search(self._slice_queries(queries, start, stop), k, ptr - ptr[0], pos)
            ids[start:stop] = self._ids_from_positions(p)
            scores[start:stop] = s
        return ids, scores

    def _default_batch(self, n_queries: int, k: int) -> int:
        return max(n_queries, 1)

    # persistence ---------------------------------------------------------------------------------------
    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(scalar parameters, arrays) from which :meth:`_from_state` rebuilds the index."""

    @classmethod
    @abstractmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> SearchIndex: ...

    def save(self, path: str | Path) -> None:
        """Write the index to one file, atomically (in a run directory: :meth:`RunDir.write_index`, which records
        it in the run's manifest)."""
        atomic_write_bytes(path, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The contents of the index's file (header and payload), as :meth:`save` writes them."""
        params, arrays = self._state()
        params = dict(params, kind=self.kind, tie_seed=-1 if self.tie_seed is None else self.tie_seed)
        buf = io.BytesIO()
        payload_arrays = {f"p_{key}": np.asarray(value) for key, value in params.items()}
        payload_arrays.update({f"a_{key}": np.ascontiguousarray(value) for key, value in arrays.items()})
        np.savez(buf, allow_pickle=False, **payload_arrays)
        payload = buf.getvalue()
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest())
        return header + payload

    @classmethod
    def load(cls, path: str | Path) -> SearchIndex:
        """Load an index written by :meth:`save`; raises ArtifactError on a foreign, corrupt or truncated
        file, or one holding another kind of index than ``cls``."""
        index = _load_any(path)
        if cls is not SearchIndex and not isinstance(index, cls):
            raise ArtifactError(f"{path}: holds a {type(index).__name__}, not a {cls.__name__}")
        return index


def _load_any(path: str | Path) -> SearchIndex:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read index file ({exc.strerror or exc})") from None
    return index_from_bytes(data, path)


def index_from_bytes(data: bytes, path: str | Path) -> SearchIndex:
    """The index held by ``data``, the contents of an index file (``path`` names it in errors)."""
    if len(data) < _HEADER.size:
        raise ArtifactError(f"{path}: truncated or not a hashgnn index file ({len(data)} bytes)")
    magic, version, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ArtifactError(f"{path}: not a hashgnn index file (bad magic header)")
    if version != FORMAT_VERSION:
        raise ArtifactError(f"{path}: index format version {version}, this hashgnn reads version "
                            f"{FORMAT_VERSION}; rebuild the index")
    payload = data[_HEADER.size:]
    if len(payload) != length:
        raise ArtifactError(f"{path}: truncated index file ({len(payload)} of {length} payload bytes)")
    if hashlib.sha256(payload).digest() != digest:
        raise ArtifactError(f"{path}: checksum mismatch — the index file is corrupt")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            contents = {name: npz[name] for name in npz.files}
    except Exception as exc:  # a damaged archive raises several types
        raise ArtifactError(f"{path}: unreadable index payload ({type(exc).__name__}: {exc})") from None
    params = {name[2:]: value.item() if value.ndim == 0 else value
              for name, value in contents.items() if name.startswith("p_")}
    arrays = {name[2:]: value for name, value in contents.items() if name.startswith("a_")}
    kind = params.pop("kind", None)
    if kind not in _REGISTRY:
        raise ArtifactError(f"{path}: unknown index kind {kind!r}")
    seed = params.pop("tie_seed", -1)
    params["tie_seed"] = None if seed == -1 else int(seed)
    try:
        return _REGISTRY[kind]._from_state(params, arrays)
    except (KeyError, ConfigError) as exc:
        raise ArtifactError(f"{path}: inconsistent index contents ({exc})") from None


def load_index(path: str | Path) -> SearchIndex:
    """Load any index kind saved with :meth:`SearchIndex.save`."""
    return _load_any(path)
