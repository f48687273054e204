"""Artifacts: corruption and truncation are detected (ArtifactError naming the file); a failed write (disk full)
leaves the previous artifact intact and no temp file; the checksum side file never condemns a valid artifact
whatever the point at which a writer dies."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from hashgnn import io_utils
from hashgnn.errors import ArtifactError, HashGNNError
from hashgnn.io_utils import atomic_save_npy, atomic_write_checked, load_npy, read_checked, sha256_bytes
from hashgnn.training.rundir import RunDir

from .conftest import tiny_interactions, tiny_model


def _load_everything(run: Path) -> None:
    """Every reader of a run directory: the model (service path), both checkpoints, logs, the index."""
    from hashgnn.recommender import HashGNN
    from hashgnn.training.plots import plot_training_curve

    rd = RunDir(run)
    HashGNN.load(run)
    rd.load_checkpoint("last")
    rd.load_checkpoint("best")
    for name in ("history.json", "training.json", "env.json"):
        rd.read_json(name)
    plot_training_curve(run)  # reads metrics.csv
    rd.read_index("index.hgi")


ARTIFACTS = ["config.json", "env.json", "split.npz", "id_maps.npz", "interactions.npz", "embeddings_users.npy",
             "embeddings_items.npy", "codes_users.npy", "codes_items.npy", "embeddings.json", "history.json",
             "training.json", "metrics.csv", "checkpoints/last.pt", "checkpoints/best.pt", "index.hgi",
             "training_curve.png", "manifest.json"]
SELF_CHECKED = ("manifest.json",)  # the manifest carries its checksum in its body


def test_every_artifact_is_checksummed(trained_run: Path):
    _load_everything(trained_run)
    for name in ARTIFACTS:
        if name.endswith(SELF_CHECKED):
            continue
        side = trained_run / f"{name}.sha256"
        assert side.is_file(), name
        assert side.read_text().split() == [sha256_bytes((trained_run / name).read_bytes())], name


@pytest.mark.parametrize("damage", ["truncate", "flip"])
@pytest.mark.parametrize("name", ARTIFACTS)
def test_damaged_artifact_raises_artifact_error(trained_run: Path, tmp_path: Path, name: str, damage: str):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    path = run / name
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x10
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as info:
        _load_everything(run)
    assert Path(name).name in str(info.value)


def test_missing_artifacts_are_named(trained_run: Path, tmp_path: Path):
    for name in ARTIFACTS:  # env.json, metrics.csv and the plot too: a file the manifest lists is not optional
        run = tmp_path / name.replace("/", "_")
        shutil.copytree(trained_run, run)
        (run / name).unlink()
        # a run without config.json is no run directory at all: HashGNN.load says so with a ConfigError
        with pytest.raises(ArtifactError if name != "config.json" else HashGNNError) as info:
            _load_everything(run)
        assert Path(name).name in str(info.value), name


# --- disk full -------------------------------------------------------------------------------------------

def _fail_writes_after(monkeypatch: pytest.MonkeyPatch, budget: int, err: int = errno.ENOSPC) -> dict:
    """``os.write`` writes ``budget`` bytes in total, then fails like a full disk."""
    real = os.write
    state = {"left": budget, "calls": 0}

    def write(fd: int, data) -> int:
        state["calls"] += 1
        if state["left"] <= 0:
            raise OSError(err, os.strerror(err))
        n = real(fd, bytes(data)[: state["left"]])
        state["left"] -= n
        return n

    monkeypatch.setattr(io_utils.os, "write", write)
    return state


def _temps(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("budget", [0, 10, 100, 1000])
def test_disk_full_keeps_previous_npy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int):
    path = tmp_path / "codes.npy"
    old = np.arange(100, dtype=np.int64)
    atomic_save_npy(path, old)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    _fail_writes_after(monkeypatch, budget)
    with pytest.raises(HashGNNError) as info:
        atomic_save_npy(path, np.ones(5000, dtype=np.float64))
    monkeypatch.undo()
    assert isinstance(info.value, ArtifactError)
    assert "codes.npy" in str(info.value) and "disk is full" in str(info.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert np.array_equal(load_npy(path), old)
    assert _temps(tmp_path) == []


def test_disk_full_during_training_keeps_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Epoch 1 is checkpointed; every write of epoch 2 fails: a HashGNNError, and epoch 1 stays resumable."""
    from hashgnn.training import trainer as trainer_mod

    run = tmp_path / "run"
    real_end = trainer_mod.Trainer._end_of_epoch

    def end_of_epoch(self, model, optimizer, state, epoch):
        if epoch == 2:
            _fail_writes_after(monkeypatch, 64)
        return real_end(self, model, optimizer, state, epoch)

    monkeypatch.setattr(trainer_mod.Trainer, "_end_of_epoch", end_of_epoch)
    with pytest.raises(HashGNNError, match="disk is full"):
        tiny_model(epochs=3).fit(tiny_interactions(), run_dir=run, progress=False)
    monkeypatch.undo()
    assert _temps(run) == []
    assert RunDir(run).load_checkpoint("last")["epoch"] == 1
    RunDir(run).read_json("history.json")
    model = tiny_model(epochs=3).fit(tiny_interactions(), run_dir=run, resume=True, progress=False)
    assert [h["epoch"] for h in model.result.history] == [1, 2, 3]


