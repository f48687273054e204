"""Issue 34's reliability cases, tried one by one on a tiny trained run: what happens, and how fast.

    python benchmarks/bench_reliability.py --json benchmarks/reliability.json

Trains one tiny run (30 users, 60 items, K = 16, 2 epochs; no dataset needed), then for every case copies it,
damages or races it as the issue describes and records the outcome (the error class and its first words, or the
HTTP status), whether a planted pickle payload ran, and the time to the answer. It also times what the checks
cost: a manifest-recorded write against a plain checked write, and ``HashGNN.load`` with its verification.
Exit status 1 when any case does not end as expected.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hashgnn.testing import forge, npy_bytes, npz_arrays, npz_bytes

Case = dict[str, Any]
TINY = {"train.threads": 1, "train.batch_size": 128, "train.auc_pairs": 100, "train.log_every": 2,
        "model.embedding_dim": 16, "model.dims": [16, 16], "eval.n_candidates": 20, "eval.valid_n": 10}


def tiny_run(out: Path) -> Path:
    from hashgnn.data.interactions import Interactions
    from hashgnn.recommender import HashGNN

    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 400)
    items = (users * 3 + rng.integers(0, 20, 400)) % 60
    inter = Interactions.from_raw(np.array([f"u{u}" for u in users]), items.astype(np.int64), name="tiny")
    HashGNN(n_bits=16, epochs=2, overrides=TINY).fit(inter, run_dir=out, progress=False)
    return out


def attempt(name: str, expect: str, action: Callable[[], Any]) -> Case:
    """Run ``action``; the outcome is its result or the error it raised (class and first 110 characters)."""
    started = time.perf_counter()
    try:
        result = action()
        outcome = "ok" if result is None else str(result)
    except BaseException as exc:  # noqa: BLE001 - every outcome is recorded, SystemExit included
        text = re.sub(r"/\S*/run(?=[/:)])", "run", str(exc))  # each case's temporary copy is just "run"
        outcome = f"{type(exc).__name__}: {text[:150]}"
    ms = 1000 * (time.perf_counter() - started)
    return {"case": name, "expected": expect, "outcome": outcome, "ms": round(ms, 1),
            "as_expected": outcome.startswith(expect)}


# -- helpers that damage a copy of the run ------------------------------------------------------------------------
class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (str(self.marker), "w")


def payload_checkpoint(run: Path, which: str, marker: Path) -> bytes:
    import torch

    from hashgnn.training.rundir import RunDir

    buf = io.BytesIO()
    torch.save({**RunDir(run).load_checkpoint(which), "best_model": Payload(marker)}, buf)
    return buf.getvalue()


# -- the cases --------------------------------------------------------------------------------------------------
def code_execution_cases(base: Path, tmp: Path) -> list[Case]:
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService
    from hashgnn.training.rundir import RunDir

    cases = []
    for which, manifest, side in [("best", False, "rewritten"), ("best", True, "rewritten"),
                                  ("best", True, "deleted"), ("last", True, "rewritten")]:
        run, marker = copy(base, tmp), tmp / "pwned"
        forge(run, f"checkpoints/{which}.pt", payload_checkpoint(run, which, marker), manifest)
        if side == "deleted":
            (run / f"checkpoints/{which}.pt.sha256").unlink()
        label = f"pickle payload in {which}.pt (side file {side}{', manifest forged' if manifest else ''})"
        if which == "best":
            case = attempt(label + ": HashGNN.load().load_network()", "ArtifactError",
                           lambda run=run: HashGNN.load(run).load_network())
            service = attempt(label + ": RecallService start", "ArtifactError",
                              lambda run=run: RecallService.from_run_dir(run))
            cases += [case | {"payload_ran": marker.exists()}, service | {"payload_ran": marker.exists()}]
        else:
            case = attempt(label + ": resume (load last.pt)", "ArtifactError",
                           lambda run=run: RunDir(run).load_checkpoint("last"))
            cases.append(case | {"payload_ran": marker.exists()})
    return cases


def _reorder(run: Path) -> bytes:
    ids = npz_arrays(run / "id_maps.npz")
    ids["item_ids"] = ids["item_ids"][[1, 0, *range(2, len(ids["item_ids"]))]]
    return npz_bytes(**ids)


def _fewer(run: Path) -> bytes:
    ids = npz_arrays(run / "id_maps.npz")
    ids["item_ids"] = ids["item_ids"][:-1]
    return npz_bytes(**ids)


def _nan(run: Path) -> bytes:
    z = np.load(run / "embeddings_items.npy")
    z[3, 1] = np.nan
    return npy_bytes(z)


def _split(run: Path) -> bytes:
    parts = npz_arrays(run / "split.npz")
    parts["test"][0] = 10**6
    return npz_bytes(**parts)


def _codes(bits: int) -> Callable[[Path], bytes]:
    return lambda run: npy_bytes(np.zeros((len(np.load(run / "codes_items.npy")), bits // 8), dtype=np.uint8))


def _json_edit(name: str, key: tuple[str, ...]) -> Callable[[Path], bytes]:
    def make(run: Path) -> bytes:
        data = json.loads((run / name).read_text())
        target = data
        for k in key[:-1]:
            target = target[k]
        target[key[-1]] = 32
        return json.dumps(data).encode()
    return make


INCONSISTENT = {
    "reordered item_ids (id_maps.npz)": ("id_maps.npz", _reorder),
    "fewer item_ids (id_maps.npz)": ("id_maps.npz", _fewer),
    "NaN in embeddings_items.npy": ("embeddings_items.npy", _nan),
    "split.npz test index out of range": ("split.npz", _split),
    "8-bit codes, run is 16": ("codes_items.npy", _codes(8)),
    "32-bit codes, run is 16": ("codes_items.npy", _codes(32)),
    "n_bits edited in embeddings.json": ("embeddings.json", _json_edit("embeddings.json", ("n_bits",))),
    "n_bits edited in config.json": ("config.json", _json_edit("config.json", ("model", "n_bits"))),
}


def inconsistency_cases(base: Path, tmp: Path) -> list[Case]:
    from hashgnn.recommender import HashGNN

    cases = []
    for label, (name, make) in INCONSISTENT.items():
        for manifest in (False, True):
            run = copy(base, tmp)
            forge(run, name, make(run), manifest)
            how = "side file + manifest rewritten" if manifest else "side file rewritten"
            cases.append(attempt(f"{label} ({how}): HashGNN.load", "ArtifactError", lambda run=run: HashGNN.load(run)))
    run = copy(base, tmp)
    (run / "embeddings_items.npy.sha256").unlink()
    cases.append(attempt("side file deleted: HashGNN.load", "ArtifactError", lambda: HashGNN.load(run)))
    run = copy(base, tmp)
    users, items = (run / "codes_users.npy").read_bytes(), (run / "codes_items.npy").read_bytes()
    forge(run, "codes_users.npy", items, True)
    forge(run, "codes_items.npy", users, True)
    cases.append(attempt("swapped codes (all checksums forged): hashgnn evaluate", "CliExit: exit 2 —",
                         lambda: cli(["evaluate", str(run), "--no-progress"])))
    return cases


def lock_cases(base: Path, tmp: Path) -> list[Case]:
    from hashgnn.io_utils import LOCK_NAME
    from hashgnn.training.rundir import RunDir

    holder = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX)\nos.write(fd, str(os.getpid()).encode())\nprint('held', flush=True)\n"
              "sys.stdin.read()\n")
    run = copy(base, tmp)
    proc = subprocess.Popen([sys.executable, "-c", holder, str(run / LOCK_NAME)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        cases = [attempt(f"second writer while pid {proc.pid} writes: RunDir.write_json", "LockedError",
                         lambda: RunDir(run).write_json("history.json", [])),
                 attempt("second `hashgnn train --resume` on the same run", "CliExit: exit 2 —",
                         lambda: cli(["train", "--out", str(run), "--resume", "--no-progress"]))]
    finally:
        proc.stdin.close()
        proc.wait()
    cases.append(attempt("`train --resume --epochs 30 --set train.lr=0.5`", "CliExit: exit 2 —",
                         lambda: cli(["train", "--out", str(run), "--resume", "--epochs", "30", "--set",
                                      "train.lr=0.5"])))
    return cases


def service_cases(base: Path) -> list[Case]:
    from fastapi.testclient import TestClient

    from hashgnn.serve import RecallService, create_app

    svc = RecallService.from_run_dir(base)
    c = TestClient(create_app(service=svc, max_body_bytes=1 << 20), raise_server_exceptions=False)
    big = '{"items": [' + ",".join(["1"] * 600_000) + "]}"  # 1.2 MB
    cases = [
        attempt("GET /items/<5,000 digits>/similar", "404", lambda: c.get(f"/items/{'9' * 5000}/similar").status_code),
        attempt("POST body of 1.2 MB (limit 1 MiB)", "413", lambda: c.post(
            "/recommendations", content=big, headers={"content-type": "application/json"}).status_code),
        attempt("`hashgnn recommend --similar-to <5,000 digits>`", "CliExit: exit 2 —",
                lambda: cli(["recommend", str(base), "--similar-to", "9" * 5000])),
        attempt("slow request body (timeout 0.5 s)", "408", slow_body),
    ]
    broken = RecallService.from_run_dir(base)
    broken.recommend_user = _raise_artifact_error
    c2 = TestClient(create_app(service=broken), raise_server_exceptions=False)
    cases.append(attempt("server fault (ArtifactError inside a request)", "500",
                         lambda: c2.get("/users/u1/recommendations").status_code))
    cases += slow_client_cases()
    return cases


def _raise_artifact_error(*_args: object, **_kwargs: object) -> None:
    from hashgnn.errors import ArtifactError

    raise ArtifactError("codes_items.npy: corrupt")


def slow_body() -> int:
    from hashgnn.serve.limits import BodyLimitMiddleware

    sent: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(app, 1000, 0.5)({"type": "http", "headers": []}, receive, send))
    return sent[0]["status"]


def slow_client_cases() -> list[Case]:
    """A real uvicorn server with the bounded protocol (header timeout 1 s)."""
    import uvicorn

    from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, BoundedH11Protocol

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    os.environ[HEADER_TIMEOUT_ENV] = "1"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=BoundedH11Protocol,
                                          log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        return [attempt("silent client (connects, sends nothing)", "closed", lambda: closed_after(port, b"")),
                attempt("slowloris (half a header, then nothing)", "closed",
                        lambda: closed_after(port, b"GET / HTTP/1.1\r\nHost: x\r\n"))]
    finally:
        server.should_exit = True
        thread.join()


def closed_after(port: int, data: bytes) -> str:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(30)
        while sock.recv(1024):
            pass
    return f"closed after {time.perf_counter() - started:.2f} s"


def cold_user_case() -> Case:
    from hashgnn.data.interactions import Interactions
    from hashgnn.data.splits import Split
    from hashgnn.evaluation import evaluate_part
    from hashgnn.models.base import Embeddings

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 300), rng.integers(0, 40, 300)
    inter = Interactions.from_raw(users.astype(np.int64), items.astype(np.int64), name="cold")
    cold = np.flatnonzero(inter.users < 3)
    warm = np.setdiff1d(np.arange(len(inter.users)), cold)
    split = Split(inter, warm[::2], np.array([], dtype=np.int64), np.sort(np.concatenate([warm[1::2], cold])))
    emb = Embeddings.from_signs(rng.normal(size=(20, 8)), rng.normal(size=(40, 8)), None, None)

    def run() -> str:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = evaluate_part(emb, split, "test", modes=("continuous",), ns=(10,), protocols=("standard",))
        rows = {k: v["users"] for k, v in res["continuous"].items()}
        return f"rows {rows}; warning: {bool(caught)}"

    return attempt("temporal split: 3 test users without train interactions", "rows", run)


def cost_figures(base: Path, tmp: Path) -> dict[str, float]:
    """Milliseconds per write of a 1 MB checkpoint-like file, plain vs recorded in the manifest; load time."""
    from hashgnn.io_utils import atomic_write_checked
    from hashgnn.recommender import HashGNN
    from hashgnn.training.rundir import RunDir

    data = os.urandom(1 << 20)
    run = copy(base, tmp)
    timings = {}
    rd = RunDir(run)
    for label, write in (("plain_checked_write_1MB_ms", lambda: atomic_write_checked(run / "plain.bin", data)),
                         ("manifest_recorded_write_1MB_ms", lambda: rd.write_bytes("recorded.bin", data))):
        started = time.perf_counter()
        for _ in range(20):
            write()
        timings[label] = round(1000 * (time.perf_counter() - started) / 20, 2)
    started = time.perf_counter()
    for _ in range(5):
        HashGNN.load(run)
    timings["hashgnn_load_verified_ms"] = round(1000 * (time.perf_counter() - started) / 5, 1)
    return timings


def copy(base: Path, tmp: Path) -> Path:
    out = Path(tempfile.mkdtemp(dir=tmp)) / "run"
    shutil.copytree(base, out)
    return out


class CliExit(Exception):
    """The CLI stopped: its exit status and the first line it printed on stderr."""


def cli(args: list[str]) -> None:
    from hashgnn.cli import main

    err = io.StringIO()
    stderr, sys.stderr = sys.stderr, err
    try:
        main(args)
    except SystemExit as exc:
        lines = [ln.strip() for ln in err.getvalue().splitlines() if ln.strip()]
        traceback = " [TRACEBACK]" if any("Traceback" in ln for ln in lines) else ""
        raise CliExit(f"exit {exc.code}{traceback} — {lines[0] if lines else ''}") from None
    finally:
        sys.stderr = stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the cases and figures here")
    args = parser.parse_args()
    logging.getLogger("hashgnn.serve").setLevel(logging.CRITICAL)  # the planted server fault is expected
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        base = tiny_run(tmp / "base")
        train_s = time.perf_counter() - started
        cases = [*code_execution_cases(base, tmp), *inconsistency_cases(base, tmp), *lock_cases(base, tmp),
                 *service_cases(base), cold_user_case()]
        figures = {"tiny_training_s": round(train_s, 2), **cost_figures(base, tmp)}
    for c in cases:
        flag = "ok " if c["as_expected"] and not c.get("payload_ran") else "BAD"
        print(f"{flag} {c['case']}: {c['outcome']} ({c['ms']} ms)")
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps({"cases": cases, "figures": figures, "python": sys.version.split()[0],
                                         "date": time.strftime("%Y-%m-%d")}, indent=1) + "\n")
    return 0 if all(c["as_expected"] and not c.get("payload_ran") for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
