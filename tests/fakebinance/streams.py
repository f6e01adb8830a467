"""WebSocket side of the fake: market streams (`<symbol>@bookTicker`, `<symbol>@aggTrade`) and user data
streams by listenKey.

Any URL path is accepted, so both Binance's own shapes and the ones ccxt 4.5.90 builds work:
- market: `/public/ws/0`, `/market/ws/1`, `/ws`, `/ws/btcusdt@bookTicker`, `/stream?streams=a/b` (the
  last wraps payloads as `{"stream", "data"}`), with SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS
  messages answered `{"result": null, "id": n}`; a stream the fake does not serve is answered with
  `{"error": {"code": 2, ...}}`. After a bookTicker subscription the current top of book is pushed at
  once; aggTrade streams carry the fake's `trade` calls.
- user data: `/private/ws?listenKey=KEY` (ccxt), `/ws/KEY`, `/private/ws/KEY`.
A listenKey lives 60 minutes unless kept alive; when it expires (or `expire`) the stream gets
`{"e": "listenKeyExpired", ...}` and no further events.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .errors import BinanceError

LISTEN_KEY_TTL_S = 3600.0
_KEY_CHARS = string.ascii_letters + string.digits


@dataclass(eq=False)
class Connection:
    """One WebSocket client."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    streams: set[str] = field(default_factory=set)
    combined: bool = False
    listen_key: str | None = None
    account_key: str | None = None


@dataclass(slots=True)
class _Key:
    account_key: str
    handle: asyncio.TimerHandle | None = None
    expired: bool = False


