"""Typed run configuration: nested frozen dataclasses, JSON round trip, dotted overrides that fail loudly.

Every setting is validated before any work starts (:meth:`RunConfig.validate`), and an unknown key in a JSON
file or a ``--set section.key=value`` override is an error that lists the valid keys. So is a setting, away from
its default, that no component of the run reads (``model.guide`` with ``model.method=hashnet``; :data:`READERS`),
except where it comes from a bundle for several runs (a preset, an experiment's overrides for all its methods:
:func:`without_stale`) or from a stored run written before it was an error (:func:`migrate_config`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hashgnn.components import COMPONENTS, component_kwargs
from hashgnn.data.loading import DataConfig
from hashgnn.data.splits import SplitConfig
from hashgnn.defaults import (
    ACTIVATIONS,
    DEFAULT_CANDIDATES,
    ENCODERS,
    GUIDES,
    METHODS,
    RANK_LOSSES,
    SCHEDULE_UNITS,
    STE_GRADS,
)
from hashgnn.errors import ConfigError

log = logging.getLogger("hashgnn.config")

#: Each schedule setting's value in each ``model.schedule_unit`` when the config leaves it at None. ``step``: the
#: paper's (p ×0.95 every 250 iterations, 5.2.3), HashNet's released schedule (γ = 0.005 per step, β updated every
#: 200) and τ = e^(−0.001 t) every 100 steps. ``epoch``: the same at 77 steps an epoch (MovieLens-1M at batch
#: 8192, where every MovieLens-1M result was measured), so that MovieLens-1M keeps its schedule: the intervals
#: are short decimals that round back to exactly 250, 200 and 100 steps there (round(3.25 × 77) = 250), and the
#: rates are the per-step ones × 77.
SCHEDULE_DEFAULTS: dict[str, dict[str, float]] = {
    "step": {"p_every": 250, "hashnet_every": 200, "hashnet_gamma": 0.005, "gumbel_every": 100,
             "gumbel_rate": 1e-3},
    "epoch": {"p_every": 3.25, "hashnet_every": 2.6, "hashnet_gamma": 0.385, "gumbel_every": 1.3,
              "gumbel_rate": 0.077},
}
#: settings that counted steps before ``model.schedule_unit`` existed: a config naming one without a unit is old
STEP_ERA_KEYS = ("p_every", "hashnet_every", "hashnet_gamma", "gumbel_rate")


@dataclass(frozen=True)
class ModelConfig:
    """Encoder + hash layer + discrete optimisation (paper 3.2–4, 5.2.3).

    ``score_scale``: s = score_scale·⟨ĥ_i, ĥ_j⟩ inside σ; 1.0 is the paper's eq. 5–7, ``"sqrt"`` means 1/√K.
    ``guide``: how guided STE draws Q (eq. 8) — ``"element"`` as the paper's text, ``"node"`` as the official code
    (one draw per node: its whole code is z or h in a step). ``ste_grad`` (guided and ste): where the
    straight-through gradient of sign lands, ``"z"`` as the paper or ``"a"`` past the tanh (beyond the paper; see
    :class:`hashgnn.models.hashing.GuidedSTE`). ``link_bias`` (beyond the paper, default off): a learned scalar b
    inside eq. 5's σ(s + b), so calibrating scores (links above 0, non-links below) need not cost code bits; the
    ranking terms, and so the rankings, do not see it. Measured on MovieLens-1M (``plus`` + softmax, seed 0) it
    did not free the near-constant item bits and cost 0.012 HamR Recall@50 (``results/ablation-plus-ml1m``).
    ``typed_hash`` (beyond the paper, default off: the paper has one ψ for all nodes): users and items get their
    own hash projection (W, b) into the same K-bit space (:class:`hashgnn.models.hashing.HashLayer`). Measured
    on MovieLens-1M (``plus`` + softmax with 20 negatives, seed 0) it did not help: HamR Recall@50 0.2795 against
    0.2837 with the paper's single ψ (``results/ablation-plus-ml1m``).
    ``head``: ``"hash"`` (the paper: hash layer eq. 2, z = tanh(Wᵀu + b)) or ``"none"`` (no hash layer: z = u,
    continuous only; with ``encoder="lightgcn"`` this is LightGCN itself, see :data:`HEADS`).
    ``rerank`` (:data:`RERANKS`): the continuous embedding z that hierarchical search re-ranks with and continuous
    search ranks by: ``"tanh"`` (the paper, eq. 2: z = tanh(Wᵀu + b), K-dimensional) or ``"encoder"`` (beyond
    the paper: z = u, the encoder's output, e.g. LightGCN's 64-d embedding, with the codes still sign(Wᵀu + b)).
    ``normalize`` (beyond the paper and LightGCN, default off): u is L2-normalised, so inner products of u are
    cosines, in training and in search alike; with ``train.objective=softmax`` at a temperature below 1 this is
    the cosine sampled softmax of Wu et al. (TOIS 2023), where raw inner products let popular items win by norm.

    ``schedule_unit`` (:data:`SCHEDULE_UNITS`): what the binarizers' schedules count in. ``"epoch"`` (default):
    fractional epochs, the step count over the run's steps per epoch, so a run of any size goes through the same
    schedule; ``"step"``: optimiser steps, the paper's "iterations" (its p decays 5 % every 250 of them at batch
    256). The paper's count ties the schedule to the batch size and the data size: at batch 8192 a 31,000-edge log
    trains 4 steps an epoch, and p never left 1 in 40 epochs (issue 33), so the codes were never trained. In the
    chosen unit: ``p_every`` (guided: p ×= ``p_decay`` every that many), ``hashnet_every`` (HashNet: β is
    re-evaluated every that many) and ``hashnet_gamma`` (β = (1 + γ t)^0.5, t in the unit), ``gumbel_every``
    and ``gumbel_rate`` (τ = max(τ_min, e^(−r t))). An interval is rounded to whole steps, at least one.
    Each left at None takes its unit's default (:data:`SCHEDULE_DEFAULTS`), so ``--set model.schedule_unit=step``
    alone is the paper's schedule. The epoch defaults are the step ones at 77 steps an epoch (MovieLens-1M's
    629,540 train edges at batch 8192, the setting every MovieLens-1M result of the project was measured with),
    rounded so that they give back exactly 250, 200 and 100 steps there: MovieLens-1M keeps its schedule. A faster
    p was measured and not taken: every 2 epochs, on three generated 50,000-row logs of issue 33 (20 / 6 / 2 planted
    communities), best validation Recall@50 (hierarchical) was 0.421 / 0.485 / 0.403 against 0.509 / 0.521 / 0.388
    with every 3.25 epochs, with fewer distinct codes (``results/own-data/summary.json``); on MovieLens-1M p decayed
    every 8 iterations at batch 8192 was not better either (results/README.md). On the same logs p as a fraction
    of training (×0.95 every 0.5 epochs, 0.05 at 3/4 of 40 epochs) collapsed the codes, and a slower p (every 6.5
    epochs) was better on validation on two logs and worse on the third: neither was taken (results/README.md,
    ``own-data/``). A config written before the unit
    existed (one that names ``p_every`` or another schedule setting, but no unit) is read with
    ``schedule_unit="step"``, the meaning its numbers had (:meth:`RunConfig.from_dict`).
    """

    encoder: str = "sage"
    embedding_dim: int = 64
    dims: tuple[int, ...] = (128, 68)
    activation: str = "relu"
    num_layers: int = 2
    n_bits: int = 32
    method: str = "guided"
    init_std: float = 0.02
    score_scale: float | str = 1.0
    p0: float = 1.0
    p_decay: float = 0.95
    p_every: float | None = None
    p_min: float = 0.0
    fixed_p: float | None = None
    guide: str = "element"
    ste_grad: str = "z"
    hashnet_gamma: float | None = None
    hashnet_every: float | None = None
    gumbel_tau_min: float = 0.1
    gumbel_rate: float | None = None
    gumbel_every: float | None = None
    schedule_unit: str = "epoch"
    link_bias: bool = False
    typed_hash: bool = False
    head: str = "hash"
    rerank: str = "tanh"
    normalize: bool = False

    def schedule(self, key: str) -> float:
        """Schedule setting ``key`` (``p_every``, ``hashnet_gamma`` ...) in ``schedule_unit``: the one set, else
        that unit's default."""
        value = getattr(self, key)
        return SCHEDULE_DEFAULTS[self.schedule_unit][key] if value is None else value

    def binarizer_kwargs(self) -> dict[str, Any]:
        """The binarizer's settings, as its registry entry names them (:data:`hashgnn.components.COMPONENTS`),
        each schedule setting in its unit; a trainer gives it its steps per epoch
        (``Binarizer.steps_per_epoch``)."""
        values = {f"model.{f.name}": self.schedule(f.name) if f.name in SCHEDULE_DEFAULTS["step"]
                  else getattr(self, f.name) for f in fields(self)}
        return component_kwargs("binarizer", self.method, values)

    def scale(self) -> float:
        if self.score_scale == "sqrt":
            return self.n_bits ** -0.5
        return float(self.score_scale)


