"""Fixtures for the Binance adapter tests: an asyncio runner for `async def` tests and the contract venue.

`open_venue` gives the Binance harness (the adapter through real ccxt against `tests.fakebinance` on
127.0.0.1), so the `Exchange` contract suite imported into `test_contract.py` runs against it.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from .harness import VenueFactory, binance_venue


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


@pytest.fixture
def open_venue() -> VenueFactory:
    """Fresh Binance venues: a fake server and an adapter opened on it."""
    return binance_venue
