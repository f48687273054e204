"""Atomic, checksummed artifact writes: temp file in the same directory, fsync, rename.

A reader never sees a half-written file: either the old artifact or the new one. ``.npy`` artifacts carry a
sha256 side file so truncation or corruption is detected with a clear error rather than garbage results.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from hashgnn.errors import ArtifactError


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` plus ``<name>.sha256``; the checksum is written last."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_text(f"{path}.sha256", sha256_bytes(data))


def load_npy(path: str | Path) -> np.ndarray:
    """Load an array written by :func:`atomic_save_npy`, verifying its checksum when the side file exists."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror or exc})") from None
    checksum = Path(f"{path}.sha256")
    if checksum.is_file() and checksum.read_text().strip() != sha256_bytes(data):
        raise ArtifactError(f"{path}: checksum mismatch — the file is truncated or corrupt")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"{path}: not a valid .npy array ({exc})") from None


def atomic_torch_save(path: str | Path, obj: object) -> None:
    """``torch.save`` through a buffer so the checkpoint file appears whole or not at all."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_text(f"{path}.sha256", sha256_bytes(data))


def torch_load_checked(path: str | Path) -> dict:
    import torch

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror or exc})") from None
    checksum = Path(f"{path}.sha256")
    if checksum.is_file() and checksum.read_text().strip() != sha256_bytes(data):
        raise ArtifactError(f"{path}: checksum mismatch — the checkpoint is truncated or corrupt")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged archive
        raise ArtifactError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
