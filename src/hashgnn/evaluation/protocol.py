"""Full-ranking evaluation of trained embeddings on a split (paper section 5.2.1)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from hashgnn.data.splits import Split
from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.evaluation.metrics import PROTOCOLS, hit_matrix, ranking_metrics
from hashgnn.evaluation.search import search_users
from hashgnn.models.base import SEARCH_MODES, Embeddings


def _csr(inter, n_users: int, n_items: int) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(inter.users), dtype=np.float32), (inter.users, inter.items)),
                      shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def evaluate_part(emb: Embeddings, split: Split, part: str = "test", modes: tuple[str, ...] = SEARCH_MODES,
                  ns: tuple[int, ...] = (20, 50, 100), protocols: tuple[str, ...] = PROTOCOLS,
                  n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0, batch_users: int = 8192,
                  max_users: int | None = None, progress: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """``{mode: {protocol: {"recall@50": ..., ...}}}`` over every user with items in ``part``.

    ``standard`` excludes the user's train items (and, for the test part, validation items); ``paper`` excludes
    nothing. Modes needing codes are skipped for continuous-only embeddings.
    """
    inter = split.interactions
    n_users, n_items = inter.n_users, inter.n_items
    truth_inter = split.test if part == "test" else split.valid
    truth = _csr(truth_inter, n_users, n_items)
    seen_idx = split.train_idx if part == "valid" else np.concatenate([split.train_idx, split.valid_idx])
    seen = _csr(inter.select(seen_idx), n_users, n_items)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
    n_rel = np.diff(truth.indptr)[users]
    k = max(ns)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        if mode != "continuous" and not emb.has_codes:
            continue
        results[mode] = {}
        for protocol in protocols:
            hits = np.zeros((len(users), k), dtype=bool)
            batches = range(0, len(users), batch_users)
            for start in tqdm(batches, desc=f"eval {mode}/{protocol}", disable=not progress, leave=False):
                b = users[start:start + batch_users]
                exclude = seen[b] if protocol == "standard" else None
                ids, _ = search_users(emb, b, k, mode, exclude, n_candidates, tie_seed)
                hits[start:start + len(b)] = hit_matrix(ids, b, truth)
            results[mode][protocol] = ranking_metrics(hits, n_rel, ns, protocol)
    return results
