"""Request and response models of the recall service (they make the OpenAPI schema)."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from hashgnn.serve.service import MAX_INPUT_ITEMS

# Original ids keep their type: integers for integer id maps (MovieLens), strings otherwise.
OriginalId = int | str


class SearchMode(str, Enum):
    """``hamming`` = Hamming ranking (HamR), ``hierarchical`` = Hamming top-M re-ranked by inner product
    (HieS), ``continuous`` = inner product over all items (CeS)."""

    hamming = "hamming"
    hierarchical = "hierarchical"
    continuous = "continuous"


class ScoredItem(BaseModel):
    item: OriginalId = Field(description="original item id")
    score: float = Field(description="higher is better: K − Hamming distance (hamming), inner product otherwise")


_ITEMS_EXAMPLE = [{"item": 50, "score": 29.0}, {"item": 181, "score": 28.0}]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    dataset: str = Field(description="dataset the run was trained on")
    method: str = Field(description="hashing method (guided, ste, hashnet, gumbel, continuous)")
    n_users: int
    n_items: int
    n_bits: int | None = Field(description="code length K; null for continuous-only models")
    modes: list[SearchMode] = Field(description="search modes this model supports")
    default_mode: SearchMode = Field(description="mode used when a request names none")
    n_candidates: int = Field(description="M of hierarchical search: it re-ranks the Hamming top-max(M, k)")
    inductive: bool = Field(description="whether POST /recommendations (new users) is available")
    max_k: int = Field(description="largest k a request may ask for (also capped by n_items)")
    additions: bool = Field(False, description="whether POST /users and POST /items can add users and items")
    n_added_users: int = Field(0, description="users added through POST /users (not counted in n_users)")
    n_added_items: int = Field(0, description="items added through POST /items (not counted in n_items)")
    max_batch_users: int | None = Field(None, description="most users (or added users / items) per request")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ok", "dataset": "movielens-1m", "method": "guided", "n_users": 6040, "n_items": 3706,
        "n_bits": 32, "modes": ["hamming", "hierarchical", "continuous"], "default_mode": "hierarchical",
        "n_candidates": 200, "inductive": True, "max_k": 1000, "additions": True, "n_added_users": 0,
        "n_added_items": 2, "max_batch_users": 1000}]})


class UserRecommendations(BaseModel):
    user: OriginalId = Field(description="original user id")
    mode: SearchMode
    k: int
    items: list[ScoredItem] = Field(description="best first; the user's train and valid items are excluded "
                                                "(fewer than k only when fewer unseen items exist; "
                                                "hierarchical search re-ranks max(n_candidates, k) "
                                                "Hamming candidates)")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user": 1, "mode": "hierarchical", "k": 2, "items": _ITEMS_EXAMPLE}]})


class SimilarItems(BaseModel):
    item: OriginalId = Field(description="original id of the query item")
    mode: SearchMode
    k: int
    items: list[ScoredItem] = Field(description="best first; the query item itself is excluded")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"item": 1, "mode": "hierarchical", "k": 2, "items": _ITEMS_EXAMPLE}]})


class NewUserRequest(BaseModel):
    """A user the model never saw, described by the items they interacted with."""

    items: list[StrictInt | StrictStr] = Field(min_length=1, max_length=MAX_INPUT_ITEMS,
                                    description="original ids of the items the new user interacted with; "
                                                "every one must be known (else 404)")
    k: StrictInt = Field(10, ge=1, description="number of items to return (at most max_k and n_items)")
    mode: SearchMode | None = Field(None, description="search mode; null = the model's default")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [1, 50, 260], "k": 10, "mode": "hierarchical"}]})


class NewUserRecommendations(BaseModel):
    input_items: list[OriginalId] = Field(description="the request's items (de-duplicated, in id order)")
    mode: SearchMode
    k: int
    items: list[ScoredItem] = Field(description="best first; the request's items are excluded")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"input_items": [1, 50, 260], "mode": "hierarchical", "k": 2, "items": _ITEMS_EXAMPLE}]})


class BatchRequest(BaseModel):
    """Several known (or added) users answered in one request, as one GET each would answer them."""

    users: list[StrictInt | StrictStr] = Field(min_length=1, description="original user ids, answered in this "
                                                                          "order (repeats allowed); at most the "
                                                                          "service's max_batch_users")
    k: StrictInt = Field(10, ge=1, description="number of items per user (at most max_k and n_items)")
    mode: SearchMode | None = Field(None, description="search mode; null = the model's default")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"users": [1, 2, 3], "k": 10, "mode": "hierarchical"}]})


class UserItems(BaseModel):
    user: OriginalId = Field(description="original user id")
    items: list[ScoredItem] = Field(description="best first, as GET /users/{user_id}/recommendations answers")


class BatchRecommendations(BaseModel):
    mode: SearchMode
    k: int
    results: list[UserItems] = Field(description="one per requested user, in the request's order")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"mode": "hierarchical", "k": 2, "results": [{"user": 1, "items": _ITEMS_EXAMPLE}]}]})


class NewUser(BaseModel):
    user: StrictInt | StrictStr = Field(description="the new user's id: new, and of the run's id type")
    items: list[StrictInt | StrictStr] = Field(min_length=1, max_length=MAX_INPUT_ITEMS,
                                               description="trained items the user interacted with (excluded "
                                                           "from its recommendations)")

    model_config = ConfigDict(extra="forbid")


class AddUsersRequest(BaseModel):
    """Users to add, each encoded by the trained GNN from its items (no retraining)."""

    users: list[NewUser] = Field(min_length=1, description="at most the service's max_batch_users")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"users": [{"user": "new-1", "items": [1, 50, 260]}]}]})


class NewItem(BaseModel):
    item: StrictInt | StrictStr = Field(description="the new item's id: new, and of the run's id type")
    users: list[StrictInt | StrictStr] = Field(min_length=1, max_length=MAX_INPUT_ITEMS,
                                               description="trained users who interacted with the item")

    model_config = ConfigDict(extra="forbid")


class AddItemsRequest(BaseModel):
    """Items to add, each encoded by the trained GNN from its users; searchable by every mode at once."""

    items: list[NewItem] = Field(min_length=1, description="at most the service's max_batch_users")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"item": 99001, "users": [1, 2, 3]}]}]})


class Added(BaseModel):
    added: list[OriginalId] = Field(description="the ids added, as the service now knows them")
    n_added: int = Field(description="users (POST /users) or items (POST /items) added since the service started")

    model_config = ConfigDict(json_schema_extra={"examples": [{"added": [99001], "n_added": 1}]})


class ErrorResponse(BaseModel):
    """Every error answer: a machine-readable kind and a message for people."""

    error: Literal["not_found", "invalid_request", "conflict", "method_not_allowed", "http_error",
                   "payload_too_large", "timeout", "internal_error"]
    detail: str = Field(description="what is wrong, in words a caller can act on")
    errors: list[dict] | None = Field(None, description="field-level validation errors (422 from request "
                                                        "validation only)")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "not_found", "detail": "unknown user '999999'", "errors": None}]})


ERROR_RESPONSES: dict[int | str, dict] = {
    404: {"model": ErrorResponse, "description": "unknown user or item id (the message names it)",
          "content": {"application/json": {"example": {"error": "not_found", "detail": "unknown item 'x'"}}}},
    422: {"model": ErrorResponse, "description": "bad k, unknown or unavailable mode, malformed body",
          "content": {"application/json": {"example": {
              "error": "invalid_request", "detail": "k must be between 1 and 1000 (max_k=1000, n_items=3706), "
                                                    "got 0"}}}},
    413: {"model": ErrorResponse, "description": "request body over the service's --max-body-bytes"},
    500: {"model": ErrorResponse, "description": "a fault of the server or its run directory, never of the request",
          "content": {"application/json": {"example": {"error": "internal_error",
                                                       "detail": "the server failed to answer (RuntimeError)"}}}},
}

#: the additions' answers: also 409 for an id that exists or a model that cannot encode new nodes
ADD_ERROR_RESPONSES: dict[int | str, dict] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorResponse, "description": "an id that exists already, or a model that cannot encode new "
                                                 "users/items (no inductive encoder, or several workers)",
          "content": {"application/json": {"example": {
              "error": "conflict", "detail": "this lightgcn model cannot encode new items from their interactions: "
                                             "inductive inference needs the 'sage' encoder"}}}},
}
