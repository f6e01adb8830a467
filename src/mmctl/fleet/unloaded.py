"""Stored bot definitions the daemon could not load, and how `list` shows them.

A definition is not loaded when its account is unavailable (no keys, a bad config section) or when the
definition itself cannot be read: its strategy is unknown or its plugin is broken, a parameter is out of
range for the strategy as installed now, the file is damaged. Such a bot is never silently dropped: it is
listed in `error` with the reason, `status NAME` and every command on it say why, and `remove NAME`
deletes it. It holds no orders of this daemon (it never started here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmctl.bots.definition import BotDefinition
from mmctl.bots.state import BotState


@dataclass(frozen=True, slots=True)
class Unloaded:
    """A definition that was not loaded, with why. `account`, `symbol` and `strategy` are as stored
    ("?" when the stored definition does not say)."""

    name: str
    account: str
    symbol: str
    strategy: str
    reason: str

    @classmethod
    def of(cls, definition: BotDefinition, reason: str) -> Unloaded:
        return cls(definition.name, definition.account, definition.symbol, definition.strategy, reason)

    @classmethod
    def from_raw(cls, name: str, raw: Mapping[str, Any], reason: str) -> Unloaded:
        """From the stored text of a definition that could not be read (what it says, as far as it can)."""

        def text(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) and value else "?"

        return cls(name, text("account"), text("symbol"), text("strategy"), reason)

    def row(self) -> dict[str, Any]:
        """Its `list` row: in error with the reason, no figures."""
        return {
            "name": self.name,
            "state": BotState.ERROR.value,
            "account": self.account,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "mid": None,
            "position": "0",
            "unrealized_pnl": "0",
            "realized_pnl": "0",
            "open_orders": 0,
            "last_error": self.reason,
        }
