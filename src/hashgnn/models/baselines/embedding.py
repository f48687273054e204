"""Shallow network-embedding baselines of paper 5.2.2 — MF, PTE, BiNE — in torch, trained with Adam on CPU.

All three learn a user table and an item table (dimension ``dim``, default 32 = the paper's default size) and
score a pair by the inner product; they have no codes, so they are evaluated with continuous search. Sampling
is batched with numpy (no Python loop per edge or per walk step over nodes). They train on the one training loop,
:class:`~hashgnn.training.trainer.Trainer` (:class:`EmbeddingTrainer` supplies the tables, the batches and the loss):
every ``valid_every`` epochs the validation Recall@``valid_n`` (continuous search) selects the best epoch and drives
early stopping, and with a ``checkpoint`` folder (a run directory) the Trainer checkpoints every epoch and a later
``fit`` continues from there: the walks and batches are drawn from per-epoch seeded streams, so the resumed run
equals an uninterrupted one.

* :class:`MF` — BPR matrix factorisation (Rendle et al., UAI 2009), **not** the paper's ref [35] (Luo et al.
  2014, non-negative MF on explicit ratings): the data here is implicit feedback, for which BPR is the standard
  MF. Loss: :math:`-\\ln\\sigma(\\mathbf{p}_u^T\\mathbf{q}_i - \\mathbf{p}_u^T\\mathbf{q}_j) + \\lambda\\|\\Theta\\|^2`
  with j a sampled non-item of u.
* :class:`PTE` — PTE's bipartite-network embedding (Tang, Qu, Mei, KDD 2015, eq. 1–4), i.e. LINE's
  second-order objective where the *other side* of the bipartite graph is the context: edges are sampled
  uniformly (binary weights), and each edge (u, i) gives
  :math:`\\log\\sigma(\\mathbf{u}^T\\mathbf{i}) + \\sum_{k}\\log\\sigma(-\\mathbf{u}^T\\mathbf{i}_k)` with
  negatives from the degree^{3/4} noise distribution. Simplifications: only the user–item network (no text
  networks), and both directions (item → user, user → item) are used since the graph is undirected.
* :class:`BiNE` — Gao et al., SIGIR 2018: explicit relations
  :math:`O_1 = -\\sum_{(i,j)\\in E}\\log\\sigma(\\mathbf{u}_i^T\\mathbf{v}_j)` plus implicit relations from
  truncated random walks that alternate user → item → user on the bipartite graph; the user (item) positions
  of each walk form a user (item) sequence, skip-gram pairs within ``window`` give co-occurrences
  :math:`O_2, O_3` trained against context vectors θ (users) and ϑ (items) with uniform negative sampling;
  :math:`L = \\gamma O_1 + \\alpha O_2 + \\beta O_3`. Simplifications: a fixed number of walks per node instead
  of BiNE's HITS-centrality-dependent count, fixed walk length (no stop probability), uniform instead of
  LSH-bucket negatives, ``explicit_negatives`` (default 1) sampled non-edges added to O_1 to keep the
  positive-only log-likelihood bounded under Adam (0 = the original O_1), weights γ = 1, α = β = 0.1 (the
  original's 10:1 ratio of its 0.1 / 0.01 defaults).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashgnn.config import RunConfig
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.models.base import Embeddings
from hashgnn.models.baselines.common import FittedRecommender, continuable, valid_recall
from hashgnn.models.baselines.core import apply_overrides
from hashgnn.training.negatives import NegativeSampler
from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import Trainer


@dataclass(frozen=True)
class EmbeddingParams:
    """Hyper-parameters of the shallow embedding baselines (defaults chosen for speed on CPU; the paper used
    each method's original defaults, which target SGD over many more samples)."""

    dim: int = 32
    epochs: int = 40
    batch_size: int = 2048
    lr: float = 1e-2
    reg: float = 1e-5
    negatives: int = 5
    patience: int = 5
    valid_every: int = 1
    init_std: float = 0.1
    # BiNE only
    walks_per_node: int = 4
    walk_length: int = 16
    window: int = 3
    alpha: float = 0.1
    beta: float = 0.1
    gamma: float = 1.0
    explicit_negatives: int = 1

    def validate(self) -> EmbeddingParams:
        for f in fields(self):
            v = getattr(self, f.name)
            allowed_zero = f.name in ("reg", "alpha", "beta", "explicit_negatives")
            if v < 0 or (v == 0 and not allowed_zero):
                raise ConfigError(f"{f.name} must be {'>= 0' if allowed_zero else '> 0'}, got {v}")
        return self


def _params(kwargs: Mapping[str, object]) -> EmbeddingParams:
    names = {f.name for f in fields(EmbeddingParams)}
    unknown = set(kwargs) - names
    if unknown:
        raise ConfigError(f"unknown embedding-baseline setting(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
    return replace(EmbeddingParams(), **kwargs).validate()


def degree_noise(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Cumulative distribution of the degree^power noise distribution (LINE/word2vec), for ``searchsorted``."""
    w = np.power(np.maximum(counts, 0).astype(np.float64), power)
    if w.sum() == 0:
        w = np.ones_like(w)
    cdf = np.cumsum(w)
    return cdf / cdf[-1]


def sample_cdf(cdf: np.ndarray, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


class EmbeddingBaseline(FittedRecommender):
    """A user table and an item table trained by :class:`EmbeddingTrainer` (the one training loop).

    Args:
        config: Run configuration (seed, ``eval`` settings, ``train.max_minutes``, ``train.log_every``,
            ``train.threads``); its model/train keys for the core are not used.
        overrides: Dotted overrides of ``config``.
        progress: Print one line per epoch.
        **params: :class:`EmbeddingParams` fields.
    """

    name = "embedding"

    def __init__(self, config: RunConfig | None = None, overrides: Sequence[str] | Mapping[str, object] = (),
                 progress: bool = False, **params: object) -> None:
        super().__init__()
        self.config = apply_overrides(config, overrides).validate()
        self.params = _params(params)
        self.tie_seed, self.n_candidates = self.config.eval.tie_seed, self.config.eval.n_candidates
        self.progress = progress
        self.modules = nn.ModuleDict()
        self.resumed_epoch, self.resumed_seconds = 0, 0.0

    # -- per-method hooks -------------------------------------------------------------------------------------
    def _setup(self, split: Split, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _batches(self, rng: np.random.Generator) -> Iterator[Callable[[], Tensor]]:
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------------------
    def _table(self, n: int) -> nn.Embedding:
        emb = nn.Embedding(n, self.params.dim)
        nn.init.normal_(emb.weight, 0.0, self.params.init_std)
        return emb

    def trainer_config(self) -> RunConfig:
        """The config the Trainer trains this baseline under: the caller's, with the optimisation and validation
        schedule of :class:`EmbeddingParams` (Adam at ``lr`` without weight decay at a constant rate, on CPU, the
        best validation by any margin) and validation by continuous search (the tables have no codes)."""
        p, t = self.params, self.config.train
        train = replace(t, epochs=p.epochs, batch_size=p.batch_size, lr=p.lr, weight_decay=0.0,
                        lr_schedule="constant", patience=p.patience, valid_every=p.valid_every, min_delta=0.0,
                        device="cpu", threads=t.threads or 1, init_from=None)
        return replace(self.config, train=train, eval=replace(self.config.eval, valid_mode="continuous"))

    def build(self, split: Split) -> nn.ModuleDict:
        """Fresh tables (after the trainer seeded torch) and the method's sampling state for ``split``."""
        rng = np.random.default_rng([self.config.seed, 99])
        self.n_users, self.n_items = split.interactions.n_users, split.interactions.n_items
        train = split.train
        self.train_users, self.train_items = train.users.astype(np.int64), train.items.astype(np.int64)
        self.modules = nn.ModuleDict({"user": self._table(self.n_users), "item": self._table(self.n_items)})
        self._setup(split, rng)
        return self.modules

    def fit(self, split: Split, checkpoint: str | Path | None = None, **kwargs) -> EmbeddingBaseline:
        """Train on ``split``. ``checkpoint``: a run directory the Trainer checkpoints into after every epoch;
        when it already holds a checkpoint of these settings, training continues after its last epoch (a
        finished run is only loaded), one of other settings or a damaged one is started over.
        ``resumed_epoch`` / ``resumed_seconds`` say how far it had come."""
        # small dense ops: one thread unless train.threads says otherwise (two threads on a busy 2-core machine
        # made each step ~80x slower when measured); the caller's thread count is restored after
        previous = torch.get_num_threads()
        run_dir = None if checkpoint is None else RunDir(checkpoint)
        try:
            trainer = EmbeddingTrainer(self, split, run_dir, self.progress)
            result = trainer.fit(resume=run_dir is not None and continuable(trainer, run_dir, self.name))
        finally:
            torch.set_num_threads(previous)
        self.resumed_epoch, self.resumed_seconds = trainer.resumed_epoch, trainer.resumed_seconds
        self.log, self.history, self.seconds = result.log, result.history, result.seconds
        self.modules = result.model
        self._attach(split, result.embeddings)
        return self

    def _edge_batches(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        order = rng.permutation(len(self.train_users))
        bs = self.params.batch_size
        for start in range(0, len(order), bs):
            yield order[start:start + bs]


class EmbeddingTrainer(Trainer):
    """The :class:`~hashgnn.training.trainer.Trainer` of a shallow embedding baseline: the model is the
    baseline's tables and a step one of its batches; seeding, resume, validation, early stopping, checkpoints and
    logs are the Trainer's.

    Each epoch draws its batches from the Trainer's per-epoch streams (numpy and torch seeded from (seed,
    epoch)); the log gets a row every ``train.log_every`` steps with the mean loss of the last ten, the history
    the epoch's mean loss.
    """

    def __init__(self, baseline: EmbeddingBaseline, split: Split, run_dir: RunDir | None = None,
                 progress: bool = False) -> None:
        self.baseline = baseline
        self._epoch_loss = float("nan")
        super().__init__(baseline.trainer_config(), split, run_dir, progress)

    def _prepare(self, train: Interactions) -> None:
        """Nothing: the tables need no graph, and each method builds its samplers in :meth:`build_model`."""

    def build_model(self) -> nn.ModuleDict:
        return self.baseline.build(self.split)

    def advance_schedule(self, model: nn.Module, iteration: int) -> None:
        """Nothing: the tables have no schedule."""

    def settings(self) -> dict[str, object]:
        return {"method": self.baseline.name, "params": asdict(self.baseline.params)}

    def _run_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict, epoch: int) -> None:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100003 + epoch)
        n_batches, losses = self.steps_per_epoch(), []
        for make_loss in self.baseline._batches(rng):
            loss = make_loss()
            self._step(model, optimizer, loss, state, n_batches)
            losses.append(loss.item())
            if state["iteration"] % cfg.train.log_every == 0:
                state["log"].append({"iteration": state["iteration"], "epoch": epoch,
                                     "loss": float(np.mean(losses[-10:]))})
        self._epoch_loss = float(np.mean(losses))

    def epoch_summary(self) -> dict[str, float]:
        return {"loss": self._epoch_loss}

    def validate(self, model: nn.Module) -> float:
        ecfg = self.config.eval
        return valid_recall(self.embeddings(model, with_codes=False), self.split, "continuous", ecfg.valid_n,
                            ecfg.n_candidates, ecfg.tie_seed)

    def embeddings(self, model: nn.Module, with_codes: bool) -> Embeddings:
        """The user and item tables as continuous embeddings (no codes, whatever ``with_codes``)."""
        return Embeddings.from_signs(model["user"].weight.detach().numpy().copy(),
                                     model["item"].weight.detach().numpy().copy(), None, None)


class MF(EmbeddingBaseline):
    """BPR matrix factorisation (Rendle et al. 2009); one sampled non-item per train edge (see module doc)."""

    name = "MF"

    def _setup(self, split: Split, rng: np.random.Generator) -> None:
        self.sampler = NegativeSampler(self.train_users, self.train_items, self.n_items)

    def _batches(self, rng: np.random.Generator) -> Iterator[Callable[[], Tensor]]:
        users_t, items_t = self.modules["user"], self.modules["item"]
        for idx in self._edge_batches(rng):
            u = torch.from_numpy(self.train_users[idx])
            i = torch.from_numpy(self.train_items[idx])
            j = torch.from_numpy(self.sampler.sample(self.train_users[idx], 1, rng)[:, 0])

            def loss(u=u, i=i, j=j) -> Tensor:
                pu, qi, qj = users_t(u), items_t(i), items_t(j)
                x = (pu * (qi - qj)).sum(-1)
                reg = (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()) / len(u)
                return F.softplus(-x).mean() + self.params.reg * reg

            yield loss


class PTE(EmbeddingBaseline):
    """PTE bipartite-network embedding with negative sampling, both directions (see module doc)."""

    name = "PTE"

    def _setup(self, split: Split, rng: np.random.Generator) -> None:
        self.item_cdf = degree_noise(np.bincount(self.train_items, minlength=self.n_items))
        self.user_cdf = degree_noise(np.bincount(self.train_users, minlength=self.n_users))

    def _batches(self, rng: np.random.Generator) -> Iterator[Callable[[], Tensor]]:
        users_t, items_t = self.modules["user"], self.modules["item"]
        k = self.params.negatives
        for idx in self._edge_batches(rng):
            u = torch.from_numpy(self.train_users[idx])
            i = torch.from_numpy(self.train_items[idx])
            neg_i = torch.from_numpy(sample_cdf(self.item_cdf, (len(idx), k), rng))
            neg_u = torch.from_numpy(sample_cdf(self.user_cdf, (len(idx), k), rng))

            def loss(u=u, i=i, neg_i=neg_i, neg_u=neg_u) -> Tensor:
                eu, ei = users_t(u), items_t(i)
                pos = F.logsigmoid((eu * ei).sum(-1))
                # item i as context of user u, and user u as context of item i
                n1 = F.logsigmoid(-torch.einsum("bd,bkd->bk", eu, items_t(neg_i))).sum(-1)
                n2 = F.logsigmoid(-torch.einsum("bd,bkd->bk", ei, users_t(neg_u))).sum(-1)
                reg = (eu.pow(2).sum() + ei.pow(2).sum()) / len(u)
                return -(2 * pos + n1 + n2).mean() + self.params.reg * reg

            yield loss


def bipartite_csr(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Symmetric binary ``[N, N]`` adjacency of the bipartite graph, users ``0..U-1`` then items ``U..``."""
    n = n_users + n_items
    rows = np.concatenate([users, items + n_users])
    cols = np.concatenate([items + n_users, users])
    a = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    return a


def random_walks(adj: sp.csr_matrix, starts: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform truncated random walks, all walks advanced together: ``[len(starts), length]`` node ids; a walk
    that reaches a node without neighbours is padded with -1. On a bipartite adjacency the walks alternate
    between the two sides."""
    indptr, indices = adj.indptr, adj.indices
    walks = np.full((len(starts), length), -1, dtype=np.int64)
    cur = starts.astype(np.int64)
    walks[:, 0] = cur
    alive = np.ones(len(starts), dtype=bool)
    for step in range(1, length):
        deg = indptr[cur + 1] - indptr[cur]
        alive &= deg > 0
        offs = np.floor(rng.random(len(cur)) * np.maximum(deg, 1)).astype(np.int64)
        nxt = indices[np.minimum(indptr[cur] + offs, len(indices) - 1)]
        cur = np.where(alive, nxt, cur)
        walks[:, step] = np.where(alive, cur, -1)
    return walks


def skipgram_pairs(seqs: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) pairs of every two entries at most ``window`` apart in each row, both orders; -1
    entries (padding) are skipped."""
    centers, contexts = [], []
    for off in range(1, min(window, seqs.shape[1] - 1) + 1):
        a, b = seqs[:, :-off].ravel(), seqs[:, off:].ravel()
        keep = (a >= 0) & (b >= 0) & (a != b)
        centers += [a[keep], b[keep]]
        contexts += [b[keep], a[keep]]
    if not centers:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(centers), np.concatenate(contexts)


class BiNE(EmbeddingBaseline):
    """BiNE (Gao et al. 2018): explicit edge likelihood + implicit user–user / item–item co-occurrences from
    alternating random walks (see module doc)."""

    name = "BiNE"

    def _setup(self, split: Split, rng: np.random.Generator) -> None:
        p = self.params
        nu = self.n_users
        self.modules["user_ctx"] = self._table(self.n_users)
        self.modules["item_ctx"] = self._table(self.n_items)
        self.sampler = NegativeSampler(self.train_users, self.train_items, self.n_items)
        adj = bipartite_csr(self.train_users, self.train_items, self.n_users, self.n_items)
        nodes = np.flatnonzero(np.diff(adj.indptr) > 0)
        starts = np.repeat(nodes, p.walks_per_node)
        self.walks = random_walks(adj, starts, p.walk_length, rng)
        start_user = self.walks[:, 0] < nu
        # same-side subsequences: users at even steps of user-started walks and odd steps of item-started ones
        user_seq = np.concatenate([self.walks[start_user, 0::2], self.walks[~start_user, 1::2]])
        item_seq = np.concatenate([self.walks[start_user, 1::2], self.walks[~start_user, 0::2]])
        item_seq = np.where(item_seq >= 0, item_seq - nu, -1)
        self.user_pairs = skipgram_pairs(user_seq, p.window)
        self.item_pairs = skipgram_pairs(item_seq, p.window)

    def _batches(self, rng: np.random.Generator) -> Iterator[Callable[[], Tensor]]:
        p = self.params
        m = self.modules
        n_steps = math.ceil(len(self.train_users) / p.batch_size)
        bu = math.ceil(len(self.user_pairs[0]) / n_steps) if len(self.user_pairs[0]) else 0
        bi = math.ceil(len(self.item_pairs[0]) / n_steps) if len(self.item_pairs[0]) else 0
        u_order = rng.permutation(len(self.user_pairs[0]))
        i_order = rng.permutation(len(self.item_pairs[0]))
        for step, idx in enumerate(self._edge_batches(rng)):
            u = torch.from_numpy(self.train_users[idx])
            i = torch.from_numpy(self.train_items[idx])
            en = p.explicit_negatives
            j = torch.from_numpy(self.sampler.sample(self.train_users[idx], en, rng)) if en else None
            up = u_order[step * bu:(step + 1) * bu]
            ip = i_order[step * bi:(step + 1) * bi]
            uc, ux = (torch.from_numpy(a[up]) for a in self.user_pairs)
            ic, ix = (torch.from_numpy(a[ip]) for a in self.item_pairs)
            un = torch.from_numpy(rng.integers(0, self.n_users, (len(up), p.negatives)))
            inn = torch.from_numpy(rng.integers(0, self.n_items, (len(ip), p.negatives)))

            def loss(u=u, i=i, j=j, uc=uc, ux=ux, ic=ic, ix=ix, un=un, inn=inn) -> Tensor:
                eu, ei = m["user"](u), m["item"](i)
                explicit = -F.logsigmoid((eu * ei).sum(-1)).mean()
                if j is not None:
                    explicit = explicit - F.logsigmoid(-torch.einsum("bd,bkd->bk", eu, m["item"](j))).sum(-1).mean()
                total = p.gamma * explicit
                if len(uc):
                    total = total + p.alpha * _sgns(m["user"](uc), m["user_ctx"](ux), m["user_ctx"](un))
                if len(ic):
                    total = total + p.beta * _sgns(m["item"](ic), m["item_ctx"](ix), m["item_ctx"](inn))
                reg = (eu.pow(2).sum() + ei.pow(2).sum()) / len(u)
                return total + p.reg * reg

            yield loss


def _sgns(center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
    """Skip-gram with negative sampling: −log σ(c·x) − Σ log σ(−c·n), mean over pairs."""
    pos = F.logsigmoid((center * context).sum(-1))
    neg = F.logsigmoid(-torch.einsum("bd,bkd->bk", center, negatives)).sum(-1)
    return -(pos + neg).mean()
