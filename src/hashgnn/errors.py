"""The project's error types.

Every problem a user can cause (a bad file, a missing dataset, an impossible setting) is raised as a subclass of
:class:`HashGNNError`, with a message that names what is wrong and where, so that the CLI can print one clear
line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class HashGNNError(Exception):
    """Base class of every error raised on purpose by hashgnn."""


class DataError(HashGNNError):
    """Bad input data: names the file, the line (when there is one) and the problem.

    Args:
        problem: What is wrong, in words a user can act on.
        path: The file concerned, if any.
        line: 1-based line number in that file, if known.
    """

    def __init__(self, problem: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(f"{where}{problem}")


class DatasetNotFoundError(DataError):
    """A registered dataset whose files are not in the data root."""


class ConfigError(HashGNNError):
    """An impossible or unknown setting, raised before any work starts."""


class ArtifactError(HashGNNError):
    """A run-directory artifact (checkpoint, codes, index) that is missing, corrupt or of another format."""


class ResourceError(HashGNNError):
    """Not enough memory (or another resource) for the requested work, detected before it starts."""
