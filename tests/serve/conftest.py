"""A tiny run directory trained once per session from a synthetic log (no real data needed).

User ids are strings (``u0`` …) and item ids integers (``1000`` …), so both id-map dtypes are exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

N_USERS, N_ITEMS = 40, 120


def _synthetic_log(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, N_USERS, 1500)
    items = (users * 3 + rng.integers(0, 30, len(users))) % N_ITEMS  # some structure to learn
    return np.array([f"u{u}" for u in users]), (items + 1000).astype(np.int64)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hashgnn.data.interactions import Interactions
    from hashgnn.recommender import HashGNN

    out = tmp_path_factory.mktemp("serve") / "run"
    raw_users, raw_items = _synthetic_log()
    inter = Interactions.from_raw(raw_users, raw_items, name="tiny-synthetic")
    HashGNN(n_bits=16, epochs=1, batch_size=512,
            overrides={"train.auc_pairs": 500, "train.log_every": 5}).fit(inter, run_dir=out, progress=False)
    return out


@pytest.fixture(scope="session")
def model(run_dir: Path):
    from hashgnn.recommender import HashGNN

    return HashGNN.load(run_dir)


@pytest.fixture(scope="session")
def service(model):
    from hashgnn.serve import RecallService

    return RecallService(model, max_k=50)


@pytest.fixture(scope="session")
def client(service):
    from fastapi.testclient import TestClient

    from hashgnn.serve import create_app

    # raise_server_exceptions (the default): any unhandled error inside the app fails the test
    return TestClient(create_app(service=service))
