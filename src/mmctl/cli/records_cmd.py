"""Commands that read the daemon's records: `fills`, `orders` (open, or the history with `--all` or
`--since`), `events` (with `--follow`), and `db backup|check|vacuum`.

Times (`--since`, `--until`) are parsed here by `mmctl.timeparse` (ISO 8601, `24h`-style, `today`,
`yesterday`; dates and times without an offset in `--tz`, default UTC) and sent as ISO 8601 UTC.
`events --follow` polls for the events after the last sequence number it printed; when the daemon goes
away (restart, upgrade, crash) it says so on stderr, reconnects with a short backoff and resumes after
that number, so nothing is skipped or printed twice. Ctrl-C ends it with exit 0.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Any

import typer

from mmctl.cli.context import Globals, JsonFlag, call, globals_of
from mmctl.cli.output import Output, fail
from mmctl.cli.render import render_events
from mmctl.errors import EXIT_FAILED, DaemonUnreachable, MmctlError, ShuttingDown, Timeout, ValidationError
from mmctl.rpc import protocol as proto
from mmctl.timefmt import iso_utc
from mmctl.timeparse import FORMS, parse_time, zone_of

POLL_S = 0.5  # between two polls of `events --follow` when nothing new came
RETRY_S = (0.2, 2.0)  # first and longest wait between reconnection attempts

Name = Annotated[str, typer.Argument(help="The bot.")]
Since = Annotated[str | None, typer.Option("--since", help=f"From this time: {FORMS}.", show_default=False)]
Until = Annotated[
    str | None, typer.Option("--until", help="Before this time (same forms).", show_default=False)
]
Tz = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Zone of dates and times without an offset, today and yesterday (e.g. America/New_York; "
        "default UTC).",
        show_default=False,
    ),
]


def limit_option(what: str) -> Any:
    return typer.Option(
        "--limit", min=1, max=proto.MAX_PAGE, help=f"The newest N {what} (1..{proto.MAX_PAGE})."
    )


def wire_times(out: Output, tz: str | None, **texts: str | None) -> dict[str, str]:
    """Each given time as ISO 8601 UTC for the wire; a usage error (exit 2) naming the option if not."""
    now_ms = int(time.time() * 1000)
    try:
        zone = zone_of(tz)
        return {
            name: iso_utc(parse_time(text, now_ms=now_ms, tz=zone, field=name))
            for name, text in texts.items()
            if text is not None
        }
    except ValidationError as e:
        fail(ValidationError(f"--{e.message}", data=e.data), out)


def register(app: typer.Typer) -> None:
    @app.command()
    def fills(
        ctx: typer.Context,
        name: Name,
        since: Since = None,
        until: Until = None,
        tz: Tz = None,
        limit: Annotated[int, limit_option("fills")] = 100,
        json_flag: JsonFlag = False,
    ) -> None:
        """A bot's recorded fills: trade id, order, side, price, quantity, fee, maker/taker, realized PnL.

        \b
        Examples:
          mmctl fills eth1 --since today
          mmctl fills eth1 --since "2025-11-20 11:00" --tz America/New_York --json
        """
        out = globals_of(ctx).output(json_flag)
        params: dict[str, Any] = {
            "bot": name,
            "limit": limit,
            **wire_times(out, tz, since=since, until=until),
        }
        doc = call(ctx, proto.FILLS_LIST, params, json_flag=json_flag)
        if out.json:
            out.document(doc)
            return
        rows = doc["fills"]
        if not rows and out.tty:
            out.write(f"no fills recorded for {name}" + (" in that time" if since or until else ""))
            return
        out.table(
            ["time", "side", "price", "qty", "fee", "fee_asset", "liquidity", "realized_pnl", "trade_id",
             "client_order_id"],
            [
                [f["ts"], f["side"], f["price"], f["qty"], f["fee"], f["fee_asset"],
                 "maker" if f["maker"] else "taker", f["realized_pnl"], f["trade_id"], f["client_order_id"]]
                for f in rows
            ],
        )  # fmt: skip
        if doc.get("truncated") and out.tty:
            out.write(f"(the newest {len(rows)} fills; use --since or --limit for others)")

    @app.command()
    def orders(
        ctx: typer.Context,
        name: Name,
        all_: Annotated[bool, typer.Option("--all", help="The order history, not only open orders.")] = False,
        since: Since = None,
        tz: Tz = None,
        limit: Annotated[int, limit_option("orders of the history")] = 100,
        json_flag: JsonFlag = False,
    ) -> None:
        """A bot's open orders; with --all or --since, its recorded order history with every status.

        \b
        Examples:
          mmctl orders eth1
          mmctl orders eth1 --since 24h
        """
        out = globals_of(ctx).output(json_flag)
        if not all_ and since is None:
            render_open_orders(out, call(ctx, proto.BOT_ORDERS, {"name": name}, json_flag=json_flag))
            return
        params: dict[str, Any] = {"bot": name, "limit": limit, **wire_times(out, tz, since=since)}
        doc = call(ctx, proto.ORDERS_HISTORY, params, json_flag=json_flag)
        if out.json:
            out.document(doc)
            return
        rows = doc["orders"]
        if not rows and out.tty:
            out.write(f"no orders recorded for {name}" + (" since then" if since else ""))
            return
        out.table(
            ["created", "side", "price", "qty", "filled", "status", "updated", "history", "client_order_id"],
            [
                [o["created"], o["side"], o["price"], o["qty"], o["filled"], o["status"], o["updated"],
                 ">".join(c["status"] for c in o["changes"]), o["client_order_id"]]
                for o in rows
            ],
        )  # fmt: skip
        if doc.get("truncated") and out.tty:
            out.write(f"(the newest {len(rows)} orders; use --since or --limit for others)")

    @app.command()
    def events(
        ctx: typer.Context,
        name: Annotated[str | None, typer.Argument(help="Only this bot's events.")] = None,
        since: Since = None,
        tz: Tz = None,
        kind: Annotated[
            str | None,
            typer.Option(
                "--kind", help=f"Only this kind: {', '.join(proto.EVENT_KINDS)}.", show_default=False
            ),
        ] = None,
        limit: Annotated[int, limit_option("events")] = 50,
        follow: Annotated[
            bool, typer.Option("--follow", "-f", help="Keep printing new events (survives restarts).")
        ] = False,
        json_flag: JsonFlag = False,
    ) -> None:
        """Recorded events (state changes, orders, fills, errors, risk, recovery); --follow streams new
        ones, one JSON object per line with --json.

        \b
        Examples:
          mmctl events eth1 --since 1h
          mmctl events --kind error --follow
        """
        g = globals_of(ctx)
        out = g.output(json_flag)
        params: dict[str, Any] = {"bot": name, "limit": limit, **wire_times(out, tz, since=since)}
        if kind is not None:
            params["kind"] = kind
        result = call(ctx, proto.EVENTS_LIST, params, json_flag=json_flag)
        if out.json and not follow:
            out.document(result)
            return
        try:
            render_events(out, result["events"], header=True)
            out.stream.flush()
            if follow:
                follow_events(g, out, params, result["last_seq"])
        except KeyboardInterrupt:
            return

    db_app = typer.Typer(
        help="The daemon's database: backup, check, vacuum.\n\n\b\nExample:\n  mmctl db check",
        no_args_is_help=True,
    )
    app.add_typer(db_app, name="db")

    @db_app.command("backup")
    def db_backup(
        ctx: typer.Context,
        path: Annotated[str, typer.Argument(help="A new file (never overwritten).")],
        json_flag: JsonFlag = False,
    ) -> None:
        """Copy the database to a new file, consistent while the daemon runs (SQLite online backup).

        \b
        Example:
          mmctl db backup /var/backups/mmctl-$(date +%F).sqlite
        """
        out = globals_of(ctx).output(json_flag)
        target = os.path.abspath(os.path.expanduser(path))
        doc = call(ctx, proto.DB_BACKUP, {"path": target}, json_flag=json_flag)
        if out.json:
            out.document(doc)
        else:
            out.write(f"backed up the database to {doc['path']} ({doc['bytes']} bytes)")

    @db_app.command("check")
    def db_check(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
        """SQLite's integrity and foreign-key checks; exit 1 and list the problems if there are any.

        \b
        Example:
          mmctl db check
        """
        out = globals_of(ctx).output(json_flag)
        doc = call(ctx, proto.DB_CHECK, {}, json_flag=json_flag)
        problems = doc["problems"]
        if out.json:
            out.document(doc)
        elif problems:
            for problem in problems:
                out.write(str(problem))
        else:
            out.write("the database is sound")
        if problems:
            sys.stderr.write(f"mmctl: error: the database check found {len(problems)} problem(s)\n")
            raise typer.Exit(EXIT_FAILED)

    @db_app.command("vacuum")
    def db_vacuum(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
        """Rebuild the database file to reclaim space (the daemon's writes wait meanwhile).

        \b
        Example:
          mmctl db vacuum
        """
        out = globals_of(ctx).output(json_flag)
        doc = call(ctx, proto.DB_VACUUM, {}, json_flag=json_flag)
        out.document(doc) if out.json else out.write("database vacuumed")


def render_open_orders(out: Output, rows: list[dict[str, Any]]) -> None:
    if out.json:
        out.document(rows)
        return
    out.table(
        ["side", "level", "price", "qty", "age_s", "client_order_id"],
        [[r["side"], r["level"], r["price"], r["qty"], r["age_s"], r["client_order_id"]] for r in rows],
    )


RECONNECT = (DaemonUnreachable, Timeout, ShuttingDown)
"""Errors after which `--follow` reconnects instead of failing: the daemon is away for a moment."""


def follow_events(g: Globals, out: Output, params: dict[str, Any], last_seq: int) -> None:
    """Print the events after `last_seq` as they come, until Ctrl-C (KeyboardInterrupt)."""
    from mmctl.rpc.client import Client

    choice = g.socket_choice()
    client: Client | None = None
    away: str | None = None
    retry_s = RETRY_S[0]
    try:
        while True:
            try:
                if client is None:
                    client = Client(choice.path, timeout_s=g.timeout_s, origin=choice.origin)
                page = client.call(proto.EVENTS_LIST, {**params, "after": last_seq, "limit": proto.MAX_PAGE})
            except RECONNECT as e:
                if client is not None:
                    client.close()
                    client = None
                if away is None:
                    away = e.message
                    sys.stderr.write(f"mmctl: {e.message}; reconnecting (Ctrl-C to stop)\n")
                time.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_S[1])
                continue
            except MmctlError as e:
                fail(e, out)
            if away is not None:
                sys.stderr.write(f"mmctl: reconnected; resuming after event {last_seq}\n")
                away, retry_s = None, RETRY_S[0]
            render_events(out, page["events"], header=False)
            out.stream.flush()
            last_seq = page["last_seq"]
            if not page["events"]:
                time.sleep(POLL_S)
    finally:
        if client is not None:
            client.close()
