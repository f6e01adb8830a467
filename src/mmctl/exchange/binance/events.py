"""The user data stream's raw events, routed: own orders to `UserStream`, settings to their caches.

Installed as the ccxt client's message hook, so it sees every WebSocket message raw (before ccxt turns
numbers into floats): `ORDER_TRADE_UPDATE` becomes an `Order` (and a `Fill` for an execution) delivered
through `UserStream.deliver`; `listenKeyExpired` makes the stream reconnect with a new listenKey;
`ACCOUNT_CONFIG_UPDATE` updates the leverage cache; `ALGO_UPDATE` (a conditional order's life) goes to
`on_algo` (`algo.AlgoOrders.on_event`) with the event time; anything else on the private stream only proves it
alive. Public-stream messages are ignored here (book tops come through `watch_bids_asks`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from mmctl.exchange.binance.convert import (
    ConversionError,
    SymbolOf,
    fill_from_event,
    order_from_event,
)
from mmctl.exchange.binance.streams import UserStream
from mmctl.exchange.binance.tracker import OrderTracker


class UserEvents:
    """Routes the private stream's raw messages (see the module docstring)."""

    def __init__(
        self,
        user: UserStream,
        tracker: OrderTracker,
        symbol_of: SymbolOf,
        leverages: dict[str, int],
        on_algo: Callable[[Mapping[str, Any], Any], None] | None = None,
    ) -> None:
        self.user = user
        self.on_algo = on_algo
        self.tracker = tracker
        self.symbol_of = symbol_of
        self.leverages = leverages
        self.malformed = 0

    def __call__(self, url: str, message: Any) -> None:
        if "/private" not in url or not isinstance(message, Mapping):
            return
        event = message.get("e")
        if event == "ORDER_TRADE_UPDATE" and isinstance(message.get("o"), Mapping):
            self._order(message["o"])
        elif event == "ALGO_UPDATE" and isinstance(message.get("o"), Mapping):
            self.user.touch()
            if self.on_algo is not None:
                self.on_algo(message["o"], message.get("T") or message.get("E"))
        elif event == "listenKeyExpired":
            self.user.expired()
        else:
            self.user.touch()
            if event == "ACCOUNT_CONFIG_UPDATE" and isinstance(message.get("ac"), Mapping):
                ac = message["ac"]
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.leverages[self.symbol_of(str(ac["s"]))] = int(ac["l"])

    def _order(self, o: Mapping[str, Any]) -> None:
        known = self.tracker.known(str(o.get("c")))
        created = known.created_ms if known is not None and known.id == str(o.get("i")) else None
        try:
            order = order_from_event(o, self.symbol_of, created)
            fill = fill_from_event(o, self.symbol_of)
        except ConversionError:
            self.malformed += 1  # its state is recovered by the next reconciliation
            self.user.touch()
            return
        self.user.deliver(order, fill)
