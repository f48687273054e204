"""The HashGNN objective, eq. 5–7 of the paper.

Scores are inner products of (relaxed) codes, ``s = scale · ⟨ĥ_i, ĥ_j⟩``. The paper uses ``scale = 1``; since
⟨h_i, h_j⟩ ∈ [−K, K] the sigmoid saturates for K = 32, so ``scale`` is exposed (e.g. ``1/√K``) as a documented
option — the default stays the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def link_bce(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""Eq. 5, link reconstruction: :math:`-\log\sigma(s_{ij})` on observed links and
    :math:`-\log(1-\sigma(s_{im}))` on sampled non-links.

    Args:
        pos_scores: ``[B]`` scores of observed train links.
        neg_scores: ``[B, T]`` scores of ``T`` sampled non-links per observed link.

    Returns the mean over links of (positive term + mean negative term): positives and negatives weigh equally,
    as in eq. 5 with one sampled non-link per link.
    """
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


def hashgnn_loss(pos_scores: Tensor, neg_scores: Tensor, lam: float = 0.5,
                 margin: float = 0.2) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 7: ``L = L_cross + λ L_rank``. Returns ``(L, L_cross, L_rank)``."""
    cross = link_bce(pos_scores, neg_scores)
    rank = triplet_rank(pos_scores, neg_scores, margin) if lam > 0 else pos_scores.new_zeros(())
    return cross + lam * rank, cross, rank
