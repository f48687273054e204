"""An experiment's output folder: the stored runs (:class:`ResultStore`: ``results.csv``, long metrics
``dataset, label, variant, method, seed, mode, protocol, metric, value``; ``runs.csv``, one row per run) and where
the runs in training keep their checkpoints (:data:`CHECKPOINTS`). The folder's provenance (``command.txt``,
``experiment.json``) is written from the plan, by :func:`hashgnn.experiments.plan.write_meta`.

Every run is appended to the store as soon as it is evaluated, so an interrupted experiment continues where it
stopped (``fresh=False``): stored runs are skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from filelock import FileLock

from hashgnn.io_utils import atomic_write_text

#: the folder of the runs in training, in the output folder (:mod:`hashgnn.experiments.checkpoints`); git-ignored,
#: emptied as runs are stored
CHECKPOINTS = ".checkpoints"

#: Registry names that changed meaning: runs stored under the old name are read under the new one. Until
#: 2026-12-07 "LightGCN" was LightGCN propagation under HashGNN's tanh head and eq. 7 (now "LightGCN_eq7");
#: the name now belongs to LightGCN itself.
RENAMED_METHODS = {"LightGCN": "LightGCN_eq7"}


def _stored_before_rename(runs: pd.DataFrame) -> set[tuple]:
    """``(dataset, variant, seed)`` of the runs stored under a renamed method's old name: their recorded
    resolved config predates ``model.head``."""
    if runs.empty or "resolved_config" not in runs:
        return set()
    old = runs["variant"].isin(list(RENAMED_METHODS))
    old &= ~runs["resolved_config"].astype(str).str.contains('"head"', regex=False)
    return set(zip(runs.loc[old, "dataset"], runs.loc[old, "variant"], runs.loc[old, "seed"], strict=True))


def _renamed_methods(frame: pd.DataFrame, keys: set[tuple]) -> pd.DataFrame:
    """The rows of ``keys`` (see :func:`_stored_before_rename`) under the method's new name."""
    if frame.empty or not keys:
        return frame
    hit = pd.Series([k in keys for k in zip(frame["dataset"], frame["variant"], frame["seed"], strict=True)],
                    index=frame.index)
    frame = frame.copy()
    for column in ("variant", "method"):
        if column in frame:
            frame.loc[hit, column] = frame.loc[hit, column].replace(RENAMED_METHODS)
    return frame


class ResultStore:
    """``results.csv`` (long metrics) and ``runs.csv`` (one row per run: times, config) in the output folder.

    Several processes may fill one folder at once, each with its own ``--methods`` (two 1-thread processes train
    ~1.6x more per hour than one 2-thread process on this project's 2-core machine): every read and write holds
    the folder's lock file, ``add`` appends to what is on disk rather than to a copy read at start, and reads see
    what the other processes have added, so the last one to finish writes the complete tables.
    """

    def __init__(self, out: Path, fresh: bool) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.results_path, self.runs_path = out / "results.csv", out / "runs.csv"
        self._lock = FileLock(str(out / ".results.lock"))
        self.added = 0  # runs stored by this process (other processes may share the folder)
        if fresh:
            with self._lock:
                for p in (self.results_path, self.runs_path):
                    p.unlink(missing_ok=True)
                shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # nor continue a run started before

    def _read(self, path: Path) -> pd.DataFrame:
        """A stored table, with runs stored under a renamed method's old name under the new one."""
        frame = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        runs = frame if path == self.runs_path else (
            pd.read_csv(self.runs_path) if self.runs_path.is_file() else pd.DataFrame())
        return _renamed_methods(frame, _stored_before_rename(runs))

    @staticmethod
    def _without(frame: pd.DataFrame, key: tuple) -> pd.DataFrame:
        if frame.empty:
            return frame
        dataset, variant, seed = key
        return frame[~((frame["dataset"] == dataset) & (frame["variant"] == variant) & (frame["seed"] == seed))]

    @property
    def results(self) -> pd.DataFrame:
        with self._lock:
            return self._read(self.results_path)

    @property
    def runs(self) -> pd.DataFrame:
        with self._lock:
            return self._read(self.runs_path)

    def done(self, dataset: str, variant: str, seed: int) -> bool:
        r = self.runs
        if r.empty:
            return False
        return bool(((r["dataset"] == dataset) & (r["variant"] == variant) & (r["seed"] == seed)).any())

    def add(self, rows: list[dict], run: dict) -> None:
        """Store one run's rows; a run trained again (e.g. Figure 4/6 without its curve) replaces its old rows."""
        key = (run["dataset"], run["variant"], run["seed"])
        with self._lock:
            results = pd.concat([self._without(self._read(self.results_path), key), pd.DataFrame(rows)],
                                ignore_index=True)
            runs = pd.concat([self._without(self._read(self.runs_path), key), pd.DataFrame([run])],
                             ignore_index=True)
            atomic_write_text(self.results_path, results.to_csv(index=False))
            atomic_write_text(self.runs_path, runs.to_csv(index=False))
        self.added += 1
