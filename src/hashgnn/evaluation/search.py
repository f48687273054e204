"""The three search modes of paper section 3.5 over trained :class:`~hashgnn.models.base.Embeddings`.

``hamming`` (HamR) ranks items by Hamming distance of codes; ``hierarchical`` (HieS) takes the Hamming top-M
and re-ranks them by ⟨z_q, z_i⟩; ``continuous`` (CeS) ranks all items by ⟨z_q, z_i⟩. Each is one
:mod:`hashgnn.index` object, so evaluation, the Python API, the CLI and the service share one implementation
(and one tie rule: equal scores are ordered by a seeded random permutation of the items).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.errors import ConfigError
from hashgnn.models.base import SEARCH_MODES, Embeddings


def build_index(emb: Embeddings, mode: str, n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0):
    """The item index for ``mode``; cached on the Embeddings object since building one costs a copy."""
    from hashgnn.index import FloatIndex, HammingIndex, HierarchicalIndex

    if mode not in SEARCH_MODES:
        raise ConfigError(f"unknown search mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
    if mode != "continuous" and not emb.has_codes:
        raise ConfigError(f"search mode {mode!r} needs hash codes, and this model has only continuous embeddings")
    cache = emb.__dict__.setdefault("_index_cache", {})
    key = (mode, n_candidates if mode == "hierarchical" else None, tie_seed)
    if key not in cache:
        if mode == "hamming":
            cache[key] = HammingIndex(emb.item_codes, tie_seed=tie_seed)
        elif mode == "hierarchical":
            cache[key] = HierarchicalIndex(emb.item_codes, emb.item_z, n_candidates=n_candidates,
                                           tie_seed=tie_seed)
        else:
            cache[key] = FloatIndex(emb.item_z, tie_seed=tie_seed)
    return cache[key]


def search_queries(mode: str, codes: np.ndarray | None, z: np.ndarray):
    """What an index of ``mode`` takes as queries: packed codes (HamR), (codes, z) (HieS) or z (CeS)."""
    if mode != "continuous" and codes is None:
        raise ConfigError(f"search mode {mode!r} needs hash codes for the queries")
    if mode == "hamming":
        return codes
    if mode == "hierarchical":
        return (codes, z)
    return z


def search_users(emb: Embeddings, users: np.ndarray, k: int, mode: str, exclude: sp.csr_matrix | None = None,
                 n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items for user indices ``users``: ``(ids [B,k], scores [B,k])``; ``exclude`` rows align with
    ``users``. Hierarchical search takes at least ``k`` Hamming candidates, so it always fills ``k`` slots."""
    if k <= 0:
        raise ConfigError(f"k must be > 0, got {k}")
    index = build_index(emb, mode, max(n_candidates, k), tie_seed)
    codes = emb.user_codes[users] if emb.user_codes is not None else None
    return index.search(search_queries(mode, codes, emb.user_z[users]), k, exclude=exclude)


def search_items(emb: Embeddings, items: np.ndarray, k: int, mode: str, n_candidates: int = DEFAULT_CANDIDATES,
                 tie_seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items most similar to each of ``items``, excluding the item itself."""
    index = build_index(emb, mode, max(n_candidates, k), tie_seed)
    codes = emb.item_codes[items] if emb.item_codes is not None else None
    n = len(items)
    self_mask = sp.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), items)),
                              shape=(n, emb.item_z.shape[0]))
    return index.search(search_queries(mode, codes, emb.item_z[items]), k, exclude=self_mask)
