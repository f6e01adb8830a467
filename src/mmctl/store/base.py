"""The store ports: `DefinitionStore` (where bot definitions live between daemon runs) and `Store` (the
durable record of orders, fills, income, events, bots and paper venues, with its queries `StoreReads`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mmctl.errors import StoreError
from mmctl.model import Fill, IncomeRow
from mmctl.store.records import (
    BotRecord,
    EquitySnapshot,
    EventRecord,
    IncomeSum,
    OrderRecord,
    PaperHistory,
    PaperState,
    ParamsChange,
    PreviousRun,
    PruneResult,
    StatusChange,
    StoredFill,
    StoredIncome,
    StoredPaperTrade,
    Write,
)

T = TypeVar("T")


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


class StoreReads(Protocol):
    """The store's queries, run only inside `Store.read`. Times in ms, `since_ms` inclusive, `until_ms`
    exclusive; results oldest first; `limit` keeps the newest rows (None: all), except
    `events(after_seq=N)`, which pages forward: the first `limit` events after N."""

    def bots(self) -> list[BotRecord]: ...
    def bot(self, name: str) -> BotRecord | None: ...
    def params_history(self, name: str) -> list[ParamsChange]: ...
    def fills(
        self,
        *,
        bot: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = 1000,
    ) -> list[StoredFill]: ...
    def bot_positions(self, *, account: str, symbol: str, before_ms: int) -> dict[str, Decimal]: ...
    def last_fill_ms(self, account: str) -> dict[str, int]: ...
    def first_order_ms(self, account: str) -> dict[str, int]: ...
    def income(
        self,
        *,
        account: str | None = None,
        symbol: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[StoredIncome]: ...
    def last_income_ms(self) -> dict[str, int]: ...
    def income_sums(
        self,
        *,
        account: str,
        since_ms: int,
        until_ms: int,
        offset_ms: int = 0,
        symbol: str | None = None,
        attribute: bool = False,
        symbols: bool = True,
    ) -> list[IncomeSum]: ...
    def orders(
        self,
        *,
        bot: str | None = None,
        account: str | None = None,
        since_ms: int | None = None,
        open_only: bool = False,
        limit: int | None = 1000,
    ) -> list[OrderRecord]: ...
    def order(self, client_order_id: str) -> OrderRecord | None: ...
    def order_changes(self, client_order_id: str) -> list[StatusChange]: ...
    def events(
        self,
        *,
        after_seq: int | None = None,
        since_ms: int | None = None,
        bot: str | None = None,
        kind: str | None = None,
        limit: int | None = 200,
    ) -> list[EventRecord]: ...
    def last_event_seq(self) -> int: ...
    def snapshots(
        self,
        *,
        account: str | None = None,
        bot: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[EquitySnapshot]: ...
    def paper_state(self, account: str) -> PaperState | None: ...
    def paper_trades(
        self, account: str, *, epoch: int | None = None, limit: int | None = None
    ) -> list[StoredPaperTrade]: ...
    def paper_orders(
        self, account: str, *, epoch: int | None = None, limit: int | None = None
    ) -> list[str]: ...
    def paper_income(self, account: str, *, from_id: int, since_ms: int | None = None) -> list[IncomeRow]: ...
    def paper_history(self, account: str) -> PaperHistory: ...
    def meta(self, key: str) -> str | None: ...


class Store(Protocol):
    """Durable records of everything the daemon does (orders, fills, income, events, bots, paper venues).

    Writes are `Write[R]` values (`mmctl.store.records`). `await write(op)` returns `R` once the write is
    durable; `await submit(op)` only queues it (waiting while the queue is full: backpressure, never
    loss); `submit_nowait(op)` queues from synchronous code; `await flush()` makes everything queued so
    far durable. Writes commit in queue order: once `write(op)` returns, every write queued before it
    is durable too. After a failed write, `failed` is set, `on_failure` callbacks run once, and every later
    write raises `StoreError`: the daemon stops its bots. Reads run off the event loop: `await
    read(lambda r: r.fills(bot="a"))`.
    """

    @property
    def failed(self) -> StoreError | None: ...
    @property
    def previous_run(self) -> PreviousRun: ...
    def on_failure(self, callback: Callable[[StoreError], None]) -> None: ...
    async def write(self, op: Write[T]) -> T: ...
    async def submit(self, op: Write[Any]) -> None: ...
    def submit_nowait(self, op: Write[Any]) -> None: ...
    async def flush(self) -> None: ...
    async def record_fill(self, account: str, bot: str | None, fill: Fill) -> bool: ...
    async def record_income(
        self, account: str, row: IncomeRow, info: Mapping[str, Any] | None = None
    ) -> bool: ...
    async def record_event(
        self,
        ts_ms: int,
        bot: str | None,
        kind: str,
        message: str,
        data: Mapping[str, Any] | None = None,
        *,
        uid: int | None = None,
        user: str | None = None,
    ) -> int: ...
    async def read(self, fn: Callable[[StoreReads], T]) -> T: ...
    async def backup(self, target: Path) -> None: ...
    async def check(self) -> list[str]: ...
    async def vacuum(self) -> None: ...
    async def prune(self, retain_days: int, now_ms: int) -> PruneResult: ...
    async def import_toml(
        self, directory: Path, validate: Callable[[dict[str, Any]], dict[str, Any]] = ...
    ) -> int: ...
    async def close(self) -> None: ...
