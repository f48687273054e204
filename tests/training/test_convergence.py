"""Training to convergence: the plateau learning-rate schedule, why a run stopped, and the test curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import PRESETS, RunConfig
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import random_split
from hashgnn.training.trainer import Trainer


def _split():
    rng = np.random.default_rng(4)
    users = np.repeat(np.arange(50), 6)
    items = (users % 5) * 4 + rng.integers(0, 4, len(users))
    return random_split(Interactions.from_raw(users, items), test_ratio=0.2, valid_ratio=0.2, seed=0)


def _config(*extra: str) -> RunConfig:
    return RunConfig().override([*PRESETS["lightgcn"], "train.batch_size=64", "train.lr=0.02",
                                 "train.auc_pairs=40", "train.threads=1", *extra])


def test_plateau_schedule_lowers_the_rate_after_lr_patience_bad_validations(monkeypatch) -> None:
    scores = iter([0.5, 0.4, 0.4, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    monkeypatch.setattr(Trainer, "validate", lambda self, model: next(scores))
    cfg = _config("train.epochs=10", "train.patience=100", "train.lr_schedule=plateau", "train.lr_factor=0.5",
                  "train.lr_patience=2", "train.lr_min=0.004")
    history = Trainer(cfg, _split(), progress=False).fit().history
    # bad rounds: 1, 2 (halve), better at epoch 4 (reset), then 1, 2 (halve), 3, 4 (halve), 5, 6 (floor)
    assert [round(h["lr"], 4) for h in history] == [0.02, 0.02, 0.01, 0.01, 0.01, 0.005, 0.005, 0.004, 0.004,
                                                    0.004]


def test_constant_schedule_keeps_the_rate(monkeypatch) -> None:
    monkeypatch.setattr(Trainer, "validate", lambda self, model: 0.1)
    history = Trainer(_config("train.epochs=4", "train.patience=100"), _split(), progress=False).fit().history
    assert {h["lr"] for h in history} == {0.02}


@pytest.mark.parametrize(("extra", "stopped"), [(["train.epochs=3", "train.patience=100"], "epochs"),
                                                (["train.epochs=50", "train.patience=2"], "patience")])
def test_the_result_says_why_training_stopped(monkeypatch, extra: list[str], stopped: str) -> None:
    monkeypatch.setattr(Trainer, "validate", lambda self, model: 0.1)  # never better after the first
    result = Trainer(_config(*extra), _split(), progress=False).fit()
    assert result.stopped == stopped
    assert len(result.history) == 3  # the cap, or the first best + 2 worse validations


def test_test_curve_is_recorded_but_never_selects(monkeypatch) -> None:
    valid = iter([0.3, 0.2, 0.1, 0.05])  # validation says epoch 1 is best whatever the test part says
    monkeypatch.setattr(Trainer, "validate", lambda self, model: next(valid))
    torch.manual_seed(0)
    result = Trainer(_config("train.epochs=4", "train.patience=100", "eval.test_curve=true"), _split(),
                     progress=False).fit()
    assert all({"test_recall@20", "test_ndcg@20"} <= set(h) for h in result.history)
    assert result.best_epoch == 1
    seconds = [h["seconds"] for h in result.history]
    assert seconds == sorted(seconds)
