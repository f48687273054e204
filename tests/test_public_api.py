"""The public Python API (issue 31, point 4): ``from hashgnn import HashGNN``; a config passed in is trained as it
is; ``save`` / ``load``; ``similar_users`` mirroring ``similar_items``; ``fit`` on a scipy.sparse matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hashgnn.config import RunConfig
from hashgnn.data.interactions import Interactions
from hashgnn.errors import ConfigError
from hashgnn.recommender import HashGNN, IdError

N_USERS, N_ITEMS = 50, 40
TINY = {"train.auc_pairs": 200, "train.log_every": 5, "train.threads": 1}
MODES = ("hamming", "hierarchical", "continuous")


def _pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    users = rng.integers(0, N_USERS, 900)
    items = (users * 2 + rng.integers(0, 12, len(users))) % N_ITEMS  # some structure to learn
    return users, items


def _log() -> Interactions:
    users, items = _pairs()
    return Interactions.from_raw(np.array([f"u{u}" for u in users]), np.array([f"sku-{i}" for i in items]),
                                 name="api")


def _tiny(**kwargs) -> HashGNN:
    return HashGNN(**{"n_bits": 16, "epochs": 1, "batch_size": 256, "overrides": TINY, **kwargs})


@pytest.fixture(scope="module")
def in_memory() -> HashGNN:
    return _tiny().fit(_log(), progress=False)


# -- the import ---------------------------------------------------------------------------------------------------
def test_hashgnn_is_importable_from_the_package_without_torch():
    import hashgnn
    import hashgnn.recommender

    assert hashgnn.HashGNN is hashgnn.recommender.HashGNN and "HashGNN" in dir(hashgnn)
    with pytest.raises(AttributeError, match="no_such_name"):
        hashgnn.no_such_name  # noqa: B018
    script = ("import sys\nimport hashgnn\nbare = 'hashgnn.recommender' in sys.modules\n"
              "from hashgnn import HashGNN\nprint(bare, 'torch' in sys.modules, HashGNN.__module__)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "hashgnn.recommender"]


# -- the config is trained as it is -------------------------------------------------------------------------------
def test_a_config_passed_in_is_not_overwritten_by_keyword_defaults():
    cfg = RunConfig().override(["model.n_bits=64", "model.method=ste", "model.encoder=lightgcn", "seed=7",
                                "train.epochs=3", "train.lam=0.5"])
    before = cfg.to_dict()
    model = HashGNN(config=cfg)
    m, t = model.config.model, model.config.train
    assert (m.n_bits, m.method, m.encoder, model.config.seed, t.epochs, t.lam) == (64, "ste", "lightgcn", 7, 3, 0.5)
    assert cfg.to_dict() == before  # the object passed in is unchanged
    # an explicit keyword wins over the config, and still leaves the config object alone
    assert HashGNN(config=cfg, n_bits=16, seed=1).config.model.n_bits == 16
    assert cfg.model.n_bits == 64
    # a preset applies over the config; the config's own settings it does not name stay
    literal = HashGNN(config=cfg, preset="paper-literal").config
    assert (literal.model.n_bits, literal.train.batch_size, literal.train.lr) == (64, 256, 0.001)
    # a preset that sets method and encoder is no longer undone by the keyword defaults
    lightgcn = HashGNN(preset="lightgcn").config.model
    assert (lightgcn.method, lightgcn.encoder, lightgcn.head) == ("continuous", "lightgcn", "none")
    with pytest.raises(ConfigError, match="config must be a hashgnn.config.RunConfig"):
        HashGNN(config={"model": {"n_bits": 64}})


def test_a_64_bit_config_trains_64_bit_codes():
    cfg = RunConfig().override(["model.n_bits=64", "train.epochs=1", "train.batch_size=256",
                                *(f"{k}={v}" for k, v in TINY.items())])
    model = HashGNN(config=cfg).fit(_log(), progress=False)
    emb = model.embeddings()
    assert emb.n_bits == 64 and emb.user_codes.shape == (N_USERS, 8) and emb.item_codes.shape == (N_ITEMS, 8)
    assert model.config.model.n_bits == 64


def test_cli_train_from_a_64_bit_config_file(tmp_path: Path):
    from hashgnn.cli import main

    users, items = _pairs()
    pd.DataFrame({"user": users, "item": items}).to_csv(tmp_path / "log.csv", index=False)
    cfg = RunConfig().override([f"data.dataset={tmp_path / 'log.csv'}", "model.n_bits=64",
                                *(f"{k}={v}" for k, v in TINY.items())])
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    with pytest.raises(SystemExit) as exc:
        main(["train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "run"), "--epochs", "1",
              "--batch-size", "256", "--no-evaluate", "--no-progress"])
    assert not exc.value.code
    model = HashGNN.load(tmp_path / "run")
    assert model.config.model.n_bits == 64 and model.embeddings().user_codes.shape[1] == 8


# -- save / load --------------------------------------------------------------------------------------------------
def _same_answers(a: HashGNN, b: HashGNN) -> None:
    for mode in MODES:
        ra, sa = a.recommend(["u3", "u11"], N=6, mode=mode)
        rb, sb = b.recommend(["u3", "u11"], N=6, mode=mode)
        assert [r.tolist() for r in ra] == [r.tolist() for r in rb]
        assert all(np.array_equal(x, y) for x, y in zip(sa, sb, strict=True))
        ia, isa = a.similar_items("sku-9", N=5, mode=mode)
        ib, isb = b.similar_items("sku-9", N=5, mode=mode)
        assert ia.tolist() == ib.tolist() and np.array_equal(isa, isb)
        ua, usa = a.similar_users("u3", N=5, mode=mode)
        ub, usb = b.similar_users("u3", N=5, mode=mode)
        assert ua.tolist() == ub.tolist() and np.array_equal(usa, usb)


def test_save_of_a_model_fitted_in_memory_loads_back_identical(in_memory: HashGNN, tmp_path: Path):
    out = in_memory.save(tmp_path / "saved")
    assert out == tmp_path / "saved" and not (out / ".lock").exists()
    assert not [p for p in tmp_path.iterdir() if p.name != "saved"]  # no temp folder left behind
    assert (out / "checkpoints/best.pt").is_file() and not (out / "checkpoints/last.pt").exists()
    loaded = HashGNN.load(out)
    assert loaded.config.to_dict() == in_memory.config.to_dict()
    _same_answers(in_memory, loaded)
    # the network came along: a new user is encoded as before the save
    items = in_memory.item_indices(["sku-1", "sku-2", "sku-5"])
    new, again = in_memory.encode_new_users([items]), loaded.encode_new_users([items])
    assert np.allclose(new.user_z, again.user_z, atol=1e-6)
    assert np.array_equal(new.user_codes, again.user_codes)


def test_save_of_a_run_copies_it(tmp_path: Path):
    model = _tiny().fit(_log(), run_dir=tmp_path / "run", progress=False)
    assert model.save(tmp_path / "run") == tmp_path / "run"  # its own run directory: nothing to do
    (tmp_path / "empty").mkdir()
    copy = model.save(tmp_path / "empty")  # an empty folder is taken
    assert not (copy / ".lock").exists() and (copy / "checkpoints/last.pt").is_file()
    _same_answers(model, HashGNN.load(copy))
    resaved = HashGNN.load(copy).save(tmp_path / "nested/again")  # a loaded model saves too
    _same_answers(model, HashGNN.load(resaved))


def test_save_refuses_what_it_would_overwrite_and_an_unfitted_model(in_memory: HashGNN, tmp_path: Path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full/notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="full: exists and is not an empty folder"):
        in_memory.save(tmp_path / "full")
    assert (tmp_path / "full/notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="not fitted"):
        HashGNN().save(tmp_path / "never")
    assert not (tmp_path / "never").exists()


# -- similar_users ------------------------------------------------------------------------------------------------
def test_similar_users_mirrors_similar_items(in_memory: HashGNN):
    model, emb = in_memory, in_memory.embeddings()
    q = int(model.user_indices("u3")[0])
    users, scores = model.similar_users("u3", N=5, mode="continuous")
    assert len(users) == 5 and "u3" not in users.tolist() and all(str(u).startswith("u") for u in users)
    dots = emb.user_z @ emb.user_z[q]
    dots[q] = -np.inf
    assert np.allclose(scores, np.sort(dots)[::-1][:5], atol=1e-5)
    assert np.allclose(dots[model.user_indices(users)], scores, atol=1e-5)
    # Hamming: the users found are at the smallest distances from u3 (ties broken by the seeded rule)
    found, _ = model.similar_users(q, N=5, mode="hamming", ids="index")
    bits = np.unpackbits(emb.user_codes, axis=1)
    dist = (bits != bits[q]).sum(axis=1)
    dist[q] = 10**6
    assert q not in found.tolist() and sorted(dist[found].tolist()) == sorted(dist)[:5]
    # a list of users: one answer each; indices in and out; the default mode; unknown ids
    many, many_scores = model.similar_users(["u3", "u7"], N=4)
    assert len(many) == 2 and all(len(row) == 4 for row in many) and len(many_scores) == 2
    assert model.similar_users("u3", N=4)[0].tolist() == many[0].tolist()
    index_users, _ = model.similar_users([q], N=4, ids="index")
    assert model.user_ids[index_users[0]].tolist() == many[0].tolist()
    with pytest.raises(IdError, match="unknown user id 'u999'"):
        model.similar_users("u999")
    with pytest.raises(ConfigError, match="unknown search mode 'nope'"):
        model.similar_users("u3", mode="nope")


# -- fit on a scipy.sparse matrix ---------------------------------------------------------------------------------
def test_fit_on_a_sparse_matrix_equals_fit_on_the_pairs():
    users, items = _pairs()
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=(N_USERS + 3, N_ITEMS))
    by_pairs = _tiny(seed=3).fit(Interactions.from_raw(users, items, name="matrix"), progress=False)
    by_matrix = _tiny(seed=3).fit(matrix, progress=False)
    a, b = by_pairs.embeddings(), by_matrix.embeddings()
    assert np.array_equal(a.user_z, b.user_z) and np.array_equal(a.item_codes, b.item_codes)
    assert by_matrix.user_ids.tolist() == sorted(set(users.tolist()))  # row indices are the user ids
    items_a, scores_a = by_pairs.recommend(int(users[0]), N=5)
    items_b, scores_b = by_matrix.recommend(int(users[0]), N=5)
    assert items_b.tolist() == items_a.tolist() and np.array_equal(scores_a, scores_b)
    # the other sparse types and explicitly stored zeros
    as_array = sp.coo_array(matrix)
    assert np.array_equal(_tiny(seed=3).fit(as_array, progress=False).embeddings().user_z, a.user_z)
    with pytest.raises(IdError, match=f"unknown user id {N_USERS}"):  # an empty row has nothing to learn from
        by_matrix.recommend(N_USERS)


def test_a_matrix_without_interactions_is_an_error():
    with pytest.raises(ConfigError, match="no nonzero entry"):
        _tiny().fit(sp.csr_matrix((3, 4)))
    stored_zeros = sp.csr_matrix((np.zeros(2), ([0, 1], [1, 2])), shape=(3, 4))
    with pytest.raises(ConfigError, match="no nonzero entry"):
        _tiny().fit(stored_zeros)
    with pytest.raises(ConfigError, match="2-D user × item matrix"):
        _tiny().fit(sp.coo_array(np.array([1.0, 0.0, 2.0])))


# -- new users from their items -----------------------------------------------------------------------------------
NEW_USERS = [["sku-1", "sku-2", "sku-5"], ["sku-30"], ["sku-7", "sku-7", "sku-11", "sku-3"]]


@pytest.fixture(scope="module")
def loaded(in_memory: HashGNN, tmp_path_factory: pytest.TempPathFactory) -> HashGNN:
    return HashGNN.load(in_memory.save(tmp_path_factory.mktemp("api") / "saved"))


@pytest.mark.parametrize("mode", MODES)
def test_recommend_for_new_users_equals_the_service(in_memory: HashGNN, loaded: HashGNN, mode: str):
    from hashgnn.serve.service import RecallService

    service = RecallService(loaded, max_k=N_ITEMS)
    for items in NEW_USERS:
        answer = service.recommend_new_user(items, 8, mode)
        for model in (in_memory, loaded):  # right after fit, and after save + load
            found, scores = model.recommend(new_user_items=items, N=8, mode=mode)
            assert found.tolist() == [item for item, _ in answer.items]
            assert scores.tolist() == [score for _, score in answer.items]
            assert not set(found.tolist()) & set(items)  # the items given are not recommended back
        # the same user by item indices: the same answer, as indices
        idx = loaded.item_indices(items)
        by_index, by_index_scores = loaded.recommend(new_user_items=idx, N=8, mode=mode, ids="index")
        assert loaded.item_ids[by_index].tolist() == [item for item, _ in answer.items]
    # several new users at once: each answered as when asked alone
    many, many_scores = loaded.recommend(new_user_items=NEW_USERS, N=8, mode=mode)
    assert len(many) == len(NEW_USERS) == len(many_scores)
    for items, found, scores in zip(NEW_USERS, many, many_scores, strict=True):
        alone, alone_scores = loaded.recommend(new_user_items=items, N=8, mode=mode)
        assert found.tolist() == alone.tolist() and np.array_equal(scores, alone_scores)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")  # the test client's, not ours
def test_recommend_for_a_new_user_equals_the_http_service(loaded: HashGNN):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    client = TestClient(create_app(service=RecallService(loaded, max_k=N_ITEMS)))
    body = client.post("/recommendations", json={"items": NEW_USERS[0], "k": 6, "mode": "hierarchical"}).json()
    found, scores = loaded.recommend(new_user_items=NEW_USERS[0], N=6, mode="hierarchical")
    assert [x["item"] for x in body["items"]] == found.tolist()
    assert np.allclose([x["score"] for x in body["items"]], scores)


def test_new_user_items_are_what_the_network_encodes(in_memory: HashGNN):
    """The answer is the search for :meth:`encode_new_users`' codes, the user's items excluded; duplicates and
    order do not matter, and ``filter_already_liked_items=False`` lets the items come back."""
    from hashgnn.evaluation.search import search_users

    items = ["sku-7", "sku-11", "sku-3"]
    idx = np.unique(in_memory.item_indices(items))
    new = in_memory.encode_new_users([idx])
    exclude = sp.csr_matrix((np.ones(len(idx), dtype=np.float32), (np.zeros(len(idx), dtype=int), idx)),
                            shape=(1, N_ITEMS))
    expected, _ = search_users(new, np.array([0]), 10, "hierarchical", exclude, in_memory.n_candidates,
                               in_memory.tie_seed)
    found, _ = in_memory.recommend(new_user_items=items, N=10, mode="hierarchical")
    assert found.tolist() == in_memory.item_ids[expected[0]].tolist()
    shuffled, _ = in_memory.recommend(new_user_items=["sku-3", "sku-11", "sku-7", "sku-3"], N=10,
                                      mode="hierarchical")
    assert shuffled.tolist() == found.tolist()
    everything, _ = in_memory.recommend(new_user_items=items, N=N_ITEMS, mode="continuous",
                                        filter_already_liked_items=False)
    assert set(items) <= set(everything.tolist())


def test_bad_new_user_items_give_clear_errors(in_memory: HashGNN):
    model = in_memory
    with pytest.raises(IdError, match=r"unknown item ids 'sku-999', 'nope' \(not in the training data"):
        model.recommend(new_user_items=["sku-1", "sku-999", "nope"])
    with pytest.raises(IdError, match="unknown item id 'sku-404'"):
        model.recommend(new_user_items=[["sku-1"], ["sku-404"]])
    with pytest.raises(IdError, match=r"item index 40 is out of range: the model has 40 items"):
        model.recommend(new_user_items=[1, 40], ids="index")
    with pytest.raises(IdError, match=r"item index 'sku-1' is not an integer"):
        model.recommend(new_user_items=["sku-1"], ids="index")
    with pytest.raises(ConfigError, match="the new user has no items"):
        model.recommend(new_user_items=[])
    with pytest.raises(ConfigError, match=r"new user 1 \(0-based\) has no items"):
        model.recommend(new_user_items=[["sku-1"], []])
    with pytest.raises(ConfigError, match="mixes item ids and lists of item ids"):
        model.recommend(new_user_items=["sku-1", ["sku-2"]])
    with pytest.raises(ConfigError, match=r"takes the item ids of a new user \(a list\)"):
        model.recommend(new_user_items="sku-1")
    with pytest.raises(ConfigError, match="a userid or new_user_items, not both"):
        model.recommend("u3", new_user_items=["sku-1"])
    with pytest.raises(ConfigError, match="needs a userid, or new_user_items"):
        model.recommend()
    with pytest.raises(ConfigError, match="unknown search mode 'nope'"):
        model.recommend(new_user_items=["sku-1"], mode="nope")
    with pytest.raises(ConfigError, match="not fitted"):
        HashGNN().recommend(new_user_items=["sku-1"])


def test_new_users_need_the_sage_encoder():
    lightgcn = _tiny(encoder="lightgcn").fit(_log(), progress=False)
    with pytest.raises(ConfigError, match=r"encoder is 'lightgcn', and only the 'sage' encoder can encode"):
        lightgcn.recommend(new_user_items=["sku-1", "sku-2"])
    assert len(lightgcn.recommend("u3", N=5)[0]) == 5  # known users are answered as before
