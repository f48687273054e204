"""``hashgnn serve`` (the HTTP recall service) and ``hashgnn recommend`` (the same answers in a table)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hashgnn.errors import ConfigError

console = Console()


def _recall_table(rec) -> Table:
    table = Table()
    table.add_column("rank", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    for rank, (item, score) in enumerate(rec.items, 1):
        table.add_row(str(rank), str(item), f"{score:.6g}")
    return table


def serve(
    run_dir: Path = typer.Argument(..., help="a run directory written by `hashgnn train`"),
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes (each loads the model)"),
    max_k: int = typer.Option(1000, "--max-k", min=1, help="largest k a request may ask for"),
    log_level: str = typer.Option("warning", help="uvicorn log level (critical|error|warning|info|debug)"),
    max_body_bytes: int = typer.Option(1 << 20, "--max-body-bytes", min=1,
                                       help="largest request body; larger ones get 413"),
    body_timeout: float = typer.Option(10.0, "--body-timeout", min=0.001,
                                       help="seconds a request body may take to arrive; then 408"),
    header_timeout: float = typer.Option(10.0, "--header-timeout", min=0.001,
                                         help="seconds a connection may take to send its request headers "
                                              "(also idle keep-alive connections); then it is closed"),
    send_timeout: float = typer.Option(30.0, "--send-timeout", min=0.001,
                                       help="seconds a client may leave a response unread (a large one "
                                            "over the socket buffers); then the connection is dropped"),
    keep_alive: int = typer.Option(5, "--keep-alive", min=1, help="seconds an idle connection is kept open"),
    limit_concurrency: int | None = typer.Option(None, "--limit-concurrency", min=1,
                                                 help="most open connections and requests in progress; "
                                                      "beyond it requests get 503 (default: no limit; the "
                                                      "timeouts above bound how long each one is held)"),
    max_batch_users: int = typer.Option(1000, "--max-batch-users", min=1,
                                        help="most users of one batch request (and users / items of one "
                                             "addition); more get 422"),
) -> None:
    """Serve recommendations over HTTP (FastAPI + uvicorn); OpenAPI docs at /docs (no internet needed).

    Also the way to answer many look-ups from a script: the model loads once, then each request costs
    milliseconds (POST /recommendations/batch answers many users at once). Users and items can be added
    (POST /users, POST /items) with --workers 1."""
    import os

    import uvicorn

    from hashgnn.serve.app import (
        BODY_TIMEOUT_ENV,
        MAX_BATCH_ENV,
        MAX_BODY_ENV,
        MAX_K_ENV,
        RUN_DIR_ENV,
        WORKERS_ENV,
        create_app,
    )
    from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, SEND_TIMEOUT_ENV
    from hashgnn.training.rundir import RunDir

    if not RunDir(run_dir).exists():
        raise ConfigError(f"{run_dir}: not a hashgnn run directory (no config.json)")
    # the protocol class (and every worker process) reads its limit from the environment
    os.environ.update({HEADER_TIMEOUT_ENV: str(header_timeout), SEND_TIMEOUT_ENV: str(send_timeout)})
    limits = {"http": "hashgnn.serve.limits:BoundedH11Protocol", "timeout_keep_alive": keep_alive,
              "limit_concurrency": limit_concurrency, "host": host, "port": port, "log_level": log_level}
    if workers == 1:
        app_ = create_app(run_dir, max_k=max_k, max_body_bytes=max_body_bytes, body_timeout=body_timeout,
                          max_batch_users=max_batch_users)
        console.print(f"serving {run_dir} on http://{host}:{port} (1 worker); docs at /docs")
        uvicorn.run(app_, **limits)
    else:
        os.environ.update({RUN_DIR_ENV: str(Path(run_dir).resolve()), MAX_K_ENV: str(max_k),
                           MAX_BODY_ENV: str(max_body_bytes), BODY_TIMEOUT_ENV: str(body_timeout),
                           MAX_BATCH_ENV: str(max_batch_users), WORKERS_ENV: str(workers)})
        console.print(f"serving {run_dir} on http://{host}:{port} ({workers} workers); docs at /docs")
        uvicorn.run("hashgnn.serve.app:app_from_env", factory=True, workers=workers, **limits)


def recommend(
    run_dir: Path = typer.Argument(..., help="a run directory written by `hashgnn train`"),
    user: str = typer.Option(None, "--user", help="original id of a known user"),
    similar_to: str = typer.Option(None, "--similar-to", help="original id of an item: its nearest items"),
    items: str = typer.Option(None, "--items", help="comma-separated original item ids of a new user"),
    k: int = typer.Option(10, "--k", "-k", help="number of items"),
    mode: str = typer.Option(None, help="hamming | hierarchical | continuous (default: the model's)"),
) -> None:
    """Top-k items for a user, a new user (--items) or similar to an item — the service's code path."""
    from hashgnn.serve.service import RecallService

    given = [name for name, v in (("--user", user), ("--similar-to", similar_to), ("--items", items))
             if v is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of --user, --similar-to, --items"
                          + (f" (got {', '.join(given)})" if given else ""))
    # a known user or item needs the stored codes only: loading the network is for --items
    svc = RecallService.from_run_dir(run_dir, inductive=items is not None)
    if user is not None:
        rec = svc.recommend_user(user, k, mode)
        title = f"top-{rec.k} for user {rec.query} ({rec.mode})"
    elif similar_to is not None:
        rec = svc.similar_items(similar_to, k, mode)
        title = f"{rec.k} items most similar to {rec.query} ({rec.mode})"
    else:
        wanted = [s.strip() for s in items.split(",") if s.strip()]
        rec = svc.recommend_new_user(wanted, k, mode)
        title = f"top-{rec.k} for a new user with items {', '.join(map(str, rec.query))} ({rec.mode})"
    console.print(title, highlight=False, soft_wrap=True)
    console.print(_recall_table(rec))
    if len(rec.items) < rec.k:
        why = (f"hierarchical search re-ranks only the Hamming top-{svc.model.n_candidates}"
               if rec.mode == "hierarchical" and rec.k > svc.model.n_candidates else "no more unseen items")
        console.print(f"{len(rec.items)} of {rec.k} items ({why})")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(recommend)
