"""The `DefinitionStore` port: where bot definitions live between daemon runs."""

from __future__ import annotations

from typing import Any, Protocol


class DefinitionStore(Protocol):
    def load_all(self) -> dict[str, dict[str, Any]]:
        """Every stored definition by bot name; unreadable entries raise `ConfigError` naming them."""
        ...

    def save(self, name: str, definition: dict[str, Any]) -> None:
        """Write (create or replace) one definition atomically."""
        ...

    def delete(self, name: str) -> None:
        """Remove one definition (no error if it is already gone)."""
        ...


class MemoryDefinitionStore:
    """An in-memory store for tests and throw-away daemons."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def load_all(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.items.items()}

    def save(self, name: str, definition: dict[str, Any]) -> None:
        self.items[name] = dict(definition)

    def delete(self, name: str) -> None:
        self.items.pop(name, None)
