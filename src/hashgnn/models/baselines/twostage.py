"""Two-stage hashing baselines built on a trained GraphSage (paper 5.2.2): LSH and HashGNN_sp.

Both first fit :class:`~hashgnn.models.baselines.core.GraphSage` (the core with ``model.method=continuous``)
on the split, then hash its output without touching the GraphSAGE weights again. ``fit(split, graphsage=gs)``
skips that first stage and hashes an already fitted GraphSage instead (the experiments train one GraphSage per
dataset and seed and share it between the GraphSage, LSH and HashGNN_sp rows); ``gs`` must have been fitted on
the same split with exactly the config the method would have trained, else :class:`~hashgnn.errors.ConfigError`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hashgnn.config import RunConfig, config_differences
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.losses import hashgnn_loss, pair_scores
from hashgnn.models.base import Embeddings
from hashgnn.models.baselines.common import FittedRecommender, continuable, valid_recall
from hashgnn.models.baselines.core import GraphSage, method_config
from hashgnn.models.hashing import GuidedSTE, HashLayer, sign
from hashgnn.training.negatives import NegativeSampler
from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import Trainer


def random_hyperplane_codes(z: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """h = sign(z R) with sign(0) = +1 (Charikar 2002 random hyperplanes): ±1 float32 ``[n, K]``."""
    p = z.astype(np.float64) @ projection.astype(np.float64)
    return np.where(p >= 0, 1.0, -1.0).astype(np.float32)


def same_split(a: Split, b: Split) -> bool:
    """Whether two splits hold the same interactions and the same train / valid / test rows."""
    if a is b:
        return True
    ia, ib = a.interactions, b.interactions
    pairs = ((ia.users, ib.users), (ia.items, ib.items), (a.train_idx, b.train_idx), (a.valid_idx, b.valid_idx),
             (a.test_idx, b.test_idx))
    return (ia.n_users, ia.n_items) == (ib.n_users, ib.n_items) and all(np.array_equal(x, y) for x, y in pairs)


def check_prefit(graphsage: object, expected: RunConfig, split: Split, method: str) -> None:
    """Raise :class:`ConfigError` unless ``graphsage`` is a GraphSage fitted on ``split`` with config ``expected``
    (the one ``method`` would have trained itself): reusing any other would silently change ``method``."""
    if not isinstance(graphsage, GraphSage):
        raise ConfigError(f"{method}: graphsage= must be a fitted GraphSage, got {type(graphsage).__name__}")
    if graphsage.result is None or graphsage.split is None:
        raise ConfigError(f"{method}: the GraphSage given as graphsage= is not fitted: call fit(split) first")
    diff = config_differences(expected, graphsage.config)
    if diff:
        more = f" (+{len(diff) - 5} more)" if len(diff) > 5 else ""
        raise ConfigError(f"{method}: the given GraphSage was trained with another config than {method} would "
                          f"train (expected != given): {'; '.join(diff[:5])}{more}")
    if not same_split(graphsage.split, split):
        raise ConfigError(f"{method}: the given GraphSage was fitted on another split than the one passed to fit")


def fit_stage_one(own: GraphSage, split: Split, given: GraphSage | None, method: str) -> GraphSage:
    """The fitted GraphSage of a two-stage method: ``given`` after :func:`check_prefit`, else ``own`` fitted."""
    if given is None:
        return own.fit(split)
    check_prefit(given, own.config, split, method)
    return given


def batch_rows(n_nodes: int, *groups: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """``nodes = np.unique(all groups)`` and each group's positions in ``nodes`` (``np.searchsorted(nodes, g)``),
    by marking a dense ``n_nodes`` mask: linear time instead of a sort and binary searches per step."""
    mark = np.zeros(n_nodes, dtype=bool)
    for g in groups:
        mark[g] = True
    row = np.cumsum(mark) - 1
    return np.flatnonzero(mark), [row[g] for g in groups]


class LSH(FittedRecommender):
    """LSH by random hyperplanes (Gionis et al. 1999; Charikar 2002) on GraphSage embeddings.

    GraphSage is trained first; then one seeded Gaussian projection ``R ~ N(0, 1)^{d×K}`` is shared by users and
    items and ``h = sign(z R)``, with ``z`` GraphSage's continuous output (the tanh head, d = ``model.n_bits``).
    ``z`` itself stays GraphSage's, so hierarchical search re-ranks Hamming candidates by GraphSage's inner
    products. The paper feeds "the output of Graphsage" to LSH; which layer is not stated, z is used here.

    Args:
        config, overrides, progress: as for :class:`~hashgnn.models.baselines.core.CoreBaseline`.
        n_bits: Code length K (default: ``model.n_bits``).
        lsh_seed: Seed of R (default: ``config.seed``).
    """

    name = "LSH"

    def __init__(self, config: RunConfig | None = None, overrides: Sequence[str] | Mapping[str, object] = (),
                 progress: bool = False, n_bits: int | None = None, lsh_seed: int | None = None) -> None:
        super().__init__()
        self.graphsage = GraphSage(config, overrides, progress)
        self.config = self.graphsage.config
        self.n_bits = int(n_bits or self.config.model.n_bits)
        if self.n_bits <= 0 or self.n_bits % 8:
            raise ConfigError(f"LSH n_bits must be a positive multiple of 8, got {self.n_bits}")
        self.lsh_seed = self.config.seed if lsh_seed is None else lsh_seed
        self.tie_seed, self.n_candidates = self.config.eval.tie_seed, self.config.eval.n_candidates
        self.projection: np.ndarray | None = None

    def fit(self, split: Split, graphsage: GraphSage | None = None, **kwargs) -> LSH:
        """Fit on ``split``. ``graphsage``: an already fitted GraphSage to hash instead of training one; it must
        have been fitted on ``split`` with ``self.graphsage.config`` (else ConfigError) and becomes
        ``self.graphsage``. ``seconds`` counts its training time plus the projection's either way."""
        self.graphsage = fit_stage_one(self.graphsage, split, graphsage, self.name)
        base = self.graphsage.embeddings()
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.lsh_seed)
        self.projection = rng.standard_normal((base.user_z.shape[1], self.n_bits)).astype(np.float32)
        emb = Embeddings.from_signs(base.user_z, base.item_z, random_hyperplane_codes(base.user_z, self.projection),
                                    random_hyperplane_codes(base.item_z, self.projection))
        self.log, self.history = self.graphsage.log, self.graphsage.history
        self.seconds = self.graphsage.seconds + time.perf_counter() - t0
        self._attach(split, emb)
        return self


