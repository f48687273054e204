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


def test_milestones_replay_and_no_validation_keeps_the_last_epoch() -> None:
    split = _split()
    refit = type(split)(split.interactions, np.sort(np.concatenate([split.train_idx, split.valid_idx])),
                        split.valid_idx[:0], split.test_idx)
    cfg = _config("train.epochs=6", "train.patience=1", "train.lr_schedule=milestones", "train.lr_factor=0.5",
                  "train.lr_milestones=[2, 4, 5]", "train.lr_min=0.004")
    result = Trainer(cfg, refit, progress=False).fit()
    assert [round(h["lr"], 4) for h in result.history] == [0.02, 0.02, 0.01, 0.01, 0.005, 0.004]  # floor
    assert result.best_epoch == 6 and result.stopped == "epochs"  # patience 1 never stops a run without validation


def test_min_delta_ignores_noise_sized_gains(monkeypatch) -> None:
    scores = iter([0.30, 0.3003, 0.3006, 0.3009, 0.40, 0.40])  # each within 0.001 of the best (0.30)
    monkeypatch.setattr(Trainer, "validate", lambda self, model: next(scores))
    result = Trainer(_config("train.epochs=6", "train.patience=3", "train.min_delta=0.001"), _split(),
                     progress=False).fit()
    assert result.best_epoch == 1 and result.stopped == "patience" and len(result.history) == 4


def test_a_resumed_run_may_change_its_time_budget_but_nothing_else(tmp_path) -> None:
    from hashgnn.errors import ConfigError
    from hashgnn.training.rundir import RunDir

    split = _split()
    Trainer(_config("train.epochs=2", "train.patience=100"), split, RunDir(tmp_path / "run"), progress=False).fit()
    resumed = Trainer(_config("train.epochs=2", "train.patience=100", "train.max_minutes=5"), split,
                      RunDir(tmp_path / "run"), progress=False)
    assert resumed.fit(resume=True).history[-1]["epoch"] == 2
    with pytest.raises(ConfigError, match="another configuration"):
        Trainer(_config("train.epochs=2", "train.patience=100", "train.lr=0.5"), split, RunDir(tmp_path / "run"),
                progress=False).fit(resume=True)
