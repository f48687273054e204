"""The FastAPI recall service: ``create_app(run_dir)`` loads the model once and serves it.

Endpoints (original ids in and out)::

    GET  /health
    GET  /users/{user_id}/recommendations?k=10&mode=hierarchical   seen (train + valid) items excluded
    GET  /items/{item_id}/similar?k=10&mode=hierarchical           the item itself excluded
    POST /recommendations  {"items": [...], "k": 10, "mode": ...}  a new user (inductive), body items excluded
    POST /recommendations/batch  {"users": [...], "k": 10, "mode": ...}  many known users, as one GET each
    POST /users  {"users": [{"user": id, "items": [...]}]}          add users (inductive), answered by id after
    POST /items  {"items": [{"item": id, "users": [...]}]}          add items (inductive), searchable at once
    GET  /docs, /redoc                                              API docs, their assets served locally

Errors are JSON :class:`~hashgnn.serve.schemas.ErrorResponse` bodies: 404 for unknown user/item ids (all
unknown items of a POST body are named), 422 for a bad k, an unknown or unavailable mode or a malformed body,
409 for an added id that exists or a model that cannot encode new nodes, 413 / 408 for a body too large or too
slow (:mod:`hashgnn.serve.limits`), and 500 for every fault of the server or its run directory — never
disguised as a 4xx. Handlers are plain ``def`` functions, so FastAPI runs the searches in its threadpool.
Additions live in the process's memory: a restart forgets them, and with several workers they are refused (409)
since they would reach one worker only.
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
from hashgnn.serve.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BATCH_USERS,
    DEFAULT_MAX_BODY_BYTES,
    BodyLimitMiddleware,
)
from hashgnn.serve.schemas import (
    ADD_ERROR_RESPONSES,
    ERROR_RESPONSES,
    Added,
    AddItemsRequest,
    AddUsersRequest,
    BatchRecommendations,
    BatchRequest,
    HealthResponse,
    NewUserRecommendations,
    NewUserRequest,
    SearchMode,
    SimilarItems,
    UserRecommendations,
)
from hashgnn.serve.service import (
    DEFAULT_MAX_K,
    ConflictError,
    InvalidRequestError,
    Recall,
    RecallService,
    UnknownIdError,
)

RUN_DIR_ENV = "HASHGNN_SERVE_RUN_DIR"
MAX_K_ENV = "HASHGNN_SERVE_MAX_K"
MAX_BODY_ENV = "HASHGNN_SERVE_MAX_BODY_BYTES"
BODY_TIMEOUT_ENV = "HASHGNN_SERVE_BODY_TIMEOUT"
MAX_BATCH_ENV = "HASHGNN_SERVE_MAX_BATCH_USERS"
WORKERS_ENV = "HASHGNN_SERVE_WORKERS"
DOCS_ASSETS = "/docs-assets"
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
               body_timeout: float = DEFAULT_BODY_TIMEOUT,
               max_batch_users: int = DEFAULT_MAX_BATCH_USERS) -> FastAPI:
    """The service for ``run_dir`` (or an already built :class:`RecallService`); the model is loaded here,
    once. ``max_body_bytes`` / ``body_timeout``: the largest request body and the seconds it may take;
    ``max_batch_users``: the most users of a batch (and users / items of an addition) per request."""
    if max_body_bytes <= 0 or body_timeout <= 0 or max_batch_users <= 0:
        raise HashGNNError(f"max_body_bytes, body_timeout and max_batch_users must be > 0, got {max_body_bytes}, "
                           f"{body_timeout}, {max_batch_users}")
    if service is None:
        if run_dir is None:
            raise HashGNNError("create_app needs a run directory or a RecallService")
        service = RecallService.from_run_dir(run_dir, max_k=max_k)
    svc = service
    svc.max_batch = int(max_batch_users)
    app = FastAPI(
        title="hashgnn recall service",
        version=_version(),
        description=(f"Top-k recall with HashGNN hash codes ({svc.method}, {svc.dataset}: {svc.n_users} users, "
                     f"{svc.n_items} items). Ids are the dataset's original ids. 404 = unknown id; 422 = bad k, "
                     "mode or body; 409 = added id exists / model cannot encode new nodes; 413 / 408 = body too "
                     "large / too slow; 500 = server fault. Scores: higher is better."),
        docs_url=None, redoc_url=None,  # the default pages load their scripts from a CDN: _add_docs serves them
        redirect_slashes=False,  # "/users/" is not "/users" (POST): an unknown path gets a 404 with a message
    )
    app.state.service = svc
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
    _add_error_handlers(app)
    _add_routes(app, svc)
    _add_batch_and_additions(app, svc)
    _add_docs(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Caller errors → 404 / 422; every other error is the server's → 500 (logged with its traceback)."""

    @app.exception_handler(UnknownIdError)
    async def _unknown(_: Request, exc: UnknownIdError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(InvalidRequestError)
    async def _invalid(_: Request, exc: InvalidRequestError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return _error(409, "conflict", str(exc))

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


def _add_batch_and_additions(app: FastAPI, svc: RecallService) -> None:
    @app.post("/recommendations/batch", response_model=BatchRecommendations, responses=ERROR_RESPONSES,
              tags=["recall"], summary="Top-k for many known (or added) users in one request")
    def recommend_batch(body: BatchRequest) -> dict[str, Any]:
        """Each user answered as GET /users/{user_id}/recommendations would; unknown users → 404 naming every
        one of them; more than max_batch_users → 422."""
        recs = svc.recommend_users(list(body.users), body.k, body.mode.value if body.mode else None)
        first = recs[0]
        return {"mode": first.mode, "k": first.k, "results": [{"user": r.query, "items": _items(r)} for r in recs]}

    @app.post("/users", response_model=Added, status_code=201, responses=ADD_ERROR_RESPONSES, tags=["catalogue"],
              summary="Add users, encoded from their items by the trained GNN (no retraining)")
    def add_users(body: AddUsersRequest) -> dict[str, Any]:
        """Each new user is then answered by GET /users/{user_id}/recommendations and the batch endpoint, its
        items excluded. Its items must be trained items (404 unknown, 422 added ones); an id that exists → 409;
        a model without an inductive encoder → 409. Held in memory until the service stops."""
        added = svc.add_users([(u.user, list(u.items)) for u in body.users])
        return {"added": added, "n_added": svc.health()["n_added_users"]}

    @app.post("/items", response_model=Added, status_code=201, responses=ADD_ERROR_RESPONSES, tags=["catalogue"],
              summary="Add items, encoded from their users by the trained GNN (no retraining)")
    def add_items(body: AddItemsRequest) -> dict[str, Any]:
        """Each new item is then searched by every mode (hamming, hierarchical, continuous) for every user and
        answered by GET /items/{item_id}/similar. Its users must be trained users (404 unknown, 422 added ones);
        an id that exists → 409; a model without an inductive encoder → 409. Held in memory until the service
        stops."""
        added = svc.add_items([(i.item, list(i.users)) for i in body.items])
        return {"added": added, "n_added": svc.health()["n_added_items"]}


def _add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts and styles served by this app, from the
    ``fastapi-offline`` package, so that the pages work without internet access (FastAPI's own load a CDN)."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    try:
        import fastapi_offline
    except ModuleNotFoundError:
        log.warning("fastapi-offline is not installed, so /docs and /redoc are off (pip install "
                    "'hashgnn[serve]'); /openapi.json still describes the API")
        return
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="docs-assets")
    title = f"{app.title} - docs"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=title,
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url, title=title,
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` / several workers: the run directory comes from
    ``$HASHGNN_SERVE_RUN_DIR`` (and max k from ``$HASHGNN_SERVE_MAX_K``)."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        raise HashGNNError(f"${RUN_DIR_ENV} is not set")
    app = create_app(run_dir, max_k=int(os.environ.get(MAX_K_ENV, DEFAULT_MAX_K)),
                     max_body_bytes=int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES)),
                     body_timeout=float(os.environ.get(BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT)),
                     max_batch_users=int(os.environ.get(MAX_BATCH_ENV, DEFAULT_MAX_BATCH_USERS)))
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    if workers > 1:
        app.state.service.additions_error = (f"it runs {workers} worker processes, and an addition would reach "
                                             "only the one that received it; serve with --workers 1 to add")
    return app


def _version() -> str:
    try:
        import importlib.metadata as md

        return md.version("hashgnn")
    except Exception:  # noqa: BLE001 - an uninstalled checkout
        return "0"
