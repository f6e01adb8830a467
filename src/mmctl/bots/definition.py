"""A bot's definition: its name, account, symbol, strategy and validated parameters.

Serialized as a flat, TOML/JSON-safe dict (`to_dict`) that `from_dict` reads back with full validation,
so a definition file edited by hand is checked like `mmctl create` input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmctl.bots.ids import validate_bot_name
from mmctl.errors import ValidationError
from mmctl.strategies import get_strategy
from mmctl.strategies.params import StrategyParams, params_to_dict, parse_params

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class BotDefinition:
    name: str
    account: str
    symbol: str  # unified form
    strategy: str
    params: StrategyParams
    created_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "name": self.name,
            "account": self.account,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "created_ms": self.created_ms,
            "params": params_to_dict(self.params),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BotDefinition:
        """Validate a stored or imported definition."""
        known = {"version", "name", "account", "symbol", "strategy", "created_ms", "params"}
        for key in raw:
            if key not in known:
                raise ValidationError(
                    f"unknown key {key!r} in bot definition (known: {', '.join(sorted(known))})",
                    data={"field": key},
                )
        name = validate_bot_name(raw.get("name"))
        for key in ("account", "symbol", "strategy"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ValidationError(f"bot definition needs a {key}", data={"field": key})
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise ValidationError("params must be a table of key = value", data={"field": "params"})
        strategy = get_strategy(raw["strategy"])
        created = raw.get("created_ms", 0)
        if not isinstance(created, int) or isinstance(created, bool):
            raise ValidationError("created_ms must be an integer", data={"field": "created_ms"})
        return cls(
            name=name,
            account=raw["account"],
            symbol=raw["symbol"],
            strategy=raw["strategy"],
            params=parse_params(strategy.params_cls, params),
            created_ms=created,
        )
