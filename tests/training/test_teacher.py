"""``train.teacher``: a trained continuous run's ranking distilled into the codes (hashgnn.training.teacher)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import PRESETS, RunConfig, with_preset
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import random_split
from hashgnn.errors import ConfigError
from hashgnn.training import RunDir, Trainer
from hashgnn.training.teacher import Teacher


def _split(valid_ratio: float = 0.1):
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(60), 6)
    items = (users % 4) * 8 + rng.integers(0, 8, len(users))  # 4 user groups, each with its own 8 items
    return random_split(Interactions.from_raw(users, items), test_ratio=0.2, valid_ratio=valid_ratio, seed=0)


def _lightgcn(path, split) -> None:
    cfg = RunConfig().override([*PRESETS["lightgcn"], "train.epochs=30", "train.batch_size=64", "train.lr=0.05",
                                "train.auc_pairs=50"])
    Trainer(cfg, split, RunDir(path), progress=False).fit()


def _hashed(*extra: str) -> RunConfig:
    """The converged comparison's best hashing recipe (plus-softmax on a 2-layer LightGCN encoder), 16 bits;
    validated once, at the end (valid_every = epochs): the last model."""
    return with_preset("plus-softmax", ["model.encoder=lightgcn", "model.num_layers=2",
                                        "model.n_bits=16", "train.triplets=4", "train.epochs=30",
                                        "train.batch_size=64", "train.lr=0.02", "train.auc_pairs=50",
                                        "train.log_every=1", "train.valid_every=30", *extra])


def test_loss_is_the_cross_entropy_of_the_codes_softmax_against_the_teachers_over_links_negatives_and_top_k():
    gen = torch.Generator().manual_seed(0)
    users, items = torch.randn(3, 4, generator=gen), torch.randn(5, 4, generator=gen)
    teacher = Teacher(users, items, top_k=2, weight=0.5, temperature=2.0)
    want_top = torch.argsort(users @ items.T, dim=1, descending=True)[:, :2] + 3
    assert torch.equal(teacher.top, want_top)
    h = torch.randn(8, 6, generator=gen, requires_grad=True)
    u, pos, neg = torch.tensor([0, 2]), torch.tensor([3, 7]), torch.tensor([[4, 5], [6, 3]])
    loss = teacher.loss(h, u, pos, neg, scale=0.25)
    table = torch.cat([users, items])
    expected = 0.0
    for b in range(2):
        cand = torch.cat([pos[b:b + 1], neg[b], want_top[u[b]]])
        t = torch.softmax(table[cand] @ table[u[b]] / 2.0, 0)
        s = torch.log_softmax(0.25 * (h[cand] @ h[u[b]]), 0)
        expected = expected - (t * s).sum() / 2
    assert loss.item() == pytest.approx(0.5 * expected.item(), rel=1e-5)
    loss.backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_training_with_a_teacher_adds_its_term_and_moves_the_codes_towards_its_ranking(tmp_path) -> None:
    split = _split()
    _lightgcn(tmp_path / "teacher", split)
    taught = Trainer(_hashed(f"train.teacher={tmp_path / 'teacher'}", "train.teacher_weight=2"), split,
                     progress=False)
    assert taught.teacher is not None and taught.teacher.weight == 2.0
    plain = Trainer(_hashed(), split, progress=False)
    results = {"taught": taught.fit(), "plain": plain.fit()}
    assert all("loss_teacher" in row for row in results["taught"].log)
    assert not any("loss_teacher" in row for row in results["plain"].log)
    # the final codes' disagreement with the teacher on every train link, same non-links for both models
    rng = np.random.default_rng(0)
    users = torch.from_numpy(taught.train_users)
    pos = torch.from_numpy(taught.train_items + taught.n_users)
    neg = torch.from_numpy(rng.integers(0, taught.n_items, (len(users), 4)) + taught.n_users)
    disagreement = {}
    for name, result in results.items():
        with torch.no_grad():
            _, h = result.model.encode(taught.graph)
            disagreement[name] = taught.teacher.loss(h, users, pos, neg, taught.config.model.scale()).item()
    assert disagreement["taught"] < disagreement["plain"]


def test_teacher_trained_on_another_train_part_or_useless_settings_are_errors(tmp_path) -> None:
    _lightgcn(tmp_path / "all-of-train", _split(valid_ratio=0.0))  # trained on this run's validation links too
    with pytest.raises(ConfigError, match="train.teacher: .* another train part"):
        Trainer(_hashed(f"train.teacher={tmp_path / 'all-of-train'}"), _split(), progress=False)
    with pytest.raises(ConfigError, match="train.teacher_top_k has no effect without train.teacher"):
        _hashed("train.teacher_top_k=5").validate()
    with pytest.raises(ConfigError, match="needs full-graph training"):
        _hashed("train.teacher=x", "train.sampler=neighbor").validate()
