"""Fixtures for the store tests: an asyncio runner for `async def` tests, a database path in a temp dir,
and builders for the core values the store records."""

from __future__ import annotations

import asyncio
import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmctl.model import Fill, IncomeRow, IncomeType, Order, OrderRequest, OrderStatus, OrderType, Side

SYMBOL = "BTC/USDT:USDT"


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
def db(tmp_path: Path) -> Path:
    """Where a test's database lives (its directory does not exist yet: the store creates it)."""
    return tmp_path / "state" / "mmctl.sqlite"


def fill(
    trade_id: str = "T1",
    *,
    price: str = "37000.10",
    qty: str = "0.010",
    fee: str = "0.0074",
    realized_pnl: str = "0",
    ts_ms: int = 1_700_000_000_000,
    client_order_id: str = "mm.bot.b0.1",
    symbol: str = SYMBOL,
) -> Fill:
    return Fill(
        trade_id=trade_id,
        order_id="88001",
        client_order_id=client_order_id,
        symbol=symbol,
        side=Side.BUY,
        price=Decimal(price),
        qty=Decimal(qty),
        fee=Decimal(fee),
        fee_asset="USDT",
        maker=True,
        realized_pnl=Decimal(realized_pnl),
        ts_ms=ts_ms,
    )


def income(
    tran_id: str = "9001",
    kind: IncomeType = IncomeType.COMMISSION,
    amount: str = "-0.0074",
    ts_ms: int = 1_700_000_000_000,
) -> IncomeRow:
    return IncomeRow(
        id=tran_id, ts_ms=ts_ms, symbol=SYMBOL, type=kind, amount=Decimal(amount), asset="USDT", trade_id="T1"
    )


def request(client_order_id: str = "mm.bot.b0.1", price: str = "36999.9") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        qty=Decimal("0.010"),
        price=Decimal(price),
        client_order_id=client_order_id,
        post_only=True,
    )


def order(
    status: OrderStatus,
    client_order_id: str = "mm.bot.b0.1",
    filled: str = "0",
    updated_ms: int = 1_700_000_000_100,
) -> Order:
    return Order(
        id="88001",
        client_order_id=client_order_id,
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=Decimal("36999.9"),
        qty=Decimal("0.010"),
        filled=Decimal(filled),
        avg_price=Decimal("36999.9") if Decimal(filled) else None,
        status=status,
        post_only=True,
        reduce_only=False,
        created_ms=1_700_000_000_000,
        updated_ms=updated_ms,
    )
