"""Training loop of HashGNN and its hashing variants (paper section 4 and 5.2.3).

Each step: full-graph propagation → relaxed codes ĥ of all nodes → a batch of train edges (u, i), ``T``
sampled negatives m per edge → ``L = L_cross + λ L_rank`` (eq. 7) → Adam. The binarizer's schedule (p, β, τ)
advances by iteration, counted in epochs (the default: steps over steps per epoch) or in steps
(``model.schedule_unit``). A config without ``train.batch_size`` gets the batch that fits the data
(:func:`hashgnn.config.auto_batch_size`), and the run's ``config.json`` records it. After every ``valid_every``
epochs the validation Recall@n (never the test set) selects the checkpoint and drives early stopping; ``last.pt``
is written every epoch so ``resume`` continues from the last complete epoch with the same random streams (each
epoch's generators are seeded from (seed, epoch)).

This one loop (:meth:`Trainer.fit`: seeding, resume, validation, early stopping, checkpoints, logs) trains every
model; a subclass supplies what differs through hooks: :meth:`~Trainer.build_model`, :meth:`~Trainer.make_optimizer`,
``_run_epoch`` (the batches, each a loss handed to ``_step``), :meth:`~Trainer.advance_schedule`,
:meth:`~Trainer.validate`, :meth:`~Trainer.embeddings`, :meth:`~Trainer.settings` and
:meth:`~Trainer.epoch_summary`. Subclasses: the sampled :class:`~hashgnn.training.minibatch.MiniBatchTrainer`
(and its distributed form), :class:`~hashgnn.models.baselines.embedding.EmbeddingTrainer` (MF, PTE, BiNE) and
HashGNN_sp's stage two (:mod:`hashgnn.models.baselines.twostage`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn
from tqdm.auto import tqdm

from hashgnn.config import RunConfig, codes_and_embedding
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.splits import Split
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.io_utils import remove_stale_temps
from hashgnn.losses import batch_objective, embedding_objective
from hashgnn.models.base import Embeddings
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.resources import check_memory, retain_freed_memory
from hashgnn.seed import seed_everything
from hashgnn.training.negatives import NegativeSampler
from hashgnn.training.rundir import RunDir
from hashgnn.training.teacher import Teacher, check_same_train_part

#: Keep freed memory in malloc's heap (:func:`retain_freed_memory`) only while every full-graph activation is at
#: most this big: Gowalla's (36 MB) are page-faulted in again at every step without it (1.11x slower), but at 1/8
#: of the Alibaba size (305 MB) heap fragmentation raised the peak RSS of training from 2.71 to 4.34 GiB.
RETAIN_UP_TO_BYTES = 256 * 2**20


@dataclass
class TrainResult:
    model: HashGNNModel
    embeddings: Embeddings
    history: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("nan")
    seconds: float = 0.0
    stopped: str = "epochs"


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of positive vs negative scores, ties counted one half (Mann–Whitney U)."""
    ranks = rankdata(np.concatenate([pos, neg]))
    n_pos, n_neg = len(pos), len(neg)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def scheduled_lr(tcfg, iteration: int, iters_per_epoch: int) -> float:
    """Learning rate at ``iteration``: constant, or cosine from ``lr`` to ``lr_min`` over ``epochs`` (a function
    of the iteration alone, so a resumed run continues the same curve)."""
    if tcfg.lr_schedule == "constant":
        return tcfg.lr
    progress = min(1.0, iteration / max(1, tcfg.epochs * iters_per_epoch))  # a fraction: the same at any size
    return tcfg.lr_min + 0.5 * (tcfg.lr - tcfg.lr_min) * (1.0 + math.cos(math.pi * progress))


def milestone_lr(tcfg, epoch: int) -> float:
    """``lr_schedule="milestones"``: ``lr`` times ``lr_factor`` per milestone already passed (1-based epochs), not
    below ``lr_min`` (as the plateau schedule it replays)."""
    return max(tcfg.lr_min, tcfg.lr * tcfg.lr_factor ** sum(epoch > m for m in tcfg.lr_milestones))