class HashGNNSeparate(FittedRecommender):
    """HashGNN_sp: GraphSage first, then only a hash layer on its frozen representations.

    Stage 1 fits :class:`GraphSage` (full-graph, or sampled with ``train.sampler=neighbor``). Its encoder output
    **u** (the 2-layer GraphSAGE representation of eq. 1, before GraphSage's own tanh head) is computed once by the
    trainer that fitted it and frozen (no gradient reaches GraphSAGE). Stage 2 trains a new
    :class:`~hashgnn.models.hashing.HashLayer` (eq. 2) with the guided binarizer (eq. 8) on the one
    :class:`~hashgnn.training.trainer.Trainer` under the same loss (eq. 5–7, :func:`hashgnn.losses.hashgnn_loss`),
    train edges, negatives (:class:`~hashgnn.training.negatives.NegativeSampler`'s draws, ``train.triplets`` per
    edge), batch size, lr, epochs, p schedule and ``train.threads`` as the core. The epoch with the best validation
    hierarchical Recall@``eval.valid_n`` is kept. The continuous z used by hierarchical search is the new layer's
    tanh(a). With a ``checkpoint`` folder stage 2 checkpoints every epoch, as the core methods do, and a later
    ``fit`` continues it (stage 1 is given or fitted again: the experiments keep it in its own folder).

    Args: as for :class:`LSH` (without ``lsh_seed``).
    """

    name = "HashGNN_sp"

    def __init__(self, config: RunConfig | None = None, overrides: Sequence[str] | Mapping[str, object] = (),
                 progress: bool = False) -> None:
        super().__init__()
        self.graphsage = GraphSage(config, overrides, progress)
        # stage 2 uses the caller's binarizer settings with the guided method
        self.config = method_config(config, overrides, self.name, defining=("model.method=guided",))
        self.tie_seed, self.n_candidates = self.config.eval.tie_seed, self.config.eval.n_candidates
        self.progress = progress
        self.hash_layer: HashLayer | None = None
        self.frozen_u: torch.Tensor | None = None
        self.resumed_epoch, self.resumed_seconds = 0, 0.0

    def fit(self, split: Split, graphsage: GraphSage | None = None, checkpoint: str | Path | None = None,
            **kwargs) -> HashGNNSeparate:
        """Fit on ``split``. ``graphsage``: an already fitted GraphSage to build on instead of training one; it
        must have been fitted on ``split`` with ``self.graphsage.config`` (else ConfigError) and becomes
        ``self.graphsage``, frozen (eval mode, no gradients; its embeddings are unchanged). ``checkpoint``: a run
        directory stage 2 checkpoints into after every epoch; when it holds a checkpoint of these settings and
        this GraphSage, stage 2 continues after its last epoch (``resumed_epoch`` / ``resumed_seconds`` say how
        far it had come), else starts over. ``seconds`` counts GraphSage's training time plus stage 2's, an
        earlier process's part included."""
        self.graphsage = fit_stage_one(self.graphsage, split, graphsage, self.name)
        gs_model = self.graphsage.result.model
        gs_model.eval()
        for param in gs_model.parameters():
            param.requires_grad_(False)
        # from the trainer that trained it: a full-graph forward, or layer-wise after sampled training
        self.frozen_u = self.graphsage.trainer.encoder_output(gs_model).detach().clone()
        t0 = time.perf_counter()
        run_dir = None if checkpoint is None else RunDir(checkpoint)
        trainer = _StageTwoTrainer(self.frozen_u, self.config, split, run_dir, self.progress)
        result = trainer.fit(resume=run_dir is not None and continuable(trainer, run_dir, self.name))
        self.resumed_epoch, self.resumed_seconds = trainer.resumed_epoch, trainer.resumed_seconds
        self.hash_layer = result.model.hash_layer
        self.log, self.history = result.log, result.history
        self._attach(split, result.embeddings)
        self.seconds = self.graphsage.seconds + time.perf_counter() - t0 + self.resumed_seconds
        return self


