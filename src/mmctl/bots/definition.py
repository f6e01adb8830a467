"""A bot's definition: its name, account, symbol, strategy and validated parameters.

Serialized as a flat, TOML/JSON-safe dict that `from_dict` reads back with full validation, so a
definition file edited by hand is checked like `mmctl create` input. Two forms: `to_dict` is the stored
form (the creation time as epoch milliseconds, `created_ms`), `to_document` the exported one (`mmctl
export`, ISO 8601 UTC `created`); `from_dict` reads either key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mmctl.bots.ids import validate_bot_name
from mmctl.errors import ValidationError
from mmctl.rpc.protocol import DefinitionDoc
from mmctl.strategies import get_strategy
from mmctl.strategies.params import StrategyParams, params_to_dict, parse_params
from mmctl.timefmt import iso_utc, parse_iso_utc

FORMAT_VERSION = 1
KNOWN_KEYS = frozenset(
    {"version", "name", "account", "symbol", "strategy", "created", "created_ms", "params"}
)


@dataclass(frozen=True, slots=True)
class BotDefinition:
    name: str
    account: str
    symbol: str  # unified form
    strategy: str
    params: StrategyParams
    created_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The stored form (the daemon's definition store): `created_ms` in epoch milliseconds."""
        return {
            "version": FORMAT_VERSION,
            "name": self.name,
            "account": self.account,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "created_ms": self.created_ms,
            "params": params_to_dict(self.params),
        }

    def to_document(self) -> DefinitionDoc:
        """The exported form (`bot.export`, `mmctl export`): `created` as ISO 8601 UTC."""
        return {
            "version": FORMAT_VERSION,
            "name": self.name,
            "account": self.account,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "created": iso_utc(self.created_ms),
            "params": params_to_dict(self.params),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BotDefinition:
        """Validate a stored or imported definition."""
        for key in raw:
            if key not in KNOWN_KEYS:
                raise ValidationError(
                    f"unknown key {key!r} in bot definition (known: {', '.join(sorted(KNOWN_KEYS))})",
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
        created = _created_ms(raw)
        return cls(
            name=name,
            account=raw["account"],
            symbol=raw["symbol"],
            strategy=raw["strategy"],
            params=parse_params(strategy.params_cls, params),
            created_ms=created,
        )


def _created_ms(raw: dict[str, Any]) -> int:
    """The creation time from `created` (ISO 8601 with an offset, as exported) or the older
    `created_ms` (epoch milliseconds, as stored and as exported before ISO times); 0 when absent."""
    if "created" in raw and "created_ms" in raw:
        raise ValidationError("give created or created_ms, not both", data={"field": "created"})
    if "created" in raw:
        text = raw["created"]
        if isinstance(text, datetime):  # an unquoted TOML date-time
            text = text.isoformat()
        try:
            if not isinstance(text, str):
                raise ValueError(f"expected a string, got {type(text).__name__}")
            return parse_iso_utc(text)
        except (ValueError, OverflowError) as e:
            raise ValidationError(
                f"created must be an ISO 8601 UTC time like 2026-12-01T05:59:01.123Z: {e}",
                data={"field": "created"},
            ) from e
    created = raw.get("created_ms", 0)
    if not isinstance(created, int) or isinstance(created, bool):
        raise ValidationError("created_ms must be an integer", data={"field": "created_ms"})
    return created
