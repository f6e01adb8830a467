"""The daemon's JSON-RPC 2.0 server on an already bound Unix socket.

One JSON message per line, at most 1 MiB; single requests, batches and notifications; several requests
per connection, answered in order. Whatever a client sends costs at most its own connection: undecodable
bytes get a parse error, an oversized line gets an error and the connection closed, an idle client is
dropped after `idle_timeout_s`, and clients beyond `max_connections` are turned away at once.
`close()` stops accepting, lets in-flight requests finish, then drops the remaining connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import structlog

from mmctl.errors import MmctlError, ShuttingDown, Timeout
from mmctl.rpc.protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    JSONRPC,
    MAX_MESSAGE_BYTES,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    encode,
    error_response,
    result_response,
)
from mmctl.rpc.registry import MethodTable

log = structlog.get_logger("mmctl.rpc")

SERVER_BUSY = -32000


class RpcServer:
    def __init__(
        self,
        table: MethodTable,
        *,
        max_connections: int = 64,
        idle_timeout_s: float = 300.0,
        request_timeout_s: float = 30.0,
    ) -> None:
        self.table = table
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.request_timeout_s = request_timeout_s
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    @property
    def connections(self) -> int:
        return len(self._writers)

    async def start(self, sock: socket.socket) -> None:
        """Start serving on a bound Unix socket (listen happens here)."""
        self._server = await asyncio.start_unix_server(self._on_client, sock=sock, limit=MAX_MESSAGE_BYTES)

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, wait for in-flight requests (up to `timeout_s`), close every connection."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        for w in list(self._writers):
            w.transport.abort()  # a client that stops reading must not hold shutdown hostage
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(w.wait_closed(), 1.0)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._writers) >= self.max_connections or self._closing:
            await self._reject(writer)
            return
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _reject(self, writer: asyncio.StreamWriter) -> None:
        reason = "daemon is shutting down" if self._closing else "too many connections, try again"
        with contextlib.suppress(Exception):
            writer.write(encode(error_response(None, SERVER_BUSY, reason)))
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not self._closing:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.idle_timeout_s)
            except TimeoutError:
                return
            except asyncio.IncompleteReadError:
                return  # EOF, possibly mid-message: nothing to answer
            except asyncio.LimitOverrunError:
                msg = f"message larger than {MAX_MESSAGE_BYTES} bytes; connection closed"
                writer.write(encode(error_response(None, INVALID_REQUEST, msg)))
                await writer.drain()
                return
            if not line.strip():
                continue
            self._begin()
            try:
                reply = await self.handle_message(line)
            finally:
                self._end()
            if reply is not None:
                writer.write(self._encode(reply))
                await asyncio.wait_for(writer.drain(), self.idle_timeout_s)  # a client that never reads

    def _begin(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    @staticmethod
    def _encode(reply: Any) -> bytes:
        try:
            return encode(reply)
        except (TypeError, ValueError):
            log.exception("rpc_encode_failed")
            return encode(error_response(None, INTERNAL_ERROR, "internal error: unencodable result"))

    async def handle_message(self, raw: bytes) -> Any:
        """Answer one line: a response, a list of responses (batch), or None (notifications only)."""
        try:
            msg = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return error_response(None, PARSE_ERROR, "parse error: not valid UTF-8 JSON")
        if isinstance(msg, list):
            if not msg:
                return error_response(None, INVALID_REQUEST, "invalid request: empty batch")
            replies = await asyncio.gather(*(self.handle_one(m) for m in msg))
            out = [r for r in replies if r is not None]
            return out or None
        return await self.handle_one(msg)

    async def handle_one(self, msg: Any) -> dict[str, Any] | None:
        req_id = msg.get("id") if isinstance(msg, dict) else None
        if not _valid_id(req_id):
            req_id = None
        if (
            not isinstance(msg, dict)
            or msg.get("jsonrpc") != JSONRPC
            or not isinstance(msg.get("method"), str)
            or ("id" in msg and not _valid_id(msg["id"]))
        ):
            return error_response(req_id, INVALID_REQUEST, "invalid request: not a JSON-RPC 2.0 request")
        notification = "id" not in msg
        reply = await self._call(msg["method"], msg.get("params"), req_id)
        return None if notification else reply

    async def _call(self, name: str, params: Any, req_id: Any) -> dict[str, Any]:
        method = self.table.get(name)
        if method is None:
            return error_response(req_id, METHOD_NOT_FOUND, f"unknown method {name!r} (see daemon.methods)")
        try:
            if self._closing:
                raise ShuttingDown("the daemon is shutting down")
            kwargs = method.bind(params)
            result = await asyncio.wait_for(method.handler(**kwargs), self.request_timeout_s)
        except MmctlError as e:
            return error_response(req_id, e.code, e.message, e.data or None)
        except TimeoutError:
            msg = f"{name} did not finish within {self.request_timeout_s:g} s"
            return error_response(req_id, Timeout.code, msg)
        except Exception:
            log.exception("rpc_method_failed", method=name)
            return error_response(req_id, INTERNAL_ERROR, f"internal error in {name} (see the daemon log)")
        return result_response(req_id, result)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))
