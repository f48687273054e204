"""Input fuzzing with an oracle, complementing tests/data/test_fuzz.py (which checks "a consistent dataset or a
DataError naming the file" on arbitrary garbage): here every generated file is a well-formed log with at most
one injected defect on a known line, so the outcome is exact — the dataset equals the oracle's, or the
DataError names this file, *that* line and the problem. Each example must also finish within a deadline (no
hang). ``$HASHGNN_RELIABILITY_FUZZ_EXAMPLES`` (default 40) examples per format.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashgnn.data import DataConfig, load_interactions
from hashgnn.errors import DataError

EXAMPLES = int(os.environ.get("HASHGNN_RELIABILITY_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# name, separator, has header, reader format
FORMATS = {
    "ncf": ("x.train.rating", "\t", False, "ncf"),
    "movielens-dat": ("ratings.dat", "::", False, "movielens-dat"),
    "movielens-100k": ("u.data", "\t", False, "movielens-100k"),
    "adjacency": ("train.txt", " ", False, "adjacency"),
    "csv": ("log.csv", ",", True, "table"),
}

# defect -> (replacement of the row's fields or line, words the error must contain)
DEFECTS = {
    "nan_rating": ("rating", "nan", "finite"),
    "inf_rating": ("rating", "inf", "finite"),
    "neg_rating": ("rating", "-2", "finite"),
    "text_rating": ("rating", "five", "rating"),
    "neg_user": ("user", "-7", "negative"),
    "huge_item": ("item", str(2**63), "too large|out of range"),
    "float_user": ("user", "3.5", "integer"),
    "wrong_delimiter": ("line", None, "fields"),
    "truncated": ("line", None, "fields"),
    "bad_utf8": ("line", None, "UTF-8"),
}
# the table reader keeps any id (strings are ids), so id defects are not defects there
TABLE_OK = {"neg_user", "huge_item", "float_user"}
ADJACENCY_DEFECTS = {"neg_user", "huge_item", "float_user", "bad_utf8"}

ROW = st.tuples(st.integers(0, 40), st.integers(0, 80), st.integers(0, 5), st.integers(1, 10**9))


def _render(fmt: str, rows: list[tuple[int, int, int, int]], defect: str | None, at: int, sep_alt: str,
            blank_lines: bool) -> tuple[bytes, int | None]:
    name, sep, header, _ = FORMATS[fmt]
    lines: list[bytes] = []
    if header:
        lines.append(b"user,item,rating,timestamp")
    bad_line = None
    for j, (u, i, r, t) in enumerate(rows):
        fields = {"user": str(u), "item": str(i), "rating": str(r), "timestamp": str(t)}
        order = ["user", "item"] if fmt == "adjacency" else ["user", "item", "rating", "timestamp"]
        kind = None
        if defect is not None and j == at:
            kind, value, _ = DEFECTS[defect]
            if kind in fields and kind in order:
                fields[kind] = value
        text = sep.join(fields[k] for k in order)
        if defect is not None and j == at:
            if defect == "wrong_delimiter":
                text = sep_alt.join(fields[k] for k in order)
            elif defect == "truncated":
                text = sep.join(fields[k] for k in order[:2])[:-1] if fmt != "adjacency" else text
        data = text.encode()
        if defect == "bad_utf8" and j == at:
            data = data + b"\xff\xfe"
        if blank_lines and j % 3 == 1:
            lines.append(b"")
        lines.append(data)
        if defect is not None and j == at:
            bad_line = len(lines)
    return b"\n".join(lines) + b"\n", bad_line


def _expected_error(fmt: str, defect: str | None) -> bool:
    if defect is None:
        return False
    if fmt == "adjacency":
        return defect in ADJACENCY_DEFECTS
    if fmt == "csv":
        return defect not in TABLE_OK and defect not in ("wrong_delimiter", "truncated")
    return True


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_single_defect_is_named_or_the_result_is_exact(fmt: str) -> None:
    name, _, _, reader = FORMATS[fmt]

    @FUZZ
    @given(rows=st.lists(ROW, min_size=1, max_size=25), defect=st.one_of(st.none(), st.sampled_from(sorted(DEFECTS))),
           at=st.integers(0, 24), sep_alt=st.sampled_from([",", ";", "|", "::", "\t", " "]), blank=st.booleans())
    def run(rows, defect, at, sep_alt, blank):
        at = at % len(rows)
        sep = FORMATS[fmt][1]
        if defect == "wrong_delimiter" and (sep_alt == sep or (sep == "\t" and sep_alt == " ")):
            defect = None  # not a defect for this reader
        if fmt == "adjacency" and defect not in ADJACENCY_DEFECTS:
            defect = None  # no rating / fixed field count in an adjacency list
        data, bad_line = _render(fmt, rows, defect, at, sep_alt, blank)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            extra = {"rating_col": "rating", "timestamp_col": "timestamp"} if fmt == "csv" else {}
            try:
                inter, _ = load_interactions(DataConfig(str(path), format=reader, use_cache=False, **extra))
            except DataError as exc:
                assert exc.path == str(path), exc
                if not _expected_error(fmt, defect):
                    # csv: a wrong delimiter or truncated row is a row with missing fields -> empty value error
                    assert fmt == "csv" and defect in ("wrong_delimiter", "truncated"), (defect, str(exc))
                    assert exc.line == bad_line, (exc.line, bad_line, str(exc))
                    return
                assert exc.line == bad_line, (defect, exc.line, bad_line, str(exc))
                assert any(w in str(exc).lower() for w in DEFECTS[defect][2].lower().split("|")), (defect, str(exc))
                return
        assert not _expected_error(fmt, defect), f"{defect} on line {bad_line} was accepted"
        got = {(inter.user_ids[u], inter.item_ids[i]) for u, i in zip(inter.users, inter.items, strict=True)}
        want_rows = [r for j, r in enumerate(rows) if not (defect is not None and j == at)]
        want = {(u, i) for u, i, _, _ in want_rows}
        if defect is not None and fmt == "csv":  # table reader: the odd id is kept as an id
            got = {(str(u), str(i)) for u, i in got}
            want = {(str(u), str(i)) for u, i in want} | {(DEFECTS[defect][1] if DEFECTS[defect][0] == "user"
                                                           else str(rows[at][0]),
                                                           DEFECTS[defect][1] if DEFECTS[defect][0] == "item"
                                                           else str(rows[at][1]))}
        else:
            got = {(int(u), int(i)) for u, i in got}
        assert got == want
        if fmt in ("ncf", "movielens-dat", "movielens-100k") and defect is None and inter.timestamps is not None:
            earliest: dict[tuple[int, int], int] = {}
            for u, i, _, t in rows:
                earliest[(u, i)] = min(t, earliest.get((u, i), t))
            stamps = {(int(inter.user_ids[u]), int(inter.item_ids[i])): int(t)
                      for u, i, t in zip(inter.users, inter.items, inter.timestamps, strict=True)}
            assert stamps == earliest

    run()


def test_zero_byte_and_whitespace_files_of_every_format(tmp_path: Path) -> None:
    for fmt, (name, _, _, reader) in FORMATS.items():
        for content in (b"", b"\n\n", b"   \t \n", b"\xef\xbb\xbf"):
            path = tmp_path / fmt / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(content)
            with pytest.raises(DataError) as info:
                load_interactions(DataConfig(str(path), format=reader, use_cache=False))
            assert str(info.value).startswith(str(path)), (fmt, content, str(info.value))


def test_duplicate_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,user\n1,2,3\n")
    with pytest.raises(DataError, match="duplicate column") as info:
        load_interactions(DataConfig(str(path), use_cache=False))
    assert info.value.line == 1


def test_huge_file_of_one_long_line_does_not_hang(tmp_path: Path) -> None:
    import time

    path = tmp_path / "u.data"
    path.write_bytes(b"12345678" * 500_000)  # 4 MB, one field, no newline: never a valid row
    t0 = time.perf_counter()
    with pytest.raises(DataError):
        load_interactions(DataConfig(str(path), format="movielens-100k", use_cache=False))
    assert time.perf_counter() - t0 < 30
