"""Full-ranking evaluation of trained embeddings on a split (paper section 5.2.1)."""

from __future__ import annotations

import warnings

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


COLD = "-cold"  # suffix of the protocol key of users without train interactions


def evaluate_part(emb: Embeddings, split: Split, part: str = "test", modes: tuple[str, ...] = SEARCH_MODES,
                  ns: tuple[int, ...] = (20, 50, 100), protocols: tuple[str, ...] = PROTOCOLS,
                  n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0, batch_users: int = 8192,
                  max_users: int | None = None, progress: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """``{mode: {protocol: {"recall@50": ..., ...}}}`` over every user with items in ``part``.

    ``standard`` excludes the user's train items (and, for the test part, validation items); ``paper`` excludes
    nothing. Modes needing codes are skipped for continuous-only embeddings. Users of ``part`` without a single
    train interaction (a temporal split's newcomers) have untrained embeddings: they are left out of those
    averages, reported under ``"<protocol>-cold"`` instead, and named in a warning.
    """
    inter = split.interactions
    n_users, n_items = inter.n_users, inter.n_items
    truth = _csr(split.test if part == "test" else split.valid, n_users, n_items)
    seen_idx = split.train_idx if part == "valid" else np.concatenate([split.train_idx, split.valid_idx])
    seen = _csr(inter.select(seen_idx), n_users, n_items)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
    trained = np.zeros(n_users, dtype=bool)
    trained[inter.users[split.train_idx]] = True
    groups = {"": users[trained[users]], COLD: users[~trained[users]]}
    if len(groups[COLD]):
        warnings.warn(f"{len(groups[COLD])} of {len(users)} {part} users have no train interactions, so their "
                      f"embeddings are untrained: they are reported apart (protocol '<name>{COLD}'), not in the "
                      "averages", stacklevel=2)
    search = _Search(emb, truth, seen, max(ns), n_candidates, tie_seed, batch_users, progress)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        if mode != "continuous" and not emb.has_codes:
            continue
        results[mode] = {}
        for protocol in protocols:
            for suffix, group in groups.items():
                if suffix == "" or len(group):
                    hits = search.hits(group, mode, protocol)
                    n_rel = np.diff(truth.indptr)[group]
                    results[mode][protocol + suffix] = ranking_metrics(hits, n_rel, ns, protocol)
    return results


class _Search:
    """The hit matrix of a group of users under one search mode and protocol, in batches."""

    def __init__(self, emb: Embeddings, truth: sp.csr_matrix, seen: sp.csr_matrix, k: int, n_candidates: int,
                 tie_seed: int | None, batch_users: int, progress: bool) -> None:
        self.emb, self.truth, self.seen, self.k = emb, truth, seen, k
        self.n_candidates, self.tie_seed = n_candidates, tie_seed
        self.batch_users, self.progress = batch_users, progress

    def hits(self, users: np.ndarray, mode: str, protocol: str) -> np.ndarray:
        hits = np.zeros((len(users), self.k), dtype=bool)
        batches = range(0, len(users), self.batch_users)
        for start in tqdm(batches, desc=f"eval {mode}/{protocol}", disable=not self.progress, leave=False):
            b = users[start:start + self.batch_users]
            exclude = self.seen[b] if protocol == "standard" else None
            ids, _ = search_users(self.emb, b, self.k, mode, exclude, self.n_candidates, self.tie_seed)
            hits[start:start + len(b)] = hit_matrix(ids, b, self.truth)
        return hits
