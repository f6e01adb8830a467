"""The daemon's event log: state changes, orders, fills, risk triggers and errors, newest last.

Every event has a daemon-wide sequence number so a follower (`mmctl events --follow`) asks for
"everything after N" and never misses or repeats one. The time is kept as epoch milliseconds (`ts_ms`)
and goes on the wire as ISO 8601 UTC (`ts`).

With a `Store`, every event is also recorded there (`NewEvent` with the same seq, queued without
waiting: `add` stays synchronous and never blocks the loop) and the numbering continues from the
store's last recorded seq, so sequence numbers survive restarts. The in-memory ring keeps the recent
events for readers without a store. Once the store has failed, events are only kept in memory (the
daemon is stopping its bots; nothing more is recorded).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmctl.clock import Clock, now_ms
from mmctl.errors import StoreError, ValidationError
from mmctl.rpc.protocol import EventDoc
from mmctl.store.base import Store
from mmctl.store.records import NewEvent
from mmctl.timefmt import iso_utc


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts_ms: int
    bot: str | None
    kind: str  # state | order | cancel | fill | reject | retry | error | risk | info | recovery
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    uid: int | None = None  # the caller of a control command (SO_PEERCRED)
    user: str | None = None

    def to_dict(self) -> EventDoc:
        """The wire document (`events.list`, `mmctl events --json`)."""
        doc: EventDoc = {
            "seq": self.seq,
            "ts": iso_utc(self.ts_ms),
            "bot": self.bot,
            "kind": self.kind,
            "message": self.message,
            "data": self.data,
        }
        if self.uid is not None:
            doc["uid"] = self.uid
            doc["user"] = self.user
        return doc


class EventLog:
    """`store`: record every event there too; `last_seq`: the store's last recorded seq (numbering
    continues after it)."""

    def __init__(
        self, clock: Clock, capacity: int = 5000, *, store: Store | None = None, last_seq: int = 0
    ) -> None:
        self.clock = clock
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = last_seq
        self.store = store
        self.listeners: list[Callable[[Event], None]] = []  # e.g. the daemon's log

    @property
    def last_seq(self) -> int:
        return self._seq

    def add(self, bot: str | None, kind: str, message: str, **data: Any) -> Event:
        return self.add_event(bot, kind, message, data)

    def add_event(
        self,
        bot: str | None,
        kind: str,
        message: str,
        data: dict[str, Any],
        *,
        uid: int | None = None,
        user: str | None = None,
    ) -> Event:
        """`add` with the caller of a control command (the audit trail)."""
        self._seq += 1
        event = Event(self._seq, now_ms(self.clock), bot, kind, message, data, uid, user)
        self._events.append(event)
        self._record(event)
        for listener in self.listeners:
            listener(event)
        return event

    def _record(self, event: Event) -> None:
        store = self.store
        if store is None or store.failed is not None:
            return
        try:
            op = NewEvent(
                event.ts_ms,
                event.bot,
                event.kind,
                event.message,
                event.data,
                uid=event.uid,
                user=event.user,
                seq=event.seq,
            )
        except ValidationError:  # a detail that is not JSON: keep the event, with its detail as text
            text = {k: str(v) for k, v in event.data.items()}
            op = NewEvent(
                event.ts_ms,
                event.bot,
                event.kind,
                event.message,
                text,
                uid=event.uid,
                user=event.user,
                seq=event.seq,
            )
        try:
            store.submit_nowait(op)
        except StoreError:
            return  # failed meanwhile: the failure handler stops the bots and says so

    def since(self, after_seq: int = 0, bot: str | None = None, limit: int = 200) -> list[Event]:
        """Events with seq > after_seq (optionally one bot's), oldest first, at most the last `limit`."""
        out = [e for e in self._events if e.seq > after_seq and (bot is None or e.bot == bot)]
        return out[-limit:] if limit > 0 else out
