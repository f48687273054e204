"""The FastAPI recall service: ``create_app(run_dir)`` loads the model once and serves it.

Endpoints (original ids in and out)::

    GET  /health
    GET  /users/{user_id}/recommendations?k=10&mode=hierarchical   seen (train + valid) items excluded
    GET  /items/{item_id}/similar?k=10&mode=hierarchical           the item itself excluded
    POST /recommendations  {"items": [...], "k": 10, "mode": ...}  a new user (inductive), body items excluded

Errors are JSON :class:`~hashgnn.serve.schemas.ErrorResponse` bodies: 404 for unknown user/item ids (all
unknown items of a POST body are named), 422 for a bad k, an unknown or unavailable mode or a malformed body,
413 / 408 for a body too large or too slow (:mod:`hashgnn.serve.limits`), and 500 for every fault of the server
or its run directory — never disguised as a 4xx. Handlers are plain ``def`` functions, so FastAPI runs the
searches in its threadpool.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hashgnn.errors import HashGNNError
from hashgnn.serve.limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from hashgnn.serve.schemas import (
    ERROR_RESPONSES,
    HealthResponse,
    NewUserRecommendations,
    NewUserRequest,
    SearchMode,
    SimilarItems,
    UserRecommendations,
)
from hashgnn.serve.service import DEFAULT_MAX_K, InvalidRequestError, Recall, RecallService, UnknownIdError

RUN_DIR_ENV = "HASHGNN_SERVE_RUN_DIR"
MAX_K_ENV = "HASHGNN_SERVE_MAX_K"
MAX_BODY_ENV = "HASHGNN_SERVE_MAX_BODY_BYTES"
BODY_TIMEOUT_ENV = "HASHGNN_SERVE_BODY_TIMEOUT"
log = logging.getLogger("hashgnn.serve")


def _error(status: int, kind: str, detail: str, errors: list[dict] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": kind, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(status_code=status, content=body)


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body",)) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _jsonable_errors(errors: list[dict]) -> list[dict]:
    """Validation errors without the parts that may not serialise (``ctx`` may hold exceptions)."""
    return [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]


def _items(rec: Recall) -> list[dict[str, Any]]:
    return [{"item": item, "score": score} for item, score in rec.items]


def create_app(run_dir: str | Path | None = None, *, service: RecallService | None = None,
               max_k: int = DEFAULT_MAX_K, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               body_timeout: float = DEFAULT_BODY_TIMEOUT) -> FastAPI:
    """The service for ``run_dir`` (or an already built :class:`RecallService`); the model is loaded here,
    once. ``max_body_bytes`` / ``body_timeout``: the largest request body and the seconds it may take."""
    if max_body_bytes <= 0 or body_timeout <= 0:
        raise HashGNNError(f"max_body_bytes and body_timeout must be > 0, got {max_body_bytes}, {body_timeout}")
    if service is None:
        if run_dir is None:
            raise HashGNNError("create_app needs a run directory or a RecallService")
        service = RecallService.from_run_dir(run_dir, max_k=max_k)
    svc = service
    app = FastAPI(
        title="hashgnn recall service",
        version=_version(),
        description=(f"Top-k recall with HashGNN hash codes ({svc.method}, {svc.dataset}: {svc.n_users} users, "
                     f"{svc.n_items} items). Ids are the dataset's original ids. 404 = unknown id; 422 = bad k, "
                     "mode or body; 413 / 408 = body too large / too slow; 500 = server fault. "
                     "Scores: higher is better."),
    )
    app.state.service = svc
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
    _add_error_handlers(app)
    _add_routes(app, svc)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Caller errors → 404 / 422; every other error is the server's → 500 (logged with its traceback)."""

    @app.exception_handler(UnknownIdError)
    async def _unknown(_: Request, exc: UnknownIdError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(InvalidRequestError)
    async def _invalid(_: Request, exc: InvalidRequestError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc))

    @app.exception_handler(HashGNNError)
    async def _server_fault(request: Request, exc: HashGNNError) -> JSONResponse:
        log.error("server fault on %s %s: %s", request.method, request.url.path, exc, exc_info=exc)
        return _error(500, "internal_error", f"the server failed to answer: {exc}")

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:  # Starlette logs it and re-raises
        return _error(500, "internal_error", f"the server failed to answer ({type(exc).__name__})")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable_errors(list(exc.errors()))
        return _error(422, "invalid_request", _validation_message(errors), errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(status_code=exc.status_code, content={"error": kind, "detail": str(exc.detail)},
                            headers=getattr(exc, "headers", None))


def _add_routes(app: FastAPI, svc: RecallService) -> None:
    k_limit = min(svc.max_k, svc.n_items)
    k_query = Query(10, ge=1, le=k_limit, description=f"number of items to return (1..{k_limit})",
                    examples=[10])
    mode_query = Query(None, description=f"search mode (default: {svc.default_mode}); available: "
                                         f"{', '.join(svc.modes)}", examples=["hierarchical"])

    @app.get("/health", response_model=HealthResponse, tags=["service"], summary="Model and service facts")
    def health() -> dict[str, Any]:
        return svc.health()

    @app.get("/users/{user_id:path}/recommendations", response_model=UserRecommendations,
             responses=ERROR_RESPONSES, tags=["recall"], summary="Top-k unseen items for a known user")
    def recommend_user(
        user_id: str = PathParam(..., description="original user id", examples=["1"]),
        k: int = k_query,
        mode: SearchMode | None = mode_query,
    ) -> dict[str, Any]:
        """The user's train and valid items are never returned."""
        rec = svc.recommend_user(user_id, k, mode.value if mode else None)
        return {"user": rec.query, "mode": rec.mode, "k": rec.k, "items": _items(rec)}

    @app.get("/items/{item_id:path}/similar", response_model=SimilarItems, responses=ERROR_RESPONSES,
             tags=["recall"], summary="Items most similar to a known item")
    def similar_items(
        item_id: str = PathParam(..., description="original item id", examples=["1"]),
        k: int = k_query,
        mode: SearchMode | None = mode_query,
    ) -> dict[str, Any]:
        """The query item itself is never returned."""
        rec = svc.similar_items(item_id, k, mode.value if mode else None)
        return {"item": rec.query, "mode": rec.mode, "k": rec.k, "items": _items(rec)}

    @app.post("/recommendations", response_model=NewUserRecommendations, responses=ERROR_RESPONSES,
              tags=["recall"], summary="Top-k for a new user from the items they interacted with (inductive)")
    def recommend_new_user(body: NewUserRequest) -> dict[str, Any]:
        """The user is encoded by the trained GNN from its items (no retraining); those items are excluded.
        Unknown items → 404 naming every one of them; an empty list → 422."""
        rec = svc.recommend_new_user(list(body.items), body.k, body.mode.value if body.mode else None)
        return {"input_items": rec.query, "mode": rec.mode, "k": rec.k, "items": _items(rec)}


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` / several workers: the run directory comes from
    ``$HASHGNN_SERVE_RUN_DIR`` (and max k from ``$HASHGNN_SERVE_MAX_K``)."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        raise HashGNNError(f"${RUN_DIR_ENV} is not set")
    return create_app(run_dir, max_k=int(os.environ.get(MAX_K_ENV, DEFAULT_MAX_K)),
                      max_body_bytes=int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES)),
                      body_timeout=float(os.environ.get(BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT)))


def _version() -> str:
    try:
        import importlib.metadata as md

        return md.version("hashgnn")
    except Exception:  # noqa: BLE001 - an uninstalled checkout
        return "0"
