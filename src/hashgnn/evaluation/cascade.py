"""Hierarchical search across two trained runs: one run's codes give the Hamming candidates, another run's
continuous embeddings re-rank them (a retrieval/ranking cascade, beyond the paper's single-model HieS).

The two runs must be over the same interactions with the same test part, and the re-ranking run must not have
trained on any of the codes run's test links: otherwise the cascade would be measured on links one of its models
has seen. A re-ranking run that folded validation back into train (a refit) is fine: test stays unseen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashgnn.errors import ConfigError
from hashgnn.models.base import Embeddings


def check_cascade_runs(codes_run: str | Path, rerank_run: str | Path) -> None:
    """Raise :class:`ConfigError` unless both run directories hold the same interactions and test part, and
    ``rerank_run`` trained on none of the test rows."""
    from hashgnn.training.rundir import RunDir

    a, b = RunDir(Path(codes_run)), RunDir(Path(rerank_run))
    ia, ib = a.read_arrays("interactions.npz"), b.read_arrays("interactions.npz")
    if not all(np.array_equal(ia[k], ib[k]) for k in ("users", "items")):
        raise ConfigError(f"cascade: {a.path} and {b.path} were trained on different interactions")
    sa, sb = a.read_arrays("split.npz"), b.read_arrays("split.npz")
    if not np.array_equal(sa["test"], sb["test"]):
        raise ConfigError(f"cascade: {a.path} and {b.path} have different test parts, so no test set is unseen "
                          "by both")
    if np.intersect1d(sb["train"], sa["test"]).size:
        raise ConfigError(f"cascade: {b.path} trained on test links of {a.path}")


def cascade_embeddings(codes_run: str | Path, rerank_run: str | Path) -> Embeddings:
    """``codes_run``'s codes with ``rerank_run``'s continuous embeddings (checked by :func:`check_cascade_runs`)."""
    check_cascade_runs(codes_run, rerank_run)
    return Embeddings.load(codes_run).rerank_with(Embeddings.load(rerank_run))
