"""Strategies: what a bot quotes. `get_strategy(name)` is what `--strategy NAME` selects; `registry()`
lists the built-in strategies and the plugins of the `mmctl.strategies` entry point group."""

from __future__ import annotations

from mmctl.strategies.base import Quote, Strategy
from mmctl.strategies.registry import get_strategy, registry

__all__ = ["Quote", "Strategy", "get_strategy", "registry"]
