"""Fixtures for the exchange tests: an asyncio runner for `async def` tests and the contract venues.

`open_venue` is parametrized over every `Exchange` implementation that has a test harness (only the paper
exchange for now; the ccxt adapter against a fake Binance server joins later). Tests call it as an async
context manager, optionally with a starting balance: `async with open_venue() as v: ...`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from .harness import HARNESSES, VenueFactory


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no plugin needed)."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = inspect.signature(func).parameters
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(func(**kwargs))
    return True


@pytest.fixture(params=sorted(HARNESSES))
def open_venue(request: pytest.FixtureRequest) -> VenueFactory:
    """A factory of fresh venues of one implementation (see harness.py)."""
    return HARNESSES[request.param]
