"""The daemon's JSON-RPC 2.0 server on an already bound Unix socket.

One JSON message per line, at most 1 MiB; single requests, batches and notifications; several requests
per connection, answered in order. Whatever a client sends costs at most its own connection:
- undecodable bytes get a parse error; an oversized line gets an error and the connection closed;
- a batch longer than `max_batch` calls is refused (-32600), and a reply larger than `max_reply_bytes`
  is replaced by an error, so one request cannot make the daemon build a huge answer;
- the server yields to the event loop after every request, so one connection's pipelined work never
  holds up the bots; a request's reading, handling and answer run in its connection's task (deadlines
  by `asyncio.timeout`, not `wait_for`, which in Python 3.11 runs the awaited work as a task of its own):
  a reply that needs no waiting leaves in the loop turn after its request arrived, however many bots
  the loop is running at the time;
- a connection must send its first complete request within `first_request_timeout_s` (then it may idle
  for `idle_timeout_s`);
- connections are admitted per peer uid (`SO_PEERCRED`): at most `max_connections` in all and
  `max_connections_per_uid` for one user, and `reserved_connections` more for root and the daemon's own
  user, so idle clients can never lock the operator out.
Each request runs with `current_peer` set to its caller (pid, uid, gid) for handlers that want it.
`close()` stops accepting, lets in-flight requests finish, then drops the remaining connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections import Counter
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

import structlog

from mmctl.errors import MmctlError, ShuttingDown, Timeout
from mmctl.paths import Peer, peer_of
from mmctl.rpc.protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    JSONRPC,
    MAX_MESSAGE_BYTES,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    dumps,
    encode,
    error_response,
    result_response,
)
from mmctl.rpc.registry import MethodTable

log = structlog.get_logger("mmctl.rpc")

SERVER_BUSY = -32000
MAX_BATCH = 100
_YIELD_EVERY = 16  # batch replies encoded between two yields to the event loop


current_peer: ContextVar[Peer | None] = ContextVar("mmctl_rpc_peer", default=None)
"""The caller of the request being handled (None outside a request, or where the OS does not say)."""


class RpcServer:
    def __init__(
        self,
        table: MethodTable,
        *,
        max_connections: int = 64,
        max_connections_per_uid: int = 16,
        reserved_connections: int = 8,
        privileged_uids: Collection[int] | None = None,
        first_request_timeout_s: float = 5.0,
        idle_timeout_s: float = 300.0,
        request_timeout_s: float = 30.0,
        max_batch: int = MAX_BATCH,
        max_reply_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.table = table
        self.max_connections = max_connections
        self.max_connections_per_uid = max_connections_per_uid
        self.reserved_connections = reserved_connections
        self.privileged_uids = frozenset({0, os.geteuid()} if privileged_uids is None else privileged_uids)
        self.first_request_timeout_s = first_request_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.request_timeout_s = request_timeout_s
        self.max_batch = max_batch
        self.max_reply_bytes = max_reply_bytes
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._per_uid: Counter[int | None] = Counter()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.refused = 0  # connections turned away since start (caps reached, or shutting down)

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

    # --- connections ---------------------------------------------------------------------------------

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = peer_of(writer.get_extra_info("socket"))
        uid = peer.uid if peer is not None else None
        refusal = self._refusal(uid)
        if refusal is not None:
            self.refused += 1
            await self._reject(writer, refusal)
            return
        self._writers.add(writer)
        self._per_uid[uid] += 1
        current_peer.set(peer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            self._per_uid[uid] -= 1
            if self._per_uid[uid] <= 0:
                del self._per_uid[uid]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _refusal(self, uid: int | None) -> str | None:
        """Why a new connection from `uid` is turned away, or None to admit it."""
        if self._closing:
            return "daemon is shutting down"
        total = len(self._writers)
        if uid is not None and uid in self.privileged_uids:
            if total >= self.max_connections + self.reserved_connections:
                return "too many connections, try again"
            return None
        if total >= self.max_connections:
            return "too many connections, try again"
        if self._per_uid[uid] >= self.max_connections_per_uid:
            who = f"uid {uid}" if uid is not None else "this user"
            return (
                f"too many connections from {who} (at most {self.max_connections_per_uid}); "
                "close some and try again"
            )
        return None

    async def _reject(self, writer: asyncio.StreamWriter, reason: str) -> None:
        with contextlib.suppress(Exception):
            writer.write(encode(error_response(None, SERVER_BUSY, reason)))
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # until its first complete request, a connection gets a short deadline (from connect, so
        # blank lines or a trickle of bytes do not extend it)
        first_deadline: float | None = loop.time() + min(self.first_request_timeout_s, self.idle_timeout_s)
        while not self._closing:
            await asyncio.sleep(0)  # one connection's pipelined requests never hold the loop
            if first_deadline is None:
                timeout = self.idle_timeout_s
            else:
                timeout = max(0.0, first_deadline - loop.time())
            try:
                async with asyncio.timeout(timeout):  # no task of its own (wait_for's costs loop turns)
                    line = await reader.readuntil(b"\n")
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
            first_deadline = None
            self._begin()
            try:
                reply = await self.handle_message(line)
            finally:
                self._end()
            if reply is not None:
                writer.write(await self.encode_reply(reply))
                async with asyncio.timeout(self.idle_timeout_s):  # a client that never reads
                    await writer.drain()

    def _begin(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    # --- replies ---------------------------------------------------------------------------------------

    async def encode_reply(self, reply: dict[str, Any] | list[dict[str, Any]]) -> bytes:
        """One reply line, never over `max_reply_bytes`: a response too large becomes an error response."""
        if isinstance(reply, dict):
            data = self._encode_one(reply)
            if len(data) + 1 > self.max_reply_bytes:
                data = self._too_large(reply, len(data) + 1)
            return data + b"\n"
        parts: list[bytes] = []
        size = 3  # "[", "]" and the newline
        for i, item in enumerate(reply):
            data = self._encode_one(item)
            if size + len(data) + 1 > self.max_reply_bytes:
                data = self._too_large(item, len(data) + 1)
            parts.append(data)
            size += len(data) + 1
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
        return b"[" + b",".join(parts) + b"]\n"

    @staticmethod
    def _encode_one(reply: dict[str, Any]) -> bytes:
        try:
            return dumps(reply).encode("utf-8")
        except (TypeError, ValueError):
            log.exception("rpc_encode_failed")
            return dumps(
                error_response(reply.get("id"), INTERNAL_ERROR, "internal error: unencodable result")
            ).encode("utf-8")

    def _too_large(self, reply: dict[str, Any], size: int) -> bytes:
        msg = (
            f"the reply ({size} bytes) would exceed the {self.max_reply_bytes}-byte limit of one message; "
            "ask for less (fewer calls in the batch, a narrower filter or time range)"
        )
        data = {"reply_bytes": size, "limit_bytes": self.max_reply_bytes}
        return dumps(error_response(reply.get("id"), INTERNAL_ERROR, msg, data)).encode("utf-8")

    # --- requests --------------------------------------------------------------------------------------

    async def handle_message(self, raw: bytes) -> Any:
        """Answer one line: a response, a list of responses (batch), or None (notifications only)."""
        try:
            msg = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return error_response(None, PARSE_ERROR, "parse error: not valid UTF-8 JSON")
        if isinstance(msg, list):
            if not msg:
                return error_response(None, INVALID_REQUEST, "invalid request: empty batch")
            if len(msg) > self.max_batch:
                text = (
                    f"invalid request: a batch of {len(msg)} calls exceeds the limit of {self.max_batch}; "
                    "send it as several batches"
                )
                return error_response(None, INVALID_REQUEST, text, {"limit": self.max_batch})
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
            timeout_s = max(self.request_timeout_s, method.min_timeout_s)
            async with asyncio.timeout(timeout_s):  # the handler runs in this task: no loop turn of its own
                result = await method.handler(**kwargs)
        except MmctlError as e:
            return error_response(req_id, e.code, e.message, e.data or None)
        except TimeoutError:
            msg = f"{name} did not finish within {max(self.request_timeout_s, method.min_timeout_s):g} s"
            return error_response(req_id, Timeout.code, msg)
        except Exception:
            log.exception("rpc_method_failed", method=name)
            return error_response(req_id, INTERNAL_ERROR, f"internal error in {name} (see the daemon log)")
        return result_response(req_id, result)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))
