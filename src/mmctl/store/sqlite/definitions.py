"""`SqliteDefinitionStore`: the existing synchronous `DefinitionStore` port on top of a `SqliteStore`.

Lets the bot manager keep its synchronous `load_all`/`save`/`delete` calls while definitions move into
the database. `save` and `delete` queue the write without waiting (the writer commits it within
milliseconds; `await store.flush()` makes it durable); `load_all` is a blocking read, meant for start-up.
Each saved definition keeps its bot's desired state; a new one starts `stopped`.
"""

from __future__ import annotations

from typing import Any

from mmctl.clock import Clock, now_ms
from mmctl.store.records import BotRecord, DeleteBot, PutBot
from mmctl.store.sqlite.store import SqliteStore


class SqliteDefinitionStore:
    def __init__(self, store: SqliteStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def load_all(self) -> dict[str, dict[str, Any]]:
        return self.store.read_blocking(lambda r: {b.name: b.definition() for b in r.bots()})

    def save(self, name: str, definition: dict[str, Any]) -> None:
        record = BotRecord.from_definition({**definition, "name": name}, updated_ms=now_ms(self.clock))
        self.store.submit_nowait(PutBot(record))

    def delete(self, name: str) -> None:
        self.store.submit_nowait(DeleteBot(name))
