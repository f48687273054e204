"""Mini-batch (GraphSAGE neighbour-sampled) training of HashGNN: the same model, a bounded computation graph.

The full-graph :class:`~hashgnn.training.trainer.Trainer` propagates over every edge on every step, which stops
scaling at the paper's Alibaba size (4.77 M nodes). Here each step only touches the sampled ``L``-hop
neighbourhood of the nodes the loss needs:

1. a batch of train edges ``(u, i)`` and ``T`` negatives ``m`` per edge (same streams as the Trainer);
2. seeds = the distinct users/items among them; :class:`~hashgnn.data.sampling.NeighborSampler` (fan-outs
   ``(10, 5)`` by default, seeds' hop first) returns their computation graph — ``n_id`` and one small mean
   operator per layer;
3. ``h = emb[n_id]``, then every :class:`~hashgnn.models.encoders.SAGEMeanLayer` of the encoder with the sampled
   operator (eq. 1's MEAN over the node and its *sampled* neighbours), hash layer, binarizer, and the loss of
   eq. 7 on the seeds.

The parameters are exactly those of :class:`~hashgnn.models.hashgnn.HashGNNModel` (only the propagation
differs), so checkpoints, ``best.pt`` and the run directory are interchangeable with full-graph training; with
every fan-out ``-1`` the forward *is* the full-graph forward on the seeds (tested). Validation and the final
embeddings use exact layer-wise inference (:mod:`hashgnn.training.inference`), never sampling.

Everything else (run-directory layout, checkpoint every epoch, best-by-validation selection, early stopping,
resume with per-epoch seeded streams) is inherited from the Trainer. The sampler's generator is re-seeded
from ``(seed, epoch)`` at each epoch so a resumed run samples the same neighbourhoods.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from hashgnn.config import RunConfig
from hashgnn.data.graph import BipartiteGraph, with_transpose
from hashgnn.data.sampling import CSRGraph, NeighborSampler, SampledSubgraph
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.losses import batch_objective
from hashgnn.models.base import Embeddings
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.training.inference import DEFAULT_CHUNK, _sage_encoder, layerwise_encode, layerwise_encoder_output
from hashgnn.training.negatives import NegativeSampler
from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import Trainer, auc, valid_mode

__all__ = ["DEFAULT_FANOUTS", "MiniBatchTrainer", "SampledForward", "batch_seeds", "debias_operators",
           "fanouts_from_config"]

#: GraphSAGE's usual fan-outs for 2 layers (the hop next to the seeds first).
DEFAULT_FANOUTS: tuple[int, ...] = (10, 5)


def fanouts_from_config(config: RunConfig) -> tuple[int, ...]:
    """``train.fanouts`` when the config has it (lead's hook), else :data:`DEFAULT_FANOUTS` cut to the depth."""
    fan = getattr(config.train, "fanouts", None)
    layers = len(config.model.dims)
    if fan is None:  # (10, 5) for the paper's 2 layers; deeper encoders keep 5 per extra hop
        fan = (DEFAULT_FANOUTS[0], *[DEFAULT_FANOUTS[1]] * (layers - 1))
    fan = tuple(int(f) for f in fan)
    if len(fan) != layers:
        raise ConfigError(f"train.fanouts has {len(fan)} hops but the encoder has {layers} layers (model.dims)")
    return fan


class SampledForward(nn.Module):
    """The model's forward on a :class:`SampledSubgraph`: pre-activations ``a`` of the seeds ``[n_seeds, K]``.

    A module (not a function) so :class:`~torch.nn.parallel.DistributedDataParallel` can wrap it: DDP must see
    the forward call to arm its gradient all-reduce. It owns no parameters of its own: ``self.model`` is the
    :class:`HashGNNModel`, whose ``state_dict`` is what checkpoints store.

    Args:
        model: The model (``sage`` encoder).
        sparse_embedding: Gather the id embeddings with ``F.embedding(sparse=True)`` so the embedding gradient
            is a sparse tensor over the batch's rows (pair with a sparse optimiser). Dense by default: that is
            the core's ``nn.Embedding(sparse=False)`` semantics, and what DDP all-reduces.
    """

    def __init__(self, model: HashGNNModel, sparse_embedding: bool = False) -> None:
        super().__init__()
        _sage_encoder(model)
        self.model = model
        self.sparse_embedding = sparse_embedding

    def forward(self, n_id: Tensor, operators: Sequence[Tensor], operators_t: Sequence[Tensor]) -> Tensor:
        model, enc = self.model, self.model.encoder
        if len(operators) != len(enc.layers):
            raise ConfigError(f"the subgraph has {len(operators)} hops, the encoder {len(enc.layers)} layers")
        weight = model.input.embedding.weight
        x = F.embedding(n_id, weight, sparse=True) if self.sparse_embedding else weight[n_id]
        if model.input.features.numel():
            x = torch.cat([x, model.input.features[n_id]], dim=1)
        x = model.normalized(enc.layer_outputs(x, list(zip(operators, operators_t, strict=True)))[-1])
        return model.hash(x, n_id[:len(x)])  # the last hop's targets are a prefix of n_id


def debias_operators(sub: SampledSubgraph, degrees: np.ndarray) -> SampledSubgraph:
    """Reweight a sample's mean operators so each row is an unbiased estimate of the full ``Â`` row.

    The sampler's row ``i`` gives ``1/(k_i+1)`` to the node itself and to each of its ``k_i`` sampled
    neighbours, so a hub of degree ``d_i = 500`` sampled at ``k_i = 10`` keeps 1/11 of itself where the full
    graph (and therefore inference) keeps 1/501. Here the self weight is ``1/(d_i+1)`` and each sampled
    neighbour gets ``(d_i/k_i)/(d_i+1)``: the expectation over uniform samples is the full mean of eq. 1
    (exact when ``k_i = d_i``, e.g. fan-out ``-1``). Returns a new subgraph; ``degrees`` are the full degrees.
    """
    ops, ops_t = [], []
    n_layers = len(sub.operators)
    for layer, a in enumerate(sub.operators):
        # Same entries as the sampled operator, new values: row i's own column is source i (targets first).
        n_rows = sub.hop_sizes[n_layers - 1 - layer]
        crow, col = a.crow_indices(), a.col_indices()
        k = np.diff(crow.numpy()) - 1
        d = degrees[sub.n_id[:n_rows]].astype(np.float64)
        row = np.repeat(np.arange(n_rows), k + 1)
        per_nbr = np.where(k > 0, d / np.maximum(k, 1), 0.0) / (d + 1.0)
        vals = np.where(col.numpy() == row, 1.0 / (d + 1.0)[row], per_nbr[row]).astype(np.float32)
        a_new, a_new_t = with_transpose(torch.sparse_csr_tensor(crow, col, torch.from_numpy(vals), size=a.shape,
                                                                check_invariants=False))
        ops.append(a_new)
        ops_t.append(a_new_t)
    return SampledSubgraph(n_id=sub.n_id, hop_sizes=sub.hop_sizes, operators=ops, operators_t=ops_t,
                           seed_index=sub.seed_index, n_sampled_edges=sub.n_sampled_edges)


def batch_seeds(users: np.ndarray, pos_items: np.ndarray, neg_items: np.ndarray, n_users: int) -> np.ndarray:
    """Global node ids of a batch, laid out ``[users (B), positives (B), negatives (B·T)]``, duplicates kept.

    The sampler deduplicates them into seeds and returns ``seed_index`` in this same layout, so the loss can
    slice users, positives and negatives back out.
    """
    return np.concatenate([users, pos_items + n_users, neg_items.reshape(-1) + n_users]).astype(np.int64)


class MiniBatchTrainer(Trainer):
    """:class:`Trainer` with GraphSAGE neighbour sampling instead of full-graph propagation.

    Args:
        config: The run configuration (the ``sage`` encoder is required).
        split: Train/valid/test split.
        run_dir: Run directory (same files as the Trainer's).
        progress: tqdm bar.
        fanouts: Neighbours per hop, seeds' hop first, ``-1`` = all (default: ``train.fanouts`` if the config
            has it, else ``(10, 5)``).
        chunk_size: Rows per operator slice in layer-wise validation/encoding.
        sparse_embedding: Sparse gradients + ``SparseAdam`` (lazy Adam) for the id embeddings, dense ``Adam`` for
            the rest. At 4.77 M nodes the dense path updates all 305 M embedding entries every step; the sparse
            path touches only the batch's rows. Off by default (same optimiser as the Trainer, needed for DDP);
            requires ``train.weight_decay == 0``.
        debias: Reweight the sampled operators to unbiased estimates of the full ``Â`` rows
            (:func:`debias_operators`), so training sees the same self/neighbour balance as inference
            (default: ``train.debias``, on).
        rank, world_size: Data-parallel position (see :mod:`hashgnn.training.distributed`); each rank trains on
            the rank-strided share of every global batch of ``world_size * train.batch_size`` edges.
    """

    def __init__(self, config: RunConfig, split: Split, run_dir: RunDir | None = None, progress: bool = True,
                 fanouts: Sequence[int] | None = None, chunk_size: int = DEFAULT_CHUNK,
                 sparse_embedding: bool = False, rank: int = 0, world_size: int = 1,
                 debias: bool | None = None) -> None:
        if config.model.encoder != "sage":
            raise ConfigError(f"mini-batch training needs model.encoder='sage', got {config.model.encoder!r}")
        if sparse_embedding and config.train.weight_decay:
            raise ConfigError("sparse_embedding uses SparseAdam, which has no weight decay; set "
                              "train.weight_decay=0")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside world size {world_size}")
        self.rank, self.world_size = rank, world_size
        self.fanouts = tuple(int(f) for f in fanouts) if fanouts is not None else fanouts_from_config(config)
        if len(self.fanouts) != len(config.model.dims):
            raise ConfigError(f"{len(self.fanouts)} fan-outs for {len(config.model.dims)} encoder layers")
        self.chunk_size = chunk_size
        self.sparse_embedding = sparse_embedding
        self.debias = config.train.debias if debias is None else debias
        self.on_step: list[Callable[[MiniBatchTrainer, HashGNNModel, int], None]] = []
        #: Stop each epoch after this many steps (benchmarks measuring throughput); None = whole epoch.
        self.max_steps_per_epoch: int | None = None
        self._forward: nn.Module | None = None
        super().__init__(config, split, run_dir, progress)  # validates, then the split and :meth:`_prepare`

    def _prepare(self, train) -> None:
        """The sampled steps' inputs instead of the full-graph operators (GiBs at scale, never used here): the
        train graph's CSR and neighbour sampler, the negative sampler and the held-out AUC pairs."""
        self.bipartite = BipartiteGraph.from_interactions(train)
        self.csr = CSRGraph.from_bipartite(self.bipartite)
        self.neighbors = NeighborSampler(self.bipartite, list(self.fanouts), seed=self.config.seed, csr=self.csr)
        self._degrees = self.csr.degrees()
        self.sampler = NegativeSampler(self.train_users, self.train_items, self.n_items)
        self._auc_pairs = self._held_out_pairs()

    # --- hooks the distributed trainer overrides -----------------------------------------------------------
    def wrap_forward(self, forward: SampledForward) -> nn.Module:
        """The module called each step (DDP wraps it); identity here."""
        return forward

    def all_reduce_mean(self, value: float) -> float:
        """Mean of a scalar over ranks (identity here); used for logged losses."""
        return value

    # --- optimiser: dense Adam (Trainer's) or Adam + SparseAdam --------------------------------------------
    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """Adam over the weights; with ``sparse_embedding``, SparseAdam over the id embeddings (first param)."""
        tcfg = self.config.train
        params = list(params)
        n_nodes = self.n_users + self.n_items
        if not self.sparse_embedding:
            return torch.optim.Adam(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        emb = params[0]  # HashGNNModel registers input.embedding.weight first
        if emb.dim() != 2 or emb.shape[0] != n_nodes:
            raise ConfigError("sparse_embedding expects the id embedding as the model's first parameter")
        return _PairedOptimizer(torch.optim.Adam(params[1:], lr=tcfg.lr), torch.optim.SparseAdam([emb], lr=tcfg.lr))

    # --- one epoch of sampled steps --------------------------------------------------------------------------
    def _run_epoch(self, model: HashGNNModel, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> None:
        cfg, tcfg = self.config, self.config.train
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100003 + epoch + 7919 * self.rank)
        # Neighbourhoods from their own (seed, epoch, rank) stream: resume samples the same subgraphs.
        self.neighbors.rng = np.random.default_rng([cfg.seed, epoch, 1, self.rank])
        forward = self._forward_module(model)
        order = rng.permutation(len(self.train_users))
        global_batch = tcfg.batch_size * self.world_size
        n_batches = math.ceil(len(order) / global_batch)
        scale = cfg.model.scale()
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{tcfg.epochs}",
                   disable=not self.progress or self.rank != 0, leave=False)
        for b in bar:
            if self.max_steps_per_epoch is not None and b >= self.max_steps_per_epoch:
                break
            gidx = order[b * global_batch:(b + 1) * global_batch]
            # Negatives for the whole global batch from the shared stream, then this rank's stride: every rank
            # consumes the generator identically, and a single process with the global batch draws the same.
            g_users = self.train_users[gidx]
            g_neg = self.sampler.sample(g_users, tcfg.triplets, rng)
            mine = slice(self.rank, None, self.world_size)
            users, pos_items, neg_items = g_users[mine], self.train_items[gidx][mine], g_neg[mine]
            # Weight by this rank's share so the DDP-averaged gradient is the global batch's mean gradient
            # (ranks' shares differ by one edge when the global batch does not divide evenly).
            weight = len(users) * self.world_size / len(gidx)
            if len(users) == 0:  # a tiny last global batch can leave a rank empty; it still joins the all-reduce
                users, pos_items, neg_items = g_users[:1], self.train_items[gidx][:1], g_neg[:1]
            n_b = len(users)
            seeds = batch_seeds(users, pos_items, neg_items, self.n_users)
            if tcfg.shared_negatives:  # drawn from the global stream too, so every rank shares the same items
                shared_items, taken = self.sampler.shared(users, tcfg.shared_negatives, rng)
                seeds = np.concatenate([seeds, shared_items + self.n_users])
            sub = self.neighbors.sample(seeds)
            if self.debias:
                sub = debias_operators(sub, self._degrees)
            a = forward(*self._to_device(sub))
            h = model.relaxed(a)
            idx = torch.from_numpy(sub.seed_index).to(self.device)
            n_pairs = n_b * (2 + tcfg.triplets)
            shared = None if not tcfg.shared_negatives else (idx[n_pairs:], torch.from_numpy(taken).to(self.device))
            loss, cross, rank_loss = batch_objective(
                h, a, idx[:n_b], idx[n_b:2 * n_b], idx[2 * n_b:n_pairs].view(n_b, tcfg.triplets), scale, tcfg.lam,
                tcfg.margin, tcfg.rank_loss, **tcfg.extra_terms(epoch), shared=shared,
                bias=model.link_bias)
            self._step(model, optimizer, loss, state, n_batches, weight)
            for hook in self.on_step:
                hook(self, model, state["iteration"])
            sched = model.binarizer.state()
            if state["iteration"] % tcfg.log_every == 0 or b == n_batches - 1:
                row = {"iteration": state["iteration"], "epoch": epoch,
                       "loss": self.all_reduce_mean(loss.item()), "loss_cross": self.all_reduce_mean(cross.item()),
                       "loss_rank": self.all_reduce_mean(rank_loss.item()), "seeds": sub.n_seeds,
                       "sampled_nodes": len(sub.n_id), **sched}
                if b == n_batches - 1:
                    row.update(self._sampled_auc(forward, model))
                state["log"].append(row)
            bar.set_postfix(loss=f"{loss.item():.4f}", **{k: f"{v:.3f}" for k, v in sched.items()})

    def _forward_module(self, model: HashGNNModel) -> nn.Module:
        if self._forward is None or self._forward_model is not model:
            self._forward = self.wrap_forward(SampledForward(model, self.sparse_embedding))
            self._forward_model = model
        return self._forward

    def _to_device(self, sub: SampledSubgraph) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        dev = self.device
        return (torch.from_numpy(sub.n_id).to(dev), [a.to(dev) for a in sub.operators],
                [a.to(dev) for a in sub.operators_t])

    @torch.no_grad()
    def _sampled_auc(self, forward: nn.Module, model: HashGNNModel, max_pairs: int = 2000) -> dict[str, float]:
        """AUC of held-out links vs non-links (Figure 6's curve) from a *sampled* forward of those nodes only.

        The Trainer reads it off the full ``a`` it already has; here a full encode per log row would defeat the
        point, so a fixed subset of the held-out pairs is encoded with the sampler (an estimate of the same
        quantity, logged once per epoch).
        """
        users, items, negs = (p[:max_pairs] for p in self._auc_pairs)
        n = len(users)
        nodes = np.concatenate([users, items + self.n_users, negs + self.n_users]).astype(np.int64)
        sub = self.neighbors.sample(nodes)
        if self.debias:
            sub = debias_operators(sub, self._degrees)
        was = model.training
        model.eval()
        n_id, ops, ops_t = self._to_device(sub)
        a = forward.module(n_id, ops, ops_t) if hasattr(forward, "module") else forward(n_id, ops, ops_t)
        model.train(was)
        a = a[torch.from_numpy(sub.seed_index).to(self.device)].cpu()
        z = torch.tanh(a)
        h = torch.where(z >= 0, 1.0, -1.0)
        out = {}
        for name, x in (("auc_h", h), ("auc_z", z)):
            u, i, m = x[:n], x[n:2 * n], x[2 * n:]
            out[name] = auc((u * i).sum(1).numpy(), (u * m).sum(1).numpy())
        return out

    # --- exact layer-wise encoding for validation and the final embeddings ---------------------------------
    def encode(self, model: HashGNNModel) -> tuple[Tensor, Tensor]:
        """``(z, h)`` of every node by layer-wise full-graph inference (exact, bounded memory)."""
        return layerwise_encode(model, self.csr, self.chunk_size)

    def encoder_output(self, model: HashGNNModel) -> Tensor:
        return layerwise_encoder_output(model, self.csr, self.chunk_size)

    def embeddings(self, model: HashGNNModel, with_codes: bool) -> Embeddings:
        z, h = self.encode(model)
        z_np, h_np = z.cpu().numpy(), h.cpu().numpy()
        u = self.n_users
        if not with_codes:
            return Embeddings.from_signs(z_np[:u], z_np[u:], None, None)
        return Embeddings.from_signs(z_np[:u], z_np[u:], h_np[:u], h_np[u:])

    def validate(self, model: HashGNNModel) -> float:
        from hashgnn.evaluation.protocol import evaluate_part

        cfg = self.config
        mode = valid_mode(cfg)
        emb = self.embeddings(model, with_codes=mode != "continuous")
        res = evaluate_part(emb, self.split, "valid", modes=(mode,), ns=(cfg.eval.valid_n,),
                            protocols=("standard",), n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed,
                            max_users=cfg.eval.max_valid_users)
        return res[mode]["standard"][f"recall@{cfg.eval.valid_n}"]

    def training_info(self) -> dict[str, Any]:
        return {"sampler": "neighbor", "fanouts": list(self.fanouts), "world_size": self.world_size}


class _PairedOptimizer(torch.optim.Optimizer):
    """Dense Adam for the weights + SparseAdam for the id embeddings, behind one optimiser interface.

    Trainer's checkpoint code calls ``state_dict``/``load_state_dict``/``zero_grad``/``step``; those are the only
    methods forwarded.
    """

    def __init__(self, dense: torch.optim.Optimizer, sparse: torch.optim.Optimizer) -> None:  # noqa: D107
        self.dense, self.sparse = dense, sparse
        self.param_groups = dense.param_groups + sparse.param_groups
        self.defaults = dense.defaults
        self.state = {}  # type: ignore[assignment]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none)
        self.sparse.zero_grad(set_to_none)

    def step(self, closure=None):  # noqa: ANN001, ANN201
        self.dense.step()
        self.sparse.step()

    def state_dict(self) -> dict[str, Any]:
        return {"dense": self.dense.state_dict(), "sparse": self.sparse.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"dense", "sparse"}:
            raise ConfigError("this checkpoint's optimiser state is a dense Adam; resume it with "
                              "sparse_embedding=False")
        self.dense.load_state_dict(state_dict["dense"])
        self.sparse.load_state_dict(state_dict["sparse"])
