"""A local fake Binance USDⓈ-M futures server (REST + WebSocket on 127.0.0.1) that real ccxt talks to.

    from tests.fakebinance import FakeBinance, ccxt_client
    async with FakeBinance(api_key="k", api_secret="s") as fake:
        exchange = ccxt_client(fake)
        ...

Modules: `server` (FakeBinance: lifecycle, market control, inspection), `client` (ccxt_client and the URL
keys to replace), `fixture` (running_fake, fake_in_thread for sync tests), `faults` (fake.faults),
`ratelimit` (weights, fake.limits), `venue` / `trading` (matching and Binance's order rules), `rest*`
(endpoints), `streams` (WebSocket), `rawclient` (a signed raw HTTP client for tests without ccxt).
"""

from .accounts import IncomeRow, Position, TradeRow
from .client import ccxt_client, point_at, use_linear_error_table
from .errors import BinanceError
from .faults import FaultInjector
from .fixture import fake_in_thread, running_fake
from .markets import DEFAULT_SYMBOLS, SymbolSpec
from .orders import Order
from .ratelimit import Limits
from .rest import RequestRecord
from .server import BalanceView, FakeBinance

__all__ = [
    "DEFAULT_SYMBOLS",
    "BalanceView",
    "BinanceError",
    "FakeBinance",
    "FaultInjector",
    "IncomeRow",
    "Limits",
    "Order",
    "Position",
    "RequestRecord",
    "SymbolSpec",
    "TradeRow",
    "ccxt_client",
    "fake_in_thread",
    "point_at",
    "running_fake",
    "use_linear_error_table",
]
