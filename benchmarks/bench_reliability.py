"""Issue 34's reliability cases, tried one by one on a tiny trained run: what happens, and how fast.

    python benchmarks/bench_reliability.py --json benchmarks/reliability.json

Trains one tiny run (30 users, 60 items, K = 16, 2 epochs; no dataset needed), then for every case copies it,
damages or races it as the issue describes and records the outcome (the error class and its first words, or the
HTTP status), whether a planted pickle payload ran, and the time to the answer. It also times what the checks
cost: a manifest-recorded write against a plain checked write, and ``HashGNN.load`` with its verification; and
measures the figures of the issue: ``hashgnn train`` killed (SIGKILL) at random points then resumed, the memory
of a ``hashgnn serve`` process sent four 50 MB bodies, 2,000 connections that never send a request.
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
    from hashgnn.training.plots import plot_training_curve

    plot_training_curve(out)  # as `hashgnn train` does: a file of the run no loader reads
    return out


def attempt(name: str, expect: str, action: Callable[[], Any]) -> Case:
    """Run ``action``; the outcome is its result or the error it raised (class and first 110 characters)."""
    started = time.perf_counter()
    try:
        result = action()
        outcome = "ok" if result is None else str(result)
    except BaseException as exc:  # noqa: BLE001 - every outcome is recorded, SystemExit included
        text = re.sub(r"/\S*/run(?=[/:)`\s]|$)", "run", str(exc))  # each case's temporary copy is just "run"
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


def coverage_cases(base: Path, tmp: Path) -> list[Case]:
    """Files no loader reads (the plot), files put in the run by hand, an index of another run, a run written
    before manifests existed."""
    from hashgnn.index import HammingIndex
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService
    from hashgnn.training.rundir import RunDir

    run = copy(base, tmp)
    png = bytearray((run / "training_curve.png").read_bytes())
    png[len(png) // 2] ^= 1
    forge(run, "training_curve.png", bytes(png), False)
    cases = [attempt("training_curve.png edited (side file rewritten): HashGNN.load", "ArtifactError",
                     lambda: HashGNN.load(run))]
    run = copy(base, tmp)
    HammingIndex(np.load(run / "codes_items.npy")).save(run / "index.hgi")  # not through the run: unlisted
    cases.append(attempt("index saved into the run by hand (not in the manifest): HashGNN.load", "ArtifactError",
                         lambda: HashGNN.load(run)))
    cases.append(attempt("the same, after `hashgnn upgrade RUN`: HashGNN.load", "ok",
                         lambda: upgrade_then_load(run)))
    run = copy(base, tmp)
    with RunDir(run) as rd:
        rd.write_index("other.hgi", HammingIndex(np.load(run / "codes_items.npy")[:-1]))
    cases.append(attempt("index of another run kept in the run: RunDir.read_index", "ArtifactError",
                         lambda: RunDir(run).read_index("other.hgi")))
    run = copy(base, tmp)
    for name in ("manifest.json", "training_curve.png.sha256"):  # as a hashgnn before manifests left it
        (run / name).unlink()
    cases += [attempt("run written before manifests: RecallService start", "ArtifactError",
                      lambda: RecallService.from_run_dir(run)),
              attempt("run written before manifests: `hashgnn train --resume`", "CliExit: exit 2 —",
                      lambda: cli(["train", "--out", str(run), "--resume", "--no-progress"])),
              attempt("run written before manifests: `hashgnn upgrade RUN`, then HashGNN.load", "ok",
                      lambda: upgrade_then_load(run))]
    return cases


def upgrade_then_load(run: Path) -> None:
    from hashgnn.recommender import HashGNN

    try:
        cli(["upgrade", str(run)])
    except CliExit as exc:  # the CLI always exits; 0 is success
        if not str(exc).startswith("exit 0 "):
            raise
    HashGNN.load(run)


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


IDLE_CONNECTIONS = 2000


def slow_client_cases() -> list[Case]:
    """A real uvicorn server with the bounded protocol (header timeout 1 s, send timeout 1 s)."""
    import uvicorn

    from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, SEND_TIMEOUT_ENV, BoundedH11Protocol

    big = b"x" * (16 << 20)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        body = big if scope.get("path") == "/big" else b"ok"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    os.environ.update({HEADER_TIMEOUT_ENV: "1", SEND_TIMEOUT_ENV: "1"})
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
                        lambda: closed_after(port, b"GET / HTTP/1.1\r\nHost: x\r\n")),
                attempt("slowloris (a header drip-fed, one byte per 50 ms)", "closed", lambda: drip_fed(port)),
                attempt("client that never reads a 16 MiB answer (send timeout 1 s)", "dropped",
                        lambda: never_reads(port, server)),
                attempt(f"{IDLE_CONNECTIONS:,} connections that send nothing", "closed",
                        lambda: many_idle(port, server))]
    finally:
        server.should_exit = True
        thread.join()


def drip_fed(port: int) -> str:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            for byte in b"GET /" + b"a" * 2000:  # 100 s if the server waited for it
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            return f"closed after {time.perf_counter() - started:.2f} s"
    return "never closed"


def _connections_gone(server: Any, limit: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not server.server_state.connections:
            return time.perf_counter() - started
        time.sleep(0.02)
    return None


def never_reads(port: int, server: Any) -> str:
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        started = time.perf_counter()
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        while not server.server_state.connections:
            time.sleep(0.01)
        gone = _connections_gone(server, 60)
        return "held for 60 s" if gone is None else f"dropped after {time.perf_counter() - started:.2f} s"
    finally:
        sock.close()


def many_idle(port: int, server: Any) -> str:
    idle = []
    try:
        started = time.perf_counter()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE_CONNECTIONS)]
        with socket.create_connection(("127.0.0.1", port)) as sock:  # a prompt client is answered meanwhile
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(30)
            answered = sock.recv(64).startswith(b"HTTP/1.1 200")
        gone = _connections_gone(server, 120)
        if gone is None:
            return f"{len(server.server_state.connections)} of {IDLE_CONNECTIONS} still open after 120 s"
        return (f"closed: all {IDLE_CONNECTIONS} after {time.perf_counter() - started:.2f} s; a prompt request "
                f"meanwhile {'answered 200' if answered else 'NOT answered'}")
    finally:
        for sock in idle:
            sock.close()


def closed_after(port: int, data: bytes) -> str:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(30)
        while sock.recv(1024):
            pass
    return f"closed after {time.perf_counter() - started:.2f} s"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _post_50mb(port: int, declared: bool) -> str:
    """A 50 MB POST body, with its length declared or streamed in chunks; the status, or how the send ended."""
    chunk = b"[" + b"1," * (1 << 19)
    head = (b"POST /recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + (f"Content-Length: {50 * 10**6}\r\n".encode() if declared else b"Transfer-Encoding: chunked\r\n")
            + b"\r\n")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(60)
        try:
            sock.sendall(head)
            sent = 0
            while sent < 50 * 10**6:
                sock.sendall(chunk if declared else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed before the whole body: what a limit should do
        try:
            return sock.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError):
            return "closed"


def memory_case(base: Path) -> tuple[Case, dict[str, float]]:
    """A real `hashgnn serve` process sent four 50 MB bodies (two declared, two streamed): its RSS before/after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "hashgnn", "serve", str(base), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    figures: dict[str, float] = {}
    try:
        deadline = time.time() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if sock.recv(16).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("hashgnn serve did not start")
            time.sleep(0.2)
        figures["serve_rss_before_mb"] = round(_rss_mb(proc.pid), 1)

        def four_bodies() -> str:
            statuses = [_post_50mb(port, declared) for declared in (True, False, True, False)]
            figures["serve_rss_after_4x50MB_mb"] = round(_rss_mb(proc.pid), 1)
            return f"{' '.join(statuses)}; RSS {figures['serve_rss_before_mb']:.0f} → " \
                   f"{figures['serve_rss_after_4x50MB_mb']:.0f} MB"

        case = attempt("four 50 MB POST bodies to `hashgnn serve` (2 declared, 2 chunked)", "413 413 413 413",
                       four_bodies)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return case, figures


