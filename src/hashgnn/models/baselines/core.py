"""Baselines that are the HashGNN core itself with other settings (paper 5.2.2): no new model code.

Each class fixes the config keys that *define* the method (applied after the caller's overrides, so a method
stays what its name says) and runs :class:`~hashgnn.training.trainer.Trainer` on the given split:

==============  ==========================================================================================
``GraphSage``   ``model.method=continuous``: the 2-layer GraphSAGE encoder (eq. 1) + tanh head, loss eq. 7 on z
``HashNet``     ``model.method=hashnet``: ĥ = tanh(β a), β = (1 + γ t)^0.5 every 200 iterations (Cao et al. 2017)
``Hash_gumb``   ``model.method=gumbel``: 2-way Gumbel-softmax per bit with annealed τ (Jang et al. 2017)
``Hash_ste``    ``model.method=ste``: plain straight-through sign (Bengio et al. 2013), i.e. guided with p = 0
``HashGNN_nr``  ``model.method=guided, train.lam=0``: eq. 5 only (no ranking loss eq. 6)
``HashGNN``     ``model.method=guided``: eq. 7 with guided STE (eq. 8)
``HashGNN+``    HashGNN with the ``plus`` preset (beyond the paper: see :data:`hashgnn.config.PRESETS`)
``LightGCN``    LightGCN itself (He et al., SIGIR 2020): ``model.encoder=lightgcn`` (3 layers, layer mean),
                ``model.head=none`` (free 64-d id embeddings, no hash layer, no tanh), ``train.objective=bpr``
                (BPR + 1e-4 · L2 of the batch's layer-0 embeddings); recipe batch 2048, Adam lr 1e-3
``LightGCN_eq7`` LightGCN propagation under the core's tanh head and the HashGNN loss (eq. 5–7), *not*
                LightGCN's own objective (the class called ``LightGCN`` before 2026-12-07)
==============  ==========================================================================================

A class may also carry a ``recipe``: overrides applied *before* the caller's (defaults of the method that a
caller may change, such as LightGCN's batch size and learning rate), where ``defining`` ones come after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hashgnn.config import PRESETS, RunConfig, as_assignments, assigned_keys, without_stale
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.models.baselines.common import FittedRecommender
from hashgnn.training.rundir import RunDir


def apply_overrides(config: RunConfig | None, overrides: Sequence[str] | Mapping[str, object] = ()) -> RunConfig:
    """``config`` (default :class:`RunConfig`) with dotted overrides, given as ``["a.b=1"]`` or ``{"a.b": 1}``."""
    cfg = config or RunConfig()
    overrides = as_assignments(overrides)
    return cfg.override(overrides) if overrides else cfg


def method_config(config: RunConfig | None, overrides: Sequence[str] | Mapping[str, object], name: str,
                  recipe: Sequence[str] = (), defining: Sequence[str] = ()) -> RunConfig:
    """The validated config of method ``name``: ``recipe``, the caller's ``overrides``, then ``defining`` on the
    base ``config``. The caller's settings (``config`` and ``overrides``) are for any method, as an experiment's
    are: one that no component of this method reads is left out (``model.guide=node`` configures guided STE,
    which HashNet does not have). The method's own (``recipe``, ``defining``) must all be read
    (:func:`hashgnn.config.ignored_settings`)."""
    cfg = apply_overrides((config or RunConfig()).override(list(recipe)), overrides).override(list(defining))
    return without_stale(cfg, assigned_keys([*recipe, *defining]), f"{name}'s caller").validate()


class CoreBaseline(FittedRecommender):
    """The core Trainer with the method-defining overrides ``defining``.

    Args:
        config: Base run configuration (data/split keys are ignored: ``fit`` takes the split).
        overrides: Extra dotted overrides (budgets, K, λ, ...), applied before the defining ones.
        progress: tqdm bars while training.
        run_dir: Optional run directory for the Trainer's checkpoints and logs.
    """

    name = "core"
    recipe: tuple[str, ...] = ()
    defining: tuple[str, ...] = ()

    def __init__(self, config: RunConfig | None = None, overrides: Sequence[str] | Mapping[str, object] = (),
                 progress: bool = False, run_dir: str | None = None) -> None:
        super().__init__()
        self.config = method_config(config, overrides, self.name, self.recipe, self.defining)
        self.tie_seed = self.config.eval.tie_seed
        self.n_candidates = self.config.eval.n_candidates
        self.progress = progress
        self.run_dir = run_dir
        self.trainer = None
        self.result = None

    def fit(self, split: Split, resume: bool = False, **kwargs) -> CoreBaseline:
        """Train on ``split``; with ``resume`` (needs ``run_dir``) continue from the run directory's last
        checkpoint if it has one (a finished run is only loaded; ``resumed_epoch`` says how far it was)."""
        from hashgnn.training.trainer import make_trainer

        if resume and not self.run_dir:
            raise ConfigError(f"{self.name}: resume needs a run_dir")
        self.trainer = make_trainer(self.config, split, RunDir(self.run_dir) if self.run_dir else None,
                                    progress=self.progress)
        self.result = self.trainer.fit(resume=resume)
        self.log, self.history, self.seconds = self.result.log, self.result.history, self.result.seconds
        self._attach(split, self.result.embeddings)
        return self

    @property
    def resumed_epoch(self) -> int:
        """The epoch an earlier process had reached when ``fit(resume=True)`` continued its checkpoint (0: none)."""
        return self.trainer.resumed_epoch if self.trainer is not None else 0


class GraphSage(CoreBaseline):
    """GraphSAGE (Hamilton et al. 2017), the continuous counterpart of HashGNN: ``model.method=continuous``."""

    name = "GraphSage"
    defining = ("model.encoder=sage", "model.method=continuous")


class HashNet(CoreBaseline):
    """HashNet continuation ĥ = tanh(β a) on the GraphSAGE encoder: ``model.method=hashnet``."""

    name = "HashNet"
    defining = ("model.encoder=sage", "model.method=hashnet")


class HashGumbel(CoreBaseline):
    """Hash_gumb: Gumbel-softmax bits on the GraphSAGE encoder: ``model.method=gumbel``."""

    name = "Hash_gumb"
    defining = ("model.encoder=sage", "model.method=gumbel")


class HashSTE(CoreBaseline):
    """Hash_ste: plain straight-through sign on the GraphSAGE encoder: ``model.method=ste``."""

    name = "Hash_ste"
    defining = ("model.encoder=sage", "model.method=ste")


class HashGNNNoRank(CoreBaseline):
    """HashGNN_nr: guided STE with λ = 0 (link reconstruction eq. 5 only)."""

    name = "HashGNN_nr"
    defining = ("model.encoder=sage", "model.method=guided", "train.lam=0")


class HashGNNFull(CoreBaseline):
    """HashGNN itself (guided STE, eq. 7–8) behind the same baseline interface."""

    name = "HashGNN"
    defining = ("model.encoder=sage", "model.method=guided")


class HashGNNPlus(CoreBaseline):
    """HashGNN with the ``plus`` preset: the released code's options, the objective on z, the quantisation term
    and scores scaled by 1/4 (beyond the paper; :data:`hashgnn.config.PRESETS`)."""

    name = "HashGNN+"
    defining = ("model.encoder=sage", "model.method=guided", *PRESETS["plus"])


class LightGCN(CoreBaseline):
    r"""LightGCN (He et al., SIGIR 2020, https://arxiv.org/abs/2002.02126): free id embeddings
    :math:`E^0`, :math:`E = \frac{1}{L+1}\sum_{l=0}^{L} \tilde{A}^l E^0` with
    :math:`\tilde{A} = D^{-1/2} A D^{-1/2}` and L = 3, scores :math:`e_u^T e_i`, BPR with
    1e-4 · L2 on the batch's layer-0 embeddings, Adam.

    The recipe (``PRESETS["lightgcn"]``: batch 2048, lr 1e-3, one non-link per link, N(0, 0.1) init) is the
    reference implementation's; callers may change it, not the architecture or objective (``defining``)."""

    name = "LightGCN"
    recipe = PRESETS["lightgcn"]
    defining = ("model.encoder=lightgcn", "model.head=none", "model.method=continuous")


class LightGCNEq7(CoreBaseline):
    """LightGCN propagation (He et al., SIGIR 2020) + the core's continuous tanh head and HashGNN loss (eq. 7)."""

    name = "LightGCN_eq7"
    defining = ("model.encoder=lightgcn", "model.method=continuous")
