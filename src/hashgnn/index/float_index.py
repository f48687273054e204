"""Exact inner-product top-k over float embeddings (CeS): blocked BLAS matmul + numba selection."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashgnn.index import _kernels
from hashgnn.index.base import SearchIndex, check_float

SCORE_BLOCK_BYTES = 256 << 20  # temporary [batch, n_items] float32 score block


class FloatIndex(SearchIndex):
    """Exact top-k by ⟨z_q, z_i⟩. Queries: float ``[B, d]``."""

    kind = "float"

    def __init__(self, item_embeddings: np.ndarray, tie_seed: int | None = None) -> None:
        emb = check_float(item_embeddings, "item embeddings")
        self._setup_ties(emb.shape[0], tie_seed)
        self.embeddings = emb
        self.dim = emb.shape[1]
        self._x = np.ascontiguousarray(emb[self._item_at])

    def _check_queries(self, queries: Any) -> np.ndarray:
        return check_float(queries, "query embeddings", self.dim)

    def _n_queries(self, queries: np.ndarray) -> int:
        return queries.shape[0]

    def _slice_queries(self, queries: np.ndarray, start: int, stop: int) -> np.ndarray:
        return queries[start:stop]

    def _default_batch(self, n_queries: int, k: int) -> int:
        return max(1, min(n_queries, SCORE_BLOCK_BYTES // (4 * max(self.n_items, 1))))

    def _search(self, queries, k, ex_ptr, ex_pos):
        scores = queries @ self._x.T
        out_pos = np.empty((len(queries), k), dtype=np.int64)
        out_s = np.empty((len(queries), k), dtype=np.float32)
        if len(queries):
            _kernels.float_topk(np.ascontiguousarray(scores, dtype=np.float32), k, ex_ptr, ex_pos, out_pos,
                                out_s)
        return out_pos, out_s

    def _state(self):
        return {}, {"item_embeddings": self.embeddings}

    @classmethod
    def _from_state(cls, params, arrays):
        return cls(arrays["item_embeddings"], tie_seed=params["tie_seed"])