def kill_case(tmp: Path, trials: int) -> tuple[Case, dict[str, float]]:
    """``hashgnn train`` SIGKILLed at random points, resumed each time; the finished run must equal one never
    killed (the procedure of ``tests/reliability/test_crash.py``, imported from it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.reliability.conftest import write_tiny_csv
    from tests.reliability.test_crash import CRASH_ROWS, _kill_trials

    csv = write_tiny_csv(tmp / "crash.csv", n_rows=CRASH_ROWS, n_users=600, n_items=1200)
    stats: dict[str, Any] = {}

    def run() -> str:
        stats.update(_kill_trials(csv, tmp / "kills", trials=trials, seed=0))
        return (f"equal: the resumed run equals one never killed; {stats['killed']} killed "
                f"({stats['mid_training']} mid-training), {stats['finished_before_kill']} finished first")

    case = attempt(f"`hashgnn train` SIGKILLed at {trials} random points, resumed each time", "equal", run)
    return case, {"kill_trials": stats.get("trials", 0), "kills": stats.get("killed", 0),
                  "kills_mid_training": stats.get("mid_training", 0)}


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
    plain = tmp / "plain.bin"  # outside the run: a file the manifest does not list would fail the load below
    for label, write in (("plain_checked_write_1MB_ms", lambda: atomic_write_checked(plain, data)),
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
    parser.add_argument("--kills", type=int, default=10, help="SIGKILL trials of `hashgnn train` (default 10)")
    args = parser.parse_args()
    logging.getLogger("hashgnn.serve").setLevel(logging.CRITICAL)  # the planted server fault is expected
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        base = tiny_run(tmp / "base")
        train_s = time.perf_counter() - started
        cases = [*code_execution_cases(base, tmp), *inconsistency_cases(base, tmp), *coverage_cases(base, tmp),
                 *lock_cases(base, tmp), *service_cases(base), cold_user_case()]
        memory, memory_figures = memory_case(base)
        kills, kill_figures = kill_case(tmp, args.kills)
        cases += [memory, kills]
        figures = {"tiny_training_s": round(train_s, 2), **cost_figures(base, tmp), **memory_figures,
                   **kill_figures, "idle_connections": IDLE_CONNECTIONS}
    for c in cases:
        flag = "ok " if c["as_expected"] and not c.get("payload_ran") else "BAD"
        print(f"{flag} {c['case']}: {c['outcome']} ({c['ms']} ms)")
    print(json.dumps(figures))
    if args.json:
        from bench_index import write_host_result

        record = write_host_result("reliability", {"cases": cases, "figures": figures}, save=False)
        args.json.write_text(json.dumps({**record, "python": sys.version.split()[0],
                                         "date": time.strftime("%Y-%m-%d")}, indent=1) + "\n")
    return 0 if all(c["as_expected"] and not c.get("payload_ran") for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
