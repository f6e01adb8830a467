"""What recovery at daemon start found and did on one account (`mmctl.fleet.recovery`), and how it is
told: one audit event (kind "recovery") and one log line of counts.

Money and quantities go out as exact decimal strings, like everywhere else on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mmctl.model import Order, Position

EVENT_KIND = "recovery"
LOG_EVENT = "account_recovered"
MAX_LISTED = 20  # ids listed in the event message before "and N more"


class RecoveryEvent(NamedTuple):
    """One event's fields: `events.add(None, ev.kind, ev.message, **ev.data)`."""

    kind: str
    message: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """One account's recovery.

    `adopted`: client ids of mmctl orders left on the venue for a bot that will run (its start resyncs
    them); `cancelled`: client ids of mmctl orders no bot will own, cancelled and confirmed gone;
    `submitting_resolved`: client id of each order the store had as `submitting` → the state the venue
    reports (`not_found`: never placed); `orders_updated`: orders the store had open (not submitting)
    whose state changed, the cancelled ones included; `foreign_orders`: open orders without mmctl's
    ids, never touched.
    """

    account: str
    adopted: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()
    fills_recovered: int = 0
    income_recovered: int = 0
    submitting_resolved: Mapping[str, str] = field(default_factory=dict)
    orders_updated: int = 0
    foreign_orders: tuple[Order, ...] = ()
    positions: tuple[Position, ...] = ()
    duration_ms: int = 0

    def counts(self) -> dict[str, int]:
        """The figures an operator scans for: how many of each."""
        return {
            "adopted": len(self.adopted),
            "cancelled": len(self.cancelled),
            "fills_recovered": self.fills_recovered,
            "income_recovered": self.income_recovered,
            "submitting_resolved": len(self.submitting_resolved),
            "orders_updated": self.orders_updated,
            "foreign_orders": len(self.foreign_orders),
            "positions": len(self.positions),
        }

    def to_log(self) -> dict[str, Any]:
        """The fields of the one log line: `log.info(LOG_EVENT, **report.to_log())`."""
        fields: dict[str, Any] = {"account": self.account, **self.counts(), "duration_ms": self.duration_ms}
        if self.foreign_orders:
            fields["foreign_ids"] = [_order_ref(o) for o in self.foreign_orders[:MAX_LISTED]]
        return fields

    def to_event(self) -> RecoveryEvent:
        """The audit event (kind "recovery"), with every id and position in its data."""
        c = self.counts()
        parts = [
            f"{c['adopted']} adopted",
            f"{c['cancelled']} cancelled",
            f"{c['fills_recovered']} fill(s) recovered",
            f"{c['submitting_resolved']} submitting resolved",
            f"{c['foreign_orders']} foreign order(s) seen",
        ]
        message = f"account {self.account} recovered in {self.duration_ms} ms: {', '.join(parts)}"
        if self.foreign_orders:
            message += f" (not touched: {_listed([_order_ref(o) for o in self.foreign_orders])})"
        data: dict[str, Any] = {
            "account": self.account,
            **c,
            "duration_s": self.duration_ms / 1000,
            "adopted_ids": list(self.adopted),
            "cancelled_ids": list(self.cancelled),
            "submitting": dict(self.submitting_resolved),
            "foreign": [_foreign_doc(o) for o in self.foreign_orders],
            "position_list": [_position_doc(p) for p in self.positions],
        }
        return RecoveryEvent(EVENT_KIND, message, data)


def _order_ref(order: Order) -> str:
    """A foreign order's client id, or its venue id when it has none."""
    return order.client_order_id or f"#{order.id}"


def _listed(ids: list[str]) -> str:
    head = ", ".join(ids[:MAX_LISTED])
    return head if len(ids) <= MAX_LISTED else f"{head} and {len(ids) - MAX_LISTED} more"


def _foreign_doc(order: Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "order_id": order.id,
        "symbol": order.symbol,
        "side": order.side.value,
        "price": None if order.price is None else str(order.price),
        "qty": str(order.remaining),
    }


def _position_doc(position: Position) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "qty": str(position.qty),
        "entry_price": str(position.entry_price),
        "unrealized_pnl": str(position.unrealized_pnl),
    }
