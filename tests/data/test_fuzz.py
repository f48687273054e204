"""Property-based tests: malformed files of every format give a correct dataset or a DataError, never any
other exception; well-formed logs round-trip exactly."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashgnn.data import DataConfig, Interactions, load_interactions
from hashgnn.errors import DataError

FUZZ_EXAMPLES = int(os.environ.get("HASHGNN_FUZZ_EXAMPLES", "60"))  # raise it for a deeper local search
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# format -> (file name, field separator, number of fields; 0 = adjacency list)
TEXT_FORMATS = {
    "adjacency": ("train.txt", " ", 0),
    "ncf": ("x.train.rating", "\t", 4),
    "movielens-dat": ("ratings.dat", "::", 4),
    "movielens-100k": ("u.data", "\t", 4),
    "csv": ("log.csv", ",", 4),
    "tsv": ("log.tsv", "\t", 4),
}

NASTY_TOKENS = st.sampled_from([
    "", " ", "-1", "-0", "1e3", "1.5", "nan", "NaN", "inf", "-inf", "1_000", "+5", "0x1F", "٣", "²", "abc",
    "9" * 25, str(2**63), str(2**62), str(-(2**63)), "\x00", "\ufeff1", "\u2028", '"', '"1,2"', "::", "\t",
    "user", "item", "rating", "2020-01-01", "2020-13-45", "\r",
])
GOOD_TOKENS = st.integers(min_value=0, max_value=60).map(str)
TOKENS = st.one_of(GOOD_TOKENS, GOOD_TOKENS, GOOD_TOKENS, NASTY_TOKENS)
SEPARATORS = st.sampled_from([" ", "\t", ",", "::", ";", "|", "  "])


@st.composite
def text_file(draw: st.DrawFn, fmt: str) -> bytes:
    _, sep, n_fields = TEXT_FORMATS[fmt]
    lines: list[str] = []
    if fmt in ("csv", "tsv") and draw(st.booleans()):
        header = draw(st.lists(st.sampled_from(["user", "item", "rating", "timestamp", "user", "x", ""]),
                               min_size=1, max_size=5))
    else:
        header = ["user", "item", "rating", "timestamp"]
    if fmt in ("csv", "tsv"):
        lines.append(sep.join(header))
    for _ in range(draw(st.integers(0, 12))):
        jitter = draw(st.sampled_from([0, 0, 0, -1, 1, -3]))
        width = draw(st.integers(1, 7)) if n_fields == 0 else n_fields + jitter
        row = draw(st.lists(TOKENS, min_size=max(width, 0), max_size=max(width, 0)))
        line_sep = draw(st.one_of(st.just(sep), st.just(sep), SEPARATORS))
        lines.append(line_sep.join(row))
    text = draw(st.sampled_from(["\n", "\r\n", "\n\n"])).join(lines)
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), errors="replace")
    action = draw(st.sampled_from(["none", "none", "truncate", "garbage", "empty"]))
    if action == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif action == "garbage":
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
    elif action == "empty":
        data = b""
    return data


def check_load(path: Path, **config) -> Interactions | None:
    """Load ``path``: either a consistent dataset or a DataError naming this file; nothing else."""
    try:
        inter, _ = load_interactions(DataConfig(str(path), **config))
    except DataError as exc:
        assert exc.path is not None and str(path) in exc.path, exc
        assert exc.line is None or exc.line >= 1
        assert str(exc).startswith(str(path))
        return None
    n = len(inter)
    assert n > 0
    assert inter.users.dtype == np.int64 and inter.items.dtype == np.int64
    assert inter.users.min() >= 0 and inter.users.max() < inter.n_users
    assert inter.items.min() >= 0 and inter.items.max() < inter.n_items
    assert len(np.unique(inter.users * inter.n_items + inter.items)) == n  # no duplicate pair
    assert inter.timestamps is None or len(inter.timestamps) == n
    return inter


@pytest.mark.parametrize("fmt", sorted(TEXT_FORMATS))
def test_fuzzed_text_files(fmt: str) -> None:
    name, _, _ = TEXT_FORMATS[fmt]
    reader_format = "table" if fmt in ("csv", "tsv") else fmt
    extra = {"rating_col": "rating", "timestamp_col": "timestamp"} if fmt in ("csv", "tsv") else {}

    @FUZZ
    @given(data=text_file(fmt), use_cache=st.booleans())
    def run(data: bytes, use_cache: bool) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            check_load(path, format=reader_format, use_cache=use_cache, **extra)

    run()


CELL = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
)


@FUZZ
@given(
    names=st.lists(st.sampled_from(["user", "item", "rating", "timestamp", "x"]), min_size=1, max_size=5),
    n_rows=st.integers(0, 8),
    data=st.data(),
    corrupt=st.sampled_from(["none", "none", "truncate", "empty"]),
)
def test_fuzzed_parquet(names: list[str], n_rows: int, data: st.DataObject, corrupt: str) -> None:
    columns = []
    for _ in names:
        kind = data.draw(st.sampled_from(["int", "float", "str", "mixed"]))
        if kind == "int":
            values = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n_rows, max_size=n_rows))
            columns.append(pa.array(values, type=pa.int64()))
        elif kind == "float":
            values = data.draw(st.lists(st.floats(), min_size=n_rows, max_size=n_rows))
            columns.append(pa.array(values, type=pa.float64()))
        elif kind == "str":
            values = data.draw(st.lists(st.one_of(st.text(max_size=5), st.none()), min_size=n_rows,
                                        max_size=n_rows))
            columns.append(pa.array(values, type=pa.string()))
        else:
            values = data.draw(st.lists(CELL, min_size=n_rows, max_size=n_rows))
            columns.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    table = pa.Table.from_arrays(columns, names=names)  # duplicate names are allowed here
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.parquet"
        pq.write_table(table, path)
        if corrupt == "truncate":
            raw = path.read_bytes()
            path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
        elif corrupt == "empty":
            path.write_bytes(b"")
        check_load(path, rating_col="rating" if "rating" in names else None,
                   timestamp_col="timestamp" if "timestamp" in names else None, use_cache=False)


# --- well-formed logs round-trip exactly
# ---------------------------------------------------------------------

ID = st.one_of(st.integers(0, 10**12).map(str),
               st.text(alphabet="abcxyz0123456789-_.é", min_size=1, max_size=6))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(ID, ID, st.floats(0, 5), st.integers(0, 2**40)), min_size=1, max_size=40),
       ext=st.sampled_from(["csv", "tsv", "parquet"]))
def test_well_formed_logs_round_trip(rows: list[tuple[str, str, float, int]], ext: str) -> None:
    frame = pd.DataFrame(rows, columns=["u", "i", "r", "t"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"log.{ext}"
        if ext == "parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, sep="\t" if ext == "tsv" else ",", index=False)
        inter = check_load(path, user_col="u", item_col="i", rating_col="r", timestamp_col="t",
                           use_cache=False)
    assert inter is not None
    got = {(str(inter.user_ids[u]), str(inter.item_ids[i]), int(t))
           for u, i, t in zip(inter.users, inter.items, inter.timestamps, strict=True)}
    earliest: dict[tuple[str, str], int] = {}
    for u, i, _, t in rows:
        earliest[(u, i)] = min(t, earliest.get((u, i), math.inf))  # type: ignore[arg-type]
    assert got == {(u, i, t) for (u, i), t in earliest.items()}
