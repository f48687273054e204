"""The ``hashgnn`` command line.

A package rather than one ``cli.py`` so that each command group lives beside nothing else: ``data``, ``train``
and ``evaluate``, ``index``/``recommend``/``serve``, ``experiment``, ``export``. Every command turns a
:class:`~hashgnn.errors.HashGNNError` into one red line and exit status 2, never a traceback; when stderr is a
log file, progress bars become occasional whole lines (:class:`LogLines`).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import typer
from rich.console import Console

from hashgnn.errors import HashGNNError

app = typer.Typer(help="Learning to hash with graph neural networks for recommender systems.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
err_console = Console(stderr=True)


#: commands run with their own module's imports only: a script calling ``hashgnn recommend`` once per look-up
#: should not pay for importing every other command group (benchmarks/startup.py measures it). The module must
#: register two commands or more, or typer would take the lone one as the whole program.
COMMAND_MODULES = {"recommend": "serve", "serve": "serve"}


def _register(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    module = COMMAND_MODULES.get(args[0]) if args else None
    if module is not None:
        __import__(f"hashgnn.cli.{module}", fromlist=["register"]).register(app)
        return
    from hashgnn.cli import data as data_cmds

    app.add_typer(data_cmds.app, name="data")
    for module in ("train", "serve", "experiment", "scale", "export"):
        try:
            mod = __import__(f"hashgnn.cli.{module}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"hashgnn.cli.{module}":
                raise
            continue
        mod.register(app)


#: seconds between two progress-bar lines when stderr is a log file or a pipe
LOG_PROGRESS_SECONDS = 30.0


class LogLines:
    """stderr when it is not a terminal. tqdm redraws its bar in place after a carriage return (on every
    ``set_postfix`` too), which in a log file is one line growing without end. Here a redraw becomes a whole line
    of its own, at most one every LOG_PROGRESS_SECONDS (bars are cleared when done, so a dropped redraw loses
    nothing the epoch lines do not say); everything else passes through unchanged."""

    def __init__(self, stream: TextIO, every: float = LOG_PROGRESS_SECONDS) -> None:
        self._stream = stream
        self._every = every
        self._last = -math.inf

    def write(self, text: str) -> int:
        head, *redraws = text.split("\r")
        out = [head]
        for bar in redraws:
            bar = bar.strip()
            now = time.monotonic()
            if bar and now - self._last >= self._every:
                out.append(bar + "\n")  # whole line: stdout written to the same file must not continue it
                self._last = now
        self._stream.write("".join(out))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _progress_for_logs() -> TextIO | None:
    """Wrap stderr in :class:`LogLines` when it is no terminal; the stream replaced, to restore."""
    stream = sys.stderr
    if stream is None or stream.isatty() or isinstance(stream, LogLines):
        return None
    sys.stderr = LogLines(stream)  # type: ignore[assignment]
    return stream


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    original_stderr = _progress_for_logs()
    try:
        _register(argv)
        app(args=argv, standalone_mode=True)
    except HashGNNError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    finally:
        if original_stderr is not None:
            sys.stderr = original_stderr
