"""The components a run is made of, one registry for every kind: binarizer (``model.method``), encoder
(``model.encoder``) and objective (``train.objective``).

Each entry names the class or function that implements the choice (``"module:name"``, imported on use: reading
and validating a config must not import torch, see tests/test_startup.py) and maps the parameters of its
constructor (or signature) to the config settings that fill them: that mapping is the component's schema. The
parameters a run supplies itself (the input size, the batch's rows) are listed as ``runtime``; a parameter in
neither stays at its default, and tests/test_config_components.py checks that each entry's parameters are exactly
its target's. What a run builds is what its schema says (:func:`component_kwargs`), and a setting that the
chosen components' schemas do not name is not read (:data:`hashgnn.config.READERS`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hashgnn.errors import ConfigError


@dataclass(frozen=True)
class Component:
    """One choice of a component kind: ``target`` (``"module:name"``), its parameters filled from config settings
    (``settings``: parameter → dotted key), fixed for this choice (``bound``: parameter → value, e.g. the kind of
    a shared class), supplied by the run (``runtime``) or left at their defaults (``fixed``)."""

    target: str
    settings: Mapping[str, str] = field(default_factory=dict)
    bound: Mapping[str, Any] = field(default_factory=dict)
    runtime: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    #: settings the trainer reads for this choice outside its constructor (e.g. ending a schedule)
    also_reads: tuple[str, ...] = ()

    def load(self) -> Any:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def keys(self) -> tuple[str, ...]:
        """The dotted settings this choice reads."""
        return (*self.settings.values(), *self.also_reads)


_SCHEDULE = ("unit", "steps_per_epoch")
#: the kinds, each with the setting that chooses it and its choices
COMPONENTS: dict[str, tuple[str, dict[str, Component]]] = {
    "binarizer": ("model.method", {
        "guided": Component("hashgnn.models.hashing:GuidedSTE", {
            "p0": "model.p0", "p_decay": "model.p_decay", "p_every": "model.p_every", "p_min": "model.p_min",
            "fixed_p": "model.fixed_p", "guide": "model.guide", "ste_grad": "model.ste_grad",
            "unit": "model.schedule_unit"}, runtime=("steps_per_epoch",),
            also_reads=("train.end_schedule_on_plateau",)),
        "ste": Component("hashgnn.models.hashing:STE", {"ste_grad": "model.ste_grad"}),
        "hashnet": Component("hashgnn.models.hashing:HashNetContinuation", {
            "gamma": "model.hashnet_gamma", "beta_every": "model.hashnet_every", "unit": "model.schedule_unit"},
            runtime=("steps_per_epoch",), fixed=("beta0", "power")),
        "gumbel": Component("hashgnn.models.hashing:GumbelBinarizer", {
            "tau_min": "model.gumbel_tau_min", "rate": "model.gumbel_rate", "tau_every": "model.gumbel_every",
            "unit": "model.schedule_unit"}, runtime=("steps_per_epoch",), fixed=("tau0",),
            also_reads=("train.end_schedule_on_plateau",)),
        "continuous": Component("hashgnn.models.hashing:Continuous", fixed=_SCHEDULE),
    }),
    "encoder": ("model.encoder", {
        "sage": Component("hashgnn.models.encoders:SAGEMeanEncoder", {
            "dims": "model.dims", "activation": "model.activation", "init_std": "model.init_std"},
            runtime=("in_dim",)),
        "gcn": Component("hashgnn.models.encoders:PyGConvEncoder", {
            "dims": "model.dims", "init_std": "model.init_std"}, bound={"kind": "gcn"}, runtime=("in_dim",)),
        "lightgcn": Component("hashgnn.models.encoders:LightGCNEncoder", {"num_layers": "model.num_layers"},
                              runtime=("in_dim",)),
        "gat": Component("hashgnn.models.encoders:PyGConvEncoder", {
            "dims": "model.dims", "init_std": "model.init_std"}, bound={"kind": "gat"}, runtime=("in_dim",)),
    }),
    # eq. 7 on the relaxed codes (which a bpr/softmax objective also trains under a hash layer's codes, see
    # hashgnn.config.trains_eq7); the trainer gives ``scale`` from model.score_scale and ``bias`` when
    # model.link_bias is on, and the epoch's quantisation weight from train.quant_weight (TrainConfig.extra_terms)
    "objective": ("train.objective", {
        "hashgnn": Component("hashgnn.losses:batch_objective", {
            "scale": "model.score_scale", "lam": "train.lam", "margin": "train.margin",
            "rank_loss": "train.rank_loss", "z_weight": "train.z_weight", "quant_weight": "train.quant_weight",
            "balance_weight": "train.balance_weight", "z_scale": "train.z_scale",
            "distill_weight": "train.distill_weight", "bias": "model.link_bias"},
            runtime=("h", "a", "users", "pos", "neg", "shared"), also_reads=("train.quant_start",)),
        "bpr": Component("hashgnn.losses:embedding_objective", {"reg": "train.reg"}, bound={"kind": "bpr"},
                         runtime=("rep", "layer0", "users", "pos", "neg", "shared"), fixed=("temperature",)),
        "softmax": Component("hashgnn.losses:embedding_objective", {
            "reg": "train.reg", "temperature": "train.temperature"}, bound={"kind": "softmax"},
            runtime=("rep", "layer0", "users", "pos", "neg", "shared")),
    }),
}


def component(kind: str, name: str) -> Component:
    """The registry entry of choice ``name`` of ``kind``; the error lists the choices."""
    selector, choices = COMPONENTS[kind]
    if name not in choices:
        raise ConfigError(f"unknown {selector.split('.')[-1]} {name!r} ({selector}); choose one of "
                          f"{', '.join(choices)}")
    return choices[name]


def component_kwargs(kind: str, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of choice ``name``'s target: its bound ones and its settings, each from ``values``
    (dotted key → the run's value)."""
    entry = component(kind, name)
    return {**entry.bound, **{param: values[key] for param, key in entry.settings.items()}}
