"""The asyncio RPC client (tests, `mmctl demo`, tools); same checks and errors as `client.Client`."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from mmctl.errors import DaemonUnreachable, Timeout
from mmctl.rpc.client import check_version, denied, parse_reply, unreachable
from mmctl.rpc.protocol import MAX_MESSAGE_BYTES, encode, request


class AsyncClient:
    """asyncio JSON-RPC client over a Unix socket (tests, demo, tools)."""

    def __init__(self, path: Path | str, timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._reader = None

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self._writer is None:
            try:
                self._reader, self._writer = await asyncio.open_unix_connection(
                    self.path, limit=MAX_MESSAGE_BYTES * 64
                )
            except PermissionError:
                raise denied(self.path) from None
            except (FileNotFoundError, ConnectionRefusedError):
                raise unreachable(self.path) from None
            check_version(await self._roundtrip("daemon.version", None))
        return await self._roundtrip(method, params)

    async def _roundtrip(self, method: str, params: dict[str, Any] | None) -> Any:
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(encode(request(method, params, next(self._ids))))
        await self._writer.drain()
        try:
            line = await asyncio.wait_for(self._reader.readline(), self.timeout_s)
        except TimeoutError:
            raise Timeout(f"the daemon did not answer {method} within {self.timeout_s:g} s") from None
        if not line:
            raise DaemonUnreachable(f"the daemon on {self.path} closed the connection")
        return parse_reply(line)
