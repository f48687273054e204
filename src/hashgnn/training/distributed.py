"""Data-parallel mini-batch training with ``torch.distributed`` (gloo on CPU, nccl on CUDA).

Launch (one process per core/GPU, any number of machines)::

    torchrun --nproc-per-node 2 -m hashgnn train --distributed ...
    torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m hashgnn train ...

Design, and why:

* **Same data order everywhere.** Every rank draws the epoch's edge permutation and the global batch's negatives
  from the shared ``(seed, epoch)`` stream, then keeps the rank-strided share ``rank::world_size`` of each global
  batch of ``world_size x train.batch_size`` edges. No edge lists are exchanged, and a single process run with
  the global batch sees exactly the same positives and negatives.
* **Gradients.** The sampled forward (:class:`~hashgnn.training.minibatch.SampledForward`) is wrapped in
  ``DistributedDataParallel``; each rank's loss is weighted by its share of the global batch, so DDP's averaged
  gradient equals the single-process gradient of the global batch. The id embedding keeps dense gradients
  (``nn.Embedding(sparse=False)``, as in the core model), so every step all-reduces ``N x d`` floats — fine up to
  millions of nodes on a fast interconnect; the single-process ``sparse_embedding`` option is the
  memory-bandwidth alternative.
* **One writer.** Rank 0 writes the run directory and checkpoints (same files as a single-process run); every
  rank resumes from ``checkpoints/last.pt``. Validation metric, early stopping and the time budget are decided
  on rank 0 and broadcast, so ranks can never disagree about stopping (which would hang the collectives).
* **Inference.** Layer-wise full-graph encoding splits each layer's rows into contiguous rank blocks and
  all-gathers the layer output; evaluation shards the users with held-out items across ranks and gathers the
  hit matrices on rank 0 for the metric.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch import Tensor, nn

from hashgnn.config import RunConfig
from hashgnn.data.splits import Split
from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.errors import ConfigError
from hashgnn.models.base import Embeddings
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.training.inference import layerwise_encode
from hashgnn.training.minibatch import MiniBatchTrainer, SampledForward
from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import TrainResult, valid_mode

__all__ = ["DistributedMiniBatchTrainer", "distributed_encode", "distributed_evaluate", "init_distributed",
           "is_distributed_env", "parameter_checksum", "run_distributed"]


def is_distributed_env() -> bool:
    """Whether this process was started by torchrun with more than one process (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: str = "cpu") -> bool:
    """Join the process group torchrun describes in the environment; returns whether this call created it.

    gloo for CPU training (works everywhere, including this repository's CI), nccl when ``device`` is CUDA.
    """
    if dist.is_initialized():
        return False
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ConfigError(f"distributed training needs ${key}; launch with torchrun (see README 'Scaling "
                              "out')")
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl" and not dist.is_nccl_available():
        raise ConfigError("train.device is cuda but this torch build has no NCCL")
    dist.init_process_group(backend=backend)
    return True


def parameter_checksum(model: nn.Module) -> Tensor:
    """Two float64 numbers summarising every parameter (sum and position-weighted sum of squares).

    Cheap to all-gather every step; replicas that diverge by even one entry differ here.
    """
    total = torch.zeros(2, dtype=torch.float64)
    for i, p in enumerate(model.parameters()):
        q = p.detach().double().cpu()
        total[0] += q.sum()
        total[1] += (i + 1) * (q * q).sum()
    return total


def _all_gather_rows(block: Tensor, counts: Sequence[int]) -> Tensor:
    """Concatenate every rank's ``[counts[r], d]`` block in rank order (padded to equal size for gloo)."""
    width = max(counts)
    padded = block.new_zeros(width, block.shape[1])
    padded[:len(block)] = block
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded)
    return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)])


def _row_blocks(n: int, world: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, world + 1).astype(np.int64)
    return [(int(bounds[r]), int(bounds[r + 1])) for r in range(world)]


