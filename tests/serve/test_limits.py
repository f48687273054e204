"""Issue 34, points 3-5 on the service: bounded bodies and slow clients, huge ids, and 5xx for server faults.

The header and send timeouts are properties of the connection, so they are tested on a real uvicorn server (in a
thread, on a tiny ASGI app); everything else through the FastAPI app of the session's run.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from hashgnn.errors import ArtifactError
from hashgnn.serve import InvalidRequestError, lookup_index
from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, SEND_TIMEOUT_ENV, BodyLimitMiddleware, BoundedH11Protocol

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# -- huge ids (int() refuses over 4,300 digits) -----------------------------------------------------------------
@pytest.mark.parametrize("raw", ["9" * 5000, "-" + "9" * 5000, "0" * 5000 + "7", 10**5000],
                         ids=["digits", "negative", "leading-zeros", "python-int"])
def test_lookup_of_a_huge_integer_id_is_unknown_not_an_error(raw):
    ids = np.array([3, 7, 10], dtype=np.int64)
    expected = 1 if raw == "0" * 5000 + "7" else None
    assert lookup_index(ids, raw) == expected
    assert lookup_index(np.array(["a", "b"]), raw) is None
    assert lookup_index(np.array([0.5, 1.5]), raw) is None


def test_http_huge_ids_are_404_or_422_never_500(client):
    assert client.get(f"/items/{'9' * 5000}/similar").status_code == 404
    assert client.get(f"/users/{'9' * 5000}/recommendations").status_code == 404
    raw = '{"items": [' + "9" * 5000 + "]}"
    resp = client.post("/recommendations", content=raw, headers={"content-type": "application/json"})
    assert 400 <= resp.status_code < 500, resp.text


# -- body size --------------------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413(service):
    from fastapi.testclient import TestClient

    from hashgnn.serve import create_app

    c = TestClient(create_app(service=service, max_body_bytes=1000))
    big = '{"items": [' + ",".join(["1000"] * 2000) + "]}"
    resp = c.post("/recommendations", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"] == "payload_too_large"
    chunks = iter([big[:600].encode(), big[600:].encode()])  # streamed: no content-length to check up front
    resp = c.post("/recommendations", content=chunks, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert c.post("/recommendations", json={"items": [1000], "k": 3}).status_code in (200, 404)


def test_a_slow_body_is_408():
    async def app(scope, receive, send):  # pragma: no cover - never reached
        raise AssertionError("the app must not see a body that never completed")

    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"10")]}
    started = time.perf_counter()
    asyncio.run(BodyLimitMiddleware(app, 1000, body_timeout=0.2)(scope, receive, send))
    assert time.perf_counter() - started < 5
    assert sent[0]["status"] == 408


# -- slow clients: headers (slowloris), unread responses, idle connections ---------------------------------------
BIG = 16 << 20  # a response far over the socket buffers: its client must read it for the server to send it all


@pytest.fixture
def bounded_server(monkeypatch) -> Iterator[Callable[..., tuple[int, Any]]]:
    """Start a uvicorn server with :class:`BoundedH11Protocol` and the given limits on a free port: ``start(
    header_timeout, send_timeout, keep_alive)`` → ``(port, server)``; ``GET /big`` answers :data:`BIG` bytes."""
    import uvicorn

    big = b"x" * BIG

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = big if scope["path"] == "/big" else b"ok"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(header_timeout: float = 0.3, send_timeout: float = 30.0, keep_alive: int = 30) -> tuple[int, Any]:
        monkeypatch.setenv(HEADER_TIMEOUT_ENV, str(header_timeout))
        monkeypatch.setenv(SEND_TIMEOUT_ENV, str(send_timeout))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=BoundedH11Protocol,
                                              log_level="error", lifespan="off", timeout_keep_alive=keep_alive))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.time() + 60
        while not server.started:
            assert time.time() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.05)
        return port, server

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def tiny_server(bounded_server) -> int:
    """A server whose header timeout is 0.3 s (keep-alive 30 s, send timeout 30 s)."""
    return bounded_server()[0]


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _open_connections(server: Any) -> int:
    return len(server.server_state.connections)


def _wait_for_no_connections(server: Any, seconds: float) -> float | None:
    """Seconds until the server holds no connection, or None if it still holds one after ``seconds``."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if _open_connections(server) == 0:
            return time.perf_counter() - started
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"])
def test_a_silent_or_slow_client_is_disconnected(tiny_server: int, sent: bytes):
    with socket.create_connection(("127.0.0.1", tiny_server)) as sock:
        sock.sendall(sent)
        assert _closed_within(sock, 10)


