"""Hash layer ψ and the discrete optimisation strategies of paper sections 3.3 and 4.

The hash layer maps u to a pre-activation :math:`a = \\mathbf{W}^T\\mathbf{u} + \\mathbf{b}` and
:math:`\\mathbf{z} = \\tanh(a)` (eq. 2); the code is :math:`\\mathbf{h} = \\mathrm{sign}(\\mathbf{z})` with
sign(0) = +1 (eq. 3). A *binarizer* decides what the loss sees during training (ĥ) and owns its schedule:

==============  ==========================================================================================
``guided``      the paper's: ĥ = Q⊙z + (1−Q)⊙h, Q ~ Bernoulli(p) per element, h by STE (eq. 8);
                p starts at 1 and is multiplied by ``p_decay`` every ``p_every`` (floor ``p_min``)
``ste``         ĥ = h forward, identity gradient backward (Bengio et al. 2013) — ``guided`` with p = 0
``hashnet``     ĥ = tanh(β a); β = 1, then β = (1 + γ t)^0.5 updated every ``beta_every`` (200 steps)
                (HashNet, Cao et al. 2017, continuation)
``gumbel``      each bit a 2-way Gumbel-softmax over logits (a, −a) at temperature τ, ĥ = y₊ − y₋;
                τ = max(τ_min, exp(−r t)) (Jang et al. 2017)
``continuous``  ĥ = z: no binarisation (the GraphSage baseline)
==============  ==========================================================================================

Every schedule counts in its ``unit``: ``"step"`` (optimiser steps, the paper's iterations; the classes' own
defaults are the paper's, in steps) or ``"epoch"`` (fractional epochs: the trainer sets ``steps_per_epoch``, so
a run of any size goes through the same schedule; :class:`hashgnn.config.ModelConfig` says why). An interval in
epochs is rounded to whole steps, as updates happen between steps.

At inference every strategy returns h = sign(z) (= sign(a)).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashgnn.components import component
from hashgnn.defaults import GUIDES, SCHEDULE_UNITS, STE_GRADS
from hashgnn.errors import ConfigError


def sign(x: Tensor) -> Tensor:
    """sign with sign(0) = +1 (eq. 3)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def sign_ste(z: Tensor) -> Tensor:
    """Straight-through sign: forward :func:`sign`, backward identity (gradient copied from h to z)."""
    return z + (sign(z) - z).detach()


class HashLayer(nn.Module):
    r"""Fully connected hash layer, eq. 2: :math:`\mathbf{z} = \tanh(\mathbf{W}^T\mathbf{u} + \mathbf{b})`.

    With ``n_users`` set (``model.typed_hash``, beyond the paper) users and items get their own (W, b): node
    ``v`` uses :math:`(\mathbf{W}_u, \mathbf{b}_u)` if ``v < n_users`` else :math:`(\mathbf{W}_i, \mathbf{b}_i)`.
    Both sides still share one K-bit Hamming space; only the projection into it differs, so a bit may split users
    at a different threshold and direction than it splits items.

    Args:
        in_dim: Size d of u.
        n_bits: Code length K (default: :obj:`32`).
        init_std: N(0, σ) init of W (paper: 0.02); b starts at 0.
        n_users: Users come first among the nodes; set it for one projection per node type (default: one shared).
    """

    def __init__(self, in_dim: int, n_bits: int = 32, init_std: float = 0.02, n_users: int | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, n_bits)
        self.n_users = n_users
        self.item_linear = nn.Linear(in_dim, n_bits) if n_users is not None else None
        self.init_std = init_std
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.linear, self.item_linear):
            if lin is not None:
                nn.init.normal_(lin.weight, 0.0, self.init_std)
                nn.init.zeros_(lin.bias)

    def forward(self, u: Tensor, nodes: Tensor | None = None, start: int = 0) -> Tensor:
        """Returns the pre-activation a; z = tanh(a).

        The node of each row, read by a typed layer only: ``nodes`` (global ids), or else the consecutive ids
        ``start, start+1, …``. Each row goes through its own type's projection alone.
        """
        if self.item_linear is None:
            return self.linear(u)
        if nodes is None:  # consecutive ids: the users among them are a prefix
            cut = min(max(self.n_users - start, 0), len(u))
            return torch.cat([self.linear(u[:cut]), self.item_linear(u[cut:])])
        is_item = nodes >= self.n_users
        a = u.new_empty(len(u), self.linear.out_features)
        a[~is_item] = self.linear(u[~is_item])
        a[is_item] = self.item_linear(u[is_item])
        return a

    def __repr__(self) -> str:
        typed = f", n_users={self.n_users}" if self.n_users is not None else ""
        return f"HashLayer({self.linear.in_features}, n_bits={self.linear.out_features}{typed})"


