"""Pieces every baseline shares: the "seen items" matrix, validation on the valid part, the fitted-state
attributes the experiments read (``log``, ``history``, ``seconds``), and whether a trainer continues a run
directory's checkpoint (:func:`continuable`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from hashgnn.data.splits import Split
from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.models.base import Embeddings, Recommender
from hashgnn.training.rundir import RunDir

if TYPE_CHECKING:  # the trainer imports the models
    from hashgnn.training.trainer import Trainer


def seen_matrix(split: Split) -> sp.csr_matrix:
    """``[n_users, n_items]`` train + validation interactions: what ``recommend`` filters by default."""
    inter = split.interactions
    seen = np.concatenate([split.train_idx, split.valid_idx])
    m = sp.csr_matrix((np.ones(len(seen), dtype=np.float32), (inter.users[seen], inter.items[seen])),
                      shape=(inter.n_users, inter.n_items))
    m.sum_duplicates()
    return m


def valid_recall(emb: Embeddings, split: Split, mode: str, n: int, n_candidates: int = DEFAULT_CANDIDATES,
                 tie_seed: int | None = 0) -> float:
    """Recall@n on the validation part (never the test part); NaN when the split has no validation users."""
    if len(split.valid_idx) == 0:
        return float("nan")
    res = evaluate_part(emb, split, "valid", modes=(mode,), ns=(n,), protocols=("standard",),
                        n_candidates=n_candidates, tie_seed=tie_seed)
    return float(res[mode]["standard"][f"recall@{n}"])


class FittedRecommender(Recommender):
    """A :class:`Recommender` that keeps what it learned and how: ``log`` (per-iteration rows with at least
    ``iteration`` and ``loss``), ``history`` (per-epoch rows), ``seconds`` (training wall time) and ``split``."""

    name = "baseline"

    def __init__(self) -> None:
        self._embeddings: Embeddings | None = None
        self.split: Split | None = None
        self.log: list[dict[str, float]] = []
        self.history: list[dict[str, Any]] = []
        self.seconds: float = 0.0

    def _attach(self, split: Split, emb: Embeddings) -> None:
        self.split = split
        self._embeddings = emb
        self._train_items = seen_matrix(split)

    def embeddings(self) -> Embeddings:
        if self._embeddings is None:
            raise ConfigError(f"{self.name} is not fitted: call fit(split) first")
        return self._embeddings

    def __repr__(self) -> str:
        state = "fitted" if self._embeddings is not None else "not fitted"
        return f"{type(self).__name__}({state})"


def continuable(trainer: Trainer, run_dir: RunDir, name: str) -> bool:
    """Whether ``run_dir`` holds a checkpoint ``trainer`` continues. One of other settings or a damaged one is
    started over (the experiments re-run a method with changed settings into the same folder)."""
    if not (run_dir.checkpoints / "last.pt").is_file():
        return False
    try:
        checkpoint = run_dir.load_checkpoint("last")
    except ArtifactError as exc:
        print(f"{exc}; starting that run over", flush=True)
        return False
    if not trainer.can_continue(checkpoint):
        print(f"{run_dir.path}: a checkpoint of other settings; starting that run over", flush=True)
        return False
    print(f"{name}: continuing after epoch {checkpoint['epoch']} from {run_dir.path}", flush=True)
    return True
