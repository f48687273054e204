"""Issue 34, points 3-5 on the service: bounded bodies and slow clients, huge ids, and 5xx for server faults.

The header timeout is a property of the connection, so it is tested on a real uvicorn server (in a thread, on a
tiny ASGI app); everything else through the FastAPI app of the session's run.
"""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from hashgnn.errors import ArtifactError
from hashgnn.serve import InvalidRequestError, lookup_index
from hashgnn.serve.limits import HEADER_TIMEOUT_ENV, BodyLimitMiddleware, BoundedH11Protocol

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


# -- slow headers (slowloris) ------------------------------------------------------------------------------------
@pytest.fixture
def tiny_server(monkeypatch) -> Iterator[int]:
    """A uvicorn server with :class:`BoundedH11Protocol` (header timeout 0.3 s) on a free port."""
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    monkeypatch.setenv(HEADER_TIMEOUT_ENV, "0.3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=BoundedH11Protocol,
                                          log_level="error", lifespan="off", timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=30)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"])
def test_a_silent_or_slow_client_is_disconnected(tiny_server: int, sent: bytes):
    with socket.create_connection(("127.0.0.1", tiny_server)) as sock:
        sock.sendall(sent)
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
