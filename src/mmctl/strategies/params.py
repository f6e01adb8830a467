"""Strategy parameters: frozen dataclasses with defaults, bounds and docs, parsed from CLI or TOML values.

A strategy declares its parameters as a frozen dataclass deriving from `StrategyParams`, each field written
`name: T = field(default=..., metadata=spec("one-line doc", min=..., max=...))`. Instances are always valid:
bounds and cross-field rules are checked on construction, so `params.replace(...)` validates too.
`parse_params` accepts strings from `mmctl create --set spread_bps=5` as well as typed TOML/JSON values;
every error is a `ValidationError` that names the key and carries `data={'field': key}`.

Every numeric parameter is bounded above: by its own `max`, else by `CEILING`, so no value is large
enough to switch a guard off by accident (`max_loss=1e309`) or to overflow the quote math; a NaN or
infinite value is refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self, TypeVar

from mmctl.coerce import coerce
from mmctl.errors import ValidationError

JsonValue = str | int | bool
OnLoss = Literal["stop", "flatten"]  # what a loss or drawdown guard does when it trips
P = TypeVar("P", bound="StrategyParams")

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_BOOL_TEXT = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


CEILING = 10**12
"""Upper bound of a numeric parameter that declares no `max` of its own (sizes in base units)."""

MAX_LOSS = Decimal(10) ** 9
"""Upper bound of the loss guards, in quote currency: a larger limit is a typo, not a guard."""


UNIT_SUFFIXES = (("_bps", "bps"), ("_ms", "ms"), ("_s", "s"), ("_pct", "%"))
"""A parameter's unit when its `spec` names none: read from its name's suffix (`spread_bps` is in bps)."""


def spec(doc: str, *, min: Any = None, max: Any = None, unit: str | None = None) -> dict[str, Any]:
    """Field metadata for a parameter: its one-line doc, inclusive bounds (no `max` = `CEILING` for
    numbers) and unit (`base`, `quote`, `x`, ...; default: from the name's suffix, see `UNIT_SUFFIXES`)."""
    return {"doc": doc, "min": min, "max": max, "unit": unit}


def unit_of(name: str, declared: str | None) -> str:
    """The unit a parameter is shown with: the declared one, else its name's suffix, else ""."""
    if declared is not None:
        return declared
    return next((unit for suffix, unit in UNIT_SUFFIXES if name.endswith(suffix)), "")


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Parameters every quoting strategy shares: how the bot executes the quotes the strategy proposes."""

    strategy: ClassVar[str] = ""

    # 5 bps keeps a default bot near 1 re-quote per 20 s at 60 % annualized volatility: about 30 Binance
    # request weight per minute, so 40+ bots share one IP (bench/api_budget.py).
    refresh_tolerance_bps: Decimal = field(
        default=Decimal(5),
        metadata=spec(
            "leave a live order alone while its price is within this many bps of the desired price",
            min=Decimal(0),
            max=Decimal(1000),
        ),
    )
    max_order_age_s: int = field(
        default=300,
        metadata=spec("replace an order older than this even if its price is fine", min=1, max=86_400),
    )
    leverage: int = field(
        default=5,
        metadata=spec(
            "leverage set on the symbol at start (checked against its maximum)", min=1, max=125, unit="x"
        ),
    )
    quote_interval_ms: int = field(
        default=200, metadata=spec("the bot re-quotes at most this often", min=10, max=60_000)
    )

    # Risk guards (mmctl.bots.risk). 0 turns a guard off; only the stale-data guard is on by default.
    max_loss: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "stop when the bot's net PnL since start (realized + unrealized - fees) reaches -max_loss, "
            "in quote currency; 0 = off",
            min=Decimal(0),
            max=MAX_LOSS,
            unit="quote",
        ),
    )
    max_drawdown: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "stop when net PnL since start falls this far below its peak, in quote currency; 0 = off",
            min=Decimal(0),
            max=MAX_LOSS,
            unit="quote",
        ),
    )
    on_loss: OnLoss = field(
        default="stop",
        metadata=spec(
            "what max_loss or max_drawdown does: stop (cancel the bot's orders) or flatten (also close "
            "its position)"
        ),
    )
    stale_data_s: int = field(
        default=10,
        metadata=spec(
            "pull quotes while the book has not updated for this many seconds; 0 = off", min=0, max=3600
        ),
    )
    max_move_bps: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "circuit breaker: pause quoting when the mid moves more than this within move_window_s; 0 = off",
            min=Decimal(0),
            max=Decimal(10_000),
        ),
    )
    move_window_s: int = field(
        default=10,
        metadata=spec("circuit breaker: seconds over which the mid's move is measured", min=1, max=3600),
    )
    cooldown_s: int = field(
        default=60,
        metadata=spec("circuit breaker: seconds quoting stays paused after a trip", min=1, max=86_400),
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_bounds(f, getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """Cross-field rules; raise `ValidationError` naming the field. Strategies override this."""

    def replace(self, **changes: object) -> Self:
        """A copy with `changes` applied, parsed and validated like `parse_params` (for `mmctl set`)."""
        return update_params(self, changes)


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One parameter as `mmctl create --help`-style output shows it; JSON-safe."""

    name: str
    type: str
    default: JsonValue
    min: str | None
    max: str | None
    doc: str
    unit: str = ""


def parse_params(cls: type[P], values: Mapping[str, object]) -> P:
    """Build `cls` from loosely typed values (CLI strings or TOML/JSON values); missing keys take defaults."""
    return cls(**_convert_all(cls, values))


def update_params(params: P, changes: Mapping[str, object]) -> P:
    """`params` with `changes` applied, validated as `parse_params` validates."""
    return dataclasses.replace(params, **_convert_all(type(params), changes))


def params_to_dict(params: StrategyParams) -> dict[str, JsonValue]:
    """Every parameter as a JSON/TOML-safe value: Decimals become strings, `parse_params` reads it back."""
    return {f.name: _json_safe(getattr(params, f.name)) for f in dataclasses.fields(params)}


def describe(cls: type[StrategyParams]) -> list[ParamInfo]:
    """Name, type, default, bounds and doc of every parameter: the strategy's own first, then shared ones."""
    shared = {f.name for f in dataclasses.fields(StrategyParams)}
    hints = typing.get_type_hints(cls)
    fields = sorted(dataclasses.fields(cls), key=lambda f: f.name in shared)
    return [
        ParamInfo(
            name=f.name,
            type=_type_name(hints[f.name]),
            default=_json_safe(f.default),
            min=_bound_text(f.metadata.get("min")),
            max=_bound_text(_upper_bound(f, hints[f.name])),
            doc=f.metadata.get("doc", ""),
            unit=unit_of(f.name, f.metadata.get("unit")),
        )
        for f in fields
    ]


def _convert_all(cls: type[StrategyParams], values: Mapping[str, object]) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise ValidationError(
            f"parameters must be a table of name = value, got {type(values).__name__}",
            data={"field": "params"},
        )
    known = [info.name for info in describe(cls)]
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise _unknown(cls, key, known)
        out[key] = convert(value, hints[key], key)
    return out


def convert(value: object, hint: Any, key: str) -> Any:
    """`value` as the annotated type; strings from the CLI are read as the type's text form."""
    if isinstance(value, str):
        value = _from_text(value, hint)
    try:
        return coerce(value, hint, key)
    except ValidationError as e:
        raise ValidationError(e.message, data={"field": key}) from None


def _from_text(text: str, hint: Any) -> object:
    stripped = text.strip()
    if hint is int and _INT_TEXT.fullmatch(stripped):
        return int(stripped)
    if hint is bool and stripped.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[stripped.lower()]
    return text


def _unknown(cls: type[StrategyParams], key: str, known: list[str]) -> ValidationError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValidationError(
        f"unknown parameter {key!r} for strategy {cls.strategy or cls.__name__}{hint} "
        f"(known: {', '.join(known)})",
        data={"field": key},
    )


def _upper_bound(f: dataclasses.Field[Any], hint: Any) -> Any:
    """The field's own `max`, else `CEILING` for a number (None for choices and flags)."""
    hi = f.metadata.get("max")
    if hi is None and hint in (Decimal, int):
        return CEILING
    return hi


def _check_bounds(f: dataclasses.Field[Any], value: Any) -> None:
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(f"{f.name}: expected a finite number, got {value}", data={"field": f.name})
    numeric = isinstance(value, Decimal | int) and not isinstance(value, bool)
    lo, hi = f.metadata.get("min"), _upper_bound(f, type(value) if numeric else None)
    if lo is not None and hi is not None and not lo <= value <= hi:
        message = f"{f.name}: must be between {lo} and {hi}, got {value}"
    elif lo is not None and value < lo:
        message = f"{f.name}: must be at least {lo}, got {value}"
    elif hi is not None and value > hi:
        message = f"{f.name}: must be at most {hi}, got {value}"
    else:
        return
    raise ValidationError(message, data={"field": f.name})


def _json_safe(value: Any) -> JsonValue:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool | int | str):
        return value
    raise TypeError(f"unsupported parameter value {value!r}")  # pragma: no cover - guarded by the dataclasses


def _bound_text(bound: Any) -> str | None:
    return None if bound is None else str(bound)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "|".join(str(a) for a in typing.get_args(hint))
    names = {Decimal: "decimal", int: "integer", bool: "boolean", str: "string"}
    return names.get(hint, str(hint))
