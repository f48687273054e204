"""Crash safety: ``hashgnn train`` is killed with SIGKILL at random times, over and over, on a tiny log.

After every kill: each artifact present is whole (its checksum verifies and it parses), the last checkpoint never
goes back in time, and ``--resume`` continues from it. At the end one uninterrupted ``--resume`` finishes the
run, whose history has every epoch exactly once and whose embeddings equal those of a run never killed.

``test_sigkill_at_random_points`` runs ``$HASHGNN_KILL_TRIALS`` kills (default 20, about 2 minutes) in the
default suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hashgnn.io_utils import LOCK_NAME, torch_load_checked
from hashgnn.training.manifest import MANIFEST, read_manifest
from hashgnn.training.rundir import RunDir

from .conftest import tiny_sets, write_tiny_csv

CRASH_ROWS = 6000

EPOCHS = 12


@pytest.fixture(scope="module")
def crash_csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log big enough that an epoch takes a noticeable time (the shared tiny log trains in a blink)."""
    return write_tiny_csv(tmp_path_factory.mktemp("crash_data") / "crash.csv", n_rows=CRASH_ROWS,
                          n_users=600, n_items=1200)
STARTED = "training "  # the CLI prints "training <method> ... → <out>" right before fitting


class Proc:
    """A ``hashgnn train`` subprocess whose output is read by a thread (so the pipe never blocks it)."""

    def __init__(self, args: list[str], env: dict, watch: Path | None = None) -> None:
        self.p = subprocess.Popen([sys.executable, "-m", "hashgnn", "train", *args], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self.started = threading.Event()
        self.t0 = time.perf_counter()
        self.t_started: float | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.t_watch: float | None = None
        if watch is not None:
            threading.Thread(target=self._watch, args=(watch,), daemon=True).start()

    def _watch(self, path: Path) -> None:
        while self.p.poll() is None and self.t_watch is None:
            if path.exists():
                self.t_watch = time.perf_counter()
            time.sleep(0.01)

    def _read(self) -> None:
        for raw in self.p.stdout:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if line.startswith(STARTED) and not self.started.is_set():
                self.t_started = time.perf_counter()
                self.started.set()

    def output(self) -> str:
        self.reader.join(timeout=10)
        return "".join(self.lines)


def _args(csv: Path, run: Path, resume: bool) -> list[str]:
    common = ["--out", str(run), "--no-progress", "--no-evaluate"]
    if resume:
        return [*common, "--resume"]
    return [*common, "--dataset", str(csv), "--epochs", str(EPOCHS), "--bits", "16", *tiny_sets()]


def _check_artifacts(run: Path) -> dict:
    """Every artifact in the run directory is whole; returns facts about the checkpoint."""
    facts = {"temps": 0, "epoch": None}
    if not run.exists():
        return facts
    for path in sorted(run.rglob("*")):
        if path.is_dir() or path.name.endswith(".sha256"):
            continue
        if path.name.endswith(".tmp"):
            facts["temps"] += 1  # a killed writer's temp file: never read, removed by the next run
            continue
        if path.name == LOCK_NAME or path.suffix == ".png":
            continue  # the write lock (released by the kernel with the killed process); a plot, never read back
        if path.name == MANIFEST:
            read_manifest(path)  # whole and matching its own digest
            continue
        data = RunDir(run).read_bytes(path.relative_to(run).as_posix())  # side file and manifest entry both accept it
        if path.suffix == ".json":
            import json

            json.loads(data)
        elif path.suffix in (".npz", ".npy"):
            import io

            loaded = np.load(io.BytesIO(data), allow_pickle=False)
            if path.suffix == ".npz":
                [loaded[k] for k in loaded.files]
        elif path.suffix == ".pt":
            ckpt = torch_load_checked(path)
            if path.name == "last.pt":
                facts["epoch"] = ckpt["epoch"]
    if (run / "config.json").exists():
        RunDir(run).read_config().validate()
    return facts


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["HASHGNN_CACHE"] = str(tmp_path / "cache")
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_epochs(proc: Proc, run: Path, n: int, timeout: float = 300) -> bool:
    """Block until the run has recorded ``n`` epochs or the process ended; False if it ended first."""
    deadline = time.perf_counter() + timeout
    while RunDir(run).epochs_done() < n:
        if proc.p.poll() is not None:
            return False
        assert time.perf_counter() < deadline, proc.output()
        time.sleep(0.005)
    return True


def _kill_trials(csv: Path, tmp_path: Path, trials: int, seed: int) -> dict:
    env = _env(tmp_path)
    # reference: one run never killed (also measures the time of an epoch)
    ref_run = tmp_path / "reference"
    ref = Proc(_args(csv, ref_run, resume=False), env, watch=ref_run / "checkpoints" / "last.pt")
    assert ref.p.wait(timeout=300) == 0, ref.output()
    t_start = ref.t_started or ref.t0
    epoch_seconds = (time.perf_counter() - t_start) / EPOCHS

    rng = np.random.default_rng(seed)
    n_runs = 0
    run = tmp_path / "run-0"
    stats = {"trials": 0, "killed": 0, "finished_before_kill": 0, "before_config": 0, "before_checkpoint": 0,
             "mid_training": 0, "temps_seen": 0, "epochs_at_kill": []}
    last_epoch = 0
    for _ in range(trials):
        resume = (run / "config.json").exists()
        proc = Proc(_args(csv, run, resume), env)
        # where to strike: start-up (1 in 8), the final writes after the last epoch (1 in 8), otherwise inside a
        # random epoch still to run — reached by watching the history, so the spread does not depend on speed
        where = rng.random()
        if where < 1 / 8:
            time.sleep(rng.uniform(0, 3.0))
        elif _wait_for_epochs(proc, run, EPOCHS if where > 7 / 8 else int(rng.integers(last_epoch, EPOCHS))):
            time.sleep(rng.uniform(0, epoch_seconds))
        if proc.p.poll() is None:
            proc.p.send_signal(signal.SIGKILL)
            stats["killed"] += 1
        else:
            stats["finished_before_kill"] += 1
        code = proc.p.wait(timeout=60)
        out = proc.output()
        assert code in (0, -signal.SIGKILL), out
        stats["trials"] += 1
        facts = _check_artifacts(run)
        stats["temps_seen"] += facts["temps"]
        if not (run / "config.json").exists():
            stats["before_config"] += 1
        elif facts["epoch"] is None:
            stats["before_checkpoint"] += 1
        epoch = facts["epoch"] or 0
        assert epoch >= last_epoch, f"checkpoint went back from epoch {last_epoch} to {epoch}"
        stats["mid_training"] += int(0 < epoch < EPOCHS and code != 0)
        last_epoch = epoch
        stats["epochs_at_kill"].append(epoch)
        if epoch == EPOCHS:  # finished: start a new run so later kills land during training again
            n_runs += 1
            run, last_epoch = tmp_path / f"run-{n_runs}", 0

    # finish: a resume never killed
    final = Proc(_args(csv, run, resume=(run / "config.json").exists()), env)
    assert final.p.wait(timeout=300) == 0, final.output()
    facts = _check_artifacts(run)
    assert facts["temps"] == 0 and facts["epoch"] == EPOCHS
    rd = RunDir(run)
    assert [h["epoch"] for h in rd.read_json("history.json")] == list(range(1, EPOCHS + 1))
    from hashgnn.models.base import Embeddings
    from hashgnn.recommender import HashGNN

    HashGNN.load(run)
    got, want = Embeddings.load(run), Embeddings.load(ref_run)
    assert np.allclose(got.item_z, want.item_z, atol=1e-5) and np.allclose(got.user_z, want.user_z, atol=1e-5)
    assert np.array_equal(got.item_codes, want.item_codes)
    print(f"kill trials: {stats}")
    return stats


def test_sigkill_at_random_points(crash_csv_path: Path, tmp_path: Path):
    trials = int(os.environ.get("HASHGNN_KILL_TRIALS", "20"))
    stats = _kill_trials(crash_csv_path, tmp_path, trials=trials,
                         seed=int(os.environ.get("HASHGNN_KILL_SEED", "0")))
    # a quarter of the kills at least must land inside training, after some checkpoints and before the last
    # (about 60 % do on average; a quarter keeps the check far from flaky)
    assert stats["trials"] == trials and stats["mid_training"] >= trials // 4, stats
