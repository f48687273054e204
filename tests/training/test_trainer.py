"""Training on a tiny real subset (MovieLens-100K), resume after a kill, and reproducibility."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hashgnn.config import RunConfig, assigned_keys, without_stale
from hashgnn.data import DataConfig, SplitConfig, load_split_for
from hashgnn.evaluation import evaluate_part
from hashgnn.training import RunDir, Trainer

# One thread: multi-threaded scatter-adds sum in a varying order, and bit-for-bit comparisons need one order.
SMALL = ["data.dataset=movielens-100k", "train.batch_size=1024", "train.log_every=2", "model.schedule_unit=step",
         "model.p_every=40", "train.auc_pairs=2000", "train.threads=1"]


def small_config(*extra: str) -> RunConfig:
    """SMALL, then ``extra``. SMALL's p schedule configures guided STE: a run of another method leaves it out
    (a setting no component reads would be an error, hashgnn.config.ignored_settings)."""
    return without_stale(RunConfig().override([*SMALL, *extra]), assigned_keys(extra), "SMALL")


@pytest.mark.dataset("movielens-100k")
def test_short_training_lowers_loss_and_beats_random():
    split = load_split_for(DataConfig("movielens-100k"), SplitConfig())
    # The continuous objective is stationary, so "the loss went down" means something; with the guided schedule
    # the loss is measured on ever more binary codes as p falls and need not decrease.
    cont = Trainer(small_config("train.epochs=4", "train.patience=100", "model.method=continuous"), split,
                   progress=False).fit()
    losses = [row["loss"] for row in cont.log]
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3])
    guided = Trainer(small_config("train.epochs=4", "train.patience=100"), split, progress=False).fit()
    res = evaluate_part(guided.embeddings, split, "test", ns=(50,), protocols=("standard",))
    random_recall = 50 / split.interactions.n_items
    for mode in ("hamming", "hierarchical", "continuous"):
        assert res[mode]["standard"]["recall@50"] > 4 * random_recall, (mode, res[mode])
    assert guided.log[-1]["auc_h"] > 0.75


@pytest.mark.dataset("movielens-100k")
def test_same_seed_same_result():
    cfg = small_config("train.epochs=2")
    split = load_split_for(cfg.data, cfg.split)
    a = Trainer(cfg, split, progress=False).fit().embeddings
    b = Trainer(cfg, split, progress=False).fit().embeddings
    assert np.array_equal(a.user_codes, b.user_codes)
    assert np.allclose(a.item_z, b.item_z)


def _run_cli(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hashgnn", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.dataset("movielens-100k")
def test_kill_mid_epoch_then_resume(tmp_path: Path):
    run = tmp_path / "run"
    env = dict(os.environ)
    args = ["--out", str(run), "--epochs", "4", "--no-progress", "--no-evaluate",
            *[a for s in [*SMALL, "train.patience=100"] for a in ("--set", s)]]
    proc = _run_cli(args, env)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists(), proc.stdout.read().decode() if proc.poll() is not None else "no checkpoint in time"
    time.sleep(0.3)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    import torch

    ckpt = torch.load(last, weights_only=False)
    done = ckpt["epoch"]
    assert 1 <= done <= 4
    resumed = _run_cli(["--out", str(run), "--resume", "--no-progress", "--no-evaluate"], env)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out.decode()
    history = RunDir(run).read_json("history.json")
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert (run / "codes_items.npy").is_file()
    # Across processes BLAS may sum in another order (the results of the very first epoch already differ in the
    # 7th digit), and training amplifies that, so the killed-and-resumed run is compared loosely here; the
    # exact equality of resume is tested in-process below.
    cfg = RunDir(run).read_config()
    split = load_split_for(DataConfig("movielens-100k"), SplitConfig())
    straight = Trainer(cfg, split, progress=False).fit()
    resumed_best = max(h["valid_recall@50"] for h in history)
    assert abs(resumed_best - straight.best_metric) < 0.03


class _Interrupt(Exception):
    pass


@pytest.mark.dataset("movielens-100k")
def test_resume_equals_an_uninterrupted_run(tmp_path: Path):
    cfg = small_config("train.epochs=3", "train.patience=100")
    split = load_split_for(cfg.data, cfg.split)

    class StopsAfterEpochOne(Trainer):
        def _end_of_epoch(self, model, optimizer, state, epoch):
            stop = super()._end_of_epoch(model, optimizer, state, epoch)
            if epoch == 1:
                raise _Interrupt
            return stop

    with pytest.raises(_Interrupt):
        StopsAfterEpochOne(cfg, split, RunDir(tmp_path / "run"), progress=False).fit()
    resumed = Trainer(cfg, split, RunDir(tmp_path / "run"), progress=False).fit(resume=True)
    straight = Trainer(cfg, split, progress=False).fit()
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert np.array_equal(resumed.embeddings.item_z, straight.embeddings.item_z)
    assert np.array_equal(resumed.embeddings.user_codes, straight.embeddings.user_codes)


@pytest.mark.dataset("movielens-100k")
def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path: Path, monkeypatch):
    cfg = small_config("train.epochs=5", "train.patience=1")
    split = load_split_for(cfg.data, cfg.split)
    scores = iter([0.5, 0.4, 0.9, 0.9, 0.9])  # worse at epoch 2: patience 1 stops there
    monkeypatch.setattr(Trainer, "validate", lambda self, model: next(scores))
    first = Trainer(cfg, split, RunDir(tmp_path / "run"), progress=False).fit()
    assert [h["epoch"] for h in first.history] == [1, 2]
    again = Trainer(cfg, split, RunDir(tmp_path / "run"), progress=False)
    resumed = again.fit(resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2] and again.resumed_epoch == 2
    assert again.resumed_seconds == pytest.approx(first.seconds)
    assert np.array_equal(resumed.embeddings.item_z, first.embeddings.item_z)  # the best epoch's, as before


def test_cosine_lr_schedule_values():
    from hashgnn.training.trainer import scheduled_lr

    cfg = RunConfig().override(["train.lr_schedule=cosine", "train.lr=0.01", "train.lr_min=0.001",
                                "train.epochs=10"]).validate().train
    assert scheduled_lr(cfg, 0, 50) == pytest.approx(0.01)
    assert scheduled_lr(cfg, 250, 50) == pytest.approx(0.0055)
    assert scheduled_lr(cfg, 500, 50) == pytest.approx(0.001)
    assert scheduled_lr(cfg, 900, 50) == pytest.approx(0.001)
    constant = RunConfig().validate().train
    assert scheduled_lr(constant, 123, 50) == constant.lr


@pytest.mark.parametrize("schedule", ["cosine", "milestones", "constant"])
def test_lr_schedules_count_epochs_so_a_larger_dataset_goes_through_the_same(schedule):
    import torch

    from hashgnn.training.trainer import set_lr

    tcfg = RunConfig().override([f"train.lr_schedule={schedule}", "train.lr_min=0.001", "train.epochs=10",
                                 "train.lr_milestones=[3,6]"]).validate().train
    curves = []
    for steps_per_epoch in (50, 500):  # a 10× larger dataset at the same batch
        optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=tcfg.lr)
        curve = []
        for epoch in (0, 0.5, 2.9, 3, 5.5, 6, 9.99):
            set_lr(optimizer, tcfg, int(epoch * steps_per_epoch), steps_per_epoch)
            curve.append(optimizer.param_groups[0]["lr"])
        curves.append(curve)
    assert curves[0] == pytest.approx(curves[1], rel=1e-3)
    assert len(set(curves[0])) == (1 if schedule == "constant" else 3 if schedule == "milestones" else 7)


@pytest.mark.dataset("movielens-100k")
def test_link_bias_is_learned_and_absent_by_default():
    cfg = small_config("train.epochs=1", "train.patience=100", "model.link_bias=true")
    split = load_split_for(cfg.data, cfg.split)
    result = Trainer(cfg, split, progress=False).fit()
    assert "link_bias" in result.model.state_dict()
    assert result.model.link_bias.item() != 0.0
    from hashgnn.models.hashgnn import HashGNNModel

    assert "link_bias" not in HashGNNModel(10, small_config().model).state_dict()  # the paper's parameters


def _tiny_split():
    from hashgnn.data.interactions import Interactions
    from hashgnn.data.splits import random_split

    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 600)
    items = (users * 3 + rng.integers(0, 15, 600)) % 80
    return random_split(Interactions.from_raw(users.astype(np.int64), items.astype(np.int64), name="p-test"))


TINY = ["train.epochs=6", "train.log_every=1", "train.patience=100", "train.auc_pairs=50", "train.threads=1",
        "model.embedding_dim=8", "model.dims=[8,8]", "model.n_bits=8", "model.p_decay=0.8", "eval.valid_n=5",
        "eval.n_candidates=10"]


def _record_p(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The p of every training forward pass (encoding for search uses sign(z), not this)."""
    from hashgnn.models.hashing import GuidedSTE

    seen: list[float] = []
    forward = GuidedSTE.forward

    def recording_forward(self, a):
        seen.append(self.p)
        return forward(self, a)

    monkeypatch.setattr(GuidedSTE, "forward", recording_forward)
    return seen


