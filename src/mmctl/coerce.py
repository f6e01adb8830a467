"""Convert loosely typed values (TOML, JSON, `key=value` strings already parsed) to annotated types.

Shared by the config loader and strategy parameter validation. Errors name `where` (a file and key
path, or a parameter name) and are raised as the caller's error class.
"""

from __future__ import annotations

import math
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from mmctl.errors import MmctlError, ValidationError


def coerce(value: Any, hint: Any, where: str, error: type[MmctlError] = ValidationError) -> Any:
    """Convert a TOML/JSON value to the annotated type or raise `error` naming `where`."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise error(f"{where}: expected an object with string keys, got {value!r}")
        val_hint = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        return {k: coerce(v, val_hint, f"{where}.{k}", error) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise error(f"{where}: expected a list, got {value!r}")
        item_hint = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return [coerce(v, item_hint, f"{where}[{i}]", error) for i, v in enumerate(value)]
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise error(f"{where}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(hint):
            try:
                return coerce(value, arg, where, error)
            except MmctlError as e:
                errors.append(str(e))
        raise error(errors[0])
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise error(f"{where}: expected a list, got {value!r}")
        return tuple(coerce(v, item, f"{where}[{i}]", error) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise error(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise error(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if hint is Decimal:
        return to_decimal(value, where, error)
    if hint is str:
        if not isinstance(value, str):
            raise error(f"{where}: expected a string, got {value!r}")
        return value
    if hint is type(None):
        if value is None:
            return None
        raise error(f"{where}: expected null, got {value!r}")
    raise error(f"{where}: unsupported setting type {hint!r}")  # pragma: no cover


def to_decimal(value: Any, where: str, error: type[MmctlError] = ValidationError) -> Decimal:
    """Decimals from TOML strings or integers (exact); floats go through their shortest repr."""
    if isinstance(value, bool):
        raise error(f"{where}: expected a decimal number, got {value!r}")
    try:
        if isinstance(value, Decimal | int | str):
            d = Decimal(value)
        elif isinstance(value, float):
            d = Decimal(repr(value))
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise error(f"{where}: expected a decimal number, got {value!r}") from None
    if not d.is_finite():
        raise error(f"{where}: expected a finite number, got {value!r}")
    return d
