"""``--status``: the planned runs are the ones the experiment trains, each with its state; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hashgnn.errors import ConfigError
from hashgnn.experiments import Options, make_plan, run_experiment
from hashgnn.experiments.plan import planned_runs
from hashgnn.experiments.status import run_status
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.training.trainer import Trainer

pytestmark = pytest.mark.dataset("movielens-100k")

TWO_EPOCHS = ["train.epochs=2", "train.patience=100"]


class _Killed(Exception):
    pass


def _status(out: Path, methods: list[str], **kw) -> pd.DataFrame:
    return run_status(make_plan(Options("table2", quick=True, methods=methods, out=out, sets=TWO_EPOCHS, **kw)))


def test_the_planned_runs_are_the_runs_each_experiment_trains_in_that_order(tmp_path: Path):
    for name, methods in (("table2", ["MF", "GraphSage", "LSH"]), ("figure7", None)):
        out = tmp_path / name
        options = Options(name, quick=True, methods=methods, out=out, sets=TWO_EPOCHS)
        planned = [(s.dataset, s.variant, s.seed) for s in planned_runs(make_plan(options))]
        run_experiment(options)
        runs = pd.read_csv(out / "runs.csv")
        assert list(zip(runs["dataset"], runs["variant"], runs["seed"], strict=True)) == planned


def test_status_follows_a_run_from_to_train_through_checkpointed_to_stored(tmp_path: Path, monkeypatch):
    out = tmp_path / "t"
    before = _status(out, ["HashGNN", "MF"])
    assert before["state"].tolist() == ["to train", "to train"]
    assert not out.exists()  # asking wrote nothing

    original = Trainer._end_of_epoch

    def dies_after_epoch_1(self, model, optimizer, state, epoch):
        original(self, model, optimizer, state, epoch)
        if isinstance(model, HashGNNModel):  # MF trains on the same loop, and is stored before HashGNN starts
            raise _Killed

    monkeypatch.setattr(Trainer, "_end_of_epoch", dies_after_epoch_1)
    with pytest.raises(_Killed):
        run_experiment(Options("table2", quick=True, methods=["MF", "HashGNN"], out=out, sets=TWO_EPOCHS))
    middle = _status(out, ["HashGNN", "MF"]).set_index("variant")
    assert middle.loc["MF", "state"] == "stored"
    assert (middle.loc["HashGNN", "state"], middle.loc["HashGNN", "detail"]) == ("checkpointed", "after epoch 1")
    assert middle.loc["HashGNN", "left_seconds"] != middle.loc["HashGNN", "left_seconds"]  # NaN: no HashGNN stored

    monkeypatch.setattr(Trainer, "_end_of_epoch", original)
    run_experiment(Options("table2", quick=True, methods=["HashGNN"], out=out, sets=TWO_EPOCHS))
    assert _status(out, ["HashGNN", "MF"])["state"].tolist() == ["stored", "stored"]

    # a second seed: not stored, estimated from the stored seed's time
    plan = make_plan(Options("table2", quick=True, methods=["HashGNN"], out=out, sets=TWO_EPOCHS, seeds=2))
    status = run_status(plan).set_index("seed")
    stored_seconds = pd.read_csv(out / "runs.csv").set_index("method").loc["HashGNN", "train_seconds"]
    assert status.loc[1, "state"] == "to train" and status.loc[1, "left_seconds"] == pytest.approx(stored_seconds)


def test_status_names_the_stored_run_a_reuse_folder_would_lend(tmp_path: Path):
    run_experiment(Options("table2", quick=True, methods=["HashGNN"], out=tmp_path / "t2", sets=TWO_EPOCHS))
    status = run_status(make_plan(Options("figure5", quick=True, out=tmp_path / "f5", sets=TWO_EPOCHS,
                                          reuse=[tmp_path / "t2"])))
    same = status[status["state"] == "same as"]
    # λ = 0.5, T = 5 and K = 32 are the default setting: Table 2's HashGNN
    assert sorted(same["variant"]) == ["model.n_bits=32", "train.lam=0.5", "train.triplets=5"]
    assert set(same["detail"]) == {f"{tmp_path / 't2'}:HashGNN"}
    assert (status.loc[status["state"] != "same as", "state"] == "to train").all()
    assert not (tmp_path / "f5").exists()


def test_status_refuses_fresh(tmp_path: Path):
    with pytest.raises(ConfigError, match="--fresh"):
        _status(tmp_path / "t", ["MF"], fresh=True)


def test_experiments_that_need_the_fitted_model_report_what_they_will_train(tmp_path: Path):
    table4 = run_status(make_plan(Options("table4", quick=True, out=tmp_path / "t4")))
    assert table4["state"].tolist() == ["to train"]  # Table 4 times a model it holds: it always trains one
    given = run_status(make_plan(Options("table4", quick=True, out=tmp_path / "t4",
                                         runs={"movielens-100k": tmp_path / "run"})))
    assert given["state"].tolist() == ["given run"]

    out = tmp_path / "f46"
    options = Options("figure4_6", quick=True, out=out, sets=TWO_EPOCHS)
    run_experiment(options)
    assert set(run_status(make_plan(options))["state"]) == {"stored"}
    (out / "training_log.csv").unlink()  # without its curve a stored run is trained again
    assert set(run_status(make_plan(options))["state"]) == {"to train"}


def test_status_reads_the_epoch_of_an_embedding_baseline_checkpoint_and_ignores_a_damaged_one(
        tmp_path: Path, kill_embedding_fit_in_epoch_2):
    from hashgnn.experiments.checkpoints import CHECKPOINTS

    out = tmp_path / "t"
    with pytest.raises(kill_embedding_fit_in_epoch_2):
        run_experiment(Options("table2", quick=True, methods=["MF"], out=out, sets=TWO_EPOCHS))
    status = _status(out, ["MF"])
    assert (status.loc[0, "state"], status.loc[0, "detail"]) == ("checkpointed", "after epoch 1")

    (history,) = (out / CHECKPOINTS).glob("*/history.json")  # what the status reads the epoch from
    history.write_bytes(b"not a history")
    assert _status(out, ["MF"]).loc[0, "state"] == "to train"


def test_the_pace_is_estimated_from_runs_stored_before_the_graphsage_stage_was_shared():
    from hashgnn.experiments.status import _typical

    # runs.csv of folders written before shared_seconds existed (results/core-ml1m-leaky): nothing was reused then
    runs = pd.DataFrame({"dataset": ["d", "d"], "method": ["GraphSage", "LSH"], "train_seconds": [10.0, 30.0],
                         "epochs_run": [4, 4]})
    assert _typical(runs, "d", "GraphSage") == (10.0, 4.0)
    assert _typical(runs, "d", "LSH") is None  # its own part is only known from runs that reused a stage
