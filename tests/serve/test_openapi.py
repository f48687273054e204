"""The OpenAPI schema documents every endpoint, its response model, its error responses and examples."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

ENDPOINTS = {
    ("/health", "get"): "HealthResponse",
    ("/users/{user_id}/recommendations", "get"): "UserRecommendations",
    ("/items/{item_id}/similar", "get"): "SimilarItems",
    ("/recommendations", "post"): "NewUserRecommendations",
    ("/recommendations/batch", "post"): "BatchRecommendations",
    ("/users", "post"): "Added",
    ("/items", "post"): "Added",
}
ADDITIONS = {("/users", "post"), ("/items", "post")}


@pytest.fixture(scope="module")
def schema(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_every_endpoint_is_listed_with_its_response_model(schema):
    listed = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert listed == set(ENDPOINTS)
    for (path, method), model in ENDPOINTS.items():
        op = schema["paths"][path][method]
        ok = op["responses"]["201" if (path, method) in ADDITIONS else "200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, (path, ok)
        assert op.get("summary")


@pytest.mark.parametrize("path,method", [k for k in ENDPOINTS if k[0] != "/health"])
def test_error_responses_are_documented(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    for status in ("404", "422") + (("409",) if (path, method) in ADDITIONS else ()):
        content = responses[status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
        assert content["example"]["error"] in ("not_found", "invalid_request", "conflict")
        assert responses[status]["description"]


def test_parameters_and_body_are_described(schema):
    params = {p["name"]: p for p in schema["paths"]["/users/{user_id}/recommendations"]["get"]["parameters"]}
    assert set(params) == {"user_id", "k", "mode"}
    assert params["k"]["schema"]["minimum"] == 1 and params["k"]["schema"]["maximum"] == 50
    assert all(p.get("description") for p in params.values())
    body = schema["paths"]["/recommendations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewUserRequest"}
    comps = schema["components"]["schemas"]
    assert set(comps["SearchMode"]["enum"]) == {"hamming", "hierarchical", "continuous"}
    for name in ("HealthResponse", "UserRecommendations", "SimilarItems", "NewUserRequest",
                 "NewUserRecommendations", "ErrorResponse", "BatchRequest", "BatchRecommendations",
                 "AddUsersRequest", "AddItemsRequest", "Added"):
        assert comps[name].get("examples"), name
    assert comps["NewUserRequest"]["properties"]["items"]["minItems"] == 1
    assert comps["NewUserRequest"]["additionalProperties"] is False
