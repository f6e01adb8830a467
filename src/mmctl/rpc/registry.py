"""The RPC method table: named async handlers whose parameters are checked from their signatures.

A handler is an `async def` with keyword parameters annotated with JSON-friendly types (str, int, float,
bool, Decimal, Literal, lists, dicts, unions with None). `MethodTable.call` accepts by-name (object) or
by-position (array) params and raises `InvalidParams` naming the field on a missing, unknown or
mistyped parameter, before the handler runs. `describe()` serves `daemon.methods`.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mmctl.coerce import coerce
from mmctl.errors import InvalidParams

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    hint: Any
    required: bool
    default: Any


@dataclass(frozen=True, slots=True)
class Method:
    """A registered method. `min_timeout_s`: the least time the server gives it to answer, whatever the
    daemon's `request_timeout_s` (a start waits for the request budget, which admits starts in waves)."""

    name: str
    handler: Handler
    params: tuple[Param, ...]
    doc: str
    min_timeout_s: float = 0.0

    def bind(self, params: Any) -> dict[str, Any]:
        """Validate JSON-RPC params against the signature and return keyword arguments."""
        if params is None:
            given: dict[str, Any] = {}
        elif isinstance(params, list):
            if len(params) > len(self.params):
                raise InvalidParams(
                    f"{self.name} takes at most {len(self.params)} parameters, got {len(params)}",
                    data={"field": None},
                )
            given = {p.name: v for p, v in zip(self.params, params, strict=False)}
        elif isinstance(params, dict):
            given = dict(params)
        else:
            raise InvalidParams("params must be an object or an array", data={"field": None})
        known = {p.name for p in self.params}
        for key in given:
            if key not in known:
                raise InvalidParams(
                    f"unknown parameter {key!r} for {self.name} "
                    f"(known: {', '.join(sorted(known)) or 'none'})",
                    data={"field": key},
                )
        kwargs: dict[str, Any] = {}
        for p in self.params:
            if p.name in given:
                kwargs[p.name] = _check(given[p.name], p)
            elif p.required:
                raise InvalidParams(f"missing parameter {p.name!r} for {self.name}", data={"field": p.name})
        return kwargs


def _check(value: Any, p: Param) -> Any:
    try:
        return coerce(value, p.hint, p.name, InvalidParams)
    except InvalidParams as e:
        e.data.setdefault("field", p.name)
        raise


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


class MethodTable:
    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def add(self, name: str, handler: Handler, doc: str | None = None, *, min_timeout_s: float = 0.0) -> None:
        if name in self._methods:
            raise ValueError(f"method {name} registered twice")
        hints = typing.get_type_hints(handler)
        params = []
        for pname, p in inspect.signature(handler).parameters.items():
            params.append(
                Param(pname, hints.get(pname, Any), p.default is inspect.Parameter.empty, p.default)
            )
        text = doc or inspect.getdoc(handler) or ""
        first = text.splitlines()[0] if text else ""
        self._methods[name] = Method(name, handler, tuple(params), first, min_timeout_s)

    def get(self, name: str) -> Method | None:
        return self._methods.get(name)

    def wrap(self, name: str, wrapper: Callable[[Handler], Handler]) -> None:
        """Run method `name` through `wrapper(handler)` (same parameters and checks; e.g. the audit)."""
        method = self._methods[name]
        self._methods[name] = dataclasses.replace(method, handler=wrapper(method.handler))

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": m.name,
                "doc": m.doc,
                "params": [
                    {"name": p.name, "type": _type_name(p.hint), "required": p.required} for p in m.params
                ],
            }
            for m in sorted(self._methods.values(), key=lambda m: m.name)
        ]
