"""Top of book survives a failing or silently dead WebSocket: REST fills in, and nothing goes backwards."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mmctl.clock import SystemClock
from mmctl.errors import TransientError
from mmctl.exchange.binance.streams import BookStreams

from .harness import DEADLINE_S, eventually

BTC = "BTC/USDT:USDT"


def ticker(update_id: int, bid: str) -> dict[str, Any]:
    ask = str(Decimal(bid) + Decimal("0.1"))
    return {"u": update_id, "s": "BTCUSDT", "b": bid, "B": "1", "a": ask, "A": "1", "T": update_id}


class ScriptedSource:
    """A book source whose WebSocket yields what the test queues (an exception fails the stream) and whose
    REST answer is whatever the test sets."""

    def __init__(self, rest: dict[str, Any]) -> None:
        self.stream: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()
        self.rest = rest
        self.resets: list[str] = []

    async def watch_book_ticker(self, symbol: str, last: Mapping[str, Any] | None) -> Mapping[str, Any]:
        item = await self.stream.get()
        if isinstance(item, Exception):
            raise item
        return item

    def reset_streams(self, kind: str, reason: str) -> int:
        self.resets.append(kind)
        return 1

    async def rest_ticker(self, symbol: str) -> Mapping[str, Any]:
        return self.rest


async def test_a_failing_stream_falls_back_to_rest_then_streams_again() -> None:
    """While the socket fails, REST tops are published; the socket's newer updates follow."""
    source = ScriptedSource(ticker(1, "100.0"))
    books = BookStreams(source, source.rest_ticker, SystemClock(), quiet_s=5.0)
    watch = books.watch(BTC)
    assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == Decimal("100.0")  # primed from REST
    source.rest = ticker(2, "101.0")
    source.stream.put_nowait(TransientError("socket closed"))
    assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == Decimal("101.0")
    assert books.states() == {BTC: "reconnecting"}
    source.stream.put_nowait(ticker(3, "102.0"))
    assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == Decimal("102.0")
    assert books.states() == {BTC: "streaming"}
    await books.close()


async def test_a_silent_stream_behind_rest_is_dropped_and_rest_published() -> None:
    """A socket quiet for quiet_s while REST knows a newer top: the top is published, the socket reset."""
    source = ScriptedSource(ticker(1, "100.0"))
    books = BookStreams(source, source.rest_ticker, SystemClock(), quiet_s=0.1)
    watch = books.watch(BTC)
    await asyncio.wait_for(anext(watch), DEADLINE_S)
    source.stream.put_nowait(ticker(2, "100.5"))
    assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == Decimal("100.5")
    source.rest = ticker(9, "103.0")
    assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == Decimal("103.0")
    await eventually(lambda: source.resets == ["public"], "the public stream to be reset")
    await books.close()


async def test_an_older_top_never_replaces_a_newer_one() -> None:
    """A REST answer with an older update id than the stream's last one is not published."""
    source = ScriptedSource(ticker(5, "100.0"))
    books = BookStreams(source, source.rest_ticker, SystemClock(), quiet_s=0.1)
    watch = books.watch(BTC)
    await asyncio.wait_for(anext(watch), DEADLINE_S)
    source.stream.put_nowait(ticker(7, "101.0"))
    await asyncio.wait_for(anext(watch), DEADLINE_S)
    source.rest = ticker(6, "99.0")
    source.stream.put_nowait(TransientError("socket closed"))
    await eventually(lambda: books.states() == {BTC: "reconnecting"}, "the stream failure")
    assert books.latest(BTC) is not None
    assert books.latest(BTC).bid == Decimal("101.0")  # type: ignore[union-attr]
    assert books.age_s() is not None
    await books.close()
