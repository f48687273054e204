"""Data root, integrity checks and downloads (torchvision pattern, sha256)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from hashgnn.errors import DataError


def data_root(root: str | Path | None = None) -> Path:
    """The local data root: ``root`` if given, else ``$HASHGNN_DATA``, else the user's cache dir."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("HASHGNN_DATA")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hashgnn")) / "data"


def cache_dir() -> Path:
    """Where processed datasets and splits are cached (``$HASHGNN_CACHE`` or the user cache dir).

    Kept apart from the data root because that may be read-only (as ``../shared/data`` is).
    """
    env = os.environ.get("HASHGNN_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hashgnn")) / "cache"


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_integrity(path: Path, sha256: str | None) -> bool:
    """True when the file exists and (if a checksum is known) matches it."""
    if not path.is_file():
        return False
    return sha256 is None or sha256_of(path) == sha256


def download_url(url: str, dest: Path, sha256: str | None, timeout: float = 60.0,
                 member: str | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically and verify its sha256; skip when an intact copy is there.

    ``member``: ``url`` is a zip archive and ``dest`` is this file inside it.
    """
    if check_integrity(dest, sha256):  # present and intact (or present with no known checksum)
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        problem = f"cannot write the data root ({exc.strerror or exc}); set HASHGNN_DATA"
        raise DataError(problem, dest) from None
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            shutil.copyfileobj(resp, out)
        if member is not None:
            _extract_member(tmp, member, url, dest)
        if sha256 is not None and sha256_of(tmp) != sha256:
            raise DataError(f"downloaded file from {url} is corrupted (sha256 mismatch)", dest)
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataError(f"download of {url} failed ({exc}); place the file there by hand", dest) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _extract_member(archive: str, member: str, url: str, dest: Path) -> None:
    """Replace the downloaded zip ``archive`` by its file ``member``, in place."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{url} is not a zip archive holding {member} ({exc})", dest) from None
    Path(archive).write_bytes(data)
