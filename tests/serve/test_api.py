"""The HTTP endpoints through FastAPI's TestClient: answers, exclusions and every error path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hashgnn.models.base import SEARCH_MODES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _seen(model, uidx: int) -> set[int]:
    return set(model._train_items[uidx].indices.tolist())


def _users(model, n: int = 5) -> list[int]:
    return list(np.linspace(0, model.split.interactions.n_users - 1, n).astype(int))


# -- health ------------------------------------------------------------------------------------------------
def test_health(client, model):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["dataset"] == model.split.interactions.name  # fit(Interactions) records the config default
    assert body["n_users"] == model.split.interactions.n_users
    assert body["n_items"] == model.split.interactions.n_items
    assert body["n_bits"] == 16
    assert body["modes"] == list(SEARCH_MODES)
    assert body["default_mode"] == "hierarchical"
    assert body["inductive"] is True
    assert body["n_candidates"] == model.n_candidates
    assert body["max_k"] == 50


# -- known users -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_user_recommendations_match_the_python_api(client, model, mode):
    for uidx in _users(model):
        uid = model.user_ids[uidx]
        r = client.get(f"/users/{uid}/recommendations", params={"k": 7, "mode": mode})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["user"], body["mode"], body["k"]) == (uid, mode, 7)
        ids, scores = model.recommend(int(uidx), N=7, mode=mode, ids="index")
        keep = ids >= 0
        assert [x["item"] for x in body["items"]] == model.item_ids[ids[keep]].tolist()
        assert np.allclose([x["score"] for x in body["items"]], scores[keep])
        returned = {model.split.interactions.item_index(x["item"]) for x in body["items"]}
        assert not returned & _seen(model, uidx)


def test_user_recommendations_default_mode_and_k(client):
    body = client.get("/users/u3/recommendations").json()
    assert body["mode"] == "hierarchical"
    assert body["k"] == 10
    assert len(body["items"]) == 10
    assert all(isinstance(x["item"], int) for x in body["items"])  # integer item ids stay integers


def test_seen_items_never_returned_even_for_the_largest_k(model, service):
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    n_items = model.split.interactions.n_items
    big = TestClient(create_app(service=RecallService(model, max_k=10_000)))
    for uidx in _users(model, 4):
        seen = _seen(model, uidx)
        for mode in SEARCH_MODES:
            body = big.get(f"/users/{model.user_ids[uidx]}/recommendations", params={"k": n_items,
                                                                                     "mode": mode}).json()
            got = [model.split.interactions.item_index(x["item"]) for x in body["items"]]
            expected = n_items - len(seen)  # every unseen item, nothing else (HieS takes max(M, k) candidates)
            assert len(got) == len(set(got)) == expected
            assert not set(got) & seen
    r = big.get("/users/u1/recommendations", params={"k": n_items + 1})
    assert r.status_code == 422
    assert f"less than or equal to {n_items}" in r.json()["detail"]


# -- similar items -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_similar_items_match_the_python_api_and_exclude_the_item(client, model, mode):
    for iidx in (0, 17, len(model.item_ids) - 1):
        iid = int(model.item_ids[iidx])
        body = client.get(f"/items/{iid}/similar", params={"k": 9, "mode": mode}).json()
        assert (body["item"], body["mode"], body["k"]) == (iid, mode, 9)
        ids, scores = model.similar_items(iidx, N=9, mode=mode, ids="index")
        assert [x["item"] for x in body["items"]] == model.item_ids[ids].tolist()
        assert np.allclose([x["score"] for x in body["items"]], scores)
        assert iid not in [x["item"] for x in body["items"]]


# -- new users (inductive) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_new_user_gets_k_items_not_in_the_body(client, model, mode):
    items = [int(model.item_ids[i]) for i in (3, 40, 41, 77)]
    r = client.post("/recommendations", json={"items": items, "k": 12, "mode": mode})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == mode and body["k"] == 12
    assert body["input_items"] == sorted(items)
    got = [x["item"] for x in body["items"]]
    assert len(got) == len(set(got)) == 12
    assert not set(got) & set(items)
    scores = [x["score"] for x in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_new_user_matches_encode_new_users(client, model):
    from hashgnn.evaluation.search import search_users

    idx = np.array([5, 6, 90])
    body = client.post("/recommendations", json={"items": model.item_ids[idx].tolist(), "k": 8,
                                                 "mode": "hierarchical"}).json()
    new = model.encode_new_users([idx])
    exclude = np.zeros((1, len(model.item_ids)), dtype=np.float32)
    exclude[0, idx] = 1
    import scipy.sparse as sp

    ids, _ = search_users(new, np.array([0]), 8, "hierarchical", sp.csr_matrix(exclude), model.n_candidates,
                          model.tie_seed)
    assert [x["item"] for x in body["items"]] == model.item_ids[ids[0]].tolist()


def test_new_user_ids_as_strings_and_duplicates(client, model):
    a, b = (int(model.item_ids[i]) for i in (1, 2))
    body = client.post("/recommendations", json={"items": [str(a), b, a]}).json()
    assert body["input_items"] == [a, b]
    assert body["mode"] == "hierarchical" and len(body["items"]) == 10


def test_new_user_unknown_items_are_all_named(client, model):
    known = int(model.item_ids[0])
    r = client.post("/recommendations", json={"items": [known, 5, "nope", 5]})
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found"
    assert "5" in body["detail"] and "'nope'" in body["detail"]


@pytest.mark.parametrize("payload", [
    {"items": []},
    {},
    {"items": "1000"},
    {"items": [1000], "k": 0},
    {"items": [1000], "k": -3},
    {"items": [1000], "k": 2.5},
    {"items": [1000], "k": "10"},
    {"items": [1000], "k": True},
    {"items": [1000], "k": 51},
    {"items": [1000], "mode": "fast"},
    {"items": [1000], "unexpected": 1},
    {"items": [1.5]},
    {"items": [None]},
    {"items": [[1000]]},
    [1000, 1001],
    "items",
    None,
])
def test_new_user_bad_bodies_are_422(client, payload):
    r = client.post("/recommendations", json=payload)
    assert r.status_code == 422, (payload, r.status_code, r.text)
    body = r.json()
    assert body["error"] == "invalid_request" and body["detail"]


@pytest.mark.parametrize("raw,ctype", [(b"{not json", "application/json"), (b"", "application/json"),
                                       (b"items=1", "application/x-www-form-urlencoded"),
                                       (b'{"items": [1000]}', "text/plain")])
def test_new_user_malformed_requests_are_422(client, raw, ctype):
    r = client.post("/recommendations", content=raw, headers={"content-type": ctype})
    assert r.status_code == 422, (raw, r.text)


def test_inductive_unavailable_is_422(model):
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    svc = RecallService(model)
    svc.inductive_error = "checkpoints/best.pt missing"
    c = TestClient(create_app(service=svc))
    assert c.get("/health").json()["inductive"] is False
    r = c.post("/recommendations", json={"items": [int(model.item_ids[0])]})
    assert r.status_code == 422 and "best.pt" in r.json()["detail"]


def test_continuous_only_model_rejects_hash_modes(model):
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    svc = RecallService(model)
    svc.modes = ("continuous",)
    c = TestClient(create_app(service=svc))
    r = c.get("/users/u1/recommendations", params={"mode": "hamming"})
    assert r.status_code == 422 and "continuous" in r.json()["detail"]
    assert c.get("/users/u1/recommendations", params={"mode": "continuous"}).status_code == 200


# -- errors on GET -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url,needle", [
    ("/users/nobody/recommendations", "unknown user 'nobody'"),
    ("/users/1000/recommendations", "unknown user '1000'"),
    ("/users/u1%2Fx/recommendations", "unknown user 'u1/x'"),
    ("/items/999999/similar", "unknown item '999999'"),
    ("/items/u1/similar", "unknown item 'u1'"),
    ("/items/1e3/similar", "unknown item '1e3'"),
    ("/items/99999999999999999999999999999/similar", "unknown item"),
    ("/items/-1/similar", "unknown item '-1'"),
])
def test_unknown_ids_are_404_with_a_message(client, url, needle):
    r = client.get(url)
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["error"] == "not_found"
    assert needle in body["detail"]


@pytest.mark.parametrize("query", ["k=0", "k=-1", "k=51", "k=1.5", "k=ten", "k=", "mode=fast", "mode=HAMMING",
                                   "mode=", "k=10&mode=bogus"])
@pytest.mark.parametrize("path", ["/users/u1/recommendations", "/items/1000/similar"])
def test_bad_k_or_mode_is_422_with_a_message(client, path, query):
    r = client.get(f"{path}?{query}")
    assert r.status_code == 422, (path, query, r.text)
    body = r.json()
    assert body["error"] == "invalid_request"
    assert ("k" in body["detail"]) or ("mode" in body["detail"])


def test_wrong_method_and_route(client):
    assert client.get("/recommendations").status_code == 405
    assert client.post("/health").status_code == 405
    assert client.get("/no/such/route").status_code == 404


# -- no request ever produces a 5xx (TestClient re-raises any unhandled server error) ------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ident=st.one_of(_text, st.integers(-10**30, 10**30).map(str), st.sampled_from(["u1", "1000", "1119"])),
       k=st.one_of(_text, st.integers(-5, 200).map(str)),
       mode=st.one_of(_text, st.sampled_from(SEARCH_MODES)),
       endpoint=st.sampled_from(["users/{}/recommendations", "items/{}/similar"]))
def test_fuzz_get_never_5xx(client, ident, k, mode, endpoint):
    from urllib.parse import quote

    r = client.get("/" + endpoint.format(quote(ident, safe="")), params={"k": k, "mode": mode})
    assert r.status_code in (200, 404, 422), (ident, k, mode, r.status_code, r.text)


_json = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20)
                         | st.floats(allow_nan=False, allow_infinity=False) | _text,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(body={"items": [1000], "k": float("inf")})
@example(body={"items": [1000], "k": float("-inf"), "mode": "hamming"})
@given(body=st.one_of(_json, st.fixed_dictionaries(
    {"items": st.lists(st.one_of(st.integers(990, 1130), _text), max_size=5)},
    optional={"k": st.one_of(st.integers(-2, 60), _json), "mode": st.one_of(st.sampled_from(SEARCH_MODES), _text)})))
def test_fuzz_post_never_5xx(client, body):
    # json.dumps writes ±inf as the non-standard token Infinity (httpx's json= refuses it): clients send such bodies
    r = client.post("/recommendations", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in (200, 404, 422), (body, r.status_code, r.text)
