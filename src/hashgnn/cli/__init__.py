"""The ``hashgnn`` command line.

A package rather than one ``cli.py`` so that each command group lives beside nothing else: ``data``, ``train``
and ``evaluate``, ``index``/``recommend``/``serve``, ``experiment``. Every command turns a
:class:`~hashgnn.errors.HashGNNError` into one red line and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from hashgnn.errors import HashGNNError

app = typer.Typer(help="Learning to hash with graph neural networks for recommender systems.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
err_console = Console(stderr=True)


def _register() -> None:
    from hashgnn.cli import data as data_cmds

    app.add_typer(data_cmds.app, name="data")
    for module in ("train", "serve", "experiment", "scale"):
        try:
            mod = __import__(f"hashgnn.cli.{module}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"hashgnn.cli.{module}":
                raise
            continue
        mod.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except HashGNNError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