@pytest.mark.parametrize(("unit", "every", "steps_between"), [("step", 5, 5), ("epoch", 1.25, 5)])
def test_guided_training_lowers_p_as_it_goes(monkeypatch: pytest.MonkeyPatch, unit, every, steps_between):
    """The schedule is not only a formula: during a real (tiny) run the p each forward pass mixes with falls
    ×0.8 every ``p_every`` steps or epochs, the log records it, and the trained codes come from a low p. In
    epochs: 234 train edges at batch 64 are 4 steps an epoch, so 1.25 epochs are 5 steps."""
    split = _tiny_split()
    cfg = RunConfig().override([*TINY, "train.batch_size=64", f"model.schedule_unit={unit}",
                                f"model.p_every={every}"])
    seen = _record_p(monkeypatch)
    trainer = Trainer(cfg, split, progress=False)
    assert trainer.steps_per_epoch() == -(-len(split.train_idx) // 64) == 4
    result = trainer.fit()
    iterations = result.log[-1]["iteration"]
    assert iterations >= 20  # enough steps for several decays
    assert seen[0] == 1.0 and seen[-1] < 0.8 ** 3
    assert all(a >= b for a, b in zip(seen, seen[1:], strict=False))  # never rises
    assert len(set(seen)) >= 4
    logged = [row["p"] for row in result.log]
    assert logged == [pytest.approx(0.8 ** (row["iteration"] // steps_between)) for row in result.log]
    final_p = result.model.binarizer.p
    assert final_p == pytest.approx(0.8 ** (iterations // steps_between)) and final_p < 0.5


def test_an_epoch_schedule_gives_the_same_p_at_the_same_epoch_whatever_the_batch(monkeypatch: pytest.MonkeyPatch):
    """Batch 32 has twice the steps an epoch of batch 64: in epochs p still decays at the same epochs."""
    split = _tiny_split()
    by_epoch = {}
    for batch in (32, 64):
        cfg = RunConfig().override([*TINY, "train.epochs=4", f"train.batch_size={batch}", "model.p_every=1"])
        result = Trainer(cfg, split, progress=False).fit()
        by_epoch[batch] = {row["epoch"]: row["p"] for row in result.log}  # the last row of each epoch wins
    assert by_epoch[32] == by_epoch[64] == {e: pytest.approx(0.8 ** e) for e in (1, 2, 3, 4)}


def test_the_run_records_the_batch_it_adapted_to_the_data(tmp_path: Path):
    split = _tiny_split()
    cfg = RunConfig().override([*TINY, "train.epochs=1"])
    assert cfg.train.batch_size is None
    trainer = Trainer(cfg, split, RunDir(tmp_path / "run"), progress=False)
    trainer.fit()
    recorded = RunDir(tmp_path / "run").read_config()
    assert recorded.train.batch_size == trainer.config.train.batch_size == 64  # the floor, for 234 edges
    assert recorded == cfg.with_batch_for(len(split.train_idx))
    resumed = Trainer(recorded, split, RunDir(tmp_path / "run"), progress=False).fit(resume=True)
    assert [h["epoch"] for h in resumed.history] == [1]  # the recorded config is the run's own


#: validation scores by epoch: a plateau after epoch 1 (patience 2 runs out at epoch 3), then a peak at epoch 6
#: below epoch 1's score, so selecting among the epochs after the plateau differs from selecting among all
PLATEAU = [0.9, 0.4, 0.4, 0.45, 0.6, 0.7, 0.3, 0.3, 0.3, 0.3]


class _Scripted(Trainer):
    """Validation reads :data:`PLATEAU` at the epoch (so a resumed run sees the same scores); ``interrupt_after``
    raises after that epoch's checkpoint."""

    interrupt_after: int | None = None

    def _end_of_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict,
                      epoch: int) -> bool:
        self._epoch = epoch
        stop = super()._end_of_epoch(model, optimizer, state, epoch)
        if epoch == self.interrupt_after:
            raise _Interrupt
        return stop

    def validate(self, model: torch.nn.Module) -> float:
        return PLATEAU[self._epoch - 1]


ON = "train.end_schedule_on_plateau=true"


def _plateau_config(*extra: str) -> RunConfig:
    return RunConfig().override([*TINY, "train.epochs=10", "train.patience=2", "train.batch_size=64",
                                 "model.p_every=1", *extra])


def test_a_plateau_with_p_above_its_floor_ends_the_schedule_and_training_goes_on(tmp_path: Path):
    """``train.end_schedule_on_plateau``: patience running out at p 0.8³ ends guided STE's schedule instead of
    the run: p is 0 from that step on, patience counts afresh, and the model is selected among the epochs with
    binary codes (epoch 6), not from before them. The default stops at epoch 3 with epoch 1's model."""
    split = _tiny_split()
    result = _Scripted(_plateau_config(ON), split, RunDir(tmp_path / "run"), progress=False).fit()
    assert [h["epoch"] for h in result.history] == list(range(1, 9))  # the phase's own plateau stops it at 8
    assert [h.get("schedule_ended", False) for h in result.history] == [False, False, True, *[False] * 5]
    ended_at = 3 * 4  # 234 train edges at batch 64: 4 steps an epoch
    # a row's p is the one after its step: epoch 3's last row is logged before validation ends the schedule
    assert all(row["p"] == (0.0 if row["iteration"] > ended_at else pytest.approx(0.8 ** (row["iteration"] // 4)))
               for row in result.log)
    assert result.model.binarizer.p == 0.0 and result.best_epoch == 6 and result.stopped == "patience"
    training = RunDir(tmp_path / "run").read_json("training.json")
    assert training["schedule_ended_at"] == ended_at and training["best_epoch"] == 6


@pytest.mark.parametrize("sets", [[], ["model.schedule_unit=step", "model.p_every=4"]])
def test_by_default_a_plateau_stops_the_run_wherever_p_is(sets):
    """The default (every stored run, ``make run``, both schedule units) stops where patience runs out."""
    assert not RunConfig().train.end_schedule_on_plateau
    result = _Scripted(_plateau_config(*sets), _tiny_split(), progress=False).fit()
    assert [h["epoch"] for h in result.history] == [1, 2, 3] and result.best_epoch == 1
    assert result.model.binarizer.p == pytest.approx(0.8 ** 3) and result.stopped == "patience"


def test_a_run_resumed_after_its_schedule_ended_continues_with_it_ended(tmp_path: Path):
    cfg, split = _plateau_config(ON), _tiny_split()
    interrupted = _Scripted(cfg, split, RunDir(tmp_path / "run"), progress=False)
    interrupted.interrupt_after = 5
    with pytest.raises(_Interrupt):
        interrupted.fit()
    resumed = _Scripted(cfg, split, RunDir(tmp_path / "run"), progress=False).fit(resume=True)
    straight = _Scripted(cfg, split, progress=False).fit()
    assert [h["epoch"] for h in resumed.history] == [h["epoch"] for h in straight.history]
    assert [row["p"] for row in resumed.log] == [row["p"] for row in straight.log]
    assert resumed.best_epoch == straight.best_epoch == 6
    assert np.array_equal(resumed.embeddings.item_codes, straight.embeddings.item_codes)

