"""``hashgnn data ...`` through the real entry point ``hashgnn.cli.main(argv)``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

import hashgnn.cli as cli
from hashgnn.data.datasets import DATASETS


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        cli.main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def number(out: str, label: str) -> str:
    m = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+(?: / [\d,]+)?)", out)
    assert m, f"{label!r} not in:\n{out}"
    return m.group(1)


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["data", "list"], capsys)
    assert code == 0
    for name in ("movielens-1m", "gowalla", "pinterest-20", "movielens-100k", "amazon-cds"):
        assert name in out


def test_info_and_split_on_a_user_csv(tiny_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opts = ["--user-col", "user_id", "--item-col", "item_id", "--timestamp-col", "time"]
    code, out, err = run(["data", "info", str(tiny_csv), *opts], capsys)
    assert code == 0, err
    assert number(out, "users") == "4" and number(out, "items") == "5" and number(out, "interactions") == "9"
    code, out, err = run(["data", "split", str(tiny_csv), *opts, "--kind", "temporal", "--test-fraction",
                          "0.3"], capsys)
    assert code == 0, err
    assert "train" in out and "test" in out


BAD_FILES = {
    "empty.csv": b"",
    "nocol.csv": b"usr,item\n1,2\n",
    "rating.csv": b"user,item,rating\n1,2,abc\n",
    "malformed.csv": b"user,item\n1,2\n1,2,3,4\n",
    "train.txt": b"0 1 2\n1 x y\n",
    "u.data": b"1\t2\t3\t4\n1 2 3 4\n",
    "ratings.dat": b"1::2::nan::4\n",
    "x.rating": b"\xff\xfe\x00garbage",
    "a.parquet": b"PAR1 not really",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_prints_one_error_line_and_exits_2(tmp_path: Path, name: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    extra = ["--rating-col", "rating"] if name == "rating.csv" else []
    for cmd in ("info", "split"):
        code, out, err = run(["data", cmd, str(path), *extra], capsys)
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert str(path) in lines[0]
        assert "Traceback" not in err + out


def test_missing_path_and_empty_after_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["data", "info", str(tmp_path / "absent.csv")], capsys)
    assert code == 2 and err.startswith("error: ") and "file not found" in err
    small = tmp_path / "small.csv"
    small.write_text("user,item\n1,1\n2,2\n")
    code, _, err = run(["data", "info", str(small), "--min-degree", "3"], capsys)
    assert code == 2 and "no interaction is left" in err and str(small) in err


def test_error_line_is_red(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=buf, force_terminal=True, color_system="standard"))
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    code, _, _ = run(["data", "info", str(path)], capsys)
    assert code == 2
    assert "\x1b[1;31merror:" in buf.getvalue()


def test_missing_dataset_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["data", "info", "gowalla", "--root", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("error: ")
    assert str(tmp_path / "gowalla/lightgcn/train.txt") in err and "raw.githubusercontent.com" in err
    code, _, err = run(["data", "verify", "movielens-100k", "--root", str(tmp_path)], capsys)
    assert code == 2 and "ml-100k/u.data" in err


def test_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["data", "info", "no-such-set"], capsys)
    assert code == 2 and "unknown dataset" in err


MANIFEST_CLI = {
    "movielens-1m": ("6,040", "3,706", "1,000,209", "797,758 / 202,451"),
    "gowalla": ("29,858", "40,981", "1,027,370", "810,128 / 217,242"),
    "movielens-100k": ("943", "1,682", "100,000", None),
    "amazon-cds": ("43,169", "35,648", "777,426", "604,475 / 172,951"),
}


@pytest.mark.dataset("movielens-1m", "gowalla", "movielens-100k", "amazon-cds")
@pytest.mark.parametrize("name", sorted(MANIFEST_CLI))
def test_info_prints_manifest_statistics(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    users, items, n, given = MANIFEST_CLI[name]
    code, out, err = run(["data", "info", name], capsys)
    assert code == 0, err
    assert (number(out, "users"), number(out, "items"), number(out, "interactions")) == (users, items, n)
    if given:
        assert number(out, "given split (train / test)") == given


@pytest.mark.dataset("movielens-1m", "gowalla", "movielens-100k", "amazon-cds")
@pytest.mark.parametrize("name", ["movielens-1m", "gowalla", "movielens-100k", "amazon-cds"])
def test_verify_complete_datasets(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["data", "verify", name], capsys)
    assert code == 0, err + out
    spec = DATASETS[name]
    for f in spec.files:
        assert re.search(rf"^ok\s+{re.escape(f.path)}$", out, re.M), out


@pytest.mark.dataset("pinterest-20")
def test_verify_pinterest_test_half(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["data", "verify", "pinterest-20"], capsys)
    assert re.search(r"^ok\s+pinterest-20/ncf/pinterest-20.test.rating$", out, re.M), out
    assert re.search(r"^missing\s+pinterest-20/ncf/pinterest-20.train.rating", out, re.M)
    assert code == 1  # incomplete: the train half is missing


def test_verify_detects_a_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "ml-100k" / "u.data"
    target.parent.mkdir()
    target.write_text("1\t2\t3\t4\n")
    code, out, _ = run(["data", "verify", "movielens-100k", "--root", str(tmp_path)], capsys)
    assert code == 1
    assert re.search(r"^BAD\s+ml-100k/u.data$", out, re.M)


@pytest.mark.dataset("movielens-100k")
def test_split_real_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["data", "split", "movielens-100k", "--seed", "1"], capsys)
    assert code == 0, err
    assert "random split (seed 1" in out
