"""Readers for every supported interaction format.

Each reader returns raw ``(users, items, timestamps | None)`` arrays (original ids) and raises
:class:`~hashgnn.errors.DataError` naming the file, the line and the problem on bad input.

Supported formats:

* ``adjacency``: LightGCN/NGCF ``train.txt``/``test.txt``: ``user item item ...`` per line, whitespace
separated.
* ``ncf``: NCF ``*.train.rating``/``*.test.rating``: ``user\\titem\\trating\\ttimestamp``.
* ``movielens-dat``: GroupLens ML-1M/10M ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp``.
* ``movielens-100k``: GroupLens ``u.data``: ``user\\titem\\trating\\ttimestamp``.
* ``table``: any CSV/TSV/Parquet log with a header and configurable column names.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashgnn.errors import DataError

RawLog = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path) from None
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror or exc})", path) from None
    if not data.strip():
        raise DataError("file is empty", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 text (byte 0x{data[exc.start]:02x})", path, line) from None


def _parse_int(token: str, path: Path, line: int, what: str) -> int:
    token = token.strip()
    try:
        if not (token.isascii() and token.lstrip("-").isdigit()):
            raise ValueError(token)
        value = int(token)
    except ValueError:
        raise DataError(f"{what} {token[:40]!r} is not an integer", path, line) from None
    if value < 0:
        raise DataError(f"{what} {value} is negative", path, line)
    if value >= 2**62:
        raise DataError(f"{what} {value} is too large (ids must be < 2**62)", path, line)
    return value


def read_adjacency(path: str | Path) -> RawLog:
    """Read a LightGCN adjacency-list file: one user per line, then that user's items.

    A line with a user and no items is allowed (a user with no interaction in this part).
    """
    path = Path(path)
    text = _read_text(path)
    users: list[int] = []
    items: list[int] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        if not parts:
            continue
        user = _parse_int(parts[0], path, lineno, "user id")
        try:
            if not line.isascii() or "_" in line:  # int() accepts "1_000" and non-ASCII digits; ids do not
                raise ValueError
            row = [int(t) for t in parts[1:]]
        except ValueError:
            bad = next((t for t in parts[1:] if not _is_int(t)), None)
            problem = ("contains a character that is neither an ASCII digit nor a space" if bad is None
                       else f"item id {bad[:40]!r} is not an integer")
            raise DataError(problem, path, lineno) from None
        if row and (min(row) < 0 or max(row) >= 2**62):
            raise DataError(f"item id {min(row) if min(row) < 0 else max(row)} is out of range", path, lineno)
        users.extend([user] * len(row))
        items.extend(row)
    if not users:
        raise DataError("file has no interactions (no line lists an item)", path)
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64), None


def _is_int(token: str) -> bool:
    """A plain ASCII decimal integer (``int()`` alone would also accept ``"1_000"`` and non-ASCII digits)."""
    return token.isascii() and token.lstrip("-").isdigit() and token.count("-") <= (token[:1] == "-")


def _read_delimited(path: Path, sep: str | None, min_fields: int, has_time: bool, fmt: str) -> RawLog:
    """Shared parser of the headerless rating formats (user, item, rating[, timestamp])."""
    text = _read_text(path)
    users: list[int] = []
    items: list[int] = []
    times: list[int] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(sep)
        if len(parts) < min_fields:
            raise DataError(
                f"expected {min_fields} {fmt} fields separated by {sep or 'whitespace'!r}, "
                f"found {len(parts)}",
                path,
                lineno,
            )
        users.append(_parse_int(parts[0], path, lineno, "user id"))
        items.append(_parse_int(parts[1], path, lineno, "item id"))
        if len(parts) > 2:
            _check_rating(parts[2], path, lineno)
        if has_time:
            times.append(_parse_int(parts[3], path, lineno, "timestamp"))
    if not users:
        raise DataError("file has no interactions", path)
    ts = np.asarray(times, dtype=np.int64) if has_time else None
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64), ts


def _check_rating(token: str, path: Path, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise DataError(f"rating {token[:40]!r} is not a number", path, line) from None
    if not math.isfinite(value) or value < 0:
        raise DataError(f"rating {token[:40]!r} must be a finite number >= 0", path, line)
    return value


def read_ncf(path: str | Path) -> RawLog:
    """NCF ``*.rating`` file: ``user\\titem\\trating\\ttimestamp`` (a timestamp of 0 everywhere means
    none)."""
    users, items, ts = _read_delimited(Path(path), "\t", 4, True, "NCF")
    if ts is not None and not ts.any():
        ts = None
    return users, items, ts


def read_movielens_dat(path: str | Path) -> RawLog:
    """GroupLens ``ratings.dat`` (ML-1M, ML-10M): ``UserID::MovieID::Rating::Timestamp``."""
    return _read_delimited(Path(path), "::", 4, True, "ratings.dat")


def read_movielens_100k(path: str | Path) -> RawLog:
    """GroupLens ML-100K ``u.data``: ``user\\titem\\trating\\ttimestamp``."""
    return _read_delimited(Path(path), "\t", 4, True, "u.data")


@dataclass(frozen=True)
class Columns:
    """Column names of a user's own interaction log.

    Args:
        user: user id column (any type).
        item: item id column (any type).
        rating: optional rating column: rows with a rating below ``min_rating`` are dropped, the rest
        become 1.
        timestamp: optional time column: integers (Unix seconds) or ISO date-times.
    """

    user: str = "user"
    item: str = "item"
    rating: str | None = None
    timestamp: str | None = None


def read_table(path: str | Path, columns: Columns = Columns(), sep: str | None = None,
               min_rating: float | None = None) -> RawLog:
    """Read a CSV/TSV (header line required) or Parquet interaction log.

    Ids keep their type (strings stay strings). Errors name the file and the 1-based line of the first bad row
    (the header is line 1).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        raise DataError("is a directory, expected a file", path)
    wanted = [c for c in (columns.user, columns.item, columns.rating, columns.timestamp) if c]
    if len(set(wanted)) != len(wanted):
        raise DataError(f"the same column is named for two roles: {wanted}", path)
    frame = _read_parquet(path) if path.suffix.lower() in {".parquet", ".pq"} else _read_csv(path, sep)
    dupes = [str(c) for c in frame.columns[frame.columns.duplicated()]]
    dupes += [c for c in map(str, frame.columns) if "." in c and c.rsplit(".", 1)[0] in frame.columns]
    if dupes:
        raise DataError(f"duplicate column names in header: {dupes}", path, 1)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        header = list(map(str, frame.columns))
        raise DataError(f"missing column(s) {missing}; the header has {header}. {_name_columns_hint(columns, missing)}",
                        path, 1)
    if frame.empty:
        raise DataError("file has a header but no rows", path)
    lines = frame.attrs.get("lines")
    for col in (columns.user, columns.item):
        bad = frame[col].isna().to_numpy()
        if bad.any():
            raise DataError(f"empty {col!r} value", path, _line_of(lines, int(np.argmax(bad))))
    keep = np.ones(len(frame), dtype=bool)
    if columns.rating:
        ratings = pd.to_numeric(frame[columns.rating], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(ratings) | (ratings < 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"rating {_short(frame[columns.rating].iloc[row])} must be a finite number >= 0", path,
                _line_of(lines, row),
            )
        if min_rating is not None:
            keep &= ratings >= min_rating
            if not keep.any():
                raise DataError(f"no row has a rating >= min_rating {min_rating}", path)
    times = None
    if columns.timestamp:
        times = _parse_times(frame[columns.timestamp], path, lines)
    users = _ids(frame[columns.user].to_numpy()[keep])
    items = _ids(frame[columns.item].to_numpy()[keep])
    return users, items, None if times is None else times[keep]


def _name_columns_hint(columns: Columns, missing: list[str]) -> str:
    """How to name the columns: the same words for `hashgnn data`, `hashgnn train` and the Python API."""
    roles = [role for role in ("user", "item", "rating", "timestamp") if getattr(columns, role) in missing]
    flags = " / ".join(f"--{role}-col" for role in roles)
    sets = " ".join(f"--set data.{role}_col=NAME" for role in roles)
    return f"Name your columns with {flags} (or {sets}; in Python DataConfig({roles[0]}_col=...))"


def _read_csv(path: Path, sep: str | None):
    import pandas as pd

    if sep is None:
        sep = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        raw = path.read_bytes()
        if not raw.strip():
            raise DataError("file is empty", path)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x})", path, line) from None
        frame = pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8", engine="c", skip_blank_lines=True)
        frame.attrs["lines"] = _data_lines(raw, len(frame))
        return frame
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid UTF-8 text ({exc.reason})", path) from None
    except pd.errors.EmptyDataError:
        raise DataError("file is empty", path) from None
    except pd.errors.ParserError as exc:
        line = _line_from_pandas(str(exc))
        raise DataError(f"malformed line ({_first_sentence(str(exc))})", path, line) from None
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror or exc})", path) from None


