"""``hashgnn export RUN --format faiss|npy|parquet``: the files other tools read, checked by those tools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashgnn.cli import main
from hashgnn.data.interactions import Interactions

TINY = {"train.auc_pairs": 200, "train.log_every": 5, "train.threads": 1}


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code or 0


def _log() -> Interactions:
    rng = np.random.default_rng(1)
    users = rng.integers(0, 60, 1200)
    items = (users * 3 + rng.integers(0, 15, len(users))) % 300
    return Interactions.from_raw(np.array([f"u{u}" for u in users]), items + 1000, name="export")


def _train(folder: Path, method: str = "guided") -> Path:
    from hashgnn.recommender import HashGNN

    run = folder / method
    HashGNN(n_bits=64, method=method, epochs=2, batch_size=256, overrides=TINY).fit(_log(), run_dir=run,
                                                                                   progress=False)
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("export"))


def test_faiss_index_gives_the_hamming_index_distances(run, tmp_path):
    import faiss

    from hashgnn.index import HammingIndex
    from hashgnn.models.base import Embeddings

    out = tmp_path / "faiss"
    assert _cli(["export", str(run), "--format", "faiss", "--out", str(out)]) == 0
    index = faiss.read_index_binary(str(out / "items.faiss"))
    emb = Embeddings.load(run)
    assert isinstance(index, faiss.IndexBinaryFlat) and (index.ntotal, index.d) == (len(emb.item_codes), 64)
    queries = np.load(out / "user_codes.npy")
    assert np.array_equal(queries, emb.user_codes)
    k = 25
    distances, _ = index.search(queries, k)
    _, scores = HammingIndex(emb.item_codes, tie_seed=0).search(queries, k)
    # ties may order different items, but the k distances of every user are the same
    assert np.array_equal(distances, (64 - scores).astype(np.int64))
    ids = np.load(out / "item_ids.npy")
    assert ids.tolist() == sorted(set(_log().item_ids.tolist())) and ids.dtype.kind == "i"
    users = np.load(out / "user_ids.npy")  # string ids load without pickle
    assert users.dtype.kind == "U" and "u7" in users.tolist()
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["format"] == "faiss" and manifest["n_bits"] == 64 and "packbits" in manifest["bit_order"]


def test_npy_and_parquet_hold_the_same_arrays_with_ids(run, tmp_path):
    import pandas as pd

    from hashgnn.models.base import Embeddings

    emb = Embeddings.load(run)
    assert _cli(["export", str(run), "--format", "npy", "--out", str(tmp_path / "npy")]) == 0
    for name, array in (("user_codes", emb.user_codes), ("item_codes", emb.item_codes), ("user_z", emb.user_z),
                        ("item_z", emb.item_z)):
        assert np.array_equal(np.load(tmp_path / "npy" / f"{name}.npy"), array), name
    assert _cli(["export", str(run), "--format", "parquet"]) == 0  # default folder: RUN/export-parquet
    items = pd.read_parquet(run / "export-parquet" / "items.parquet")
    assert items["id"].tolist() == np.load(tmp_path / "npy" / "item_ids.npy").tolist()
    assert np.array_equal(np.stack([np.frombuffer(c, dtype=np.uint8) for c in items["code"]]), emb.item_codes)
    assert np.allclose(np.stack(items["z"].to_numpy()), emb.item_z)
    users = pd.read_parquet(run / "export-parquet" / "users.parquet")
    assert users["id"].str.startswith("u").all() and len(users) == len(emb.user_z)


def test_export_errors_name_the_problem(run, tmp_path, capsys):
    assert _cli(["export", str(run), "--format", "hdf5"]) == 2
    assert "--format must be one of faiss, npy, parquet, got 'hdf5'" in capsys.readouterr().err
    assert _cli(["export", str(tmp_path / "missing"), "--format", "npy"]) == 2
    assert "missing: no such run directory" in capsys.readouterr().err
    continuous = _train(tmp_path, "continuous")
    assert _cli(["export", str(continuous), "--format", "faiss"]) == 2
    assert "has no hash codes" in " ".join(capsys.readouterr().err.split())
