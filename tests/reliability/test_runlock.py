"""Issue 34, points 2 and 7: one writer per run directory, and ``--resume`` never drops options silently.

A holder process takes the run's lock the way :class:`~hashgnn.io_utils.DirLock` does (``flock`` on ``RUN/.lock``
with its pid inside); every second writer — the API, ``hashgnn train --out`` and ``--resume`` — must then fail at
once, naming that pid, and write nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashgnn.io_utils import LOCK_NAME, LockedError
from hashgnn.training.rundir import RunDir

from .conftest import tiny_sets

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
print("held", flush=True)
sys.stdin.read()
"""

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("busy")
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """``(run directory, pid)`` of another process holding the run's lock until the test ends."""
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run / LOCK_NAME)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield run, proc.pid
    proc.stdin.close()
    proc.wait(timeout=30)


def _probe(run: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(run / LOCK_NAME)], capture_output=True, text=True,
                          check=True).stdout.strip()


def _cli(args: list[str]) -> int:
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


def test_a_second_writer_fails_at_once_naming_the_holder(holder: tuple[Path, int]):
    run, pid = holder
    started = time.perf_counter()
    with pytest.raises(LockedError, match=f"pid {pid}"):
        RunDir(run).write_json("history.json", [])
    assert time.perf_counter() - started < 5
    assert not (run / "history.json").exists()


def test_cli_train_into_a_run_being_written_fails_at_once(holder: tuple[Path, int], tiny_csv_path: Path, capsys):
    """Two ``hashgnn train --out SAME`` started together: the second stops before loading data or training."""
    run, pid = holder
    code = _cli(["train", "--dataset", str(tiny_csv_path), "--out", str(run), "--epochs", "1", "--bits", "16",
                 "--no-progress", "--no-evaluate", *tiny_sets()])
    assert code == 2
    err = capsys.readouterr().err
    assert f"pid {pid}" in err and "Traceback" not in err
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]


def test_cli_resume_of_a_run_being_written_fails_at_once(trained_run: Path, tmp_path: Path, capsys):
    run = tmp_path / "held"
    shutil.copytree(trained_run, run)
    before = (run / "history.json").read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run / LOCK_NAME)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert _cli(["train", "--out", str(run), "--resume", "--no-progress", "--no-evaluate"]) == 2
        assert f"pid {proc.pid}" in capsys.readouterr().err
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert (run / "history.json").read_bytes() == before


def test_the_lock_is_shared_within_a_process_and_released_with_its_last_holder(tmp_path: Path):
    run = tmp_path / "run"
    first, second = RunDir(run).lock(), RunDir(run).lock()  # one writer, two objects: no self-deadlock
    assert _probe(run) == "busy"
    assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
    first.unlock()
    assert _probe(run) == "busy"
    second.unlock()
    assert _probe(run) == "free"


def test_the_lock_goes_with_the_run_dir_object(tmp_path: Path):
    import gc

    run = tmp_path / "run"
    RunDir(run).write_json("x.json", {})  # a temporary writer
    gc.collect()
    assert _probe(run) == "free"


def test_a_dead_holder_leaves_no_stale_lock(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run / LOCK_NAME)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait(timeout=30)
    with RunDir(run) as rd:
        rd.write_json("x.json", {})


@pytest.mark.slow
def test_two_cli_trains_started_together_one_wins(tiny_csv_path: Path, tmp_path: Path):
    """The issue's reproduction with real processes: exactly one exits 0, the other 2 naming the winner."""
    run = tmp_path / "same"
    args = [sys.executable, "-m", "hashgnn", "train", "--dataset", str(tiny_csv_path), "--out", str(run),
            "--epochs", "3", "--bits", "16", "--no-progress", *tiny_sets()]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    loser = outs[[p.returncode for p in procs].index(2)]
    winner = procs[[p.returncode for p in procs].index(0)]
    assert f"pid {winner.pid}" in loser, loser


# -- point 7: --resume with other options -----------------------------------------------------------------------
@pytest.mark.parametrize("extra", [["--epochs", "30"], ["--set", "train.lr=0.5"], ["--epochs", "30", "--set",
                                                                                      "train.lr=0.5"]])
def test_resume_with_other_options_is_refused(trained_run: Path, tmp_path: Path, extra: list[str], capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = (run / "history.json").read_bytes()
    assert _cli(["train", "--out", str(run), "--resume", *extra]) == 2
    err = capsys.readouterr().err
    for flag in extra[::2]:
        assert flag in err, err
    assert "config.json" in err
    assert (run / "history.json").read_bytes() == before
