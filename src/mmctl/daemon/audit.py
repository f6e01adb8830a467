"""The audit trail of control commands: who asked the daemon to change what, and what came of it.

Every control command received over the socket (create, start, stop, pause, resume, set, leverage when
it sets, remove, cancel-all, paper reset, database backup and vacuum) becomes one `control` event, in
the store with the caller's uid and user name (from `SO_PEERCRED`), its arguments and its outcome, and
one log line. A command refused before it ran (bad parameters) changed nothing and is not recorded; one
refused by the bot manager is, with the reason. Secrets never pass through these methods.
"""

from __future__ import annotations

import pwd
from collections.abc import Callable
from typing import Any

import structlog

from mmctl.bots.events import EventLog
from mmctl.errors import MmctlError
from mmctl.rpc import protocol as proto
from mmctl.rpc.registry import Handler, MethodTable
from mmctl.rpc.server import current_peer

log = structlog.get_logger("mmctl.audit")

CONTROL_METHODS: tuple[str, ...] = (
    proto.BOT_CREATE,
    proto.BOT_START,
    proto.BOT_STOP,
    proto.BOT_PAUSE,
    proto.BOT_RESUME,
    proto.BOT_SET,
    proto.BOT_LEVERAGE,
    proto.BOT_REMOVE,
    proto.CANCEL_BOTS,
    proto.CANCEL_SYMBOL,
    proto.CANCEL_ALL,
    proto.PAPER_RESET,
    proto.DB_BACKUP,
    proto.DB_VACUUM,
)


def audit_controls(table: MethodTable, events: EventLog) -> None:
    """Record every registered control method's calls (call after every method is registered)."""
    for name in CONTROL_METHODS:
        if table.get(name) is not None:
            table.wrap(name, _audited(name, events))


def _audited(method: str, events: EventLog) -> Callable[[Handler], Handler]:
    def wrapper(handler: Handler) -> Handler:
        async def audited(**params: Any) -> Any:
            if method == proto.BOT_LEVERAGE and params.get("leverage") is None:
                return await handler(**params)  # showing the leverage changes nothing
            try:
                result = await handler(**params)
            except MmctlError as e:
                _record(events, method, params, "refused", e.message)
                raise
            except BaseException as e:
                _record(events, method, params, "failed", f"{type(e).__name__}: {e}")
                raise
            _record(events, method, params, *_outcome(result))
            return result

        return audited

    return wrapper


def _outcome(result: Any) -> tuple[str, str | None]:
    """ "ok", or "partly failed" with the failed bots of a batch command's outcomes."""
    if isinstance(result, list):
        failed = [o.get("bot", "?") for o in result if isinstance(o, dict) and o.get("ok") is False]
        if failed:
            return "partly failed", f"failed: {', '.join(str(b) for b in failed)}"
    return "ok", None


def _record(events: EventLog, method: str, params: dict[str, Any], outcome: str, detail: str | None) -> None:
    peer = current_peer.get()
    uid = peer.uid if peer is not None else None
    user = user_name(uid)
    names = params.get("names")
    bot = params.get("name") or (names[0] if isinstance(names, list) and len(names) == 1 else None)
    if outcome == "refused":
        bot = None  # perhaps no such bot: its name stays in `params`, the bot's own history stays its own
    who = user or (f"uid {uid}" if uid is not None else "an unknown caller")
    message = f"{method} by {who}: {outcome}" + (f" ({detail})" if detail else "")
    data: dict[str, Any] = {"method": method, "params": params, "outcome": outcome}
    if detail:
        data["detail"] = detail
    events.add_event(bot if isinstance(bot, str) else None, "control", message, data, uid=uid, user=user)
    log_method = log.info if outcome == "ok" else log.warning
    log_method("control", method=method, uid=uid, user=user, params=params, outcome=outcome, detail=detail)


def user_name(uid: int | None) -> str | None:
    """The account name of `uid` (None when unknown or not given)."""
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None
