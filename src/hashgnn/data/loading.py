"""One entry point to get a dataset and its split, from a registry name or a user's file, with disk caches.

The processed interactions and the split indices are cached under :func:`~hashgnn.data.download.cache_dir`,
keyed by the dataset, its files' size and mtime, the preprocessing and the split configuration, so a second
load costs one ``np.load``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hashgnn.data import io
from hashgnn.data.datasets import DATASETS, get_dataset
from hashgnn.data.download import cache_dir
from hashgnn.data.interactions import Interactions
from hashgnn.data.preprocess import k_core
from hashgnn.data.splits import Split, SplitConfig, load_split, make_split, save_split
from hashgnn.errors import DataError

CACHE_VERSION = 1


@dataclass(frozen=True)
class DataConfig:
    """Which data and how to prepare it.

    Args:
        dataset: A registry name (``hashgnn data list``) or a path to a CSV/TSV/Parquet interaction log.
        root: Data root (default ``$HASHGNN_DATA`` or the user cache dir).
        min_degree: k-core filter (paper: 10 for Gowalla, already applied in its files); 0/1 = off.
        user_col, item_col, rating_col, timestamp_col, sep, min_rating: for a user's own CSV/TSV/Parquet file.
        use_cache: Read/write the processed and split caches.
        format: For a user's own file: ``auto`` (from the name, see :func:`hashgnn.data.io.detect_format`),
            ``table`` (CSV/TSV/Parquet), ``adjacency``, ``ncf``, ``movielens-dat`` or ``movielens-100k``.
    """

    dataset: str = "movielens-1m"
    root: str | None = None
    min_degree: int = 0
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = None
    timestamp_col: str | None = None
    sep: str | None = None
    min_rating: float | None = None
    use_cache: bool = True
    format: str = "auto"


def _is_file_dataset(name: str) -> bool:
    return name not in DATASETS and (os.sep in name or Path(name).suffix != "" or Path(name).exists())


def _source_files(config: DataConfig) -> list[Path]:
    if _is_file_dataset(config.dataset):
        path = Path(config.dataset)
        if not path.exists():
            raise DataError("file not found", path)
        if not path.is_file():
            raise DataError("is not a regular file", path)
        return [path]
    return get_dataset(config.dataset).require(config.root)


def _cache_key(config: DataConfig, files: list[Path], extra: str = "") -> str:
    stamp = []
    for p in files:
        st = p.stat()
        stamp.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    cfg = asdict(config)
    cfg.pop("use_cache")
    cfg.pop("root")
    payload = json.dumps({"v": CACHE_VERSION, "cfg": cfg, "files": stamp, "extra": extra}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:60]


def _read_raw(config: DataConfig) -> tuple[Interactions, np.ndarray | None]:
    if _is_file_dataset(config.dataset):
        path = Path(config.dataset)
        cols = io.Columns(config.user_col, config.item_col, config.rating_col, config.timestamp_col)
        users, items, times = io.read_file(path, config.format, cols, config.sep, config.min_rating)
        if len(users) == 0:
            raise DataError("no interaction left (every rating was below min_rating)", path)
        return Interactions.from_raw(users, items, times, name=path.name), None
    return get_dataset(config.dataset).load(config.root)


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    import io as _io

    from hashgnn.io_utils import atomic_write_bytes

    buf = _io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _ids_for_npz(ids: np.ndarray) -> np.ndarray:
    return ids.astype(str) if ids.dtype == object else ids


def load_interactions(config: DataConfig) -> tuple[Interactions, np.ndarray | None]:
    """The preprocessed interactions and, for a dataset with given train/test files, each row's part."""
    files = _source_files(config)
    cache = cache_dir() / "processed" / f"{_safe_name(config.dataset)}-{_cache_key(config, files)}.npz"
    if config.use_cache and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                ts = z["timestamps"] if "timestamps" in z.files else None
                part = z["part"] if "part" in z.files else None
                inter = Interactions(z["users"], z["items"], z["user_ids"], z["item_ids"], ts,
                                     name=_display_name(config))
            return inter, part
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            cache.unlink(missing_ok=True)  # a corrupt cache is rebuilt, never trusted
    inter, part = _read_raw(config)
    inter = Interactions(inter.users, inter.items, inter.user_ids, inter.item_ids, inter.timestamps,
                         name=_display_name(config))
    if len(inter) == 0:
        raise DataError(f"{inter.name}: the dataset has no interactions", files[0])
    if config.min_degree > 1:
        before = inter
        try:
            inter = k_core(inter, config.min_degree)
        except DataError as exc:
            raise _with_path(exc, files) from None
        if part is not None:
            part = _part_after_filter(before, inter, part)
    if config.use_cache:
        arrays = {"users": inter.users, "items": inter.items, "user_ids": _ids_for_npz(inter.user_ids),
                  "item_ids": _ids_for_npz(inter.item_ids)}
        if inter.timestamps is not None:
            arrays["timestamps"] = inter.timestamps
        if part is not None:
            arrays["part"] = part
        _atomic_savez(cache, **arrays)
    return inter, part


def _with_path(exc: DataError, files: list[Path]) -> DataError:
    """The same problem, naming the source file(s) when the error did not name one."""
    if exc.path is not None:
        return exc
    where = str(files[0]) if len(files) == 1 else ", ".join(map(str, files))
    return type(exc)(exc.problem, where, exc.line)


def _display_name(config: DataConfig) -> str:
    return Path(config.dataset).name if _is_file_dataset(config.dataset) else config.dataset


def _part_after_filter(before: Interactions, after: Interactions, part: np.ndarray) -> np.ndarray:
    key_before = before.user_ids[before.users].astype(str).astype(object) + "\x00" + \
        before.item_ids[before.items].astype(str).astype(object)
    lookup = dict(zip(key_before.tolist(), part.tolist(), strict=False))
    key_after = after.user_ids[after.users].astype(str).astype(object) + "\x00" + \
        after.item_ids[after.items].astype(str).astype(object)
    return np.asarray([lookup[k] for k in key_after.tolist()], dtype=np.int8)


def load_split_for(config: DataConfig, split: SplitConfig) -> Split:
    """The split of a dataset, from the split cache when it exists (byte-identical for the same seed)."""
    split.validate()
    inter, part = load_interactions(config)
    files = _source_files(config)
    key = _cache_key(config, files, split.key())
    path = cache_dir() / "splits" / f"{_safe_name(config.dataset)}-{key}.npz"
    if config.use_cache and path.is_file():
        try:
            return load_split(inter, path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, DataError):
            path.unlink(missing_ok=True)
    try:
        result = make_split(inter, split, part)
        if len(result.train_idx) == 0 or len(result.test_idx) == 0:
            raise DataError(f"{inter.name}: the split has an empty train or test part")
    except DataError as exc:
        raise _with_path(exc, files) from None
    if config.use_cache:
        save_split(result, path)
    return result