#: Named starting points for a run (``hashgnn train --preset NAME``), applied before any ``--set``. Each is named
#: for what it trains, not for what it resembles:
#:
#: * ``paper`` — the paper's text (the defaults) with three CPU deviations: batch up to 8192 train edges instead
#:   of 256, lr 1e-2 instead of 1e-3 (:class:`TrainConfig` says why), and the schedules in epochs instead of
#:   iterations (:class:`ModelConfig`'s ``schedule_unit``): p decays ×0.95 every 3.25 epochs, which on
#:   MovieLens-1M (629,540 train edges, 77 iterations an epoch at batch 8192) is every 250 iterations, as the paper
#:   says; but its 32× fewer iterations slow p down in epochs: p is 0.95 after 5 epochs and only 0.54 after 40,
#:   where the paper's batch takes it to 0.08 by epoch 5 and ~0 by epoch 20 (plain STE for most of training).
#: * ``paper-literal`` — the paper's text with its batch 256 and lr 1e-3 (5.2.3), and its schedules counted in
#:   iterations (``model.schedule_unit=step``: p ×0.95 every 250, 2,460 iterations an epoch on MovieLens-1M); on
#:   CPU about 32× the time of ``paper`` per epoch.
#: * ``official-options`` — ``paper`` plus three options taken from the authors' released code: leaky ReLU,
#:   one guide draw per node (``model.guide=node``) and its BPR ranking term. It is *not* the released code's
#:   training: that weighs λ·BCE + BPR with λ = 0.1 and 10 negatives (here BCE + 0.5·ranking, 5 negatives),
#:   shares one guide draw between a user and its positive item, and decays p every epoch (here every 3.25).
#:   Called ``official`` before issue 29.
#: * ``plus`` — beyond the paper: ``official-options`` plus the objective on z (``train.z_weight``), the
#:   quantisation term (``train.quant_weight``) and scores scaled by 1/4 inside σ (``model.score_scale``).
#: * ``plus-softmax`` — ``plus`` with the sampled-softmax ranking term over 20 negatives per link
#:   (``train.rank_loss``, ``train.triplets``) and the paper's element-wise guide draw (eq. 8) back; about twice
#:   ``plus``'s training time. ``make run`` trains it.
#:
#: How ``plus`` and ``plus-softmax`` were chosen, on which numbers, and what validation says is in
#: results/README.md ("How each default was chosen"): first on test Recall@50; since then `plus-softmax` over `plus`
#: and its softmax term and element-wise draw were re-decided on validation (3 seeds each) and kept; `plus`'s own
#: quantisation weight and score scale are still flagged as chosen on test.
PRESETS: dict[str, tuple[str, ...]] = {
    "paper": (),
    "paper-literal": ("train.batch_size=256", "train.lr=0.001", "model.schedule_unit=step"),
    "official-options": ("model.activation=leaky_relu", "model.guide=node", "train.rank_loss=bpr"),
}
PRESETS["plus"] = (*PRESETS["official-options"], "train.z_weight=1.0", "train.quant_weight=0.1",
                   "model.score_scale=0.25")
PRESETS["plus-softmax"] = (*PRESETS["plus"], "model.guide=element", "train.rank_loss=softmax", "train.triplets=20")
#: * ``lightgcn`` — LightGCN itself (He et al., SIGIR 2020) with its reference recipe: 3 layers of
#:   D^{-1/2} A D^{-1/2} propagation averaged with the input (``model.encoder=lightgcn``), no hash layer
#:   (``model.head=none``), free 64-d id embeddings drawn from N(0, 0.1), BPR over one non-link per link + 1e-4 ·
#:   L2 of the batch's layer-0 embeddings (``train.objective=bpr``), Adam lr 1e-3, batch 2048, model selected on
#:   validation Recall@20 by continuous search. The ``LightGCN`` baseline is this preset.
#: * ``lightgcn-fast`` — the same model and objective with a recipe that reaches the same quality in a fraction
#:   of the wall time on CPU (see the preset's own comment); chosen on validation Recall@20 (results/converged).
PRESETS["lightgcn"] = ("model.encoder=lightgcn", "model.num_layers=3", "model.head=none", "model.method=continuous",
                       "model.embedding_dim=64", "model.init_std=0.1", "train.objective=bpr", "train.reg=0.0001",
                       "train.triplets=1", "train.batch_size=2048", "train.lr=0.001", "eval.valid_mode=continuous",
                       "eval.valid_n=20")