def test_headers_drip_fed_byte_by_byte_do_not_extend_the_deadline(bounded_server):
    """The header timeout runs from the connection's start, not from the last byte: a client sending one
    byte every 50 ms (it would take 100 s to finish) is cut off after about the header timeout."""
    port, _ = bounded_server(header_timeout=0.5)
    drip = b"GET /" + b"a" * 2000
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        with pytest.raises(OSError):  # EPIPE / ECONNRESET once the server has closed the connection
            for byte in drip:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        assert time.perf_counter() - started < 20  # 0.5 s, with room for a loaded machine
        assert _closed_within(sock, 10)


def test_a_client_that_never_reads_its_response_is_dropped(bounded_server):
    """A slow-reading client: the 16 MiB answer stays in the server's buffer, which a graceful close would wait
    on for ever; after the send timeout the connection is aborted and the buffer freed. (The header timeout and
    the keep-alive are 30 s here, so only the send timeout can act.)"""
    port, server = bounded_server(header_timeout=30, send_timeout=0.5, keep_alive=30)
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.time() + 30
        while _open_connections(server) == 0:  # the server accepts the connection, then writes the answer
            assert time.time() < deadline
            time.sleep(0.02)
        waited = _wait_for_no_connections(server, 20)  # 0.5 s, with room for a loaded machine
        assert waited is not None, "the server still holds the connection of a client that does not read"
        received = 0
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(1 << 16):
                received += len(chunk)
            raise ConnectionResetError  # a clean end of stream would be a whole answer: it must not be
        assert received < BIG
    finally:
        sock.close()


def test_a_prompt_client_that_reads_a_large_response_gets_all_of_it(bounded_server):
    port, _ = bounded_server(send_timeout=5)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(30)
        data = bytearray()
        while chunk := sock.recv(1 << 20):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"x" * 100)
    assert len(data) - data.index(b"\r\n\r\n") - 4 == BIG


def test_many_idle_connections_are_all_closed_and_the_server_keeps_answering(bounded_server):
    """The issue held 2,000 sockets open; here 300 connections that send nothing all go after the header
    timeout, while a prompt client is served meanwhile."""
    port, server = bounded_server(header_timeout=0.5)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        assert _wait_for_no_connections(server, 30) is not None
        assert all(_closed_within(s, 5) for s in idle)
    finally:
        for s in idle:
            s.close()


def test_oversized_headers_are_refused(tiny_server: int):
    """h11 refuses a header block still incomplete past 16 KiB; one socket read (asyncio reads up to 256 KiB)
    may hold a whole larger one, so the test sends 1 MiB."""
    with socket.create_connection(("127.0.0.1", tiny_server)) as sock:
        with contextlib.suppress(OSError):  # the server may close before the whole header is sent
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        assert _closed_within(sock, 10)


def test_a_prompt_client_is_served_and_idle_keep_alive_is_bounded(tiny_server: int):
    with socket.create_connection(("127.0.0.1", tiny_server)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, 10)  # keep-alive is 30 s: the header timeout closes the idle connection


# -- server faults are 5xx, never 422 ------------------------------------------------------------------------------
@pytest.mark.parametrize("error,status", [(ArtifactError("codes_items.npy: corrupt"), 500),
                                          (RuntimeError("boom"), 500),
                                          (IndexError("index 99 is out of bounds"), 500),
                                          (InvalidRequestError("k too large"), 422)])
def test_faults_map_to_5xx_and_caller_errors_to_422(service, error: Exception, status: int):
    from fastapi.testclient import TestClient

    from hashgnn.serve import create_app

    broken = copy.copy(service)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    broken.recommend_user = fail
    c = TestClient(create_app(service=broken), raise_server_exceptions=False)
    resp = c.get("/users/u1/recommendations")
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == ("invalid_request" if status == 422 else "internal_error")
