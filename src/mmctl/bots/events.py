"""The daemon's event ring: state changes, orders, fills, risk triggers and errors, newest last.

In memory for now (persisted by a later store). Every event has a daemon-wide sequence number so a
follower (`mmctl events --follow`) asks for "everything after N" and never misses or repeats one.
The time is kept as epoch milliseconds (`ts_ms`) and goes on the wire as ISO 8601 UTC (`ts`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmctl.clock import Clock, now_ms
from mmctl.rpc.protocol import EventDoc
from mmctl.timefmt import iso_utc


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts_ms: int
    bot: str | None
    kind: str  # state | order | cancel | fill | reject | retry | error | risk | info
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> EventDoc:
        """The wire document (`events.list`, `mmctl events --json`)."""
        return {
            "seq": self.seq,
            "ts": iso_utc(self.ts_ms),
            "bot": self.bot,
            "kind": self.kind,
            "message": self.message,
            "data": self.data,
        }


class EventLog:
    def __init__(self, clock: Clock, capacity: int = 5000) -> None:
        self.clock = clock
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0
        self.listeners: list[Callable[[Event], None]] = []  # e.g. the daemon's log

    @property
    def last_seq(self) -> int:
        return self._seq

    def add(self, bot: str | None, kind: str, message: str, **data: Any) -> Event:
        self._seq += 1
        event = Event(self._seq, now_ms(self.clock), bot, kind, message, data)
        self._events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    def since(self, after_seq: int = 0, bot: str | None = None, limit: int = 200) -> list[Event]:
        """Events with seq > after_seq (optionally one bot's), oldest first, at most the last `limit`."""
        out = [e for e in self._events if e.seq > after_seq and (bot is None or e.bot == bot)]
        return out[-limit:] if limit > 0 else out
