"""Experiments checkpoint their runs (core methods, HashGNN_sp's hash stage): a killed experiment continues the run
it was training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hashgnn.experiments import Options, run_experiment
from hashgnn.experiments.checkpoints import CHECKPOINTS
from hashgnn.training.trainer import Trainer

pytestmark = pytest.mark.dataset("movielens-100k")

THREE_EPOCHS = ["train.epochs=3", "train.patience=100"]


class _Killed(Exception):
    pass


def _kill_after_epoch(monkeypatch, epoch: int) -> None:
    """The next Trainer to finish ``epoch`` (checkpoint written) dies, as a killed process would; once."""
    original = Trainer._end_of_epoch
    fired = []

    def dies(self, model, optimizer, state, ep):
        stop = original(self, model, optimizer, state, ep)
        if ep == epoch and not fired:
            fired.append(ep)
            raise _Killed
        return stop

    monkeypatch.setattr(Trainer, "_end_of_epoch", dies)


def _options(out: Path, methods: list[str]) -> Options:
    return Options("table2", quick=True, methods=methods, out=out, sets=THREE_EPOCHS)


def test_a_killed_core_run_resumes_from_its_checkpoint_and_equals_an_uninterrupted_one(tmp_path: Path,
                                                                                       monkeypatch):
    out = tmp_path / "killed"
    _kill_after_epoch(monkeypatch, 2)
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["HashGNN"]))
    left = list((out / CHECKPOINTS).iterdir())
    assert [p.name for p in left] == ["movielens-100k-HashGNN-seed0"]
    assert (left[0] / "checkpoints" / "last.pt").is_file()
    run_experiment(_options(out, ["HashGNN"]))  # the kill fired once: this one finishes
    run_experiment(_options(tmp_path / "straight", ["HashGNN"]))
    resumed, straight = (pd.read_csv(tmp_path / d / "results.csv") for d in ("killed", "straight"))
    pd.testing.assert_frame_equal(resumed, straight)  # in one process, resuming is exact
    runs = pd.read_csv(out / "runs.csv")
    assert runs["resumed_after_epoch"].tolist() == [2] and runs["epochs_run"].tolist() == [3]
    assert not any((out / CHECKPOINTS).iterdir())  # stored: its checkpoints are gone


def test_the_shared_graphsage_stage_resumes_and_is_removed_once_its_rows_are_stored(tmp_path: Path, monkeypatch):
    out = tmp_path / "t"
    _kill_after_epoch(monkeypatch, 1)
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["LSH", "GraphSage"]))
    [stage] = (out / CHECKPOINTS).iterdir()
    assert stage.name.startswith("movielens-100k-GraphSage-stage-seed0-")
    run_experiment(_options(out, ["LSH", "GraphSage"]))
    runs = pd.read_csv(out / "runs.csv").set_index("variant")
    assert runs.loc["LSH", "shared_seconds"] == 0 and runs.loc["GraphSage", "shared_seconds"] > 0
    assert not any((out / CHECKPOINTS).iterdir())


def test_a_killed_hashgnn_sp_resumes_its_hash_stage_and_equals_an_uninterrupted_one(tmp_path: Path, monkeypatch):
    from hashgnn.models.baselines import twostage

    original, fired = twostage._StageTwoTrainer._end_of_epoch, []

    def dies(self, model, optimizer, state, epoch):  # the hash stage, not the GraphSage stage before it
        stop = original(self, model, optimizer, state, epoch)
        if epoch == 2 and not fired:
            fired.append(epoch)
            raise _Killed
        return stop

    monkeypatch.setattr(twostage._StageTwoTrainer, "_end_of_epoch", dies)
    out = tmp_path / "killed"
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["HashGNN_sp"]))
    own = out / CHECKPOINTS / "movielens-100k-HashGNN_sp-seed0"
    assert (own / "checkpoints" / "last.pt").is_file()
    run_experiment(_options(out, ["HashGNN_sp"]))  # GraphSage loaded from its stage folder, the hash stage resumed
    run_experiment(_options(tmp_path / "straight", ["HashGNN_sp"]))
    resumed, straight = (pd.read_csv(tmp_path / d / "results.csv") for d in ("killed", "straight"))
    pd.testing.assert_frame_equal(resumed, straight)
    runs = pd.read_csv(out / "runs.csv")
    assert runs["resumed_after_epoch"].tolist() == [2] and runs["epochs_run"].tolist() == [3]
    assert not any((out / CHECKPOINTS).iterdir())


def test_checkpoints_of_other_settings_are_discarded_not_resumed(tmp_path: Path, monkeypatch, capsys):
    out = tmp_path / "t"
    _kill_after_epoch(monkeypatch, 1)
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["HashGNN"]))
    run_experiment(Options("table2", quick=True, methods=["HashGNN"], out=out,
                           sets=[*THREE_EPOCHS, "train.lam=0.25"]))
    assert "checkpoints of another configuration" in capsys.readouterr().out
    assert pd.read_csv(out / "runs.csv")["resumed_after_epoch"].tolist() == [0]


def test_fresh_starts_the_killed_run_over(tmp_path: Path, monkeypatch):
    out = tmp_path / "t"
    _kill_after_epoch(monkeypatch, 1)
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["HashGNN"]))
    options = _options(out, ["HashGNN"])
    options.fresh = True
    run_experiment(options)
    assert pd.read_csv(out / "runs.csv")["resumed_after_epoch"].tolist() == [0]


def test_a_finished_graphsage_stage_is_loaded_not_trained_again_after_a_restart(tmp_path: Path, monkeypatch):
    from hashgnn.models.baselines import LSH

    original, fired = LSH.fit, []

    def dies_once(self, split, **kwargs):
        if not fired:
            fired.append(True)
            raise _Killed  # killed after the GraphSage row was stored, before LSH's
        return original(self, split, **kwargs)

    monkeypatch.setattr(LSH, "fit", dies_once)
    out = tmp_path / "t"
    with pytest.raises(_Killed):
        run_experiment(_options(out, ["GraphSage", "LSH"]))
    epochs: list[int] = []
    run_epoch = Trainer._run_epoch
    monkeypatch.setattr(Trainer, "_run_epoch", lambda self, *a: (epochs.append(a[-1]), run_epoch(self, *a))[1])
    run_experiment(_options(out, ["GraphSage", "LSH"]))
    assert epochs == []  # the stage GraphSage finished before the kill: loaded from its checkpoints
    runs = pd.read_csv(out / "runs.csv").set_index("variant")
    # reused: the stage's training seconds (its epochs only, so less than the GraphSage row's wall time)
    assert 0 < runs.loc["LSH", "shared_seconds"] <= runs.loc["GraphSage", "train_seconds"]
    assert runs.loc["LSH", "train_seconds"] < runs.loc["LSH", "shared_seconds"]
    assert not any((out / CHECKPOINTS).iterdir())


def test_a_killed_embedding_baseline_run_continues_after_its_last_epoch(tmp_path: Path,
                                                                        kill_embedding_fit_in_epoch_2):
    out = tmp_path / "killed"
    with pytest.raises(kill_embedding_fit_in_epoch_2):
        run_experiment(_options(out, ["MF"]))
    assert [p.name for p in (out / CHECKPOINTS).iterdir()] == ["movielens-100k-MF-seed0"]
    run_experiment(_options(out, ["MF"]))
    run_experiment(_options(tmp_path / "straight", ["MF"]))
    resumed, straight = (pd.read_csv(tmp_path / d / "results.csv") for d in ("killed", "straight"))
    pd.testing.assert_frame_equal(resumed, straight)
    assert pd.read_csv(out / "runs.csv")["resumed_after_epoch"].tolist() == [1]
    assert not any((out / CHECKPOINTS).iterdir())
