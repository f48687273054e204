"""``train.teacher``: a trained continuous recommender's ranking distilled into the codes (beyond the paper).

For each link (u, i) of a batch the candidates are i, its sampled non-links and the teacher's top-k items of u.
The codes' softmax over them, scores s_c = scale · ⟨ĥ_u, ĥ_c⟩, is pulled towards the teacher's, t_c = ⟨e_u, e_c⟩ / τ:

.. math:: L_{teach} = w \\cdot \\frac1B \\sum_{(u,i)} -\\sum_c \\mathrm{softmax}(t)_c \\log \\mathrm{softmax}(s)_c

(ranking distillation, Tang & Wang, KDD 2018, with Hinton et al.'s soft targets). eq. 7 only teaches that links
outscore non-links; the teacher also says which unseen items belong at the top and by how much each candidate
trails, which a 32-bit code has too few levels to learn from sparse links alone. The teacher is a finished run on
exactly this run's train part (checked as ``train.init_from`` is), so it has seen no validation or test link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.losses import score_distillation


def check_same_train_part(source: Path, split: Split, setting: str) -> None:
    """Raise :class:`ConfigError` unless run ``source`` was trained on exactly ``split``'s interactions and train
    part: a model trained on more could carry this run's validation or test links into it."""
    from hashgnn.training.rundir import RunDir

    rd = RunDir(source)
    if not rd.file("config.json").is_file():
        raise ConfigError(f"{setting}: {source} is not a run directory (no config.json)")
    inter, mine = rd.read_arrays("interactions.npz"), split.interactions
    parts = rd.read_arrays("split.npz")
    same_links = np.array_equal(inter["users"], mine.users) and np.array_equal(inter["items"], mine.items)
    if not same_links or not np.array_equal(parts["train"], split.train_idx):
        raise ConfigError(f"{setting}: {source} was trained on other interactions or another train part than this "
                          "run (same data, split and split.valid_ratio needed), so its parameters could have seen "
                          "this run's validation or test links")


class Teacher:
    """The teacher's embeddings of every node (users first, then items, as the graph numbers them) and each
    user's top-``k`` items by the teacher's score."""

    def __init__(self, users: Tensor, items: Tensor, top_k: int, weight: float, temperature: float,
                 chunk: int = 4096) -> None:
        self.n_users = len(users)
        self.table = torch.cat([users, items])
        self.weight, self.temperature = weight, temperature
        self.top = torch.cat([torch.topk(users[s:s + chunk] @ items.T, min(top_k, len(items)), dim=1).indices
                              for s in range(0, len(users), chunk)]) + self.n_users

    @classmethod
    def from_run(cls, run: str | Path, split: Split, top_k: int, weight: float, temperature: float,
                 device: torch.device | str = "cpu") -> Teacher:
        """The selected embeddings of run ``run`` (checked: same train part as ``split``)."""
        from hashgnn.models.base import Embeddings

        check_same_train_part(Path(run), split, "train.teacher")
        emb = Embeddings.load(run)
        inter = split.interactions
        if (len(emb.user_z), len(emb.item_z)) != (inter.n_users, inter.n_items):
            raise ConfigError(f"train.teacher: {run} embeds {len(emb.user_z)} users x {len(emb.item_z)} items, "
                              f"this run's data has {inter.n_users} x {inter.n_items}")
        return cls(torch.from_numpy(emb.user_z).to(device), torch.from_numpy(emb.item_z).to(device), top_k, weight,
                   temperature)

    def loss(self, h: Tensor, users: Tensor, pos: Tensor, neg: Tensor, scale: float) -> Tensor:
        """:math:`L_{teach}` of a batch: ``h`` the relaxed codes of every node, ``users`` / ``pos`` / ``neg`` node
        rows (``neg`` ``[B, T]``)."""
        candidates = torch.cat([pos.unsqueeze(1), neg.reshape(len(pos), -1), self.top[users]], dim=1)
        student = scale * (h[users].unsqueeze(1) * h[candidates]).sum(-1)
        with torch.no_grad():
            teacher = (self.table[users].unsqueeze(1) * self.table[candidates]).sum(-1) / self.temperature
        return self.weight * score_distillation(student, teacher)