class Binarizer(nn.Module):
    """What the loss sees during training; ``step(t)`` advances its schedule to iteration ``t``.

    Args:
        unit: What the schedule's settings count: ``"step"`` or ``"epoch"`` (see the module docstring).
        steps_per_epoch: Optimiser steps in an epoch of the run; needed by an ``"epoch"`` schedule (a trainer
            sets it when it knows the batch).
    """

    name = "base"

    def __init__(self, unit: str = "step", steps_per_epoch: int | None = None) -> None:
        super().__init__()
        if unit not in SCHEDULE_UNITS:
            raise ConfigError(f"unknown schedule unit {unit!r}; choose one of {', '.join(SCHEDULE_UNITS)}")
        self.iteration = 0
        self.unit = unit
        self.steps_per_epoch = steps_per_epoch
        #: the iteration from which the schedule is at its end whatever it says (None: the schedule decides)
        self.ended_at: int | None = None

    def step(self, iteration: int) -> None:
        self.iteration = iteration

    def _epoch_steps(self) -> int:
        if self.steps_per_epoch is None and self.iteration == 0:
            return 1  # before the first step every schedule is at its start, whatever an epoch's length
        if self.steps_per_epoch is None or self.steps_per_epoch < 1:
            raise ConfigError(f"{type(self).__name__}: a schedule in epochs needs the run's steps_per_epoch "
                              f"(got {self.steps_per_epoch})")
        return self.steps_per_epoch

    def interval(self, every: float) -> int:
        """``every`` (in the unit) as whole steps, at least one: a schedule's value changes between steps."""
        if self.unit == "step":
            return max(1, int(every))
        return max(1, round(every * self._epoch_steps()))

    def elapsed(self, steps: int) -> float:
        """``steps`` optimiser steps in the unit (the t of β's and τ's formulas)."""
        return float(steps) if self.unit == "step" else steps / self._epoch_steps()

    def forward(self, a: Tensor) -> Tensor:
        raise NotImplementedError

    def state(self) -> dict[str, float]:
        """Schedule values to log (p, β, τ)."""
        return {}

    def _ended(self) -> bool:
        return self.ended_at is not None and self.iteration >= self.ended_at

    def schedule_running(self) -> bool:
        """Whether the schedule has a floor it has not reached yet (guided's p above ``p_min``, Gumbel's τ above
        ``tau_min``): what ending it (``ended_at``) would change. False for a schedule without a floor."""
        return False


class Continuous(Binarizer):
    """ĥ = z = tanh(a): the continuous GraphSage counterpart."""

    name = "continuous"

    def forward(self, a: Tensor) -> Tensor:
        return torch.tanh(a)




