"""`mmctl start NAME... | --all`: one `bot.start` per bot, a few in flight, each outcome shown as it arrives.

A start costs the venue several requests (connection check, leverage, countdown, leftovers cancelled)
that the daemon admits as its request budget allows, so starting hundreds of bots takes a while. One
RPC for the whole batch would be silent until the last bot started and could be cut by the RPC timeout;
instead the CLI resolves the names first with `bot.list` (an unknown name is refused before anything
starts; `--all` is every bot that is not already active), then keeps `IN_FLIGHT` connections that each
send one `bot.start` at a time (each answer awaited up to `START_ANSWER_S`, or `--timeout` if longer),
and prints one row per bot as its answer arrives: aligned on a terminal, tab-separated when piped
(flushed row by row), and with `--json` one document with every row, in the order the bots were named,
at the end. Exit 1 if any bot did not start.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import typer

from mmctl.cli.context import Globals
from mmctl.cli.output import Output, cell, fail
from mmctl.cli.render import outcome_detail
from mmctl.errors import (
    EXIT_FAILED,
    ApiMismatch,
    DaemonUnreachable,
    MmctlError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from mmctl.rpc.client import Client
from mmctl.rpc.protocol import START_ANSWER_S

IN_FLIGHT = 4
"""Concurrent `bot.start` requests: enough to overlap the daemon's work, few enough to leave it room."""

ACTIVE = frozenset({"starting", "running", "paused", "stopping"})
"""States of a bot whose loop runs: `start --all` leaves these alone, as the daemon does."""

FATAL = (DaemonUnreachable, PermissionDenied, ApiMismatch)
"""Errors after which no further start can succeed: the command stops with that error."""

COLUMNS = ("bot", "result", "state", "detail")


def start_command(g: Globals, out: Output, names: list[str], all_: bool) -> None:
    """Start the named bots (or every inactive one); report each; exit 1 if any failed."""
    try:
        with _client(g) as client:
            rows = client.call("bot.list")
        chosen = choose(rows, names, all_)
        outcomes = _report(out, chosen, start_each(g, chosen))
    except MmctlError as e:
        fail(e, out)
    if any(not o.get("ok") for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


def _client(g: Globals, *, starting: bool = False) -> Client:
    choice = g.socket_choice()
    timeout = max(g.timeout_s, START_ANSWER_S) if starting else g.timeout_s
    return Client(choice.path, timeout_s=timeout, origin=choice.origin)


def choose(rows: list[dict[str, Any]], names: list[str], all_: bool) -> list[str]:
    """The bots to start, in order: every inactive bot for `--all`, else the names (each once, all known)."""
    if all_ and names:
        raise ValidationError("give bot names or --all, not both", data={"field": "names"})
    if not all_ and not names:
        raise ValidationError("name at least one bot, or use --all", data={"field": "names"})
    if all_:
        return [str(r["name"]) for r in rows if r.get("state") not in ACTIVE]
    known = [str(r["name"]) for r in rows]
    for name in names:
        if name not in known:
            raise NotFound(f"no bot named {name!r} (bots: {_listing(known)})", data={"field": "name"})
    return list(dict.fromkeys(names))


def _listing(known: list[str], most: int = 10) -> str:
    if not known:
        return "none yet; create one with mmctl create"
    shown = ", ".join(known[:most])
    return shown if len(known) <= most else f"{shown} and {len(known) - most} more"


def start_each(g: Globals, names: list[str]) -> Iterator[dict[str, Any]]:
    """Start sending the starts now, `IN_FLIGHT` at a time; the iterator yields each outcome as it arrives."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        todo.put(name)
    done: queue.SimpleQueue[dict[str, Any] | MmctlError] = queue.SimpleQueue()
    halt = threading.Event()

    def work() -> None:
        with _client(g, starting=True) as client:
            while not halt.is_set():
                try:
                    name = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(start_one(client, name))
                except MmctlError as e:  # FATAL only: start_one reports every other error as a row
                    halt.set()
                    done.put(e)
                    return

    for _ in range(min(IN_FLIGHT, len(names))):
        threading.Thread(target=work, name="mmctl-start", daemon=True).start()
    return _arrivals(done, len(names))


def _arrivals(done: queue.SimpleQueue[dict[str, Any] | MmctlError], count: int) -> Iterator[dict[str, Any]]:
    for _ in range(count):
        item = done.get()
        if isinstance(item, MmctlError):
            raise item
        yield item


def start_one(client: Client, name: str) -> dict[str, Any]:
    """One `bot.start`; its outcome, or a failed outcome carrying the error (fatal errors raise)."""
    try:
        result = client.call("bot.start", {"names": [name]})
    except FATAL:
        raise
    except MmctlError as e:
        return {
            "bot": name,
            "ok": False,
            "state": None,
            "error": e.message,
            "code": e.code,
            "data": e.data or None,
        }
    if not (isinstance(result, list) and len(result) == 1 and isinstance(result[0], dict)):
        return {"bot": name, "ok": False, "state": None, "error": "the daemon sent an unexpected reply"}
    outcome: dict[str, Any] = result[0]
    return outcome


def _report(out: Output, names: list[str], outcomes: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print each outcome as it comes (not with --json); return them all in the order of `names`."""
    width = max([len(COLUMNS[0]), *(len(n) for n in names)])
    if not out.json:
        _line(out, [c.upper() if out.tty else c for c in COLUMNS], width)
    got: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        got[str(outcome.get("bot"))] = outcome
        if not out.json:
            _line(out, _row(outcome), width)
    ordered = [got[n] for n in names if n in got]
    if out.json:
        out.document(ordered)
    elif out.tty:
        failed = sum(1 for o in ordered if not o.get("ok"))
        if not names:
            out.write("no bots to start: every bot is already running (or there are none)")
        else:
            out.write(
                f"{len(names) - failed} of {len(names)} bot(s) started"
                + (f", {failed} failed" if failed else "")
            )
    return ordered


def _row(outcome: dict[str, Any]) -> list[str]:
    ok = bool(outcome.get("ok"))
    detail = outcome.get("error") or outcome_detail(outcome)
    return [cell(outcome.get("bot")), "ok" if ok else "FAILED", cell(outcome.get("state")), cell(detail)]


def _line(out: Output, values: list[str], width: int) -> None:
    if out.tty:
        out.write(f"{values[0]:<{width}}  {values[1]:<6}  {values[2]:<8}  {values[3]}".rstrip())
    else:
        out.write("\t".join(values))
    out.stream.flush()
