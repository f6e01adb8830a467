"""Running a `FakeBinance` from this repo's plain sync tests (no pytest-asyncio).

In a test that runs its own loop:

    def test_something() -> None:
        async def body() -> None:
            async with running_fake() as fake:
                exchange = ccxt_client(fake)
                ...
        asyncio.run(body())

For a test that runs the daemon in a subprocess, host the fake on a background thread; every control
and inspection method of the yielded `FakeBinance` is thread-safe (it runs on the fake's loop):

    def test_daemon(...) -> None:
        with fake_in_thread() as fake:
            start the daemon with rest_url = fake.rest_url, ws_url = fake.ws_url
            fake.set_book("BTCUSDT", bid=Decimal("90000.0"), ask=Decimal("90000.1"))
            wait_until(lambda: len(fake.open_orders()) == 6)

or take the `fake_binance_thread` pytest fixture (import it into the test module or a conftest).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from .server import FakeBinance


@asynccontextmanager
async def running_fake(**kwargs: Any) -> AsyncIterator[FakeBinance]:
    """A started `FakeBinance(**kwargs)` on the current loop, stopped on exit."""
    fake = FakeBinance(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@contextmanager
def fake_in_thread(**kwargs: Any) -> Iterator[FakeBinance]:
    """A started `FakeBinance(**kwargs)` on its own loop in a background thread, stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fakebinance", daemon=True)
    thread.start()
    fake = FakeBinance(**kwargs)
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=30)
        try:
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


@pytest.fixture
def fake_binance_thread() -> Iterator[FakeBinance]:
    """A `FakeBinance` with the default account ("k"/"s") served from a background thread."""
    with fake_in_thread() as fake:
        yield fake
