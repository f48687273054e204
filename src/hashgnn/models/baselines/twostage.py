"""Two-stage hashing baselines built on a trained GraphSage (paper 5.2.2): LSH and HashGNN_sp.

Both first fit :class:`~hashgnn.models.baselines.core.GraphSage` (the core with ``model.method=continuous``)
on the split, then hash its output without touching the GraphSAGE weights again. ``fit(split, graphsage=gs)``
skips that first stage and hashes an already fitted GraphSage instead (the experiments train one GraphSage per
dataset and seed and share it between the GraphSage, LSH and HashGNN_sp rows); ``gs`` must have been fitted on
the same split with exactly the config the method would have trained, else :class:`~hashgnn.errors.ConfigError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hashgnn.config import RunConfig, config_differences
from hashgnn.data.splits import Split
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.losses import hashgnn_loss, pair_scores
from hashgnn.models.base import Embeddings
from hashgnn.models.baselines.common import FittedRecommender, valid_recall
from hashgnn.models.baselines.core import GraphSage, apply_overrides
from hashgnn.models.hashing import GuidedSTE, HashLayer, sign
from hashgnn.seed import seed_everything
from hashgnn.training.negatives import NegativeSampler


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


@dataclass
class _StageTwo:
    """What stage 2 needs only while it trains (dropped with it, so a fitted model keeps none of it)."""

    edges: tuple[np.ndarray, np.ndarray]
    sampler: NegativeSampler
    binarizer: GuidedSTE
    optimizer: torch.optim.Optimizer


class HashGNNSeparate(FittedRecommender):
    """HashGNN_sp: GraphSage first, then only a hash layer on its frozen representations.

    Stage 1 fits :class:`GraphSage`. Its encoder output **u** (the 2-layer GraphSAGE representation of eq. 1,
    before GraphSage's own tanh head) is computed once and frozen (no gradient reaches GraphSAGE). Stage 2 trains
    a new :class:`~hashgnn.models.hashing.HashLayer` (eq. 2) with the guided binarizer (eq. 8) under the same
    loss (eq. 5–7, :func:`hashgnn.losses.hashgnn_loss`), train edges, negatives
    (:class:`~hashgnn.training.negatives.NegativeSampler`'s draws, ``train.triplets`` per edge), batch size, lr,
    epochs, p schedule and ``train.threads`` as the core. The checkpoint with the best validation hierarchical
    Recall@``eval.valid_n`` is kept. The continuous z used by hierarchical search is the new layer's tanh(a).

    Args: as for :class:`LSH` (without ``lsh_seed``).
    """

    name = "HashGNN_sp"

    def __init__(self, config: RunConfig | None = None, overrides: Sequence[str] | Mapping[str, object] = (),
                 progress: bool = False) -> None:
        super().__init__()
        self.graphsage = GraphSage(config, overrides, progress)
        # stage 2 uses the caller's binarizer settings with the guided method
        self.config = apply_overrides(config, overrides).override(["model.method=guided"]).validate()
        self.tie_seed, self.n_candidates = self.config.eval.tie_seed, self.config.eval.n_candidates
        self.hash_layer: HashLayer | None = None
        self.frozen_u: torch.Tensor | None = None

    def fit(self, split: Split, graphsage: GraphSage | None = None, **kwargs) -> HashGNNSeparate:
        """Fit on ``split``. ``graphsage``: an already fitted GraphSage to build on instead of training one; it
        must have been fitted on ``split`` with ``self.graphsage.config`` (else ConfigError) and becomes
        ``self.graphsage``, frozen (eval mode, no gradients; its embeddings are unchanged). ``seconds`` counts
        its training time plus stage 2's either way."""
        self.graphsage = fit_stage_one(self.graphsage, split, graphsage, self.name)
        gs_model, graph = self.graphsage.result.model, self.graphsage.trainer.graph
        gs_model.eval()
        for param in gs_model.parameters():
            param.requires_grad_(False)
        with torch.no_grad():
            self.frozen_u = gs_model.encoder(gs_model.input(), graph).detach().clone()
        t0 = time.perf_counter()
        self._fit_hash_layer(split)
        self.seconds = self.graphsage.seconds + time.perf_counter() - t0
        return self

    def _encode(self) -> Embeddings:
        n_users = self.split_n_users
        with torch.no_grad():
            z = torch.tanh(self.hash_layer(self.frozen_u))
            h = sign(z)
        z_np, h_np = z.numpy(), h.numpy()
        return Embeddings.from_signs(z_np[:n_users], z_np[n_users:], h_np[:n_users], h_np[n_users:])

    def _fit_hash_layer(self, split: Split) -> None:
        cfg, tcfg, mcfg = self.config, self.config.train, self.config.model
        if tcfg.threads:  # as the core Trainer: stage 2 may run without a Trainer in this process (reused stage 1)
            torch.set_num_threads(tcfg.threads)
        seed_everything(cfg.seed)
        inter = split.interactions
        self.split_n_users = inter.n_users
        self.hash_layer = HashLayer(self.frozen_u.shape[1], mcfg.n_bits, mcfg.init_std)
        edges = split.train.users.astype(np.int64), split.train.items.astype(np.int64)
        self._batch = tcfg.batch_for(len(edges[0]))  # the core's batch (None: adapted to the train edges)
        binarizer = GuidedSTE(**mcfg.binarizer_kwargs(), steps_per_epoch=tcfg.steps_per_epoch(len(edges[0])))
        stage = _StageTwo(edges, NegativeSampler(*edges, inter.n_items), binarizer,
                          torch.optim.Adam(self.hash_layer.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay))
        best, best_state, bad, iteration = -math.inf, None, 0, 0
        self.log, self.history = [], []
        for epoch in range(1, tcfg.epochs + 1):
            iteration = self._train_epoch(stage, epoch, iteration)
            record: dict[str, float] = {"epoch": epoch, "iteration": iteration}
            if epoch % tcfg.valid_every == 0 or epoch == tcfg.epochs:
                metric = valid_recall(self._encode(), split, "hierarchical", cfg.eval.valid_n,
                                      cfg.eval.n_candidates, cfg.eval.tie_seed)
                record[f"valid_recall@{cfg.eval.valid_n}"] = metric
                if not metric <= best:  # NaN (no validation users) keeps the latest weights
                    best, bad = metric, 0
                    best_state = {k: v.clone() for k, v in self.hash_layer.state_dict().items()}
                else:
                    bad += 1
            self.history.append(record)
            if bad >= tcfg.patience:
                break
        if best_state is not None:
            self.hash_layer.load_state_dict(best_state)
        self._attach(split, self._encode())

    def _train_epoch(self, stage: _StageTwo, epoch: int, iteration: int) -> int:
        """One pass over the shuffled train edges; returns the iteration count after it."""
        tcfg = self.config.train
        users_all, items_all = stage.edges
        rng = np.random.default_rng([self.config.seed, epoch, 17])
        order = rng.permutation(len(users_all))
        n_batches = math.ceil(len(order) / self._batch)
        for b in range(n_batches):
            idx = order[b * self._batch:(b + 1) * self._batch]
            users, pos = users_all[idx], items_all[idx]
            loss, cross, rank = self._step(stage, users, pos, stage.sampler.sample(users, tcfg.triplets, rng))
            iteration += 1
            stage.binarizer.step(iteration)
            if not torch.isfinite(loss):
                raise ArtifactError(f"HashGNN_sp diverged at iteration {iteration}")
            if iteration % tcfg.log_every == 0 or b == n_batches - 1:
                self.log.append({"iteration": iteration, "epoch": epoch, "loss": loss.item(),
                                 "loss_cross": cross.item(), "loss_rank": rank.item(), **stage.binarizer.state()})
        return iteration

    def _step(self, stage: _StageTwo, users: np.ndarray, pos: np.ndarray,
              neg: np.ndarray) -> tuple[torch.Tensor, ...]:
        """One Adam step of eq. 7 on a batch; returns ``(L, L_cross, L_rank)``."""
        tcfg, n_users = self.config.train, self.split_n_users
        # only the batch's nodes go through the layer (u is fixed), in np.unique order as before
        nodes, (pos_u, pos_i, pos_m) = batch_rows(len(self.frozen_u), users, pos + n_users, neg + n_users)
        h = stage.binarizer(self.hash_layer(self.frozen_u[torch.from_numpy(nodes)]))
        scores = pair_scores(h, torch.from_numpy(pos_u), torch.from_numpy(pos_i), torch.from_numpy(pos_m),
                             self.config.model.scale())
        loss, cross, rank = hashgnn_loss(*scores, tcfg.lam, tcfg.margin, tcfg.rank_loss)
        stage.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stage.optimizer.step()
        return loss, cross, rank
