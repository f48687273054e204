"""Property-based fuzzing of the live HTTP service from its OpenAPI schema (hypothesis; schemathesis-style).

``hashgnn serve RUN`` runs in a subprocess on 127.0.0.1. For every operation of ``/openapi.json``, requests are
generated from the schema — path parameters, query parameters and JSON bodies that are valid, near-valid
(bounds ± 1, wrong types, unknown enum values, extra fields) or arbitrary (any JSON, raw bytes, odd unicode ids)
— and sent over real HTTP. Properties: no 5xx ever; every error response (4xx) is JSON with a non-empty
``detail`` message; every 200 matches its documented shape. ``$HASHGNN_SERVE_FUZZ_EXAMPLES`` (default 40)
examples per operation.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

httpx = pytest.importorskip("httpx")

EXAMPLES = int(os.environ.get("HASHGNN_SERVE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
COUNTS: dict[str, int] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_run: Path, tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve_log") / "server.log"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "hashgnn", "serve", str(trained_run), "--host", "127.0.0.1",
                                 "--port", str(port), "--max-k", "30"], stdout=fh, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=30.0)
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "server did not start"
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"\nservice fuzz: requests per operation {COUNTS}, total {sum(COUNTS.values())}; server log:\n"
              f"{log.read_text()[-2000:]}")
        text = log.read_text()
        assert "Traceback" not in text and "Exception in ASGI" not in text, text[-4000:]


@pytest.fixture(scope="module")
def schema(server) -> dict:
    return server.get("/openapi.json").json()


@pytest.fixture(scope="module")
def known_ids(trained_run: Path) -> tuple[list, list]:
    from hashgnn.training.rundir import RunDir

    ids = RunDir(trained_run).read_arrays("id_maps.npz")
    return [x.item() for x in ids["user_ids"]], [x.item() for x in ids["item_ids"]]


ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "..", "../..", "%00", "a/b", "?", "#", "0", "-1", "1e309", "NaN", "null", "true",
                     "é", "\u202e", "\x00", "9" * 40, "u1/recommendations"]),
)
# JSON has no NaN or infinity: a client cannot send them (httpx refuses to encode them)
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                        | st.text(max_size=8),
                        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                        max_leaves=12)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = schema["components"]["schemas"][name]
    return node


def _value_for(schema: dict, node: dict, known: list) -> st.SearchStrategy:
    """Values for a parameter schema: valid, boundary, wrong type and arbitrary."""
    node = _resolve(schema, node)
    options = [ODD_TEXT, st.integers(-(2**64), 2**64)]
    if "anyOf" in node:
        for sub in node["anyOf"]:
            options.append(_value_for(schema, sub, known))
    if node.get("enum"):
        options.append(st.sampled_from(node["enum"]))
    if node.get("type") == "integer":
        lo, hi = node.get("minimum", -10), node.get("maximum", 10**6)
        options += [st.integers(lo, hi), st.sampled_from([lo - 1, lo, hi, hi + 1, 0, -1])]
    if known:
        options.append(st.sampled_from(known))
    return st.one_of(options)


def _body(schema: dict, node: dict, item_ids: list) -> st.SearchStrategy:
    node = _resolve(schema, node)
    props = node.get("properties", {})
    fields = {}
    for name, sub in props.items():
        if name == "items":
            item = st.one_of(st.sampled_from(item_ids), st.integers(-5, 10**6), st.text(max_size=6), ANY_JSON)
            fields[name] = st.one_of(st.lists(st.sampled_from(item_ids), min_size=1, max_size=8),
                                     st.lists(item, max_size=8), ANY_JSON)
        else:
            fields[name] = st.one_of(_value_for(schema, sub, []), ANY_JSON)
    shaped = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(st.text(max_size=5), ANY_JSON, max_size=2)
    return st.one_of(shaped, st.builds(lambda a, b: {**b, **a}, shaped, extra), ANY_JSON)


def _check(resp, op: str) -> None:
    COUNTS[op] = COUNTS.get(op, 0) + 1
    assert resp.status_code < 500, (op, resp.request.url, resp.status_code, resp.text[:500])
    if resp.status_code >= 400:
        body = resp.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"].strip(), \
            (op, resp.status_code, resp.text[:500])
        assert body.get("error"), resp.text[:500]
    else:
        assert resp.status_code == 200, (op, resp.status_code)
        body = resp.json()
        if "items" in body and op != "GET /health":
            assert isinstance(body["items"], list) and len(body["items"]) <= body["k"]
            scores = [x["score"] for x in body["items"]]
            assert scores == sorted(scores, reverse=True)


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_schema_lists_the_fuzzed_operations(schema):
    """Every operation of the schema is fuzzed: here, or (the additions, which change the server's state) in
    tests/serve/test_additions.py::test_fuzz_additions_never_5xx."""
    assert {(p, m) for p, m, _ in _operations(schema)} == {
        ("/health", "get"), ("/users/{user_id}/recommendations", "get"), ("/items/{item_id}/similar", "get"),
        ("/recommendations", "post"), ("/recommendations/batch", "post"), ("/users", "post"), ("/items", "post")}


@pytest.mark.parametrize("path,method", [("/users/{user_id}/recommendations", "get"),
                                         ("/items/{item_id}/similar", "get"), ("/health", "get")])
def test_get_operations_never_5xx(server, schema, known_ids, path, method):
    op = schema["paths"][path][method]
    users, items = known_ids
    params = op.get("parameters", [])

    @FUZZ
    @given(data=st.data())
    def run(data):
        url = path
        query = {}
        for p in params:
            known = users if p["name"] == "user_id" else items if p["name"] == "item_id" else []
            if p["in"] == "path":
                value = data.draw(_value_for(schema, p["schema"], known), label=p["name"])
                url = url.replace("{" + p["name"] + "}", quote(str(value), safe=""))
            elif data.draw(st.booleans()):
                query[p["name"]] = str(data.draw(_value_for(schema, p["schema"], known), label=p["name"]))
        if "{" in url:
            return
        _check(server.get(url, params=query), f"{method.upper()} {path}")

    run()


def test_post_batch_recommendations_never_5xx(server, schema, known_ids):
    op = schema["paths"]["/recommendations/batch"]["post"]
    body_schema = op["requestBody"]["content"]["application/json"]["schema"]
    users, _ = known_ids

    @FUZZ
    @given(body=_body(schema, body_schema, []), known=st.lists(st.sampled_from(users), max_size=5),
           use_known=st.booleans())
    def run(body, known, use_known):
        if use_known and isinstance(body, dict):
            body = {**body, "users": known}
        resp = server.post("/recommendations/batch", json=body)
        COUNTS["POST /recommendations/batch"] = COUNTS.get("POST /recommendations/batch", 0) + 1
        assert resp.status_code < 500, (resp.status_code, resp.text[:500])
        if resp.status_code >= 400:
            assert resp.json().get("detail"), resp.text[:500]

    run()


def test_post_recommendations_never_5xx(server, schema, known_ids):
    op = schema["paths"]["/recommendations"]["post"]
    body_schema = op["requestBody"]["content"]["application/json"]["schema"]
    _, items = known_ids

    @FUZZ
    @given(body=_body(schema, body_schema, items), raw=st.one_of(st.none(), st.binary(max_size=40)),
           ctype=st.sampled_from(["application/json", "application/json", "text/plain",
                                  "application/x-www-form-urlencoded"]))
    def run(body, raw, ctype):
        content = raw if raw is not None else json.dumps(body).encode()
        _check(server.post("/recommendations", content=content, headers={"content-type": ctype}),
               "POST /recommendations")

    run()


def test_unknown_routes_and_methods_have_messages(server):
    for method, url in (("GET", "/nope"), ("DELETE", "/health"), ("PUT", "/recommendations"),
                        ("GET", "/users/"), ("GET", "/items//similar"), ("POST", "/users/u1/recommendations")):
        resp = server.request(method, url)
        assert 400 <= resp.status_code < 500, (method, url, resp.status_code)
        assert resp.json().get("detail"), (method, url, resp.text)
