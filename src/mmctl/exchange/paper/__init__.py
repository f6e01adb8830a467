"""The built-in paper exchange: a simulated Binance USDⓈ-M venue behind the `Exchange` port.

`PaperExchange` (async, the port) wraps `PaperVenue` (synchronous matching engine and account), fed by a
`MarketFeed`: `SyntheticFeed` (seeded random market) or `ReplayFeed` (Binance historical CSVs).
"""

from mmctl.exchange.paper.exchange import MAX_BATCH, PaperExchange
from mmctl.exchange.paper.feed import LiveFeed, MarketEvent, MarketFeed
from mmctl.exchange.paper.markets import BUILTIN_MARKETS, builtin_markets
from mmctl.exchange.paper.replay import ReplayFeed, ReplayFormatError
from mmctl.exchange.paper.synthetic import SyntheticFeed, SyntheticParams
from mmctl.exchange.paper.venue import PaperVenue

__all__ = [
    "BUILTIN_MARKETS",
    "MAX_BATCH",
    "LiveFeed",
    "MarketEvent",
    "MarketFeed",
    "PaperExchange",
    "PaperVenue",
    "ReplayFeed",
    "ReplayFormatError",
    "SyntheticFeed",
    "SyntheticParams",
    "builtin_markets",
]