@torch.no_grad()
def distributed_encode(model: HashGNNModel, graph: Any, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Layer-wise full-graph ``(z, h)`` of every node, each rank computing a contiguous block of rows per layer.

    Every rank ends with the full result (the evaluation needs all items' codes on every rank).
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    from hashgnn.training.inference import as_csr_graph

    csr = as_csr_graph(graph)
    blocks = _row_blocks(csr.num_nodes, world)
    counts = [b - a for a, b in blocks]

    def gather(block: Tensor, rows: tuple[int, int]) -> Tensor:
        return _all_gather_rows(block, counts)

    z, _ = layerwise_encode(model, csr, chunk_size, rows=blocks[rank], gather=gather)
    z = _all_gather_rows(z, counts)
    return z, torch.where(z >= 0, 1.0, -1.0)


def distributed_evaluate(emb: Embeddings, split: Split, part: str = "valid", mode: str = "hierarchical",
                         ns: tuple[int, ...] = (50,), protocol: str = "standard",
                         n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0,
                         batch_users: int = 8192) -> dict[str, float]:
    """Ranking metrics of ``part`` over all its users, the users sharded ``rank::world`` across ranks.

    Same definitions as :func:`hashgnn.evaluation.protocol.evaluate_part` (train items excluded under the
    ``standard`` protocol); each rank computes the hit matrix of its users, rank 0 computes the means over the
    gathered rows, and the result is broadcast so every rank returns the same dict.
    """
    from hashgnn.evaluation.metrics import hit_matrix, ranking_metrics
    from hashgnn.evaluation.search import search_users

    world, rank = dist.get_world_size(), dist.get_rank()
    inter = split.interactions
    n_users, n_items = inter.n_users, inter.n_items
    truth_inter = split.test if part == "test" else split.valid
    truth = _csr(truth_inter.users, truth_inter.items, n_users, n_items)
    seen_idx = split.train_idx if part == "valid" else np.concatenate([split.train_idx, split.valid_idx])
    seen_inter = inter.select(seen_idx)
    seen = _csr(seen_inter.users, seen_inter.items, n_users, n_items)
    users = np.flatnonzero(np.diff(truth.indptr) > 0)[rank::world]
    k = max(ns)
    hits = np.zeros((len(users), k), dtype=bool)
    for start in range(0, len(users), batch_users):
        b = users[start:start + batch_users]
        exclude = seen[b] if protocol == "standard" else None
        ids, _ = search_users(emb, b, k, mode, exclude, n_candidates, tie_seed)
        hits[start:start + len(b)] = hit_matrix(ids, b, truth)
    n_rel = np.diff(truth.indptr)[users]
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, (np.packbits(hits, axis=1), n_rel, k))
    result: list[Any] = [None]
    if rank == 0:
        all_hits = np.concatenate([np.unpackbits(h, axis=1, count=kk).astype(bool) for h, _, kk in gathered])
        all_rel = np.concatenate([r for _, r, _ in gathered])
        result[0] = ranking_metrics(all_hits, all_rel, ns, protocol)
    dist.broadcast_object_list(result, src=0)
    return result[0]


def _csr(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def _broadcast(value: Any) -> Any:
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class DistributedMiniBatchTrainer(MiniBatchTrainer):
    """:class:`MiniBatchTrainer` as one rank of a data-parallel job (process group already initialised).

    Args:
        config, split, progress, fanouts, chunk_size: As for :class:`MiniBatchTrainer`.
        run_dir: The shared run directory: written by rank 0 only, read by every rank on resume.
    """

    def __init__(self, config: RunConfig, split: Split, run_dir: RunDir | None = None, progress: bool = True,
                 fanouts: Sequence[int] | None = None, chunk_size: int = 65_536) -> None:
        if not dist.is_initialized():
            raise ConfigError("DistributedMiniBatchTrainer needs an initialised process group "
                              "(init_distributed / torchrun)")
        if config.eval.max_valid_users is not None:  # its validation shards every user over the ranks
            raise ConfigError("eval.max_valid_users is not supported by distributed training (it validates on "
                              "all users, sharded over the ranks)")
        rank, world = dist.get_rank(), dist.get_world_size()
        self.read_dir = run_dir
        super().__init__(config, split, run_dir if rank == 0 else None, progress and rank == 0, fanouts,
                         chunk_size, sparse_embedding=False, rank=rank, world_size=world)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)

    def wrap_forward(self, forward: SampledForward) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(forward, device_ids=ids)

    def all_reduce_mean(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def _restore(self, model: HashGNNModel, optimizer: torch.optim.Optimizer) -> dict:
        # Trainer._restore reads self.run_dir, which non-zero ranks do not have (they never write).
        writer, self.run_dir = self.run_dir, self.read_dir
        try:
            return super()._restore(model, optimizer)
        finally:
            self.run_dir = writer

    def _end_of_epoch(self, model: HashGNNModel, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> bool:
        # Rank 0's clock decides the time budget (Trainer.fit reads state["seconds"] after this returns).
        state["seconds"] = _broadcast(state["seconds"])
        stop = super()._end_of_epoch(model, optimizer, state, epoch)
        stop = bool(_broadcast(stop))
        dist.barrier()  # the checkpoint of this epoch exists before any rank goes on
        return stop

    def encode(self, model: HashGNNModel) -> tuple[Tensor, Tensor]:
        return distributed_encode(model, self.csr, self.chunk_size)

    def validate(self, model: HashGNNModel) -> float:
        cfg = self.config
        mode = valid_mode(cfg)
        emb = self.embeddings(model, with_codes=mode != "continuous")
        res = distributed_evaluate(emb, self.split, "valid", mode, (cfg.eval.valid_n,), "standard",
                                   cfg.eval.n_candidates, cfg.eval.tie_seed)
        return res[f"recall@{cfg.eval.valid_n}"]


def run_distributed(config: RunConfig, split: Split, run_dir: str | os.PathLike | RunDir | None,
                    resume: bool = False, progress: bool = True, fanouts: Sequence[int] | None = None,
                    chunk_size: int = 65_536, on_step: Sequence[Callable[..., None]] = ()) -> TrainResult:
    """Train as one rank of a torchrun job; every rank returns the same (best) model and embeddings.

    The process group is created from torchrun's environment if needed and torn down again if this call made
    it. ``config.train.batch_size`` is the *per-rank* batch: the global batch is ``batch_size x world_size``.
    ``on_step`` callbacks run on every rank after each optimiser step as ``hook(trainer, model, iteration)``
    (collectives allowed: all ranks call them in lockstep).
    """
    created = init_distributed(config.train.device)
    try:
        rd = run_dir if isinstance(run_dir, RunDir) or run_dir is None else RunDir(run_dir)
        if resume and rd is None:
            raise ConfigError("resume needs a run directory")
        trainer = DistributedMiniBatchTrainer(config, split, rd, progress, fanouts, chunk_size)
        trainer.on_step.extend(on_step)
        return trainer.fit(resume)
    finally:
        if created:
            dist.barrier()
            dist.destroy_process_group()