class GuidedSTE(Binarizer):
    r"""Guided STE (paper eq. 8): :math:`\hat{\mathbf{h}} = Q \odot \mathbf{z} + (1-Q) \odot \mathbf{h}`.

    Args:
        p0: Initial Bernoulli parameter p (paper: 1).
        p_decay: Multiplier applied every ``p_every`` (paper: 0.95, "decrease 5 %").
        p_every: Steps or epochs (``unit``) between decays (paper: 250 iterations).
        p_min: Floor of p (default 0: the sequence converges to plain STE, as the paper says).
        fixed_p: If set, p is constant (Figure 7's fixed-p runs); overrides the schedule.
        guide: ``"element"`` (the paper's eq. 8: Q drawn per element) or ``"node"`` (the official code: one draw
            per node, so a node's whole code is either z or h in a step).
        ste_grad: ``"z"`` (the paper: h's gradient copied to z, so it is then scaled by tanh'(a) = 1 − z², which
            is ~0 for a saturated bit) or ``"a"`` (copied to the pre-activation a, beyond the paper: a bit whose
            z has saturated keeps the code loss's gradient and can still flip).
        unit, steps_per_epoch: As for :class:`Binarizer`.
    """

    name = "guided"

    def __init__(self, p0: float = 1.0, p_decay: float = 0.95, p_every: float = 250, p_min: float = 0.0,
                 fixed_p: float | None = None, guide: str = "element", ste_grad: str = "z", unit: str = "step",
                 steps_per_epoch: int | None = None) -> None:
        super().__init__(unit, steps_per_epoch)
        if guide not in GUIDES:
            raise ConfigError(f"unknown guide {guide!r}; choose one of {', '.join(GUIDES)}")
        if ste_grad not in STE_GRADS:
            raise ConfigError(f"unknown ste_grad {ste_grad!r}; choose one of {', '.join(STE_GRADS)}")
        for label, v in (("p0", p0), ("p_min", p_min), ("fixed_p", fixed_p)):
            if v is not None and not 0.0 <= v <= 1.0:
                raise ConfigError(f"{label} must be in [0, 1], got {v}")
        if not 0.0 < p_decay <= 1.0:
            raise ConfigError(f"p_decay must be in (0, 1], got {p_decay}")
        if p_every <= 0 or (unit == "step" and p_every < 1):
            raise ConfigError(f"p_every must be > 0 ({unit}s; >= 1 in steps), got {p_every}")
        self.p0, self.p_decay, self.p_every, self.p_min, self.fixed_p = p0, p_decay, p_every, p_min, fixed_p
        self.guide, self.ste_grad = guide, ste_grad

    @property
    def p(self) -> float:
        if self.fixed_p is not None:
            return self.fixed_p
        if self._ended():
            return self.p_min
        return max(self.p_min, self.p0 * self.p_decay ** (self.iteration // self.interval(self.p_every)))

    def forward(self, a: Tensor) -> Tensor:
        z = torch.tanh(a)
        h = sign_ste(z) if self.ste_grad == "z" else sign_ste(a)  # sign(a) = sign(z), same forward
        p = self.p
        if p <= 0.0:
            return h
        if p >= 1.0:
            return z
        shape = z.shape if self.guide == "element" else (*z.shape[:-1], 1)
        q = torch.bernoulli(torch.full(shape, p, dtype=z.dtype, device=z.device))
        return q * z + (1.0 - q) * h

    def state(self) -> dict[str, float]:
        return {"p": self.p}

    def schedule_running(self) -> bool:
        return self.fixed_p is None and self.p > self.p_min


class STE(GuidedSTE):
    """Plain straight-through estimator: Guided STE with p = 0 (Hash_ste)."""

    name = "ste"

    def __init__(self, ste_grad: str = "z") -> None:
        super().__init__(fixed_p=0.0, ste_grad=ste_grad)


class HashNetContinuation(Binarizer):
    r"""HashNet continuation (Cao et al., ICCV 2017): :math:`\hat{\mathbf{h}} = \tanh(\beta a)`.

    β = β₀ for the first ``beta_every``, then :math:`\beta = \beta_0 (1 + \gamma t)^{0.5}` evaluated at the last
    multiple of ``beta_every`` (HashNet's released schedule: γ = 0.005, power 0.5, step 200, in steps), so
    tanh(β a) → sign(a) as training goes on. ``t``, ``gamma`` and ``beta_every`` count in ``unit``.
    """

    name = "hashnet"

    def __init__(self, beta0: float = 1.0, gamma: float = 0.005, power: float = 0.5, beta_every: float = 200,
                 unit: str = "step", steps_per_epoch: int | None = None) -> None:
        super().__init__(unit, steps_per_epoch)
        self.beta0, self.gamma, self.power, self.beta_every = beta0, gamma, power, beta_every

    @property
    def beta(self) -> float:
        every = self.interval(self.beta_every)
        t = self.elapsed((self.iteration // every) * every)
        return self.beta0 * (1.0 + self.gamma * t) ** self.power

    def forward(self, a: Tensor) -> Tensor:
        return torch.tanh(self.beta * a)

    def state(self) -> dict[str, float]:
        return {"beta": self.beta}


class GumbelBinarizer(Binarizer):
    r"""Gumbel-softmax bits (Hash_gumb; Jang et al., ICLR 2017).

    Each bit is a 2-way categorical with logits :math:`(a, -a)`; a relaxed sample
    :math:`y = \mathrm{softmax}((\ell + g)/\tau)` gives :math:`\hat{h} = y_+ - y_-`, which becomes exactly ±1
    as τ → 0. Temperature :math:`\tau = \max(\tau_{min}, \tau_0 e^{-r t})`, updated every ``tau_every``; ``t``,
    ``rate`` and ``tau_every`` count in ``unit`` (defaults: per step).
    """

    name = "gumbel"

    def __init__(self, tau0: float = 1.0, tau_min: float = 0.1, rate: float = 1e-3, tau_every: float = 100,
                 unit: str = "step", steps_per_epoch: int | None = None) -> None:
        super().__init__(unit, steps_per_epoch)
        self.tau0, self.tau_min, self.rate, self.tau_every = tau0, tau_min, rate, tau_every

    @property
    def tau(self) -> float:
        if self._ended():
            return self.tau_min
        every = self.interval(self.tau_every)
        t = self.elapsed((self.iteration // every) * every)
        return max(self.tau_min, self.tau0 * math.exp(-self.rate * t))

    def relaxed(self, a: Tensor, tau: float) -> Tensor:
        logits = torch.stack([a, -a], dim=-1)
        y = F.gumbel_softmax(logits, tau=tau, hard=False, dim=-1)
        return y[..., 0] - y[..., 1]

    def forward(self, a: Tensor) -> Tensor:
        return self.relaxed(a, self.tau)

    def state(self) -> dict[str, float]:
        return {"tau": self.tau}

    def schedule_running(self) -> bool:
        return self.tau > self.tau_min


def build_binarizer(method: str, **kwargs: float | str | None) -> Binarizer:
    """Binarizer by method name (:data:`hashgnn.components.COMPONENTS`); ``kwargs`` are that class's schedule
    settings (:meth:`hashgnn.config.ModelConfig.binarizer_kwargs`)."""
    return component("binarizer", method).load()(**kwargs)