#: ``lightgcn-fast``: with full-graph propagation a step costs about the same whatever the batch, so 32× the
#: reference batch (65,536 links) makes an epoch 32× cheaper; Adam starts at 10× the reference lr and halves it
#: after every 2 validations (each 10 epochs) without a better one, down to the reference 1e-3. Measured on
#: Gowalla's validation part before it became the preset: a constant 3e-2 stalls at a lower Recall@20 than
#: 1e-2, which is why the rate must fall as training settles (results/converged/README.md).
PRESETS["lightgcn-fast"] = (*PRESETS["lightgcn"], "train.batch_size=65536", "train.lr=0.01",
                            "train.lr_schedule=plateau", "train.lr_factor=0.5", "train.lr_patience=2",
                            "train.lr_min=0.001", "train.valid_every=10", "train.patience=8")
#: old preset names → their new ones, so that an old command fails with a pointer instead of a bare "unknown"
RENAMED_PRESETS: dict[str, str] = {"official": "official-options"}


def preset_overrides(name: str) -> list[str]:
    """The dotted overrides of preset ``name``; the error lists the presets."""
    if name in RENAMED_PRESETS:
        raise ConfigError(f"preset {name!r} was renamed {RENAMED_PRESETS[name]!r} (it is not the released code's "
                          f"training; see hashgnn.config.PRESETS)")
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return list(PRESETS[name])


def with_preset(name: str, overrides: list[str] | tuple[str, ...] = (), base: RunConfig | None = None) -> RunConfig:
    """``base`` (default :class:`RunConfig`) with preset ``name``, then ``overrides`` (``section.key=value``), not
    validated. A preset is a bundle for the components it was written for: a setting of it that no component of
    the result reads is left out (``plus-softmax`` under ``model.encoder=lightgcn``: its leaky ReLU is the SAGE
    encoder's), where one of ``base`` or ``overrides`` stays, for :meth:`RunConfig.validate` to reject."""
    preset = preset_overrides(name)
    cfg = (base or RunConfig()).override([*preset, *overrides])
    from_preset = assigned_keys(preset) - assigned_keys(overrides)
    return without_stale(cfg, set(flat_config(cfg)) - from_preset, f"preset {name}")


LR_SCHEDULES = ("constant", "cosine", "plateau", "milestones")
HEADS = ("hash", "none")
RERANKS = ("tanh", "encoder")
#: ``hashgnn``: eq. 7 (link reconstruction + λ ranking term on the relaxed codes, with the beyond-the-paper terms);
#: ``bpr``: LightGCN's objective, BPR over the link and its sampled non-links + ``reg``·L2 of the batch's layer-0
#: embeddings; ``softmax``: the sampled-softmax cross-entropy at ``temperature`` over the link and its non-links +
#: the same L2 (beyond LightGCN: the many-negative objective of Wu et al., TOIS 2023)
OBJECTIVES = ("hashgnn", "bpr", "softmax")


#: ``train.batch_size`` left at None: the largest power of two from ``MAX_AUTO_BATCH`` down to ``MIN_AUTO_BATCH``
#: whose epoch has at least ``MIN_STEPS_PER_EPOCH`` steps (:func:`auto_batch_size`). 8192 is the CPU default every
#: paper-size result was measured with, and MovieLens-1M (77 steps an epoch at it, random split) and Gowalla (79 to
#: 99, random or given split) keep it; Amazon-CDs (59) gets 4096. 64 steps, not fewer (measured on validation by
#: the session that chose it, on logs generated then, not kept in a committed file): on a 50,000-row log
#: (31,300 train edges; issue 33) with 20 planted communities, batch 256 (123 steps) reached validation Recall@50
#: 0.681 (hierarchical) and 0.592 (Hamming) against 0.501 and 0.414 at batch 512 (62 steps); with 6 communities
#: both were level (0.514 / 0.512 and 0.410 / 0.423). The floor of 64 is below the paper's 256 because a step on a
#: small graph costs little and a small log needs the steps: on 6,000 rows (300 users × 200 items, ~3,800 train
#: edges, 6 communities) validation Recall@50 (hierarchical) reached 0.460 at batch 256 (15 steps an epoch, codes
#: collapsed to 22 patterns), 0.616 at 128 and 0.715 at 64.
MAX_AUTO_BATCH = 8192
MIN_AUTO_BATCH = 64
MIN_STEPS_PER_EPOCH = 64


