"""Issue 33 point 6 on the service: users and items added from their interactions (POST /users, POST /items),
many users in one request (POST /recommendations/batch) and API docs that load nothing from the internet."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashgnn.models.base import SEARCH_MODES, Embeddings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _client(model, **kwargs):
    """A service of its own: additions change what it answers, so they never touch the session's client."""
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    return TestClient(create_app(service=RecallService(model, max_k=10_000), **kwargs))


@pytest.fixture()
def fresh(model):
    return _client(model)


def _names(body: dict) -> list:
    return [x["item"] for x in body["items"]]


# -- items ---------------------------------------------------------------------------------------------------
def test_added_item_is_searched_by_every_mode_as_the_encoded_embeddings_say(fresh, model):
    """The service's answers after POST /items equal a search over the trained items plus the item that
    HashGNN.encode_new_items gives, for known users in every mode; the new item carries its original id."""
    from hashgnn.evaluation.search import search_users

    users = [0, 4, 9]
    r = fresh.post("/items", json={"items": [{"item": 99001, "users": [str(model.user_ids[u]) for u in users]}]})
    assert r.status_code == 201, r.text
    assert r.json() == {"added": [99001], "n_added": 1}
    emb, new = model.embeddings(), model.encode_new_items([np.array(users)])
    grown = Embeddings(emb.user_z, np.concatenate([emb.item_z, new.item_z]), emb.user_codes,
                       np.concatenate([emb.item_codes, new.item_codes]), emb.n_bits)
    n_items = len(model.item_ids)
    names = model.item_ids.tolist() + [99001]
    for mode in SEARCH_MODES:
        for uidx in (0, 4, 20, 39):
            exclude = sp.hstack([model._train_items[[uidx]], sp.csr_matrix((1, 1))]).tocsr()
            ids, scores = search_users(grown, np.array([uidx]), 30, mode, exclude, model.n_candidates,
                                       model.tie_seed)
            body = fresh.get(f"/users/{model.user_ids[uidx]}/recommendations", params={"k": 30, "mode": mode}).json()
            keep = ids[0] >= 0
            assert _names(body) == [names[i] for i in ids[0][keep]], (mode, uidx)
            assert np.allclose([x["score"] for x in body["items"]], scores[0][keep])
        # a full ranking holds every unseen item: the added one too
        body = fresh.get("/users/u4/recommendations", params={"k": n_items, "mode": mode}).json()
        assert 99001 in _names(body), mode
        similar = fresh.get("/items/99001/similar", params={"k": 5, "mode": mode})
        assert similar.status_code == 200 and 99001 not in _names(similar.json())
    assert fresh.get("/health").json()["n_added_items"] == 1


def test_added_items_reach_new_users_and_similar_items(fresh, model):
    fresh.post("/items", json={"items": [{"item": 99001, "users": ["u1", "u2"]}, {"item": "99002", "users": ["u3"]}]})
    assert fresh.get("/health").json()["n_added_items"] == 2
    body = fresh.get("/items/99002/similar", params={"k": len(model.item_ids)}).json()
    assert body["item"] == 99002 and 99001 in _names(body)  # an integer id map keeps integer ids
    post = fresh.post("/recommendations", json={"items": [int(model.item_ids[0])], "k": len(model.item_ids),
                                                "mode": "continuous"}).json()
    assert {99001, 99002} <= set(_names(post))


# -- users ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_added_user_is_answered_like_the_same_new_user(fresh, model, mode):
    items = [int(model.item_ids[i]) for i in (3, 40, 77)]
    r = fresh.post("/users", json={"users": [{"user": "new-1", "items": items}]})
    assert r.status_code == 201, r.text
    assert r.json() == {"added": ["new-1"], "n_added": 1}
    got = fresh.get("/users/new-1/recommendations", params={"k": 12, "mode": mode}).json()
    want = fresh.post("/recommendations", json={"items": items, "k": 12, "mode": mode}).json()
    assert got["user"] == "new-1" and got["items"] == want["items"]
    assert not set(_names(got)) & set(items)


# -- batches -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_batch_equals_one_request_per_user(client, model, mode):
    users = model.user_ids.tolist() + ["u3", "u3"]  # every user, and a repeat
    r = client.post("/recommendations/batch", json={"users": users[:50], "k": 9, "mode": mode})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["mode"], body["k"]) == (mode, 9)
    assert [x["user"] for x in body["results"]] == users[:50]
    for result in body["results"]:
        one = client.get(f"/users/{result['user']}/recommendations", params={"k": 9, "mode": mode}).json()
        assert result["items"] == one["items"], result["user"]


def test_batch_with_added_users_and_items_equals_single_requests(fresh, model):
    fresh.post("/items", json={"items": [{"item": 99001, "users": ["u1", "u5", "u7"]}]})
    fresh.post("/users", json={"users": [{"user": "new-1", "items": [int(model.item_ids[2])]}]})
    users = ["new-1", "u0", "u5", "new-1"]
    body = fresh.post("/recommendations/batch", json={"users": users, "k": len(model.item_ids)}).json()
    for result in body["results"]:
        one = fresh.get(f"/users/{result['user']}/recommendations", params={"k": len(model.item_ids)}).json()
        assert result["items"] == one["items"]


def test_batch_limits_and_unknown_users(model):
    c = _client(model, max_batch_users=3)
    assert c.get("/health").json()["max_batch_users"] == 3
    r = c.post("/recommendations/batch", json={"users": ["u1", "u2", "u3", "u4"]})
    assert r.status_code == 422 and "at most 3 users" in r.json()["detail"]
    r = c.post("/recommendations/batch", json={"users": ["nobody", 7, "nobody"]})
    assert r.status_code == 404 and "'nobody'" in r.json()["detail"] and "7" in r.json()["detail"]
    for bad in ({"users": []}, {"users": "u1"}, {"users": ["u1"], "k": 0}, {"users": ["u1"], "mode": "x"},
                {"users": ["u1"], "extra": 1}):
        assert c.post("/recommendations/batch", json=bad).status_code == 422, bad
    r = c.post("/items", json={"items": [{"item": 90000 + i, "users": ["u1"]} for i in range(4)]})
    assert r.status_code == 422 and "at most 3 items" in r.json()["detail"]


