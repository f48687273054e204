"""The recall service: a FastAPI app over one run directory (``hashgnn serve RUN_DIR``) and the shared
:class:`RecallService` that ``hashgnn recommend`` uses too. Needs the ``serve`` extra (fastapi, uvicorn)."""

from hashgnn.serve.service import (
    DEFAULT_MAX_K,
    InvalidRequestError,
    Recall,
    RecallService,
    UnknownIdError,
    lookup_index,
)


def create_app(*args, **kwargs):
    """See :func:`hashgnn.serve.app.create_app` (imported lazily: FastAPI is an optional dependency)."""
    from hashgnn.serve.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["DEFAULT_MAX_K", "InvalidRequestError", "Recall", "RecallService", "UnknownIdError", "create_app",
           "lookup_index"]