def auto_batch_size(n_train: int) -> int:
    """The batch (train edges) of a run on ``n_train`` edges that did not set ``train.batch_size``."""
    batch = MAX_AUTO_BATCH
    while batch > MIN_AUTO_BATCH and math.ceil(n_train / batch) < MIN_STEPS_PER_EPOCH:
        batch //= 2
    return batch


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (paper 5.2.3: Adam, lr 1e-3, batch 256; λ = 0.5, α = 0.2, 5 triplets per node).

    ``batch_size`` is in train edges. With full-graph propagation every step costs the same whatever the batch, so
    on CPU the batch is up to 32× the paper's 256, and the learning rate 10× the paper's 1e-3 to make up for
    32× fewer steps: with lr 1e-3 the N(0, 0.02)-initialised network stays near zero for hundreds of steps and
    learns little beyond item popularity (measured on MovieLens-1M; see README). ``--set train.lr=0.001
    --set train.batch_size=256`` is the paper's setting. Left at None (the default) the batch adapts to the data
    (:func:`auto_batch_size`): 8192 where an epoch has enough steps at it (MovieLens-1M, Gowalla), smaller on a
    small log, where 8192 edges are most of an epoch and 40 epochs were 160 steps, too few to learn anything a
    popularity count does not know (issue 33). The trainer writes the batch it chose into the run's
    ``config.json``, so the run can be repeated. ``triplets`` negatives are sampled per positive edge:
    each gives one non-link for eq. 5 and one triplet for eq. 6. ``rank_loss``: ``"hinge"`` is eq. 6,
    ``"bpr"`` the official code's ranking term softplus(−(s_ij − s_im)), ``"softmax"`` (beyond the paper) the
    sampled-softmax cross-entropy over the link and its ``triplets`` non-links (see :mod:`hashgnn.losses`).
    ``shared_negatives`` (beyond the paper, default 0; softmax only): that many more non-links, drawn uniformly
    once per step and shared by every link of the batch (a user's own train items masked out), join the softmax.
    ``lr_schedule``: ``"constant"`` (the paper's Adam), ``"cosine"`` (from ``lr`` down to ``lr_min`` over
    ``epochs``, evaluated at the fraction of training done) or ``"plateau"`` (multiplied by ``lr_factor``, not
    below ``lr_min``, after every ``lr_patience`` validations without a better one: a schedule that needs no epoch
    count, for training to convergence) or ``"milestones"`` (multiplied by ``lr_factor`` after each epoch listed
    in ``lr_milestones``: how a plateau run's schedule is replayed when the selected model is trained again on all
    of train, see :mod:`hashgnn.experiments.converged`). Every lr schedule counts epochs, fractions of training or
    validations, never steps, so a run of any size and batch goes through the same one. ``min_delta`` (default
    0): a validation counts as better only when it beats the best by more than this (early stopping and the
    plateau schedule both), so a curve creeping up by
    noise-sized steps still stops.
    ``end_schedule_on_plateau`` (default false: the run stops): when ``patience`` runs out while the binarizer's
    schedule is above its floor (guided STE's p > ``model.p_min``, Gumbel's τ > ``model.gumbel_tau_min``), end
    the schedule there (p = ``p_min`` from the next step) and train on, patience counted afresh and the model
    selected among the epochs from then on. The paper's continuation ends at plain STE (at its batch p is near 0
    after a few epochs); a small log stops by validation at p 0.6–0.8, with codes never trained as codes (issue
    33). Measured on issue 33's three generated 50,000-row logs (20 / 6 / 2 planted communities,
    ``results/own-data/summary.json``) it lowered validation HamR Recall@50 on two: 0.217 / 0.380 / 0.330 against
    0.362 / 0.460 / 0.325, with fewer distinct item codes on all three (175 / 197 / 10 against 325 / 516 / 286),
    so it is off: after the switch, plain STE at lr 1e-2 undid much of what the relaxed training had learned.
    ``z_weight`` (beyond the paper, default 0): add that multiple of the same objective computed
    on the continuous z = tanh(a), so z stays trained for hierarchical re-ranking while p decays.
    ``quant_weight`` (beyond the paper, default 0): add that multiple of the quantisation gap mean (1 − |z|)²
    over the batch's nodes, pulling z towards its code so that what z learns carries over to h; ``quant_start``
    (default 1): the first epoch with that term, so z can first learn unconstrained.
    ``balance_weight`` (beyond the paper, default 0): add that multiple of :func:`hashgnn.losses.bit_balance`
    (balanced, decorrelated bits, as Discrete Collaborative Filtering constrains them) on the batch's z rows.
    ``z_scale`` (beyond the paper, default None = ``model.score_scale``): the score scale of the objective on z.
    ``distill_weight`` (beyond the paper, default 0): add that multiple of the cross-entropy between the softmax
    of z's scores (teacher, not trained by this term) and the codes' over each link's candidates (the link, its
    negatives and the shared ones), so the codes learn the continuous ranking, not only links over non-links.
    ``sampler="neighbor"`` trains on sampled ``fanouts``-neighbourhoods; ``debias`` (default on) reweights the
    sampled mean operators to unbiased estimates of the full ones. Without it a node keeps weight 1/(k+1) of
    itself in training but 1/(d+1) at inference, and on Gowalla mini-batch validation Recall@50 reached only
    about half of full-graph training's (benchmarks/README.md).
    ``objective`` (:data:`OBJECTIVES`): ``"hashgnn"`` (eq. 7, the default), ``"bpr"`` (LightGCN's: mean
    softplus(s_im − s_ij) over the ``triplets`` non-links + ``reg``·½(‖e⁰_u‖² + ‖e⁰_i‖² + mean_m ‖e⁰_m‖²) averaged
    over the batch, e⁰ the layer-0 id embeddings) or ``"softmax"`` (sampled softmax over the link and its
    ``triplets`` non-links with scores divided by ``temperature``, + the same L2); ``reg`` and ``temperature`` are
    read by those two only. With a hash layer and a binarizer (``model.head=hash``, ``model.method`` not
    ``continuous``) ``"bpr"``/``"softmax"`` train the encoder's output u (the embedding ``model.rerank=encoder``
    re-ranks with) and ``code_weight`` × eq. 7 (with the terms above) trains the relaxed codes on the same
    batch, end to end: a hash layer on a continuous recommender's embedding, both learnt together.
    ``init_from`` (default None): a run directory whose selected model's parameters (layer-0 embeddings,
    encoder) start this one, e.g. a converged LightGCN under a new hash layer; its train part must be this run's
    (so validation stays unseen), and its model the same encoder and embedding size.
    ``teacher`` (beyond the paper, default None): a finished run on exactly this run's train part (e.g. a converged
    LightGCN) whose ranking is distilled into the codes (:mod:`hashgnn.training.teacher`): ``teacher_weight`` ×
    the cross-entropy of the codes' softmax against the teacher's (its scores divided by
    ``teacher_temperature``) over each link, its non-links and the teacher's ``teacher_top_k`` items of the user.
    Full-graph training of a hashing method only; the three ``teacher_*`` settings need ``teacher``.
    """

    epochs: int = 40
    batch_size: int | None = None
    lr: float = 1e-2
    lr_schedule: str = "constant"
    lr_min: float = 0.0
    lr_factor: float = 0.5
    lr_patience: int = 2
    lr_milestones: tuple[int, ...] = ()
    min_delta: float = 0.0
    weight_decay: float = 0.0
    lam: float = 0.5
    margin: float = 0.2
    triplets: int = 5
    rank_loss: str = "hinge"
    shared_negatives: int = 0
    z_weight: float = 0.0
    quant_weight: float = 0.0
    quant_start: int = 1
    balance_weight: float = 0.0
    z_scale: float | None = None
    distill_weight: float = 0.0
    patience: int = 10
    end_schedule_on_plateau: bool = False
    valid_every: int = 1
    log_every: int = 10
    auc_pairs: int = 20000
    device: str = "cpu"
    threads: int | None = None
    max_minutes: float | None = None
    sampler: str = "full"
    fanouts: tuple[int, ...] = (10, 5)
    debias: bool = True
    objective: str = "hashgnn"
    reg: float = 1e-4
    temperature: float = 1.0
    code_weight: float = 1.0
    init_from: str | None = None
    teacher: str | None = None
    teacher_weight: float = 1.0
    teacher_temperature: float = 1.0
    teacher_top_k: int = 20

    def batch_for(self, n_train: int) -> int:
        """The batch a run on ``n_train`` train edges trains with: ``batch_size``, or the adapted one."""
        return self.batch_size if self.batch_size is not None else auto_batch_size(n_train)

    def steps_per_epoch(self, n_train: int, world_size: int = 1) -> int:
        """Optimiser steps in an epoch on ``n_train`` train edges (``world_size`` processes sharing each step):
        what a schedule in epochs divides the step count by."""
        return math.ceil(n_train / (self.batch_for(n_train) * world_size))

    def extra_terms(self, epoch: int) -> dict[str, float | None]:
        """The beyond-the-paper terms of :func:`hashgnn.losses.batch_objective` in ``epoch`` (1-based), by keyword."""
        quant = self.quant_weight if epoch >= self.quant_start else 0.0
        return {"z_weight": self.z_weight, "quant_weight": quant, "balance_weight": self.balance_weight,
                "z_scale": self.z_scale, "distill_weight": self.distill_weight}


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation: cut-offs, hierarchical candidates M, the tie rule's seed, and the validation metric.

    ``test_curve`` (default off): at every validation also measure the test part (Recall and NDCG at ``valid_n``,
    same search mode) into ``history.json``, for learning curves against wall time. It is never read by model
    selection or early stopping, and its evaluation time is left out of the run's training seconds.

    ``max_valid_users`` (default None: every validation user): validate on a seeded random sample of that many
    validation users (the same sample at every validation; :func:`hashgnn.evaluation.protocol.evaluate_part`'s
    ``max_users``). At the paper's Alibaba size an all-user validation scores hundreds of thousands of users
    against 4.2 M items after every ``valid_every`` epochs; even a sample of 10,000 users took 684 s there after
    one epoch of full-graph training (benchmarks/README.md, "Full-graph training at Alibaba size"). The
    distributed trainer shards all users instead and rejects it."""

    ns: tuple[int, ...] = (20, 50, 100)
    n_candidates: int = DEFAULT_CANDIDATES
    tie_seed: int = 0
    valid_n: int = 50
    valid_mode: str = "auto"
    max_test_users: int | None = None
    test_curve: bool = False
    max_valid_users: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; written as ``config.json`` in the run directory."""

    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> RunConfig:
        """The config of a stored run (a run directory's ``config.json``, a results folder's ``config`` column):
        :meth:`from_dict` after :func:`migrate_config`, so a run stored with a setting its components ignore
        (accepted before such settings were errors) still loads, and trains what it trained."""
        return cls.from_dict(migrate_config(data))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The config of ``data`` (e.g. a ``config.json``); keys it lacks get today's defaults, except the unit of
        a schedule written before ``model.schedule_unit`` existed, which is ``"step"``: its numbers counted steps
        then (:class:`ModelConfig`)."""
        return _build(cls, _with_schedule_unit(data), "")

    def with_batch_for(self, n_train: int) -> RunConfig:
        """This config with ``train.batch_size`` set (the adapted batch when None) for ``n_train`` train edges:
        what a trainer trains and records, so the run can be repeated."""
        return replace(self, train=replace(self.train, batch_size=self.train.batch_for(n_train)))

    @classmethod
    def from_json(cls, path: str | Path) -> RunConfig:
        """The config of a JSON file, read as a stored one (:meth:`from_stored`): a run's ``config.json``."""
        try:
            return cls.from_stored(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply ``section.key=value`` strings; values are parsed as JSON when possible, else as strings."""
        data = self.to_dict()
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"override {item!r} must look like section.key=value")
            key, raw = item.split("=", 1)
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            node = data
            parts = key.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown config section {part!r} in {key!r}; sections: {sorted(data)}")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"unknown config key {key!r}; valid keys here: {', '.join(sorted(node))}")
            node[parts[-1]] = value
        return RunConfig.from_dict(data)

    def validate(self) -> RunConfig:
        """Reject impossible settings before any work starts: types, then each section's own choices and
        ranges, then the settings that depend on another section's (objective, sampler)."""
        _check_types(self, "")
        self.split.validate()
        _check_data(self.data)
        _check_model(self.model)
        _check_train(self.train)
        _check_objective(self.model, self.train)
        _check_eval(self.eval)
        _check_sampler(self.model, self.train)
        _check_teacher_objective(self.model, self.train)
        _check_components(self)
        return self


def _with_schedule_unit(data: Any) -> Any:
    """``data`` with ``model.schedule_unit="step"`` when its model section names a schedule setting but no unit:
    written before units existed, when every schedule counted steps. A value equal to the step default becomes
    unset (None, which is that default), so an old run and ``--set model.schedule_unit=step`` today, which
    train the same, also have the same config (how a stored run is recognised, :mod:`hashgnn.experiments.reuse`)."""
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or "schedule_unit" in model or not any(k in model for k in STEP_ERA_KEYS):
        return data
    defaults = SCHEDULE_DEFAULTS["step"]
    model = {k: v for k, v in model.items() if not (k in defaults and v == defaults[k])}
    return {**data, "model": {**model, "schedule_unit": "step"}}


def _check_schedule(m: ModelConfig) -> None:
    _choice("model.schedule_unit", m.schedule_unit, SCHEDULE_UNITS)
    _positive(*((f"model.{k}", getattr(m, k)) for k in ("p_every", "hashnet_every", "gumbel_every")))
    _non_negative(*((f"model.{k}", m.schedule(k)) for k in ("hashnet_gamma", "gumbel_rate")))
    if m.schedule_unit != "step":
        return
    for key in ("p_every", "hashnet_every", "gumbel_every"):
        value = getattr(m, key)
        if value is not None and value != int(value):
            raise ConfigError(f"model.{key}={value} counts steps with model.schedule_unit=step: give a whole "
                              f"number (the paper's is {SCHEDULE_DEFAULTS['step'][key]}), or leave it unset")


def _choice(label: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {label} {value!r}; choose one of {', '.join(choices)}")


def _positive(*settings: tuple[str, float | None]) -> None:
    """Each ``(label, value)`` is > 0 (None: not set, nothing to check)."""
    for label, v in settings:
        if v is not None and v <= 0:
            raise ConfigError(f"{label} must be > 0, got {v}")


def _non_negative(*settings: tuple[str, float]) -> None:
    for label, v in settings:
        if v < 0:
            raise ConfigError(f"{label} must be >= 0, got {v}")


def _check_model(m: ModelConfig) -> None:
    _choice("encoder", m.encoder, ENCODERS)
    _choice("method", m.method, METHODS)
    _choice("model.guide", m.guide, GUIDES)
    _choice("model.ste_grad", m.ste_grad, STE_GRADS)
    _choice("model.activation", m.activation, ACTIVATIONS)
    if m.n_bits <= 0 or m.n_bits % 8:
        raise ConfigError(f"model.n_bits must be a positive multiple of 8, got {m.n_bits}")
    for label, v in (("model.p0", m.p0), ("model.p_min", m.p_min), ("model.fixed_p", m.fixed_p)):
        if v is not None and not 0.0 <= v <= 1.0:
            raise ConfigError(f"{label} must be in [0, 1], got {v}")
    if not 0.0 < m.p_decay <= 1.0:
        raise ConfigError(f"model.p_decay must be in (0, 1], got {m.p_decay}")
    if not (m.score_scale == "sqrt" or (isinstance(m.score_scale, (int, float)) and m.score_scale > 0)):
        raise ConfigError(f"model.score_scale must be a positive number or 'sqrt', got {m.score_scale!r}")
    if m.embedding_dim <= 0 or any(d <= 0 for d in m.dims):
        raise ConfigError("model.embedding_dim and model.dims must be positive")
    _positive(("model.num_layers", m.num_layers), ("model.gumbel_tau_min", m.gumbel_tau_min))
    _check_schedule(m)
    _non_negative(("model.init_std", m.init_std))


def _check_train(t: TrainConfig) -> None:
    _choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    if t.lr <= 0:  # before lr_min's check, whose range [0, lr] is meaningless for a bad lr
        raise ConfigError(f"train.lr must be > 0, got {t.lr}")
    if not 0 <= t.lr_min <= t.lr:
        raise ConfigError(f"train.lr_min must be in [0, train.lr], got {t.lr_min}")
    _choice("train.rank_loss", t.rank_loss, RANK_LOSSES)
    _non_negative(("train.shared_negatives", t.shared_negatives))
    if t.shared_negatives and t.objective == "hashgnn" and (t.rank_loss != "softmax" or t.lam <= 0):
        raise ConfigError("train.shared_negatives needs train.rank_loss=softmax and train.lam > 0: shared "
                          "negatives join only the softmax ranking term")
    _non_negative(("train.lam (λ)", t.lam), ("train.margin (α)", t.margin))
    _positive(("train.epochs", t.epochs), ("train.batch_size", t.batch_size), ("train.triplets", t.triplets),
              ("train.log_every", t.log_every), ("train.valid_every", t.valid_every),
              ("train.patience", t.patience), ("train.auc_pairs", t.auc_pairs), ("train.threads", t.threads),
              ("train.quant_start", t.quant_start), ("train.max_minutes", t.max_minutes),
              ("train.z_scale", t.z_scale))
    _non_negative(("train.weight_decay", t.weight_decay), ("train.z_weight", t.z_weight),
                  ("train.quant_weight", t.quant_weight), ("train.balance_weight", t.balance_weight),
                  ("train.distill_weight", t.distill_weight))
    if not t.device.startswith(("cpu", "cuda")):
        raise ConfigError(f"train.device must be cpu or cuda[:N], got {t.device!r}")
    _check_teacher(t)


def _check_teacher(t: TrainConfig) -> None:
    defaults = TrainConfig()
    if t.teacher is None:
        given = [k for k in ("teacher_weight", "teacher_temperature", "teacher_top_k")
                 if getattr(t, k) != getattr(defaults, k)]
        if given:
            raise ConfigError(f"train.{given[0]} has no effect without train.teacher (a run directory to learn from)")
        return
    _positive(("train.teacher_weight", t.teacher_weight), ("train.teacher_temperature", t.teacher_temperature),
              ("train.teacher_top_k", t.teacher_top_k))
    if t.sampler != "full":
        raise ConfigError("train.teacher needs full-graph training (train.sampler=full)")


def _check_teacher_objective(m: ModelConfig, t: TrainConfig) -> None:
    if t.teacher is not None and t.objective != "hashgnn" and not codes_and_embedding(m, t):
        raise ConfigError(f"train.teacher is distilled into eq. 7's scores, which train.objective={t.objective} "
                          "without a hash layer does not train: use train.objective=hashgnn or model.head=hash")


def _check_eval(e: EvalConfig) -> None:
    if any(n <= 0 for n in e.ns) or e.valid_n <= 0 or e.n_candidates <= 0:
        raise ConfigError(f"eval cut-offs must be > 0 (ns={e.ns}, valid_n={e.valid_n}, "
                          f"n_candidates={e.n_candidates})")
    _positive(("eval.max_test_users", e.max_test_users), ("eval.max_valid_users", e.max_valid_users))
    if e.valid_mode not in ("auto", "hamming", "hierarchical", "continuous"):
        raise ConfigError(f"eval.valid_mode must be auto|hamming|hierarchical|continuous, got {e.valid_mode!r}")


def _check_sampler(m: ModelConfig, t: TrainConfig) -> None:
    if t.sampler not in ("full", "neighbor"):
        raise ConfigError(f"train.sampler must be 'full' or 'neighbor', got {t.sampler!r}")
    if t.sampler == "neighbor":
        if m.encoder != "sage":
            raise ConfigError("train.sampler=neighbor (mini-batch) supports only model.encoder=sage")
        if len(t.fanouts) != len(m.dims) or any(f != -1 and f <= 0 for f in t.fanouts):
            raise ConfigError(f"train.fanouts needs one fan-out (> 0, or -1 for all) per layer "
                              f"({len(m.dims)}), got {t.fanouts}")


def codes_and_embedding(m: ModelConfig, t: TrainConfig) -> bool:
    """Whether the objective trains an embedding (bpr/softmax on u) and codes (eq. 7 on ĥ) together."""
    return t.objective != "hashgnn" and m.head == "hash" and m.method != "continuous"


def trains_eq7(m: ModelConfig, t: TrainConfig) -> bool:
    """Whether eq. 7 (:func:`hashgnn.losses.batch_objective`) is in the loss: the ``hashgnn`` objective, or a
    bpr/softmax objective that also trains a hash layer's codes (:func:`codes_and_embedding`)."""
    return t.objective == "hashgnn" or codes_and_embedding(m, t)


@dataclass(frozen=True)
class Reader:
    """A component of a run that reads ``keys`` (dotted) when ``active``; ``label`` names it in an error, and
    ``decided_by`` the settings that choose it (what the error reports the run's values of)."""

    label: str
    decided_by: tuple[str, ...]
    active: Callable[[ModelConfig, TrainConfig], bool]
    keys: tuple[str, ...]


#: settings every run reads whatever its components (the id embeddings' and the hash layer's init)
READ_BY_EVERY_RUN = ("model.init_std",)
#: eq. 7's settings that only one of its terms reads (the readers after :data:`READERS`' eq. 7 entry)
_EQ7_TERMS = ("train.margin", "train.z_scale", "train.quant_start")
_EQ7 = ("train.objective", "model.head", "model.method")


def _chooses(selector: str, name: str) -> Callable[[ModelConfig, TrainConfig], bool]:
    section, key = selector.split(".")
    return lambda m, t: getattr(m if section == "model" else t, key) == name


def _component_readers(kind: str, skip: tuple[str, ...] = ()) -> tuple[Reader, ...]:
    """One reader per choice of ``kind`` (:data:`hashgnn.components.COMPONENTS`): its schema's settings."""
    selector, choices = COMPONENTS[kind]
    return tuple(Reader(f"{selector}={name}", (selector,), _chooses(selector, name),
                        tuple(k for k in entry.keys if k not in (*READ_BY_EVERY_RUN, *skip)))
                 for name, entry in choices.items())


#: Who reads each setting that only some components read. The binarizers, encoders and objectives read what
#: their registry entries' schemas name (:data:`hashgnn.components.COMPONENTS`, each checked against its
#: constructor's signature); eq. 7 (the ``hashgnn`` objective's schema) is also trained by a bpr/softmax
#: objective under a hash layer's codes (:func:`trains_eq7`), and three of its settings only by one of its terms;
#: the hash layer is :class:`hashgnn.models.hashgnn.HashGNNModel`'s. A setting no active reader reads has no
#: effect, and giving it a value other than its default is an error (:func:`ignored_settings`). Settings
#: outside this table (``model.embedding_dim``, ``train.lr`` ...) are read by every run.
READERS: tuple[Reader, ...] = (
    *_component_readers("binarizer"),
    *_component_readers("encoder"),
    Reader("model.head=hash (the hash layer)", ("model.head",), lambda m, t: m.head == "hash",
           ("model.n_bits", "model.typed_hash", "model.rerank")),
    Reader("model.score_scale=sqrt (1/√K)", ("model.score_scale",), lambda m, t: m.score_scale == "sqrt",
           ("model.n_bits",)),
    Reader("eq. 7 (train.objective=hashgnn, or bpr/softmax with a hash layer's codes)", _EQ7, trains_eq7,
           tuple(k for k in COMPONENTS["objective"][1]["hashgnn"].keys if k not in _EQ7_TERMS)),
    Reader("eq. 7's hinge ranking term (train.rank_loss=hinge)", (*_EQ7, "train.rank_loss"),
           lambda m, t: trains_eq7(m, t) and t.rank_loss == "hinge", ("train.margin",)),
    Reader("eq. 7's objective on z (train.z_weight > 0) or its distillation (train.distill_weight > 0)",
           (*_EQ7, "train.z_weight", "train.distill_weight"),
           lambda m, t: trains_eq7(m, t) and (t.z_weight > 0 or t.distill_weight > 0), ("train.z_scale",)),
    Reader("the quantisation term (train.quant_weight > 0)", (*_EQ7, "train.quant_weight"),
           lambda m, t: trains_eq7(m, t) and t.quant_weight > 0, ("train.quant_start",)),
    Reader("a bpr/softmax objective with a hash layer's codes (model.head=hash, model.method not continuous)",
           _EQ7, codes_and_embedding, ("train.code_weight",)),
    *(r for r in _component_readers("objective") if r.label != "train.objective=hashgnn"),
)


def _setting(config: Any, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def ignored_settings(config: RunConfig) -> dict[str, str]:
    """Each setting of ``config`` that differs from its default but that no component of the run reads
    (:data:`READERS`), with the error that says so: the run's choice and what would read the setting."""
    m, t, default = config.model, config.train, RunConfig()
    readers: dict[str, list[Reader]] = {}
    for reader in READERS:
        for key in reader.keys:
            readers.setdefault(key, []).append(reader)
    found = {}
    for key, its in readers.items():
        if _setting(config, key) == _setting(default, key) or any(r.active(m, t) for r in its):
            continue
        chosen = dict.fromkeys(d for r in its for d in r.decided_by)
        values = ", ".join(f"{d}={_setting(config, d)}" for d in chosen)
        found[key] = (f"{key}={_setting(config, key)!r} has no effect with {values}; it is read by "
                      f"{' or '.join(r.label for r in its)}")
    return found


def _check_components(config: RunConfig) -> None:
    ignored = ignored_settings(config)
    if ignored:
        more = f" (and {len(ignored) - 1} more: {', '.join(sorted(ignored)[1:])})" if len(ignored) > 1 else ""
        raise ConfigError(f"{ignored[sorted(ignored)[0]]}{more}; leave it at its default")


def without_settings(config: RunConfig, keys: Iterator[str] | list[str]) -> RunConfig:
    """``config`` with each dotted setting of ``keys`` back at its default."""
    default, sections = RunConfig(), {}
    for key in keys:
        section, name = key.split(".")
        sections.setdefault(section, {})[name] = _setting(default, key)
    return replace(config, **{s: replace(getattr(config, s), **kw) for s, kw in sections.items()})


def as_assignments(overrides: Sequence[str] | Mapping[str, object] = ()) -> list[str]:
    """Dotted overrides given as ``["a.b=1"]`` or ``{"a.b": 1}``, as ``section.key=value`` strings."""
    if isinstance(overrides, Mapping):
        return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
    return list(overrides)


def assigned_keys(assignments: Iterator[str] | list[str] | tuple[str, ...]) -> set[str]:
    """The dotted keys that ``section.key=value`` assignments set."""
    return {a.split("=", 1)[0] for a in assignments}


def without_stale(config: RunConfig, explicit: set[str], source: str) -> RunConfig:
    """``config`` without the settings that no component of it reads (:func:`ignored_settings`) and that are not
    in ``explicit``: they came from a bundle (``source``: a preset, an experiment's overrides for every method),
    whose settings apply where the run has the component they configure, e.g. ``preset:plus-softmax``'s leaky
    ReLU under ``model.encoder=lightgcn``, or an experiment's ``model.guide=node`` on its HashNet runs. An explicit
    setting that has no effect stays, for :meth:`RunConfig.validate` to reject."""
    stale = sorted(set(ignored_settings(config)) - explicit)
    for key in stale:
        log.info("%s's %s=%r not applied: no component of this run reads it", source, key, _setting(config, key))
    return without_settings(config, stale)


def migrate_config(data: dict[str, Any]) -> dict[str, Any]:
    """A stored config (``config.json``, a results folder's config) without the settings its components ignore
    (:func:`ignored_settings`): before they were errors a run could store one, e.g. ``model.guide=node`` on a
    HashNet run of an experiment whose overrides apply to every method. Such a setting had no effect, so the
    run trained what the config without it trains; each one dropped is logged. A config that does not build
    (unknown keys, wrong types) is returned as it is, for :meth:`RunConfig.from_dict` to report."""
    try:
        config = RunConfig.from_dict(data)
        ignored = ignored_settings(config)
    except (ConfigError, TypeError, ValueError, AttributeError):
        return data
    for key in sorted(ignored):
        log.info("stored config: %s dropped (%s)", key, ignored[key])
    # the resolved config (today's defaults and the old-config schedule unit filled in), not ``data`` with keys
    # popped: a dropped schedule setting could otherwise take away what marks a config as step-era
    return without_settings(config, ignored).to_dict() if ignored else data


def _check_objective(m: ModelConfig, t: TrainConfig) -> None:
    if m.head not in HEADS:
        raise ConfigError(f"unknown model.head {m.head!r}; choose one of {', '.join(HEADS)}")
    if m.head == "none" and m.method != "continuous":
        raise ConfigError(f"model.head=none has no codes: it needs model.method=continuous, got {m.method!r}")
    if t.objective not in OBJECTIVES:
        raise ConfigError(f"unknown train.objective {t.objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if m.rerank not in RERANKS:
        raise ConfigError(f"unknown model.rerank {m.rerank!r}; choose one of {', '.join(RERANKS)}")
    if t.code_weight < 0:
        raise ConfigError(f"train.code_weight must be >= 0, got {t.code_weight}")
    if t.objective != "hashgnn" and t.sampler != "full":
        raise ConfigError(f"train.objective={t.objective} is trained by full-graph propagation only "
                          "(train.sampler=full)")
    codes_softmax = codes_and_embedding(m, t) and t.rank_loss == "softmax"
    if t.objective == "bpr" and t.shared_negatives and not codes_softmax:
        raise ConfigError("train.shared_negatives joins only a softmax term (train.objective=softmax, or "
                          "train.rank_loss=softmax with train.objective=hashgnn or with a hash layer's codes)")
    if t.reg < 0:
        raise ConfigError(f"train.reg must be >= 0, got {t.reg}")
    if not 0 < t.lr_factor <= 1:
        raise ConfigError(f"train.lr_factor must be in (0, 1], got {t.lr_factor}")
    if any(e <= 0 for e in t.lr_milestones) or list(t.lr_milestones) != sorted(t.lr_milestones):
        raise ConfigError(f"train.lr_milestones must be increasing epochs > 0, got {list(t.lr_milestones)}")
    if t.min_delta < 0:
        raise ConfigError(f"train.min_delta must be >= 0, got {t.min_delta}")
    if t.lr_patience <= 0:
        raise ConfigError(f"train.lr_patience must be > 0, got {t.lr_patience}")
    if t.temperature <= 0:
        raise ConfigError(f"train.temperature must be > 0, got {t.temperature}")


def _flat(d: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def flat_config(config: RunConfig) -> dict[str, Any]:
    """Every setting of ``config`` by its dotted key (``model.n_bits``, ``train.lam``, ...)."""
    return dict(_flat(config.to_dict()))


def config_differences(expected: RunConfig, given: RunConfig) -> list[str]:
    """``key: expected != given`` for every dotted config key whose values differ (empty when equal)."""
    a, b = flat_config(expected), flat_config(given)
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if hint is float:
        return "a finite number"
    return {int: "an integer", str: "a string", bool: "true or false"}.get(hint, getattr(hint, "__name__", str(hint)))


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(hint)
        return isinstance(value, (tuple, list)) and all(_type_ok(v, args[0]) for v in value)
    return True


def _check_types(obj: Any, where: str) -> None:
    """Every field has its declared type (a JSON file or ``--set`` can put a string where a number goes)."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value, hint = getattr(obj, f.name), hints[f.name]
        key = f"{where}.{f.name}".strip(".")
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, hint):
                raise ConfigError(f"config section {key!r} must be an object")
            _check_types(value, key)
        elif not _type_ok(value, hint):
            raise ConfigError(f"{key} must be {_describe(hint)}, got {value!r}")


def _check_data(data: DataConfig) -> None:
    from hashgnn.data.io import FORMATS

    # an unknown dataset name is reported (with the registry's names) by the loader, the first step of any run;
    # it cannot be checked here because in-memory datasets (Interactions, Split) carry any name.
    if data.format not in FORMATS:
        raise ConfigError(f"unknown data.format {data.format!r}; choose one of {', '.join(FORMATS)}")
    if data.min_degree < 0:
        raise ConfigError(f"data.min_degree must be >= 0, got {data.min_degree}")


def _holds_float(hint: Any) -> bool:
    """``float`` or ``float | None`` (not a union that also takes ``int``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return float in args and int not in args
    return hint is float


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config section {where or 'root'!r} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown config key(s) {sorted(unknown)} in {where or 'root'!r}; "
                          f"valid keys: {', '.join(sorted(known))}")
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value, f"{where}.{f.name}".strip("."))
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        elif _holds_float(hint) and isinstance(value, int) and not isinstance(value, bool):
            # one setting, one spelling: "train.lam=0" and "train.lam=0.0" must write the same config JSON, which
            # is how a stored run of identical settings is recognised (and how a GraphSage stage is keyed)
            value = float(value)
        kwargs[f.name] = value
    return replace(cls(), **kwargs)