def test_disk_full_writing_index_keeps_old_index(trained_run: Path, tmp_path: Path, monkeypatch):
    from hashgnn.index import HammingIndex, load_index

    path = tmp_path / "index.hgi"
    shutil.copy(trained_run / "index.hgi", path)
    old = path.read_bytes()
    codes = np.random.default_rng(0).integers(0, 256, (500, 2), dtype=np.uint8)
    _fail_writes_after(monkeypatch, 200)
    with pytest.raises(ArtifactError, match="disk is full"):
        HammingIndex(codes).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old and _temps(tmp_path) == []
    load_index(path)


def test_other_write_errors_are_artifact_errors(tmp_path: Path, monkeypatch):
    path = tmp_path / "x.json"
    atomic_write_checked(path, b"{}")
    _fail_writes_after(monkeypatch, 0, errno.EIO)
    with pytest.raises(ArtifactError, match="x.json"):
        atomic_write_checked(path, b'{"a": 1}')
    monkeypatch.undo()
    assert read_checked(path) == b"{}"


# --- the side file and a writer killed between its steps -----------------------------------------------------

def test_checksum_side_file_never_condemns_a_whole_artifact(tmp_path: Path, monkeypatch):
    """Simulate a kill before each low-level step of atomic_write_checked (write a temp file, rename it; for
    the artifact and its side file): the artifact on disk is always the old or the new one, and always
    accepted by its side file."""
    path = tmp_path / "a.bin"
    old, new = b"old contents" * 10, b"new contents" * 20
    real_temp, real_commit = io_utils._write_temp, io_utils._commit
    n_steps = 6  # temp(data), temp(widened side), commit(side), commit(data), temp(narrow side), commit(side)
    for stop_before in range(n_steps + 1):
        atomic_write_checked(path, old)
        calls = {"n": 0}

        def step(real, *args, calls=calls, stop_before=stop_before):
            if calls["n"] == stop_before:
                raise KeyboardInterrupt  # the process dies here
            calls["n"] += 1
            return real(*args)

        monkeypatch.setattr(io_utils, "_write_temp", lambda *a: step(real_temp, *a))
        monkeypatch.setattr(io_utils, "_commit", lambda *a: step(real_commit, *a))
        if stop_before < n_steps:
            with pytest.raises(KeyboardInterrupt):
                atomic_write_checked(path, new)
        else:
            atomic_write_checked(path, new)
        monkeypatch.undo()
        assert read_checked(path) in (old, new), stop_before
    assert read_checked(path) == new
    assert (tmp_path / "a.bin.sha256").read_text().split() == [sha256_bytes(new)]


def test_stale_temp_files_are_removed_on_resume(tmp_path: Path):
    run = tmp_path / "run"
    tiny_model(epochs=1).fit(tiny_interactions(), run_dir=run, progress=False)
    stale = [run / ".codes_items.npy.abc.tmp", run / "checkpoints" / ".last.pt.xyz.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    tiny_model(epochs=1).fit(tiny_interactions(), run_dir=run, resume=True, progress=False)
    assert not any(p.exists() for p in stale)


def test_corrupt_data_cache_is_rebuilt(tmp_path: Path, tiny_csv_path: Path, cache_path: Path):
    """A truncated processed/split cache (zip) is rebuilt, not a zipfile.BadZipFile."""
    from hashgnn.data import DataConfig, SplitConfig, load_split_for

    cfg = DataConfig(str(tiny_csv_path))
    first = load_split_for(cfg, SplitConfig())
    caches = list(cache_path.rglob("*.npz"))
    assert len(caches) == 2
    for p in caches:
        p.write_bytes(p.read_bytes()[:50])
    again = load_split_for(cfg, SplitConfig())
    assert np.array_equal(first.train_idx, again.train_idx)


def test_epochs_done_counts_the_history_and_reads_a_damaged_one_as_none(trained_run: Path, tmp_path: Path):
    import json

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert RunDir(run).epochs_done() == len(json.loads((run / "history.json").read_text())) > 0
    (run / "history.json").write_text("[1, 2")  # cut mid-write, checksum no longer matches
    assert RunDir(run).epochs_done() == 0
    assert RunDir(tmp_path / "nothing").epochs_done() == 0
