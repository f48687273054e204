"""Top-n ranking metrics on a ``[B, k]`` matrix of retrieved item ids (PyG ``link_pred`` semantics).

Two protocols, both always reported:

* ``standard``: the user's train (and validation) items are excluded from the ranking before the top-n is
  taken; NDCG's ideal DCG places ``min(n, |test items|)`` hits at the top.
* ``paper``: as the official HashGNN code evaluates — nothing is excluded, and the ideal DCG is computed over
  the hits actually retrieved in the top-n (so a user with one hit at rank 1 scores NDCG 1).

Recall@n = hits/|test items| (the paper's "HR"); Precision@n = hits/n; HitRatio@n = 1 if any hit.
Users without test items are left out of the average.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from hashgnn.errors import ConfigError

PROTOCOLS = ("standard", "paper")
METRICS = ("recall", "ndcg", "precision", "hit_ratio")


def hit_matrix(topk: np.ndarray, users: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """``bool [B, k]``: whether ``topk[b, j]`` is a relevant item of user ``users[b]`` (−1 padding = miss)."""
    truth = truth.tocsr()
    n_items = truth.shape[1]
    keys = np.sort(np.repeat(np.arange(truth.shape[0]), np.diff(truth.indptr)).astype(np.int64) * n_items
                    + truth.indices)
    valid = topk >= 0
    q = users[:, None].astype(np.int64) * n_items + np.where(valid, topk, 0)
    pos = np.clip(np.searchsorted(keys, q), 0, max(len(keys) - 1, 0))
    return valid & (keys[pos] == q) if len(keys) else np.zeros_like(valid)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray, ns: tuple[int, ...],
                    protocol: str = "standard") -> dict[str, float]:
    """Mean Recall/NDCG/Precision/HitRatio at each n over users with ``n_relevant > 0``.

    Args:
        hits: ``bool [B, k]`` from :func:`hit_matrix`, ``k >= max(ns)``.
        n_relevant: ``[B]`` number of test items of each user.
        ns: Cut-offs.
        protocol: ``"standard"`` or ``"paper"`` (how the ideal DCG is computed, see module docstring).
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if max(ns) > hits.shape[1]:
        raise ConfigError(f"cut-off {max(ns)} exceeds the {hits.shape[1]} retrieved items")
    keep = n_relevant > 0
    hits = hits[keep].astype(np.float64)
    rel = n_relevant[keep].astype(np.float64)
    out: dict[str, float] = {"users": int(keep.sum())}
    if not keep.any():
        return out | {f"{m}@{n}": 0.0 for m in METRICS for n in ns}
    disc = _discounts(hits.shape[1])
    cum_disc = np.concatenate([[0.0], np.cumsum(disc)])
    for n in ns:
        h = hits[:, :n]
        n_hits = h.sum(axis=1)
        dcg = h @ disc[:n]
        ideal_count = np.minimum(n, rel) if protocol == "standard" else n_hits
        idcg = cum_disc[ideal_count.astype(np.int64)]
        ndcg = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
        out[f"recall@{n}"] = float((n_hits / rel).mean())
        out[f"ndcg@{n}"] = float(ndcg.mean())
        out[f"precision@{n}"] = float((n_hits / n).mean())
        out[f"hit_ratio@{n}"] = float((n_hits > 0).mean())
    return out