class _HashStage(nn.Module):
    """Stage two's model: a new hash layer (eq. 2) and the guided binarizer (eq. 8) on the frozen ``u`` of every
    node (an input, not a parameter: the state dict holds the hash layer only)."""

    def __init__(self, frozen_u: torch.Tensor, n_bits: int, init_std: float, binarizer: GuidedSTE) -> None:
        super().__init__()
        self.frozen_u = frozen_u
        self.hash_layer = HashLayer(frozen_u.shape[1], n_bits, init_std)
        self.binarizer = binarizer

    @torch.no_grad()
    def encode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, h)`` of every node: z = tanh(a) (what hierarchical search re-ranks by), h = sign(z)."""
        z = torch.tanh(self.hash_layer(self.frozen_u))
        return z, sign(z)


class _StageTwoTrainer(Trainer):
    """HashGNN_sp's stage two on the one :class:`~hashgnn.training.trainer.Trainer`: the model is a
    :class:`_HashStage`, a step is eq. 7 on a batch of train edges with ``train.triplets`` negatives each; the
    Trainer seeds, validates (hierarchical Recall@``eval.valid_n``), stops early and keeps the best epoch.

    The stage trains at a constant rate, keeps a better validation by any margin and starts from scratch (the
    caller's ``lr_schedule``, ``min_delta`` and ``init_from`` are GraphSage's), and draws each epoch's batches and
    negatives from its own (seed, epoch, 17) stream, as it did before it ran on the Trainer. Its guided draws
    come from one torch stream across epochs (not re-seeded per epoch, which would change every result recorded
    so far), so each checkpoint carries that stream's state and a resumed run continues it (:meth:`_restore`).
    """

    def __init__(self, frozen_u: torch.Tensor, config: RunConfig, split: Split, run_dir: RunDir | None = None,
                 progress: bool = False) -> None:
        self.frozen_u = frozen_u
        train = replace(config.train, lr_schedule="constant", min_delta=0.0, init_from=None)
        super().__init__(replace(config, train=train), split, run_dir, progress)

    def _prepare(self, train: Interactions) -> None:
        """Only the negative sampler: the frozen u replaces the graph."""
        self.sampler = NegativeSampler(self.train_users, self.train_items, self.n_items)

    def settings(self) -> dict[str, Any]:
        """The frozen u a checkpoint was trained on (a digest): another GraphSage's must not be continued."""
        digest = hashlib.sha256(self.frozen_u.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
        return {"frozen_u": digest}

    def _new_state(self) -> dict[str, Any]:
        return {**super()._new_state(), "torch_rng": None}

    def _end_of_epoch(self, model: _HashStage, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> bool:
        # where the guided draws' stream stands after this epoch's steps, saved with the epoch's checkpoint
        state["torch_rng"] = torch.get_rng_state()
        return super()._end_of_epoch(model, optimizer, state, epoch)

    def _restore(self, model: _HashStage, optimizer: torch.optim.Optimizer) -> dict:
        state = super()._restore(model, optimizer)
        torch.set_rng_state(state["torch_rng"])  # the next epoch draws what it would have drawn uninterrupted
        return state

    def build_model(self) -> _HashStage:
        mcfg = self.config.model
        binarizer = GuidedSTE(**mcfg.binarizer_kwargs(), steps_per_epoch=self.steps_per_epoch())
        return _HashStage(self.frozen_u, mcfg.n_bits, mcfg.init_std, binarizer)

    def _run_epoch(self, model: _HashStage, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> None:
        tcfg = self.config.train
        rng = np.random.default_rng([self.config.seed, epoch, 17])
        order = rng.permutation(len(self.train_users))
        bs = tcfg.batch_size
        n_batches = math.ceil(len(order) / bs)
        for b in range(n_batches):
            idx = order[b * bs:(b + 1) * bs]
            users, pos = self.train_users[idx], self.train_items[idx]
            loss, cross, rank = self._loss(model, users, pos, self.sampler.sample(users, tcfg.triplets, rng))
            self._step(model, optimizer, loss, state, n_batches)
            if state["iteration"] % tcfg.log_every == 0 or b == n_batches - 1:
                state["log"].append({"iteration": state["iteration"], "epoch": epoch, "loss": loss.item(),
                                     "loss_cross": cross.item(), "loss_rank": rank.item(),
                                     **model.binarizer.state()})

    def _loss(self, model: _HashStage, users: np.ndarray, pos: np.ndarray,
              neg: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(L, L_cross, L_rank)`` of eq. 7 on a batch."""
        tcfg, n_users = self.config.train, self.n_users
        # only the batch's nodes go through the layer (u is fixed), in np.unique order
        nodes, (pos_u, pos_i, pos_m) = batch_rows(len(model.frozen_u), users, pos + n_users, neg + n_users)
        h = model.binarizer(model.hash_layer(model.frozen_u[torch.from_numpy(nodes)]))
        scores = pair_scores(h, torch.from_numpy(pos_u), torch.from_numpy(pos_i), torch.from_numpy(pos_m),
                             self.config.model.scale())
        return hashgnn_loss(*scores, tcfg.lam, tcfg.margin, tcfg.rank_loss)

    def validate(self, model: _HashStage) -> float:
        ecfg = self.config.eval
        return valid_recall(self.embeddings(model, with_codes=True), self.split, "hierarchical", ecfg.valid_n,
                            ecfg.n_candidates, ecfg.tie_seed)

    def embeddings(self, model: _HashStage, with_codes: bool) -> Embeddings:
        z, h = (x.numpy() for x in model.encode())
        u = self.n_users
        return Embeddings.from_signs(z[:u], z[u:], h[:u], h[u:])