class StreamHub:
    """Every WebSocket connection, the listenKeys, and the fan-out of market and user events."""

    def __init__(self, symbols: Callable[[], list[str]], snapshot: Callable[[str], dict[str, Any]]) -> None:
        self._symbols = symbols
        self._snapshot = snapshot
        self.connections: set[Connection] = set()
        self.silenced = False
        self._keys: dict[str, _Key] = {}
        self.now_ms: Callable[[], int] = lambda: 0

    # --- listenKeys ----------------------------------------------------------------------------------

    def create_key(self, account_key: str) -> str:
        """POST listenKey: the account's active key (kept alive) or a new one."""
        for key, state in self._keys.items():
            if state.account_key == account_key and not state.expired:
                self._arm(key, state)
                return key
        key = "".join(secrets.choice(_KEY_CHARS) for _ in range(64))
        state = self._keys[key] = _Key(account_key)
        self._arm(key, state)
        return key

    def keepalive(self, account_key: str) -> str:
        """PUT listenKey: extend the active key (-1125 when the account has none)."""
        for key, state in self._keys.items():
            if state.account_key == account_key and not state.expired:
                self._arm(key, state)
                return key
        raise BinanceError(-1125)

    def delete_key(self, account_key: str) -> None:
        """DELETE listenKey: close the account's stream."""
        for key, state in list(self._keys.items()):
            if state.account_key == account_key and not state.expired:
                self._expire(key, state, notify=False)
                for conn in [c for c in self.connections if c.listen_key == key]:
                    conn.queue.put_nowait(None)

    def expire(self, account_key: str | None) -> int:
        """Expire the active key of one account (or all): push listenKeyExpired. Returns how many."""
        count = 0
        for key, state in list(self._keys.items()):
            if not state.expired and account_key in (None, state.account_key):
                self._expire(key, state, notify=True)
                count += 1
        return count

    def active_key(self, account_key: str) -> str | None:
        """The account's live listenKey, if any."""
        for key, state in self._keys.items():
            if state.account_key == account_key and not state.expired:
                return key
        return None

    def _arm(self, key: str, state: _Key) -> None:
        if state.handle is not None:
            state.handle.cancel()
        loop = asyncio.get_running_loop()
        state.handle = loop.call_later(LISTEN_KEY_TTL_S, self._expire, key, state, True)

    def _expire(self, key: str, state: _Key, notify: bool) -> None:
        state.expired = True
        if state.handle is not None:
            state.handle.cancel()
        if notify:
            payload = {"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}
            for conn in self.connections:
                if conn.listen_key == key:
                    conn.queue.put_nowait(json.dumps(payload))

    # --- fan-out -------------------------------------------------------------------------------------

    def user_event(self, account_key: str, payload: dict[str, Any]) -> None:
        """Push a user-data event to the account's live streams (nothing while silenced)."""
        if self.silenced:
            return
        text = json.dumps(payload)
        for conn in self.connections:
            if conn.account_key != account_key or conn.listen_key is None:
                continue
            state = self._keys.get(conn.listen_key)
            if state is not None and not state.expired:
                conn.queue.put_nowait(text)

    def book_event(self, symbol: str, payload: dict[str, Any]) -> None:
        """Push a bookTicker update to subscribers of the symbol (or of `!bookTicker`)."""
        name = f"{symbol.lower()}@bookTicker"
        for conn in self.connections:
            if name in conn.streams or "!bookTicker" in conn.streams:
                stream = name if name in conn.streams else "!bookTicker"
                conn.queue.put_nowait(json.dumps(_wrap(conn, stream, payload)))

    def trade_event(self, symbol: str, payload: dict[str, Any]) -> None:
        """Push an aggTrade event to subscribers of `<symbol>@aggTrade`."""
        name = f"{symbol.lower()}@aggTrade"
        for conn in self.connections:
            if name in conn.streams:
                conn.queue.put_nowait(json.dumps(_wrap(conn, name, payload)))

    def drop_all(self) -> None:
        """Close every connection."""
        for conn in self.connections:
            conn.queue.put_nowait(None)

    # --- connections ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one WebSocket connection until either side closes it."""
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = Connection(ws)
        segments = [s for s in request.path.split("/") if s]
        listen_key = request.query.get("listenKey") or next((s for s in segments if s in self._keys), None)
        if listen_key is not None:
            state = self._keys.get(listen_key)
            if state is None or state.expired:
                await ws.close(code=4001, message=b"invalid listenKey")
                return ws
            conn.listen_key, conn.account_key = listen_key, state.account_key
        else:
            conn.combined = "stream" in segments
            initial = [s for seg in segments for s in seg.split("/") if "@" in s or s.startswith("!")]
            initial += [s for s in request.query.get("streams", "").split("/") if s]
            for stream in initial:
                if self._valid(stream):
                    conn.streams.add(_canonical(stream))
        self.connections.add(conn)
        writer = asyncio.create_task(self._write(conn))
        for stream in list(conn.streams):
            self._push_snapshot(conn, stream)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_message(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(conn)
            conn.queue.put_nowait(None)
            await writer
        return ws

    async def close(self) -> None:
        """Close every connection and cancel key timers (server shutdown)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")
        for state in self._keys.values():
            if state.handle is not None:
                state.handle.cancel()

    async def _write(self, conn: Connection) -> None:
        while True:
            text = await conn.queue.get()
            if text is None or conn.ws.closed:
                break
            try:
                await conn.ws.send_str(text)
            except ConnectionError:
                break
        if not conn.ws.closed:
            await conn.ws.close(code=1001, message=b"closed by the fake server")

    def _on_message(self, conn: Connection, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            conn.queue.put_nowait(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        method, req_id = msg.get("method"), msg.get("id")
        params = msg.get("params") or []
        if method == "SUBSCRIBE":
            bad = [s for s in params if not self._valid(str(s))]
            if bad:
                error = {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]}"}
                conn.queue.put_nowait(json.dumps({"error": error, "id": req_id}))
                return
            new = [_canonical(str(s)) for s in params]
            conn.streams.update(new)
            conn.queue.put_nowait(json.dumps({"result": None, "id": req_id}))
            for stream in new:
                self._push_snapshot(conn, stream)
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(_canonical(str(s)) for s in params)
            conn.queue.put_nowait(json.dumps({"result": None, "id": req_id}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.queue.put_nowait(json.dumps({"result": sorted(conn.streams), "id": req_id}))
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            conn.queue.put_nowait(json.dumps({"result": None, "id": req_id}))
        else:
            error = {"code": 1, "msg": f"Invalid request: unknown method {method!r}"}
            conn.queue.put_nowait(json.dumps({"error": error, "id": req_id}))

    def _valid(self, stream: str) -> bool:
        if _canonical(stream) == "!bookTicker":
            return True
        symbol, _, channel = stream.partition("@")
        return channel.lower() in ("bookticker", "aggtrade") and symbol.upper() in self._symbols()

    def _push_snapshot(self, conn: Connection, stream: str) -> None:
        if stream.endswith("@aggTrade"):
            return
        symbols = self._symbols() if stream == "!bookTicker" else [stream.partition("@")[0].upper()]
        for symbol in symbols:
            conn.queue.put_nowait(json.dumps(_wrap(conn, stream, self._snapshot(symbol))))


def _canonical(stream: str) -> str:
    if stream.lower() == "!bookticker":
        return "!bookTicker"
    symbol, _, channel = stream.partition("@")
    return f"{symbol.lower()}@{'aggTrade' if channel.lower() == 'aggtrade' else 'bookTicker'}"


def _wrap(conn: Connection, stream: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"stream": stream, "data": payload} if conn.combined else payload
