"""The HashGNN objective, eq. 5–7 of the paper.

Scores are inner products of (relaxed) codes, ``s = scale · ⟨ĥ_i, ĥ_j⟩``. The paper uses ``scale = 1``; since
⟨h_i, h_j⟩ ∈ [−K, K] the sigmoid saturates for K = 32, so ``scale`` is exposed (e.g. ``1/√K``) as a documented
option — the default stays the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def link_bce(pos_scores: Tensor, neg_scores: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Eq. 5, link reconstruction: :math:`-\log\sigma(s_{ij})` on observed links and
    :math:`-\log(1-\sigma(s_{im}))` on sampled non-links.

    Args:
        pos_scores: ``[B]`` scores of observed train links.
        neg_scores: ``[B, T]`` scores of ``T`` sampled non-links per observed link.
        bias: Optional learned offset b, σ(s + b) (``model.link_bias``; None = the paper).

    Returns the mean over links of (positive term + mean negative term): positives and negatives weigh equally,
    as in eq. 5 with one sampled non-link per link.
    """
    if bias is not None:
        pos_scores, neg_scores = pos_scores + bias, neg_scores + bias
    pos = -F.logsigmoid(pos_scores)
    neg = -F.logsigmoid(-neg_scores).mean(dim=-1)
    return (pos + neg).mean()


def triplet_rank(pos_scores: Tensor, neg_scores: Tensor, margin: float = 0.2) -> Tensor:
    r"""Eq. 6, ranking loss over triplets (i, j, m): :math:`\max(0, -\sigma(s_{ij}) + \sigma(s_{im}) + \alpha)`.

    Args:
        pos_scores: ``[B]`` scores s_ij of the positive pair of each triplet group.
        neg_scores: ``[B, T]`` scores s_im of the T negatives sharing that positive.
        margin: α (paper: 0.2).

    Returns the mean over the ``B·T`` triplets.
    """
    return torch.relu(-torch.sigmoid(pos_scores).unsqueeze(-1) + torch.sigmoid(neg_scores) + margin).mean()


def bpr_rank(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""The official HashGNN code's ranking term (BPR, Rendle et al. 2009): mean of
    :math:`\mathrm{softplus}(-(s_{ij} - s_{im}))` over triplets. Unlike eq. 6 it acts on raw scores, so it keeps a
    gradient when both σ(s_ij) and σ(s_im) saturate.
    """
    return F.softplus(neg_scores - pos_scores.unsqueeze(-1)).mean()


def softmax_rank(pos_scores: Tensor, neg_scores: Tensor, shared_scores: Tensor | None = None) -> Tensor:
    r"""Sampled-softmax ranking term (beyond the paper): the cross-entropy of picking the observed item among it
    and its T sampled non-links, :math:`-s_{ij} + \log\big(e^{s_{ij}} + \sum_m e^{s_{im}}\big)`, mean over links.
    With many negatives it weighs the highest-scored non-links most, as top-n metrics do; BPR weighs all alike.

    ``shared_scores`` ``[B, S]``: scores of S negatives shared by the whole batch (``train.shared_negatives``),
    added to every row's denominator; entries at ``-inf`` (a shared item the row's user has in train) drop out.
    Sharing makes many negatives cheap: one ``[B, K] × [K, S]`` product instead of a ``[B, S, K]`` gather.
    """
    parts = [pos_scores.unsqueeze(-1), neg_scores] + ([] if shared_scores is None else [shared_scores])
    return (torch.logsumexp(torch.cat(parts, dim=-1), dim=-1) - pos_scores).mean()


def hashgnn_loss(pos_scores: Tensor, neg_scores: Tensor, lam: float = 0.5, margin: float = 0.2,
                 rank_loss: str = "hinge", shared_scores: Tensor | None = None,
                 bias: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 7: ``L = L_cross + λ L_rank``, L_rank the eq. 6 hinge or (``rank_loss="bpr"``) the official code's BPR
    term or the sampled softmax, which alone also takes ``shared_scores`` (see :func:`softmax_rank`). ``bias``:
    the offset of eq. 5 only (see :func:`link_bce`). Returns ``(L, L_cross, L_rank)``."""
    if shared_scores is not None and rank_loss != "softmax":
        raise ValueError("shared negatives join only the softmax ranking term")
    cross = link_bce(pos_scores, neg_scores, bias)
    if lam <= 0:
        rank = pos_scores.new_zeros(())
    elif rank_loss == "bpr":
        rank = bpr_rank(pos_scores, neg_scores)
    elif rank_loss == "softmax":
        rank = softmax_rank(pos_scores, neg_scores, shared_scores)
    else:
        rank = triplet_rank(pos_scores, neg_scores, margin)
    return cross + lam * rank, cross, rank


def gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]`` for an integer ``index`` of any shape, by ``index_select``: its backward is an ``index_add``,
    2.5-3x faster on CPU than advanced indexing's accumulating ``index_put`` (65,536 rows of 64 floats, 1 thread),
    and a training step gathers the batch's rows several times."""
    return x.index_select(0, index.reshape(-1)).reshape(*index.shape, *x.shape[1:])


def pair_scores(rep: Tensor, users: Tensor, pos: Tensor, neg: Tensor, scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """Scores ``scale·⟨r_u, r_i⟩`` of the batch's links ``[B]`` and of its negatives ``[B, T]``; ``users``/``pos``
    index rows of ``rep`` ``[B]``, ``neg`` ``[B, T]``."""
    ru = gather_rows(rep, users)
    pos_s = scale * (ru * gather_rows(rep, pos)).sum(-1)
    neg_s = scale * (ru.unsqueeze(1) * gather_rows(rep, neg)).sum(-1)  # 1.5-2x faster than einsum's 8k tiny bmm on CPU
    return pos_s, neg_s


def shared_negative_scores(rep: Tensor, users: Tensor, shared: Tensor, taken: Tensor, scale: float = 1.0) -> Tensor:
    """Scores ``[B, S]`` of the batch's users against ``S`` shared negatives (rows of ``rep``), ``-inf`` where
    ``taken`` ``[B, S]`` marks an item the user has in train, so it never counts as a non-link."""
    scores = scale * (gather_rows(rep, users) @ gather_rows(rep, shared).T)
    return scores.masked_fill(taken, float("-inf"))


def quantization_gap(z: Tensor) -> Tensor:
    r"""Mean squared distance of z from its code, :math:`\frac1K\lVert \mathbf{z} - \mathrm{sign}(\mathbf{z})\rVert^2`
    averaged over rows (the quantisation term of DPSH, Li et al. 2016, and most deep hashing methods since).
    Zero when every entry of z = tanh(a) is saturated at ±1, so that ⟨z_i, z_j⟩ = ⟨h_i, h_j⟩."""
    return (1.0 - z.abs()).square().mean()


def bit_balance(z: Tensor) -> Tensor:
    r"""Balance and decorrelation of the bits over the rows of ``z`` ``[n, K]``:
    :math:`\frac1K\lVert \bar{\mathbf{z}}\rVert^2 + \frac1{K^2}\lVert \tfrac1n \mathbf{z}^\top\mathbf{z}
    - I\rVert_F^2`, the relaxed form of the constraints B1 = 0 and BᵀB = nI of Discrete Collaborative Filtering
    (Zhang et al., SIGIR 2016). Zero when every bit splits the rows in half and no two bits agree more often than
    chance: each bit then carries one full bit of information, which spreads items over the 33 Hamming levels
    of a 32-bit code instead of piling them on a few."""
    n, k = z.shape
    mean = z.mean(0)
    gram = z.T @ z / n
    eye = torch.eye(k, dtype=z.dtype, device=z.device)
    return mean.square().mean() + (gram - eye).square().mean()


def score_distillation(student: Tensor, teacher: Tensor) -> Tensor:
    r"""Cross-entropy of the student's softmax against the (detached) teacher's over each row's candidates,
    :math:`-\sum_c \mathrm{softmax}(t)_c \log \mathrm{softmax}(s)_c`, mean over rows (Hinton et al. 2015, at
    temperature 1; the KL divergence up to the teacher's entropy, a constant). Candidates at ``-inf`` in the
    teacher (masked shared negatives) weigh nothing.

    Used to pass the ranking of the continuous z (which re-ranks HieS candidates well) to the codes: the code
    term alone only learns that links outscore non-links, this also learns by how much each candidate trails."""
    target = torch.softmax(teacher.detach(), dim=-1)
    log_q = torch.log_softmax(student, dim=-1).masked_fill(target == 0, 0.0)
    return -(target * log_q).sum(-1).mean()


def layer0_l2(layer0: Tensor, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    r"""LightGCN's regulariser: :math:`\frac{1}{2B}\sum_{(u,i,m)} (\lVert e^0_u\rVert^2 + \lVert e^0_i\rVert^2
    + \overline{\lVert e^0_m\rVert^2})` over the batch's rows of the layer-0 (id) embeddings, the non-links'
    term averaged over the ``T`` of each link (with T = 1 exactly LightGCN's, which regularises only the
    embeddings the batch uses, not every parameter as weight decay would)."""
    per_link = (gather_rows(layer0, users).square().sum(-1) + gather_rows(layer0, pos).square().sum(-1)
                + gather_rows(layer0, neg).square().sum(-1).mean(-1))
    return 0.5 * per_link.mean()


def embedding_objective(rep: Tensor, layer0: Tensor, users: Tensor, pos: Tensor, neg: Tensor, kind: str = "bpr",
                        reg: float = 1e-4, temperature: float = 1.0,
                        shared: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
    r"""The objective of a continuous recommender on final embeddings ``rep`` (inner-product scores):

    * ``"bpr"`` — LightGCN's (He et al., SIGIR 2020, eq. 15): :math:`\mathrm{softplus}(s_{um} - s_{ui})` averaged
      over links and their ``T`` non-links, + ``reg`` · :func:`layer0_l2`;
    * ``"softmax"`` — sampled softmax over each link and its ``T`` non-links at ``temperature`` τ,
      :math:`-s_{ui}/τ + \log(e^{s_{ui}/τ} + \sum_m e^{s_{um}/τ})`, + the same L2; ``shared`` ``(rows [S],
      taken [B, S])`` adds S non-links shared by the batch to every denominator (see
      :func:`shared_negative_scores`; they are not regularised, as they are not the batch's own rows).

    Returns ``(L, L_rank, L2)``."""
    pos_s, neg_s = pair_scores(rep, users, pos, neg)
    if kind == "bpr":
        if shared is not None:
            raise ValueError("shared negatives join only the softmax objective")
        rank = bpr_rank(pos_s, neg_s)
    elif kind == "softmax":
        extra = None if shared is None else shared_negative_scores(rep, users, shared[0], shared[1], 1 / temperature)
        rank = softmax_rank(pos_s / temperature, neg_s / temperature, extra)
    else:
        raise ValueError(f"unknown embedding objective {kind!r}; choose bpr or softmax")
    l2 = layer0_l2(layer0, users, pos, neg)
    return rank + reg * l2, rank, l2


def batch_objective(h: Tensor, a: Tensor, users: Tensor, pos: Tensor, neg: Tensor, scale: float, lam: float,
                    margin: float, rank_loss: str, z_weight: float = 0.0,
                    quant_weight: float = 0.0, balance_weight: float = 0.0,
                    z_scale: float | None = None, distill_weight: float = 0.0,
                    shared: tuple[Tensor, Tensor] | None = None,
                    bias: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 7 on the relaxed codes ``h`` of the batch, plus ``z_weight`` times the same objective on the continuous
    embeddings z = tanh(a) (``train.z_weight``; 0 = the paper), plus ``quant_weight`` times the
    :func:`quantization_gap` of the batch's z rows (``train.quant_weight``; 0 = the paper), plus
    ``balance_weight`` times the :func:`bit_balance` of the batch's distinct user rows and of its distinct item
    rows, each side on its own since users are queries and items the database (``train.balance_weight``; 0 = the
    paper), plus ``distill_weight`` times the :func:`score_distillation` of z's scores into the codes' over each
    link's candidates (``train.distill_weight``; 0 = the paper).
    ``z_scale``: the score scale of the objective on z (``train.z_scale``; None = ``scale``, the codes').
    ``shared``: ``(rows [S], taken [B, S])``, negatives shared by the batch for the softmax term
    (``train.shared_negatives``; see :func:`shared_negative_scores`). ``bias``: eq. 5's offset, shared by the
    objectives on h and z (``model.link_bias``). Returns ``(L, L_cross, L_rank)`` of the codes."""
    def scores(rep: Tensor, s: float) -> tuple[Tensor, Tensor, Tensor | None]:
        extra = None if shared is None else shared_negative_scores(rep, users, shared[0], shared[1], s)
        return (*pair_scores(rep, users, pos, neg, s), extra)

    def candidates(pos_s: Tensor, neg_s: Tensor, extra: Tensor | None) -> Tensor:
        return torch.cat([pos_s.unsqueeze(-1), neg_s] + ([] if extra is None else [extra]), dim=-1)

    h_scores = scores(h, scale)
    loss, cross, rank = hashgnn_loss(*h_scores[:2], lam, margin, rank_loss, h_scores[2], bias)
    if z_weight > 0 or quant_weight > 0 or balance_weight > 0 or distill_weight > 0:
        z = torch.tanh(a)
    z_s = scale if z_scale is None else z_scale
    if z_weight > 0:
        z_scores = scores(z, z_s)
        z_loss, _, _ = hashgnn_loss(*z_scores[:2], lam, margin, rank_loss, z_scores[2], bias)
        loss = loss + z_weight * z_loss
    if distill_weight > 0:
        if z_weight <= 0:
            with torch.no_grad():
                z_scores = scores(z, z_s)
        loss = loss + distill_weight * score_distillation(candidates(*h_scores), candidates(*z_scores))
    if quant_weight > 0:
        rows = torch.cat([users, pos, neg.reshape(-1)])
        loss = loss + quant_weight * quantization_gap(gather_rows(z, rows))
    if balance_weight > 0:
        items = torch.unique(torch.cat([pos, neg.reshape(-1)]))
        loss = loss + balance_weight * (bit_balance(z[torch.unique(users)]) + bit_balance(z[items]))
    return loss, cross, rank
