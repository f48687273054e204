"""Bounds on what one client can hold of the service: body size, body time and header time.

* :class:`BodyLimitMiddleware` (ASGI) reads each request body before the app sees it: a declared or streamed body
  over ``max_body_bytes`` is answered 413 at once, a body not complete within ``body_timeout`` seconds 408, both
  closing the connection. The bodies this service accepts are small JSON lists, so buffering them costs nothing.
* :class:`BoundedH11Protocol` (uvicorn's h11 protocol) closes a connection whose request line and headers have
  not arrived ``$HASHGNN_SERVE_HEADER_TIMEOUT`` seconds after it opened or after its previous response, so a
  slow or silent client (slowloris) cannot keep a connection forever; uvicorn's own keep-alive timeout only
  runs between requests and stops at the first byte. It also aborts a connection whose client leaves a
  response unread for ``$HASHGNN_SERVE_SEND_TIMEOUT`` seconds (the transport's buffer stays over its high-water
  mark): a graceful close waits for that buffer to drain, which a client that never reads never allows, so the
  socket and the buffered answer would otherwise be held for ever.
* Header *size* is bounded by h11 (uvicorn's ``h11_max_incomplete_event_size``, 16 KiB): a request line and
  header block still incomplete past it is answered 400 and the connection closed (a whole block arriving in one
  socket read, at most 256 KiB, is parsed).
* ``DEFAULT_MAX_BATCH_USERS`` bounds the users of one ``POST /recommendations/batch`` and the users / items of
  one ``POST /users`` / ``POST /items`` (``--max-batch-users``): the work and the answer of one request grow with
  it, and a 1 MiB body of short ids could otherwise ask for ~100,000 rankings at once.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_BODY_TIMEOUT = 10.0
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_SEND_TIMEOUT = 30.0
DEFAULT_MAX_BATCH_USERS = 1000
HEADER_TIMEOUT_ENV = "HASHGNN_SERVE_HEADER_TIMEOUT"
SEND_TIMEOUT_ENV = "HASHGNN_SERVE_SEND_TIMEOUT"

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _TooLarge(Exception):
    pass


async def _error(send: Send, status: int, kind: str, detail: str) -> None:
    body = json.dumps({"error": kind, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Reject request bodies over ``max_body_bytes`` (413) or slower than ``body_timeout`` seconds (408)."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 body_timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
        self.app = app
        self.max_body_bytes = int(max_body_bytes)
        self.body_timeout = float(body_timeout)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.body_timeout)
        except _TooLarge:
            await self._too_large(send)
            return
        except asyncio.TimeoutError:  # TimeoutError on 3.11+, of which this is an alias
            await _error(send, 408, "timeout", f"the request body did not arrive within {self.body_timeout:g} s")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""  # the client left; the app will see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _error(send, 413, "payload_too_large", f"request body over {self.max_body_bytes} bytes")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the client's own messages (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers take over ``header_timeout`` s and
    aborting those whose client leaves a response unread for ``send_timeout`` s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # read here, not passed in: uvicorn builds the protocol itself, in every worker process
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT))
        self.send_timeout = float(os.environ.get(SEND_TIMEOUT_ENV, DEFAULT_SEND_TIMEOUT))
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_send_timer()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The transport's buffer went over its high-water mark: the client has that long to read it."""
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.send_timeout, self._response_unread)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_send_timer()

    def _watch_headers(self) -> None:
        """Armed while the peer owes us a request line and headers; disarmed once they are in."""
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        elif not waiting:
            self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.get_write_buffer_size():
            self.transport.abort()  # close() would wait for a client that does not read
        elif not self.transport.is_closing():
            self.transport.close()

    def _response_unread(self) -> None:
        self._send_timer = None
        self.transport.abort()
