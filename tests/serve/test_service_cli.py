"""The shared RecallService (id lookup for every dtype, argument checks) and the ``recommend``/``serve``
commands."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hashgnn.errors import HashGNNError
from hashgnn.serve import InvalidRequestError, RecallService, UnknownIdError, lookup_index

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.mark.parametrize("ids,raw,expected", [
    (np.array([3, 7, 10], dtype=np.int64), "7", 1),
    (np.array([3, 7, 10], dtype=np.int64), 10, 2),
    (np.array([3, 7, 10], dtype=np.int64), " 3 ", 0),
    (np.array([3, 7, 10], dtype=np.int64), 7.0, 1),
    (np.array([3, 7, 10], dtype=np.int64), "7.0", None),
    (np.array([3, 7, 10], dtype=np.int64), "x", None),
    (np.array([3, 7, 10], dtype=np.int64), "\u00b2", None),  # a digit to str.isdigit(), not to int()
    (np.array([3, 7, 10], dtype=np.int64), "\u0663", None),  # Arabic-Indic three: int() takes it, ids are ASCII
    (np.array([3, 7, 10], dtype=np.int64), "", None),
    (np.array([3, 7, 10], dtype=np.int64), str(10**30), None),
    (np.array([3, 7, 10], dtype=np.uint32), "-7", None),
    (np.array([3, 7, 10], dtype=np.int64), True, None),
    (np.array(["a", "b", "c"]), "b", 1),
    (np.array(["1", "2", "3"]), 2, 1),
    (np.array(["a", "b", "c"]), "z", None),
    (np.array(["a", "b", "c"], dtype=object), "c", 2),
    (np.array([b"a", b"b"]), "b", 1),
    (np.array([0.5, 1.5]), "1.5", 1),
    (np.array([0.5, 1.5]), "nan", None),
    (np.array([0.5, 1.5]), "x", None),
    (np.array([], dtype=np.int64), "1", None),
])
def test_lookup_index_any_dtype(ids, raw, expected):
    assert lookup_index(ids, raw) == expected


def test_service_errors_are_hashgnn_errors(service):
    with pytest.raises(UnknownIdError, match="unknown user 'zz'"):
        service.recommend_user("zz")
    with pytest.raises(UnknownIdError, match="unknown items 'a', 'b'"):
        service.recommend_new_user(["a", "b", "a"])
    for bad_k in (0, -1, 51, 2.0, "3", True, None):
        with pytest.raises(InvalidRequestError, match="k must be"):
            service.recommend_user("u1", bad_k)
    with pytest.raises(InvalidRequestError, match="unknown search mode"):
        service.similar_items(1000, 5, "exact")
    with pytest.raises(InvalidRequestError, match="at least one"):
        service.recommend_new_user([])
    assert issubclass(UnknownIdError, HashGNNError) and issubclass(InvalidRequestError, HashGNNError)


def test_from_run_dir_rejects_a_non_run(tmp_path):
    with pytest.raises(HashGNNError, match="not a hashgnn run directory"):
        RecallService.from_run_dir(tmp_path)


def _main(args: list[str]) -> int:
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


def test_cli_recommend_user(run_dir, model, capsys):
    assert _main(["recommend", str(run_dir), "--user", "u2", "--k", "5", "--mode", "hamming"]) == 0
    out = capsys.readouterr().out
    assert "top-5 for user u2 (hamming)" in out
    items, _ = model.recommend("u2", N=5, mode="hamming")  # the data's ids in and out
    for item in items:
        assert str(item) in out


def test_cli_recommend_similar_and_new_user(run_dir, capsys):
    assert _main(["recommend", str(run_dir), "--similar-to", "1000", "-k", "3"]) == 0
    assert "3 items most similar to 1000 (hierarchical)" in capsys.readouterr().out
    assert _main(["recommend", str(run_dir), "--items", "1000, 1001,1005", "--mode", "continuous"]) == 0
    assert "new user with items 1000, 1001, 1005 (continuous)" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["--user", "nobody"], "unknown user 'nobody'"),
    (["--items", "1000,zzz"], "unknown item 'zzz'"),
    (["--user", "u1", "--k", "0"], "k must be"),
    (["--user", "u1", "--mode", "fast"], "unknown search mode"),
    ([], "exactly one of"),
    (["--user", "u1", "--similar-to", "1000"], "exactly one of"),
])
def test_cli_recommend_errors_exit_2(run_dir, capsys, args, needle):
    assert _main(["recommend", str(run_dir), *args]) == 2
    assert needle in capsys.readouterr().err.replace("\n", "")


def test_cli_serve_starts_uvicorn_with_the_app(run_dir, monkeypatch):
    import uvicorn
    from fastapi import FastAPI

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert _main(["serve", str(run_dir), "--port", "8123", "--max-k", "7"]) == 0
    app, kw = calls[0]
    assert isinstance(app, FastAPI) and kw["port"] == 8123 and kw["host"] == "127.0.0.1"
    assert app.state.service.max_k == 7


def test_cli_serve_passes_its_connection_limits_to_uvicorn(run_dir, monkeypatch):
    import uvicorn

    from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, SEND_TIMEOUT_ENV

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    for name in (HEADER_TIMEOUT_ENV, SEND_TIMEOUT_ENV):  # teardown restores the environment the CLI changes
        monkeypatch.setenv(name, "placeholder")
    assert _main(["serve", str(run_dir), "--header-timeout", "2.5", "--send-timeout", "7", "--keep-alive", "3",
                  "--limit-concurrency", "64"]) == 0
    _, kw = calls[0]
    assert kw["http"] == "hashgnn.serve.limits:BoundedH11Protocol"
    assert kw["timeout_keep_alive"] == 3 and kw["limit_concurrency"] == 64
    # BoundedH11Protocol reads them from the environment when uvicorn builds it, in every worker
    assert (float(os.environ[HEADER_TIMEOUT_ENV]), float(os.environ[SEND_TIMEOUT_ENV])) == (2.5, 7.0)
    calls.clear()
    assert _main(["serve", str(run_dir)]) == 0
    assert calls[0][1]["limit_concurrency"] is None  # no limit unless asked: the timeouts bound each connection


def test_cli_serve_several_workers_uses_the_factory(run_dir, monkeypatch):
    import uvicorn

    from hashgnn.serve.app import MAX_K_ENV, RUN_DIR_ENV, app_from_env

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv(RUN_DIR_ENV, "placeholder")  # teardown restores the environment the CLI changes
    monkeypatch.setenv(MAX_K_ENV, "1")
    assert _main(["serve", str(run_dir), "--workers", "2"]) == 0
    app, kw = calls[0]
    assert app == "hashgnn.serve.app:app_from_env" and kw["factory"] and kw["workers"] == 2
    assert app_from_env().state.service.max_k == 1000


def test_cli_serve_rejects_a_non_run(tmp_path, capsys):
    assert _main(["serve", str(tmp_path)]) == 2
    assert "not a hashgnn run directory" in capsys.readouterr().err
