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

A checked artifact without its side file is an error, not a skip: the side file is written (accepting the new
digest) before the artifact first appears, so only deletion can separate them. Checkpoints are read with
``torch.load(weights_only=True)``: tensors and plain data only, never a pickled object that could run code.
:class:`DirLock` is the advisory lock that lets one process at a time write a folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import os
import tempfile
import threading
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
        # the side file accepts the new digest before the artifact exists, so no crash leaves an artifact
        # without a side file that accepts it (a missing side file is an error on reading)
        if old != [new]:
            atomic_write_text(checksum_path(path), "\n".join([*old, new]) + "\n")
        _commit(tmp, path)
    finally:
        _unlink_quietly(tmp if os.path.exists(tmp) else None)
    atomic_write_text(checksum_path(path), new + "\n")


def read_checked(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path``, verified against its ``.sha256`` side file.

    Raises:
        ArtifactError: missing, unreadable, without its side file, or not matching it (truncated or corrupt).
    """
    return read_verified(path, what)[0]


def read_verified(path: str | Path, what: str = "file") -> tuple[bytes, str]:
    """:func:`read_checked` that also returns the sha256 it computed (so callers need not hash twice)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror or exc})") from None
    accepted = _accepted_digests(path)
    if accepted is None:
        raise ArtifactError(f"{checksum_path(path)}: missing — the {what} {path.name} cannot be verified "
                            "(its checksum side file was deleted)")
    digest = sha256_bytes(data)
    if digest not in accepted:
        raise ArtifactError(f"{path}: checksum mismatch — the {what} is truncated or corrupt")
    return data, digest


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
    """Load an array written by :func:`atomic_save_npy`, verified against its side file (no pickles)."""
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
    """A checkpoint written by :func:`atomic_torch_save`: checksum verified, then unpickled with
    ``weights_only=True`` so that only tensors and plain containers/numbers/strings are rebuilt.

    Raises:
        ArtifactError: missing, corrupt, or holding other Python objects (a pickle payload is refused, not run).
    """
    path = Path(path)
    return torch_load_bytes(path, read_checked(path, "checkpoint"))


def torch_load_bytes(path: Path, data: bytes) -> dict:
    """Unpickle checkpoint ``data`` (read from ``path``, named in errors) with ``weights_only=True``."""
    import pickle

    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ArtifactError(f"{path}: refused — the checkpoint holds Python objects other than tensors and plain "
                            f"data, which could run code when loaded ({_unpickling_reason(exc)})") from None
    except Exception as exc:  # torch raises several types for a damaged archive
        raise ArtifactError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise ArtifactError(f"{path}: not a hashgnn checkpoint (a {type(state).__name__}, not a dict)")
    return state


def _unpickling_reason(exc: Exception) -> str:
    """The line of torch's long weights-only message that names the refused global."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    named = [ln for ln in lines if "Unsupported" in ln or "global" in ln.lower()]
    return ((named or lines or [type(exc).__name__])[0])[:200]


LOCK_NAME = ".lock"


class LockedError(ArtifactError):
    """Another process holds the write lock of a folder."""


class DirLock:
    """An exclusive advisory lock (``flock``) on ``DIR/.lock`` that holds the holder's pid.

    One lock per folder per process: every :meth:`acquire` of the same folder within a process shares the one
    lock (counted), so several objects of one writer never block each other; the lock goes when the last one
    releases it, or when the process dies (the kernel drops ``flock`` locks with their file descriptions).
    """

    _held: dict[tuple[int, Path], list[int]] = {}  # (pid, folder) -> [fd, holders]; pid: a fork holds nothing
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, directory: str | Path, purpose: str = "writing to it") -> Path:
        """Take (or share) the lock of ``directory``, creating the folder; its resolved path is the handle.

        Raises:
            LockedError: another process holds it; the message names that process's pid.
        """
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            key = (os.getpid(), directory.resolve())
        except OSError as exc:
            raise _write_error(directory, exc) from exc
        with cls._guard:
            held = cls._held.get(key)
            if held is not None:
                held[1] += 1
                return key[1]
            cls._held[key] = [cls._lock_fd(key[1], purpose), 1]
        return key[1]

    @classmethod
    def release(cls, handle: Path) -> None:
        key = (os.getpid(), handle)
        with cls._guard:
            held = cls._held.get(key)
            if held is None:
                return
            held[1] -= 1
            if held[1] <= 0:
                del cls._held[key]
                os.close(held[0])

    @staticmethod
    def _lock_fd(directory: Path, purpose: str) -> int:
        path = directory / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot create the lock file ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ArtifactError(f"{path}: cannot lock ({exc.strerror or exc})") from None
            raise LockedError(f"{directory}: in use by another process (pid {holder}, {purpose}; lock file {path}); "
                              "wait for it to finish or use another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd


def _lock_holder(fd: int) -> str:
    """The pid the holder wrote into the lock file (``?`` if it has not written it yet)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "?"
