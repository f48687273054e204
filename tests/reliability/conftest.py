"""Tiny data and a tiny trained run shared by the reliability tests (no real dataset needed).

Every training here uses one thread and a small model so a whole run takes about a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

N_USERS, N_ITEMS, N_ROWS = 30, 60, 400

# settings that make a training run cheap (CLI `--set` and Python overrides alike)
TINY_SETTINGS = {
    "train.threads": 1,
    "train.batch_size": 128,
    "train.auc_pairs": 100,
    "train.log_every": 2,
    "train.patience": 1000,
    "model.embedding_dim": 16,
    "model.dims": [16, 16],
    "eval.n_candidates": 20,
    "eval.valid_n": 10,
}


def tiny_sets() -> list[str]:
    import json

    out = []
    for key, value in TINY_SETTINGS.items():
        out += ["--set", f"{key}={json.dumps(value)}"]
    return out


def write_tiny_csv(path: Path, seed: int = 0, n_rows: int = N_ROWS, n_users: int = N_USERS,
                   n_items: int = N_ITEMS) -> Path:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_rows)
    items = (users * 3 + rng.integers(0, 20, n_rows)) % n_items
    lines = ["user,item"] + [f"u{u},{i}" for u, i in zip(users, items, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_csv(tmp_path_factory.mktemp("rel_data") / "tiny.csv")


def tiny_interactions(seed: int = 0):
    from hashgnn.data.interactions import Interactions

    rng = np.random.default_rng(seed)
    users = rng.integers(0, N_USERS, N_ROWS)
    items = (users * 3 + rng.integers(0, 20, N_ROWS)) % N_ITEMS
    return Interactions.from_raw(np.array([f"u{u}" for u in users]), items.astype(np.int64), name="tiny")


def tiny_model(epochs: int = 2, **extra):
    from hashgnn.recommender import HashGNN

    return HashGNN(n_bits=16, epochs=epochs, overrides={**TINY_SETTINGS, **extra})


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run directory (2 epochs) with every artifact, its training curve and a Hamming index kept in it
    (every file listed in its manifest)."""
    from hashgnn.index import HammingIndex
    from hashgnn.training.plots import plot_training_curve
    from hashgnn.training.rundir import RunDir

    out = tmp_path_factory.mktemp("rel_run") / "run"
    model = tiny_model(epochs=2).fit(tiny_interactions(), run_dir=out, progress=False)
    with RunDir(out) as rd:
        rd.write_index("index.hgi", HammingIndex(model.embeddings().item_codes))
    plot_training_curve(out)
    return out
