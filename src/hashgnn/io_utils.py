"""Atomic, checksummed artifact writes: temp file in the same directory, fsync, rename.

A reader never sees a half-written file: either the old artifact or the new one. Checked artifacts carry a
``<name>.sha256`` side file so truncation or corruption is detected with a clear :class:`ArtifactError`
rather than garbage results.

Crash safety of the pair (artifact, side file): the side file may list several accepted digests, one per line.
:func:`atomic_write_checked` first writes a side file accepting both the old and the new digest, then replaces
the artifact, then narrows the side file to the new digest. A process killed at any point therefore leaves an
artifact whose digest the side file accepts (old or new), never a valid artifact reported as corrupt.

A failed write (disk full, permission, I/O error) raises :class:`ArtifactError` naming the file; the temp file
is removed and the previous artifact is left untouched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from hashgnn.errors import ArtifactError

TEMP_SUFFIX = ".tmp"


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def _write_error(path: Path, exc: OSError) -> ArtifactError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = f"{reason} — the disk is full; free space and retry (the previous file is unchanged)"
    return ArtifactError(f"{path}: cannot write ({reason})")


def _write_temp(path: Path, data: bytes) -> str:
    """``data`` in a fsynced temp file beside ``path``; its name. On failure nothing is left behind."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        try:
            os.fchmod(fd, _FILE_MODE)  # mkstemp creates 0600; artifacts get the mode open() would give them
            view = memoryview(data)
            while view:  # os.write may write less than asked
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.EIO, "short write")
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp
    except OSError as exc:
        _unlink_quietly(tmp)
        raise _write_error(path, exc) from exc


def _commit(tmp: str, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise _write_error(path, exc) from exc
    _fsync_dir(path.parent)


def _unlink_quietly(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename, fsync dir.

    Raises:
        ArtifactError: the write failed (e.g. ENOSPC); ``path`` keeps its previous contents, no temp file remains.
    """
    path = Path(path)
    _commit(_write_temp(path, data), path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_path(path: str | Path) -> Path:
    return Path(f"{path}.sha256")


def _accepted_digests(path: Path) -> list[str] | None:
    side = checksum_path(path)
    try:
        return side.read_text().split()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{side}: unreadable checksum file ({exc})") from None


def atomic_write_checked(path: str | Path, data: bytes) -> None:
    """:func:`atomic_write_bytes` plus a ``.sha256`` side file, crash-safe as described in the module doc."""
    path = Path(path)
    new = sha256_bytes(data)
    try:
        old = _accepted_digests(path) or []
    except ArtifactError:
        old = []
    tmp = _write_temp(path, data)  # the big write first: a full disk fails here, before anything changes
    try:
        if path.exists() and old != [new]:
            atomic_write_text(checksum_path(path), "\n".join([*old, new]) + "\n")
        _commit(tmp, path)
    finally:
        _unlink_quietly(tmp if os.path.exists(tmp) else None)
    atomic_write_text(checksum_path(path), new + "\n")


def read_checked(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path``, verified against its side file when there is one.

    Raises:
        ArtifactError: missing, unreadable, or not matching its checksum (truncated or corrupt).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror or exc})") from None
    accepted = _accepted_digests(path)
    if accepted is not None and sha256_bytes(data) not in accepted:
        raise ArtifactError(f"{path}: checksum mismatch — the {what} is truncated or corrupt")
    return data


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete temp files a killed writer left in ``directory`` (``.<name>.*.tmp``); returns what was removed."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for p in directory.glob(f".*{TEMP_SUFFIX}"):
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` plus ``<name>.sha256``."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_checked(path, buf.getvalue())


def load_npy(path: str | Path) -> np.ndarray:
    """Load an array written by :func:`atomic_save_npy`, verifying its checksum when the side file exists."""
    path = Path(path)
    data = read_checked(path, "file")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, ... for a damaged file
        raise ArtifactError(f"{path}: not a valid .npy array ({type(exc).__name__}: {exc})") from None


def atomic_torch_save(path: str | Path, obj: object) -> None:
    """``torch.save`` through a buffer so the checkpoint file appears whole or not at all."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_checked(path, buf.getvalue())


def torch_load_checked(path: str | Path) -> dict:
    import torch

    path = Path(path)
    data = read_checked(path, "checkpoint")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged archive
        raise ArtifactError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