def set_lr(optimizer: torch.optim.Optimizer, tcfg, iteration: int, iters_per_epoch: int) -> None:
    if tcfg.lr_schedule in ("constant", "plateau"):  # set at build time, and by validations for "plateau"
        return
    if tcfg.lr_schedule == "milestones":
        lr = milestone_lr(tcfg, iteration // max(1, iters_per_epoch) + 1)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return
    lr = scheduled_lr(tcfg, iteration, iters_per_epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr


def valid_mode(config: RunConfig) -> str:
    if config.eval.valid_mode != "auto":
        return config.eval.valid_mode
    return "continuous" if config.model.method == "continuous" else "hierarchical"


def embeddings_from_model(model: HashGNNModel, graph: GraphInputs, n_users: int, with_codes: bool) -> Embeddings:
    model.eval()
    z, h = model.encode(graph)
    model.train()
    z_np, h_np = z.cpu().numpy(), h.cpu().numpy()
    if not with_codes:
        return Embeddings.from_signs(z_np[:n_users], z_np[n_users:], None, None)
    return Embeddings.from_signs(z_np[:n_users], z_np[n_users:], h_np[:n_users], h_np[n_users:])


class Trainer:
    """Fits a :class:`HashGNNModel` on a split.

    Args:
        config: The run configuration (validated here, before any work).
        split: Train/valid/test split; only train edges build the graph and the loss, valid selects the model.
        run_dir: Where checkpoints, logs and outputs go (None: in memory only).
        progress: Show a tqdm bar with the loss and p.
    """

    def __init__(self, config: RunConfig, split: Split, run_dir: RunDir | None = None, progress: bool = True) -> None:
        self.config = config.validate()
        self.split = split
        self.run_dir = run_dir
        self.progress = progress
        self._prepare(self._setup_split(config, split))
        # what the last fit found in its checkpoint (epochs and training seconds already done; 0 when fresh)
        self.resumed_epoch, self.resumed_seconds = 0, 0.0

    #: processes sharing each step (the distributed mini-batch trainer sets its own)
    world_size = 1
    #: ``train.teacher``'s ranking, distilled into the codes (None: no teacher)
    teacher: Teacher | None = None
    #: the iteration from which the binarizer's schedule is at its end, set by a validation plateau
    #: (``train.end_schedule_on_plateau``); None while the schedule runs
    _schedule_ended_at: int | None = None

    def _setup_split(self, config: RunConfig, split: Split):
        """Sizes, device and train edge arrays — shared with the mini-batch trainer; returns the train part.
        Sets ``self.config``'s batch (:meth:`RunConfig.with_batch_for`) when the config left it to the data."""
        inter = split.interactions
        self.n_users, self.n_items = inter.n_users, inter.n_items
        self.device = torch.device(config.train.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("train.device is cuda but no CUDA device is available")
        train = split.train
        self.train_users = train.users.astype(np.int64)
        self.train_items = train.items.astype(np.int64)
        if len(self.train_users) == 0:
            raise ConfigError("the split has no train interactions")
        self.config = self.config.with_batch_for(len(self.train_users))
        return train

    def _prepare(self, train) -> None:
        """What the steps need beyond the train edges of ``train`` (the split's train part): the full graph's
        operators, the negative sampler and the held-out AUC pairs. A hook: a trainer whose model has no graph
        (the embedding baselines) or propagates another way builds its own."""
        check_memory(self.n_users, self.n_items, len(self.train_users), self.config)  # before any big allocation
        graph = BipartiteGraph.from_interactions(train)  # only what the encoder reads: GBs at Alibaba size
        self.graph = GraphInputs.from_graph(graph, self.config.model.encoder).to(self.device)
        self.sampler = NegativeSampler(self.train_users, self.train_items, self.n_items)
        tcfg = self.config.train
        if tcfg.teacher is not None:
            self.teacher = Teacher.from_run(tcfg.teacher, self.split, tcfg.teacher_top_k, tcfg.teacher_weight,
                                            tcfg.teacher_temperature, self.device)
        self._auc_pairs = self._held_out_pairs()

    def steps_per_epoch(self) -> int:
        """Optimiser steps in an epoch: what a schedule in epochs divides the step count by."""
        return self.config.train.steps_per_epoch(len(self.train_users), self.world_size)

    def _held_out_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixed validation links and as many sampled non-links for the AUC curve (Figure 6)."""
        rng = np.random.default_rng(self.config.seed + 7)
        valid = self.split.valid
        if len(valid) == 0:
            valid = self.split.train
        n = min(self.config.train.auc_pairs, len(valid))
        pick = rng.choice(len(valid), n, replace=False)
        users, items = valid.users[pick], valid.items[pick]
        negs = self.sampler.sample(users, 1, rng)[:, 0]
        return users, items, negs

    def _held_out_auc(self, model: HashGNNModel, u: torch.Tensor, a: torch.Tensor) -> dict[str, float]:
        users, items, negs = self._auc_pairs
        z = model.continuous(a.detach(), u.detach()).cpu()
        h = model.codes(a.detach()).cpu()
        out = {}
        for name, x in (("auc_h", h), ("auc_z", z)):
            u = x[users]
            pos = (u * x[self.n_users + items]).sum(1).numpy()
            neg = (u * x[self.n_users + negs]).sum(1).numpy()
            out[name] = auc(pos, neg)
        return out

    def _largest_activation_bytes(self) -> int:
        """Bytes of the widest full-graph activation (every node × the widest layer, float32)."""
        m = self.config.model
        return 4 * (self.n_users + self.n_items) * max(m.embedding_dim, *m.dims, m.n_bits)

    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimiser of the model's ``params``: Adam at ``train.lr`` with ``train.weight_decay`` (paper 5.2.3).
        A hook: the sampled trainer pairs it with SparseAdam for the id embeddings."""
        tcfg = self.config.train
        return torch.optim.Adam(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)

    def build_model(self) -> nn.Module:
        """The model a fit starts from (called after seeding, so its initialisation is the seed's): a
        :class:`HashGNNModel` here. A hook: the baselines trained by this loop build theirs."""
        return HashGNNModel(self.n_users + self.n_items, self.config.model, n_users=self.n_users).to(self.device)

    def advance_schedule(self, model: nn.Module, iteration: int) -> None:
        """Move what the model schedules by iteration (the binarizer's p, β or τ) to ``iteration``: at the start
        of a fit (a resumed one continues its schedule) and after every step. A hook: models without a schedule
        override it with nothing."""
        model.binarizer.steps_per_epoch = self.steps_per_epoch()
        model.binarizer.ended_at = self._schedule_ended_at
        model.binarizer.step(iteration)

    def settings(self) -> dict[str, Any]:
        """What a checkpoint must have been made with, besides the config, to be continued (stored in it). A
        hook: the embedding baselines' parameters live outside the config."""
        return {}

    def epoch_summary(self) -> dict[str, Any]:
        """Fields the epoch just run adds to its row of the history (the embedding baselines: the mean loss)."""
        return {}

    def _new_state(self) -> dict[str, Any]:
        return {"epoch": 0, "iteration": 0, "best_metric": -math.inf, "best_epoch": 0, "bad_rounds": 0,
                "history": [], "log": [], "seconds": 0.0, "schedule_ended_at": None}

    def fit(self, resume: bool = False) -> TrainResult:
        cfg, tcfg = self.config, self.config.train
        if self.run_dir is not None:  # a second writer of the same run fails now, not after its first epoch
            self.run_dir.lock()
        if self._largest_activation_bytes() <= RETAIN_UP_TO_BYTES:
            retain_freed_memory()
        if tcfg.threads:
            torch.set_num_threads(tcfg.threads)
        seed_everything(cfg.seed)
        model = self.build_model()
        optimizer = self.make_optimizer(model.parameters())
        state = self._new_state()
        if self.run_dir is not None:  # temp files of a writer killed mid-write (never artifacts themselves)
            remove_stale_temps(self.run_dir.path)
            remove_stale_temps(self.run_dir.checkpoints)
        if resume and self.run_dir is not None and not (self.run_dir.checkpoints / "last.pt").is_file():
            resume = False  # killed before the first checkpoint: nothing to continue, start over
            if self.progress:
                tqdm.write(f"{self.run_dir.path}: no checkpoint yet, training from the start")
        if resume:
            state = self._restore(model, optimizer)
        elif tcfg.init_from is not None:
            warm_start(model, RunDir(tcfg.init_from), self.split)
        if not resume and self.run_dir is not None:
            self.run_dir.path.mkdir(parents=True, exist_ok=True)
            self.run_dir.write_inputs(cfg, self.split)
        self.resumed_epoch, self.resumed_seconds = state["epoch"], state["seconds"]
        self._schedule_ended_at = state["schedule_ended_at"]
        self.advance_schedule(model, state["iteration"])
        started = time.perf_counter() - state["seconds"]
        self._excluded_seconds = 0.0
        stopped_early = state["bad_rounds"] >= tcfg.patience  # resumed after early stopping: nothing more to train
        state.setdefault("stopped", "patience" if stopped_early else "epochs")
        while state["epoch"] < tcfg.epochs and not stopped_early:
            epoch = state["epoch"] + 1
            self._run_epoch(model, optimizer, state, epoch)
            state["epoch"] = epoch
            state["seconds"] = time.perf_counter() - started - self._excluded_seconds
            stop = self._end_of_epoch(model, optimizer, state, epoch)
            if stop:
                state["stopped"] = "patience"
                break
            if tcfg.max_minutes is not None and state["seconds"] > 60 * tcfg.max_minutes:
                tqdm.write(f"time budget of {tcfg.max_minutes} min reached after epoch {epoch}")
                state["stopped"] = "max_minutes"
                break
        return self._finish(model, state)

    def _run_epoch(self, model: HashGNNModel, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> None:
        cfg, tcfg = self.config, self.config.train
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100003 + epoch)
        order = rng.permutation(len(self.train_users))
        n_batches = math.ceil(len(order) / tcfg.batch_size)
        scale = cfg.model.scale()
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{tcfg.epochs}", disable=not self.progress, leave=False)
        for b in bar:
            idx = order[b * tcfg.batch_size:(b + 1) * tcfg.batch_size]
            users = self.train_users[idx]
            pos_items = self.train_items[idx]
            neg_items = self.sampler.sample(users, tcfg.triplets, rng)
            dev = self.device
            shared = None
            if tcfg.shared_negatives:
                items, taken = self.sampler.shared(users, tcfg.shared_negatives, rng)
                shared = (torch.from_numpy(items + self.n_users).to(dev), torch.from_numpy(taken).to(dev))
            u, a = model.represent(self.graph)
            batch = (torch.from_numpy(users).to(dev), torch.from_numpy(pos_items + self.n_users).to(dev),
                     torch.from_numpy(neg_items + self.n_users).to(dev))
            loss, parts = self._batch_loss(model, u, a, batch, scale, epoch, shared)
            self._step(model, optimizer, loss, state, n_batches)
            sched = model.binarizer.state()
            if state["iteration"] % tcfg.log_every == 0 or b == n_batches - 1:
                row = {"iteration": state["iteration"], "epoch": epoch, "loss": loss.item(),
                       **{k: v.item() for k, v in parts.items()}, **sched, **self._held_out_auc(model, u, a)}
                state["log"].append(row)
            bar.set_postfix(loss=f"{loss.item():.4f}", **{k: f"{v:.3f}" for k, v in sched.items()})

    def _step(self, model: HashGNNModel, optimizer: torch.optim.Optimizer, loss: torch.Tensor, state: dict,
              n_batches: int, weight: float = 1.0) -> None:
        """One optimiser step on ``weight × loss`` at the scheduled lr, then the binarizer's schedule; a loss that
        is not finite stops the run (after the step: its message names the iteration)."""
        optimizer.zero_grad(set_to_none=True)
        (loss * weight).backward()
        set_lr(optimizer, self.config.train, state["iteration"], n_batches)
        optimizer.step()
        state["iteration"] += 1
        self.advance_schedule(model, state["iteration"])
        if not torch.isfinite(loss):
            raise ArtifactError(f"training diverged at iteration {state['iteration']} (loss {loss.item()})")

    def _batch_loss(self, model: HashGNNModel, u: torch.Tensor, a: torch.Tensor, batch: tuple[torch.Tensor, ...],
                    scale: float, epoch: int, shared: tuple[torch.Tensor, torch.Tensor] | None
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The configured objective (``train.objective``) on the batch ``(users, pos, neg)`` (node rows)."""
        tcfg = self.config.train
        h = model.relaxed(a)
        if tcfg.objective == "hashgnn" or codes_and_embedding(self.config.model, tcfg):
            loss, cross, rank = batch_objective(h, a, *batch, scale, tcfg.lam, tcfg.margin, tcfg.rank_loss,
                                                **tcfg.extra_terms(epoch), shared=shared, bias=model.link_bias)
            parts = {"loss_cross": cross, "loss_rank": rank}
            if self.teacher is not None:
                parts["loss_teacher"] = self.teacher.loss(h, *batch, scale)
                loss = loss + parts["loss_teacher"]
            if tcfg.objective == "hashgnn":
                return loss, parts
            # the encoder's output u learns as a continuous recommender, the codes on top of it by eq. 7
            emb_shared = shared if tcfg.objective == "softmax" else None  # BPR pairs a link with its own only
            emb_loss, emb_rank, l2 = embedding_objective(u, model.input.embedding.weight, *batch, tcfg.objective,
                                                         tcfg.reg, tcfg.temperature, emb_shared)
            return emb_loss + tcfg.code_weight * loss, {**parts, "loss_embedding": emb_rank, "loss_l2": l2}
        loss, rank, l2 = embedding_objective(h, model.input.embedding.weight, *batch, tcfg.objective, tcfg.reg,
                                             tcfg.temperature, shared)
        return loss, {"loss_rank": rank, "loss_l2": l2}

    def _end_of_epoch(self, model: HashGNNModel, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> bool:
        cfg, tcfg = self.config, self.config.train
        record: dict[str, Any] = {"epoch": epoch, "iteration": state["iteration"], "seconds": state["seconds"],
                                  **self.epoch_summary()}
        improved = False
        measure = epoch % tcfg.valid_every == 0 or epoch == tcfg.epochs
        if len(self.split.valid_idx) == 0:  # nothing to select on (a refit on all of train): keep the last epoch
            improved = True
        elif measure:
            metric = self.validate(model)
            record[f"valid_recall@{cfg.eval.valid_n}"] = metric
            improved = metric > state["best_metric"] + tcfg.min_delta
            if improved:
                state["best_metric"], state["bad_rounds"] = metric, 0
            else:
                state["bad_rounds"] += 1
                self._lower_lr_on_plateau(optimizer, state)
        if measure and cfg.eval.test_curve:
            record.update(self._test_point(model))
        if improved:
            state["best_epoch"] = epoch
            state["best_model"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if measure or len(self.split.valid_idx) == 0:
            record["lr"] = optimizer.param_groups[0]["lr"]
        stop = state["bad_rounds"] >= tcfg.patience
        if stop and self._end_schedule(model, state):
            stop, record["schedule_ended"] = False, True
        state["history"].append(record)
        if self.progress:
            tqdm.write(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        if self.run_dir is not None:
            ckpt = {k: v for k, v in state.items() if k != "best_model"}
            ckpt.update(model=model.state_dict(), optimizer=optimizer.state_dict(), config=cfg.to_dict(),
                        settings=self.settings())
            self.run_dir.save_checkpoint(ckpt | {"best_model": state.get("best_model")}, best=improved)
            self.run_dir.write_metrics_csv(state["log"])
            self.run_dir.write_json("history.json", state["history"])
        return stop

    def _end_schedule(self, model: nn.Module, state: dict) -> bool:
        """At a validation plateau (patience run out): if ``train.end_schedule_on_plateau`` and the binarizer's
        schedule has not reached its floor, end it (guided's p to ``p_min``) and train on instead of stopping,
        patience counted afresh and the model selected among the epochs from here (the earlier ones' codes were
        not trained as codes); returns whether it did. Off by default: measured worse on issue 33's logs
        (:class:`hashgnn.config.TrainConfig`)."""
        cfg = self.config
        binarizer = getattr(model, "binarizer", None)
        if (not cfg.train.end_schedule_on_plateau or binarizer is None
                or not binarizer.schedule_running() or state["epoch"] >= cfg.train.epochs):
            return False
        state["schedule_ended_at"] = self._schedule_ended_at = state["iteration"]
        self.advance_schedule(model, state["iteration"])
        state["bad_rounds"] = 0
        state["best_metric"] = -math.inf
        return True

    def _lower_lr_on_plateau(self, optimizer: torch.optim.Optimizer, state: dict) -> None:
        """``lr_schedule="plateau"``: every ``lr_patience`` validations without a better one, the learning rate
        is multiplied by ``lr_factor`` (not below ``lr_min``). A large step size gets near the optimum fast and
        then hovers around it; the smaller ones that follow settle where the large one cannot."""
        tcfg = self.config.train
        if tcfg.lr_schedule != "plateau" or state["bad_rounds"] % tcfg.lr_patience:
            return
        for group in optimizer.param_groups:
            group["lr"] = max(tcfg.lr_min, group["lr"] * tcfg.lr_factor)

    def validate(self, model: HashGNNModel) -> float:
        cfg = self.config
        return self._evaluate(model, "valid")[f"recall@{cfg.eval.valid_n}"]

    def _evaluate(self, model: HashGNNModel, part: str) -> dict[str, float]:
        cfg = self.config
        mode = valid_mode(cfg)
        emb = self.embeddings(model, with_codes=mode != "continuous")
        res = evaluate_part(emb, self.split, part, modes=(mode,), ns=(cfg.eval.valid_n,),
                            protocols=("standard",), n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed,
                            max_users=cfg.eval.max_valid_users if part == "valid" else None)
        return res[mode]["standard"]

    def _test_point(self, model: HashGNNModel) -> dict[str, float]:
        """Test Recall/NDCG for the learning curve (``eval.test_curve``); its time is excluded from training
        seconds by moving the run's clock on. Reported only: nothing selects on it."""
        t0 = time.perf_counter()
        n = self.config.eval.valid_n
        res = self._evaluate(model, "test")
        self._excluded_seconds += time.perf_counter() - t0
        return {f"test_recall@{n}": res[f"recall@{n}"], f"test_ndcg@{n}": res[f"ndcg@{n}"]}

    def _restore(self, model: HashGNNModel, optimizer: torch.optim.Optimizer) -> dict:
        if self.run_dir is None:
            raise ConfigError("resume needs a run directory")
        ckpt = self.run_dir.load_checkpoint("last")
        if not self.can_continue(ckpt):
            raise ConfigError(f"{self.run_dir.path}: the checkpoint was made with another configuration; "
                              "resume with the run's own config.json")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        # a checkpoint older than a state key started with that key's initial value
        state = {k: ckpt.get(k, initial) for k, initial in self._new_state().items()}
        if ckpt.get("best_model") is not None:
            state["best_model"] = ckpt["best_model"]
        return state

    def can_continue(self, checkpoint: dict[str, Any]) -> bool:
        """Whether this trainer may continue ``checkpoint``: made with its config (the budget aside) and
        :meth:`settings`."""
        return (_without_budget(checkpoint.get("config")) == _without_budget(self.config.to_dict())
                and checkpoint.get("settings", {}) == self.settings())

    def embeddings(self, model: HashGNNModel, with_codes: bool) -> Embeddings:
        """Every node's embeddings (and codes) under ``model``: one full-graph forward here; the sampled trainer
        encodes layer-wise instead (same outputs)."""
        return embeddings_from_model(model, self.graph, self.n_users, with_codes=with_codes)

    @torch.no_grad()
    def encoder_output(self, model: HashGNNModel) -> torch.Tensor:
        """The encoder's output u of every node (before the hash layer; what a two-stage method hashes): one
        full-graph forward here; the sampled trainer encodes layer-wise (same values up to float rounding)."""
        return model.represent(self.graph)[0]

    def training_info(self) -> dict[str, Any]:
        """How this trainer trained, for ``training.json`` beside the epochs and the stop reason."""
        return {}

    def _finish(self, model: HashGNNModel, state: dict) -> TrainResult:
        if state.get("best_model") is not None:
            model.load_state_dict(state["best_model"])
        emb = self.embeddings(model, with_codes=self.config.model.method != "continuous")
        stopped = state.get("stopped", "epochs")  # patience = validation plateau (converged); epochs or
        if self.run_dir is not None:              # max_minutes = a budget ran out first
            emb.save(self.run_dir.path)
            self.run_dir.write_json("training.json", {"best_epoch": state["best_epoch"],
                                                      "best_valid_metric": state["best_metric"],
                                                      "epochs_run": state["epoch"],
                                                      "iterations": state["iteration"],
                                                      "seconds": state["seconds"], "stopped": stopped,
                                                      "schedule_ended_at": state.get("schedule_ended_at"),
                                                      **self.training_info()})
        return TrainResult(model, emb, state["history"], state["log"], state["best_epoch"], state["best_metric"],
                           state["seconds"], stopped)


def warm_start(model: HashGNNModel, source: RunDir, split: Split) -> None:
    """``train.init_from``: copy the selected model of run ``source`` into ``model``'s layer-0 embeddings and
    encoder (the hash layer, if any, starts fresh). The source must have been trained on exactly this split's
    train part, else its parameters would carry validation or test links into this run's model selection."""
    where = source.path
    check_same_train_part(where, split, "train.init_from")
    state = source.load_checkpoint("best")["model"]
    own = model.state_dict()
    taken = {k: v for k, v in state.items() if k.split(".")[0] in ("input", "encoder")}
    for key, value in taken.items():
        if key not in own or own[key].shape != value.shape:
            raise ConfigError(f"train.init_from: {where}'s parameter {key} {tuple(value.shape)} does not fit "
                              f"this model ({tuple(own[key].shape) if key in own else 'no such parameter'}): "
                              "same model.encoder, layers and embedding_dim needed")
    missing = [k for k in own if k.split(".")[0] in ("input", "encoder") and k not in taken]
    if missing:
        raise ConfigError(f"train.init_from: {where} has no {', '.join(missing)} for this model")
    model.load_state_dict({**own, **taken})


#: Settings a resumed run may change: they bound how long it trains, not what one step does.
BUDGET_KEYS = ("max_minutes",)


def _without_budget(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """``config`` with settings added since it was written at their defaults, and without the budget keys."""
    if config is None:
        return None
    config = RunConfig.from_stored(config).to_dict()
    return {**config, "train": {k: v for k, v in config["train"].items() if k not in BUDGET_KEYS}}


def make_trainer(config: RunConfig, split: Split, run_dir: RunDir | None = None, progress: bool = True) -> Trainer:
    """The trainer ``config`` asks for: :class:`~hashgnn.training.minibatch.MiniBatchTrainer` (sampled
    neighbourhoods) with ``train.sampler="neighbor"``, else the full-graph :class:`Trainer`. Every caller (the
    Python API, the baselines, the experiments) goes through here, so all of them honour ``train.sampler``."""
    if config.train.sampler == "neighbor":
        from hashgnn.training.minibatch import MiniBatchTrainer  # it imports this module

        return MiniBatchTrainer(config, split, run_dir, progress=progress)
    return Trainer(config, split, run_dir, progress=progress)