def _data_lines(raw: bytes, n_rows: int) -> np.ndarray | None:
    """1-based physical line of each data row: pandas skips blank lines, so row + 2 is wrong after one.

    None when the count does not match (quoted fields spanning lines); callers then fall back to row + 2.
    """
    lines = raw.split(b"\n")
    nonblank = [i + 1 for i, text in enumerate(lines) if text.strip()]
    if len(nonblank) != n_rows + 1:
        return None
    return np.asarray(nonblank[1:], dtype=np.int64)


def _line_of(lines: np.ndarray | None, row: int) -> int:
    return int(lines[row]) if lines is not None and row < len(lines) else row + 2


def _read_parquet(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many unrelated types for a corrupt file
        raise DataError(f"not a readable Parquet file ({type(exc).__name__}: {exc})", path) from None


def _line_from_pandas(message: str) -> int | None:
    import re

    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _first_sentence(message: str) -> str:
    return message.strip().split("\n")[0].rstrip(".")


def _ids(values: np.ndarray) -> np.ndarray:
    """Integer ids when every value is an integer literal, otherwise strings: ``"007"`` and ``7`` differ."""
    as_str = values.astype(str)
    if as_str.size and all(_is_plain_int(v) for v in as_str[: min(len(as_str), 1000)]):
        try:
            ints = as_str.astype(np.int64)
            if (ints.astype(str) == as_str).all():
                return ints
        except (ValueError, OverflowError):
            pass
    return as_str.astype(object)


def _is_plain_int(s: str) -> bool:
    return s.isdigit() or (s.startswith("-") and s[1:].isdigit())


_MAX_TIME = 2**53  # seconds; far beyond any real date, and exactly representable as a float


def _parse_times(series, path: Path, lines: np.ndarray | None = None) -> np.ndarray:
    """Unix seconds from integer/float seconds or date-time values (strings or a Parquet datetime column)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = series if getattr(series.dt, "tz", None) is not None else series.dt.tz_localize("UTC")
    else:
        numeric = pd.to_numeric(series, errors="coerce") if not pd.api.types.is_bool_dtype(series.dtype) \
            else pd.Series(np.full(len(series), np.nan))
        if numeric.notna().all():
            values = numeric.to_numpy(dtype=float)
            bad = ~np.isfinite(values) | (np.abs(values) >= _MAX_TIME)
            if bad.any():
                row = int(np.argmax(bad))
                raise DataError(f"timestamp {_short(series.iloc[row])} is not a finite time in seconds", path,
                                _line_of(lines, row))
            if pd.api.types.is_integer_dtype(numeric.dtype):
                return numeric.to_numpy(dtype=np.int64)
            return np.floor(values).astype(np.int64)
        try:
            parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.Series(pd.NaT, index=series.index, dtype="datetime64[s, UTC]")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"timestamp {_short(series.iloc[row])} is neither a number nor a date-time", path,
                        _line_of(lines, row))
    try:  # as_unit: pandas parses at us (or ns) resolution; whole seconds truncate toward the past
        return parsed.dt.as_unit("s").astype("int64").to_numpy(dtype=np.int64)
    except (ValueError, OverflowError) as exc:  # OutOfBoundsDatetime is a ValueError
        raise DataError(f"timestamps out of range ({exc})", path) from None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "…"


FORMATS = ("auto", "table", "adjacency", "ncf", "movielens-dat", "movielens-100k")


def detect_format(path: str | Path) -> str:
    """The format of a user's file from its name: ``*.dat`` is GroupLens ``ratings.dat``,
    ``u.data``/``*.data``
    is ML-100K, ``*.rating`` is NCF, ``*.txt`` with a LightGCN name (``train.txt``/``test.txt``) is an
    adjacency
    list; everything else (CSV, TSV, Parquet) is a table with a header."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".dat":
        return "movielens-dat"
    if suffix == ".data":
        return "movielens-100k"
    if suffix == ".rating":
        return "ncf"
    if suffix == ".txt" and path.stem.lower() in {"train", "test", "valid", "val"}:
        return "adjacency"
    return "table"


def read_file(path: str | Path, fmt: str = "auto", columns: Columns = Columns(), sep: str | None = None,
              min_rating: float | None = None) -> RawLog:
    """Read a user's interaction file in any supported format (``fmt="auto"``: :func:`detect_format`)."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", path)
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "table":
        return read_table(path, columns, sep, min_rating)
    reader = {"adjacency": read_adjacency, "ncf": read_ncf, "movielens-dat": read_movielens_dat,
              "movielens-100k": read_movielens_100k}[fmt]
    return reader(path)
