"""The Python API speaks the data's ids: recommend / similar_items in and out, after fit as after load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashgnn.data.interactions import Interactions
from hashgnn.errors import ConfigError
from hashgnn.recommender import HashGNN, IdError

N_USERS, N_ITEMS = 50, 40
TINY = {"train.auc_pairs": 200, "train.log_every": 5, "train.threads": 1}


def _log() -> Interactions:
    rng = np.random.default_rng(0)
    users = rng.integers(0, N_USERS, 900)
    items = (users * 2 + rng.integers(0, 12, len(users))) % N_ITEMS  # some structure to learn
    return Interactions.from_raw(np.array([f"u{u}" for u in users]), np.array([f"sku-{i}" for i in items]),
                                 name="ids")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[HashGNN, Path]:
    run = tmp_path_factory.mktemp("ids") / "run"
    model = HashGNN(n_bits=16, epochs=2, batch_size=128, overrides=TINY).fit(_log(), run_dir=run, progress=False)
    return model, run


@pytest.fixture(scope="module")
def loaded(fitted) -> HashGNN:
    return HashGNN.load(fitted[1])


@pytest.mark.parametrize("which", ["fitted", "loaded"])
def test_recommend_takes_and_returns_the_datas_ids(which, fitted, loaded):
    model = fitted[0] if which == "fitted" else loaded
    items, scores = model.recommend("u3", N=5, mode="hamming")
    index_items, index_scores = model.recommend(model.user_indices(["u3"])[0], N=5, mode="hamming", ids="index")
    assert items.tolist() == model.item_ids[index_items].tolist()
    assert all(str(i).startswith("sku-") for i in items)
    assert np.array_equal(scores, index_scores)
    seen = {model.item_ids[i] for i in model.split.interactions.items[model.split.train_idx]
            [model.split.interactions.users[model.split.train_idx] == model.user_indices("u3")[0]]}
    assert not seen & set(items.tolist())
    many, _ = model.recommend(["u3", "u7"], N=4)
    assert len(many) == 2 and all(len(row) == 4 for row in many)
    similar, _ = model.similar_items("sku-9", N=3)
    assert len(similar) == 3 and "sku-9" not in similar.tolist()


def test_fitted_and_loaded_models_give_the_same_answers(fitted, loaded):
    for mode in ("hamming", "hierarchical", "continuous"):
        a, sa = fitted[0].recommend("u11", N=6, mode=mode)
        b, sb = loaded.recommend("u11", N=6, mode=mode)
        assert a.tolist() == b.tolist() and np.allclose(sa, sb)


@pytest.mark.parametrize("which", ["fitted", "loaded"])
def test_unknown_and_negative_ids_are_errors_naming_them(which, fitted, loaded):
    model = fitted[0] if which == "fitted" else loaded
    with pytest.raises(IdError, match=r"unknown user id 'u999'"):
        model.recommend("u999")
    with pytest.raises(IdError, match=r"unknown user id -1"):
        model.recommend(-1)  # once silently the last user
    with pytest.raises(IdError, match=r"unknown item ids 'nope', 'sku-77'"):
        model.similar_items(["sku-1", "nope", "sku-77"])
    with pytest.raises(IdError, match=r"user index -1 is out of range: the model has 50 users, indices 0..49"):
        model.recommend(-1, ids="index")
    with pytest.raises(IdError, match=r"item index 40 is out of range"):
        model.similar_items(40, ids="index")
    with pytest.raises(IdError, match=r"user index 'u3' is not an integer"):
        model.recommend("u3", ids="index")
    with pytest.raises(ConfigError, match=r"ids must be one of 'original', 'index', got 'name'"):
        model.recommend("u3", ids="name")


@pytest.mark.parametrize("with_run_dir", [True, False])
def test_new_users_right_after_fit(with_run_dir, tmp_path):
    run = tmp_path / "run" if with_run_dir else None
    model = HashGNN(n_bits=16, epochs=1, batch_size=256, overrides=TINY).fit(_log(), run_dir=run, progress=False)
    items = model.item_indices(["sku-1", "sku-2"])
    new = model.encode_new_users([items])
    assert new.user_z.shape[0] == 1 and new.user_codes.shape == (1, 2)
    if with_run_dir:  # the same network as the one a load reads back from checkpoints/best.pt
        again = HashGNN.load(run).encode_new_users([items])
        assert np.allclose(new.user_z, again.user_z, atol=1e-6)
        assert np.array_equal(new.user_codes, again.user_codes)
    with pytest.raises(IdError, match="item index 40 is out of range"):
        model.encode_new_users([[1, 40]])


def test_load_names_a_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="nonexistent: no such run directory"):
        HashGNN.load(tmp_path / "nonexistent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: not a hashgnn run directory \(no config.json\)"):
        HashGNN.load(tmp_path / "empty")


def test_file_settings_on_a_registered_dataset_are_an_error():
    with pytest.raises(ConfigError, match=r"data.user_col='uid' \(--user-col\): only read from a CSV/TSV/Parquet"):
        HashGNN(epochs=1, overrides={"data.user_col": "uid"}).fit("movielens-100k")
