"""Which strategies exist: the built-in ones and third-party plugins from the entry point group
`mmctl.strategies`.

A plugin distribution declares, in its `pyproject.toml`:

    [project.entry-points."mmctl.strategies"]
    my_strategy = "my_package.module:MyStrategy"

The object may be a strategy instance or a class taking no arguments. It is loaded on first use of the
registry, and checked: it must load, instantiate, carry the `name` it is registered under, a
`params_cls` deriving from `StrategyParams` with that name as its `strategy`, and the methods of the
`Strategy` protocol. A plugin that fails any of these is kept out of the registry and listed in
`broken()` with its name and a one-line reason (`mmctl strategies` shows it, the daemon logs it and its
health reports it); it never stops the CLI or the daemon. A plugin cannot replace a built-in strategy.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Any

from mmctl.errors import ValidationError
from mmctl.strategies.base import Strategy
from mmctl.strategies.params import StrategyParams

ENTRY_POINT_GROUP = "mmctl.strategies"
REQUIRED_METHODS = ("needs", "signals", "check_against_market", "quotes", "quote_bands")


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin entry point that could not be used: its name, where it points, and why (one line)."""

    name: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Registry:
    """The strategies by name (built-ins first, then plugins by name) and the plugins left out."""

    strategies: dict[str, Strategy[Any]]
    broken: tuple[BrokenPlugin, ...]
    plugins: frozenset[str]


def builtin_strategies() -> dict[str, Strategy[Any]]:
    """One instance of every strategy that ships with mmctl."""
    from mmctl.strategies.avellaneda_stoikov import AvellanedaStoikov
    from mmctl.strategies.macd import Macd
    from mmctl.strategies.market_maker import MarketMaker
    from mmctl.strategies.mean_reversion import MeanReversion
    from mmctl.strategies.rsi import Rsi

    return {
        "market_maker": MarketMaker(),
        "avellaneda_stoikov": AvellanedaStoikov(),
        "rsi": Rsi(),
        "macd": Macd(),
        "mean_reversion": MeanReversion(),
    }


_registry: Registry | None = None


def registry() -> Registry:
    """The registry, loading plugins on first use."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


def reload() -> Registry:
    """Load the registry anew (after installing a plugin into a running process, and in tests)."""
    global _registry
    _registry = load_registry()
    return _registry


def load_registry() -> Registry:
    """The built-in strategies plus every usable plugin of the `mmctl.strategies` entry point group."""
    strategies = builtin_strategies()
    broken: list[BrokenPlugin] = []
    plugins: set[str] = set()
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in strategies:
            reason = "a built-in strategy has this name" if ep.name not in plugins else "registered twice"
            broken.append(BrokenPlugin(ep.name, ep.value, reason))
            continue
        try:
            strategies[ep.name] = _load(ep)
            plugins.add(ep.name)
        except PluginError as e:
            broken.append(BrokenPlugin(ep.name, ep.value, str(e)))
    return Registry(strategies, tuple(broken), frozenset(plugins))


class PluginError(Exception):
    """Why a plugin entry point is not a usable strategy (one line)."""


def _load(ep: importlib.metadata.EntryPoint) -> Strategy[Any]:
    try:
        obj = ep.load()
    except BaseException as e:  # a third-party import: any failure, even SystemExit, is a broken plugin
        if isinstance(e, KeyboardInterrupt):
            raise
        raise PluginError(f"cannot be loaded: {_one_line(e)}") from None
    if inspect.isclass(obj) and not _is_params(obj):
        try:
            obj = obj()
        except Exception as e:  # a third-party constructor may raise anything
            raise PluginError(f"cannot be instantiated: {_one_line(e)}") from None
    _check(ep.name, obj)
    strategy: Strategy[Any] = obj
    return strategy


def _check(name: str, obj: object) -> None:
    declared = getattr(obj, "name", None)
    if declared != name:
        raise PluginError(f"its name is {declared!r}, not the entry point's {name!r}")
    params_cls = getattr(obj, "params_cls", None)
    if not _is_params(params_cls):
        raise PluginError("params_cls is not a StrategyParams dataclass")
    if getattr(params_cls, "strategy", None) != name:
        raise PluginError(f"params_cls.strategy is {getattr(params_cls, 'strategy', None)!r}, not {name!r}")
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(obj, m, None))]
    if missing:
        raise PluginError(f"missing method{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if not isinstance(getattr(obj, "description", ""), str):
        raise PluginError("description is not a string")


def _is_params(obj: object) -> bool:
    return inspect.isclass(obj) and issubclass(obj, StrategyParams)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:300] if text else type(e).__name__


def get_strategy(name: str) -> Strategy[Any]:
    """The registered strategy called `name`; `ValidationError` (field `strategy`) if there is none."""
    reg = registry()
    try:
        return reg.strategies[name]
    except KeyError:
        broken = next((b for b in reg.broken if b.name == name), None)
        if broken is not None:
            message = f"strategy {name!r} is a broken plugin ({broken.value}): {broken.reason}"
        else:
            message = f"unknown strategy {name!r} (known: {', '.join(sorted(reg.strategies))})"
        raise ValidationError(message, data={"field": "strategy"}) from None