# -- errors of additions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,body,status,needle", [
    ("/users", {"users": [{"user": "u1", "items": [1000]}]}, 409, "'u1' exists already"),
    ("/items", {"items": [{"item": 1000, "users": ["u1"]}]}, 409, "1000 exists already"),
    ("/items", {"items": [{"item": "1000", "users": ["u1"]}]}, 409, "'1000' exists already"),
    ("/items", {"items": [{"item": 5, "users": ["u1"]}, {"item": "5", "users": ["u2"]}]}, 422, "more than once"),
    ("/items", {"items": [{"item": "sku-x", "users": ["u1"]}]}, 422, "its item ids are integers"),
    ("/users", {"users": [{"user": "n", "items": [1000, 5, "x"]}]}, 404, "unknown items 5, 'x'"),
    ("/items", {"items": [{"item": 5, "users": ["u1", "ghost"]}]}, 404, "unknown user 'ghost'"),
    ("/users", {"users": [{"user": "n", "items": []}]}, 422, "items"),
    ("/users", {"users": []}, 422, "users"),
    ("/items", {"items": [{"item": 5}]}, 422, "users"),
    ("/items", {"items": [{"item": 5, "users": ["u1"], "x": 1}]}, 422, "x"),
    ("/items", {"items": [{"item": 1.5, "users": ["u1"]}]}, 422, "item"),
])
def test_addition_errors_are_4xx_naming_the_problem(fresh, path, body, status, needle):
    r = fresh.post(path, json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]
    assert fresh.get("/health").json()["n_added_items"] == 0  # nothing was half added


def test_added_ids_cannot_be_added_twice_nor_describe_new_nodes(fresh):
    assert fresh.post("/items", json={"items": [{"item": 99001, "users": ["u1"]}]}).status_code == 201
    assert fresh.post("/users", json={"users": [{"user": "new-1", "items": [1000]}]}).status_code == 201
    r = fresh.post("/items", json={"items": [{"item": "99001", "users": ["u2"]}]})
    assert r.status_code == 409 and "exists already" in r.json()["detail"]
    r = fresh.post("/users", json={"users": [{"user": "new-1", "items": [1000]}]})
    assert r.status_code == 409
    r = fresh.post("/users", json={"users": [{"user": "new-2", "items": [1000, 99001]}]})
    assert r.status_code == 422 and "99001 was added to this service" in r.json()["detail"]
    r = fresh.post("/items", json={"items": [{"item": 99003, "users": ["new-1"]}]})
    assert r.status_code == 422 and "'new-1' was added to this service" in r.json()["detail"]
    r = fresh.post("/recommendations", json={"items": [99001]})
    assert r.status_code == 422


def test_a_model_without_an_inductive_encoder_answers_409(tmp_path):
    """A lightgcn encoder has free id embeddings: no new node can be encoded, and the answer says why."""
    from fastapi.testclient import TestClient

    from hashgnn.data.interactions import Interactions
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService, create_app

    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 400)
    inter = Interactions.from_raw(np.array([f"u{u}" for u in users]), (users * 2 + rng.integers(0, 10, 400)) % 50,
                                  name="tiny")
    lgcn = HashGNN(n_bits=16, encoder="lightgcn", epochs=1, batch_size=256,
                   overrides={"train.auc_pairs": 200}).fit(inter, progress=False)
    c = TestClient(create_app(service=RecallService(lgcn)))
    health = c.get("/health").json()
    assert health["inductive"] is False and health["additions"] is False
    for path, body in (("/items", {"items": [{"item": 999, "users": ["u1"]}]}),
                       ("/users", {"users": [{"user": "new", "items": [1]}]})):
        r = c.post(path, json=body)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "conflict"
        assert "lightgcn" in r.json()["detail"] and "'sage' encoder" in r.json()["detail"]
    assert c.get("/users/u1/recommendations").status_code == 200


def test_several_workers_refuse_additions_with_409(model, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    svc = RecallService(model)
    svc.additions_error = "it runs 2 worker processes"  # what app_from_env sets for --workers 2
    c = TestClient(create_app(service=svc))
    assert c.get("/health").json()["additions"] is False
    r = c.post("/items", json={"items": [{"item": 99001, "users": ["u1"]}]})
    assert r.status_code == 409 and "2 worker processes" in r.json()["detail"]


_id = st.one_of(st.integers(-5, 2000), st.text(max_size=6), st.sampled_from(["u1", "u2", "1000", "1001"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["users", "items"]), ids=st.lists(_id, max_size=3),
       links=st.lists(st.lists(_id, max_size=3), max_size=3))
def test_fuzz_additions_never_5xx(model, kind, ids, links):
    c = _client(model)
    key, other = ("user", "items") if kind == "users" else ("item", "users")
    body = {kind: [{key: i, other: lk} for i, lk in zip(ids, links, strict=False)]}
    r = c.post(f"/{kind}", json=body)
    assert r.status_code in (201, 404, 409, 422), (body, r.status_code, r.text)


# -- docs without internet -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_the_internet(client, page):
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert not re.search(r"https?://", r.text), re.findall(r"https?://[^\s\"']+", r.text)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 1000, asset
    assert "/openapi.json" in r.text and client.get("/openapi.json").status_code == 200
