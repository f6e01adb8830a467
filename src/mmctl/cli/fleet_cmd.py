"""Fleet commands: pause, resume, leverage, cancel-all (the panic button) and portfolio."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from mmctl.cli.context import AllFlag, JsonFlag, Names, YesFlag, call, confirm, globals_of
from mmctl.cli.output import Output, fail
from mmctl.cli.render import ledger_lines, report_outcomes
from mmctl.cli.values import clip
from mmctl.errors import EXIT_FAILED, ValidationError
from mmctl.rpc import protocol as proto


def register(app: typer.Typer) -> None:
    @app.command()
    def pause(
        ctx: typer.Context, names: Names = None, all_: AllFlag = False, json_flag: JsonFlag = False
    ) -> None:
        """Stop quoting (orders cancelled and confirmed) but keep watching market data and risk.

        \b
        Examples:
          mmctl pause eth1
          mmctl pause --all
        """
        out = globals_of(ctx).output(json_flag)
        report_outcomes(
            out, call(ctx, proto.BOT_PAUSE, {"names": names or [], "all": all_}, json_flag=json_flag)
        )

    @app.command()
    def resume(
        ctx: typer.Context, names: Names = None, all_: AllFlag = False, json_flag: JsonFlag = False
    ) -> None:
        """Quote again after a pause.

        \b
        Examples:
          mmctl resume eth1
          mmctl resume --all
        """
        out = globals_of(ctx).output(json_flag)
        report_outcomes(
            out, call(ctx, proto.BOT_RESUME, {"names": names or [], "all": all_}, json_flag=json_flag)
        )

    @app.command()
    def leverage(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The bot.")],
        value: Annotated[int | None, typer.Argument(help="New leverage (1..the symbol's maximum).")] = None,
        json_flag: JsonFlag = False,
    ) -> None:
        """Show the bot's symbol's leverage and maximum, or set it.

        \b
        Examples:
          mmctl leverage eth1
          mmctl leverage eth1 10
        """
        out = globals_of(ctx).output(json_flag)
        params: dict[str, Any] = {"name": name} if value is None else {"name": name, "leverage": value}
        info = call(ctx, proto.BOT_LEVERAGE, params, json_flag=json_flag)
        if out.json:
            out.document(info)
            return
        pairs: list[tuple[str, Any]] = [
            ("symbol", f"{info['symbol']} on {info['account']}"),
            (
                "leverage",
                f"{info['leverage']}x" + (f" (was {info['previous']}x)" if "previous" in info else ""),
            ),
            ("maximum", f"{info['max_leverage']}x"),
            ("notional cap at this leverage", info["notional_cap"]),
            ("position notional", info["position_notional"]),
        ]
        if info.get("note"):
            pairs.append(("note", info["note"]))
        out.fields(pairs)

    @app.command("cancel-all")
    def cancel_all(
        ctx: typer.Context,
        names: Names = None,
        symbol: Annotated[str | None, typer.Option("--symbol", help="Every order on this symbol...")] = None,
        account: Annotated[str | None, typer.Option("--account", help="...of this account.")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Every order on every account and symbol.")] = False,
        yes: YesFlag = False,
        json_flag: JsonFlag = False,
    ) -> None:
        """The panic button: pause bots and cancel orders (by bot, by symbol of an account, or everything).
        Asks first on a terminal; needs --yes otherwise (exit 2 without).

        \b
        Examples:
          mmctl cancel-all eth1
          mmctl cancel-all --symbol BTCUSDT --account main
          mmctl cancel-all --all --yes
        """
        out = globals_of(ctx).output(json_flag)
        forms = sum([bool(names), symbol is not None or account is not None, all_])
        if forms != 1:
            fail(ValidationError("give bot names, or --symbol S --account A, or --all (exactly one)"), out)
        if names:
            confirm(
                out,
                f"Pause {', '.join(clip(n) for n in names)} and cancel their orders?",
                yes,
                retry=f"mmctl cancel-all {' '.join(clip(n) for n in names)} --yes",
                declined="nothing cancelled",
            )
            report_outcomes(out, call(ctx, proto.CANCEL_BOTS, {"names": names}, json_flag=json_flag))
            return
        if not all_ and (symbol is None or account is None):
            fail(
                ValidationError("--symbol and --account go together (e.g. --symbol BTCUSDT --account main)"),
                out,
            )
        what = "EVERY open order on every account" if all_ else f"every open order on {account} {symbol}"
        form = "--all" if all_ else f"--symbol {clip(str(symbol))} --account {clip(str(account))}"
        confirm(
            out,
            f"Cancel {what} (bots there are paused)?",
            yes,
            retry=f"mmctl cancel-all {form} --yes",
            declined="nothing cancelled",
        )
        if all_:
            results = call(ctx, proto.CANCEL_ALL, {}, json_flag=json_flag)
        else:
            results = [
                call(ctx, proto.CANCEL_SYMBOL, {"account": account, "symbol": symbol}, json_flag=json_flag)
            ]
        _render_cancelled(out, results)

    @app.command()
    def portfolio(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
        """Capital, exposure and PnL across accounts and bots.

        \b
        Example:
          mmctl portfolio --json
        """
        out = globals_of(ctx).output(json_flag)
        doc = call(ctx, proto.PORTFOLIO_GET, {}, json_flag=json_flag)
        if out.json:
            out.document(doc)
            return
        _render_portfolio(out, doc)


def _render_cancelled(out: Output, results: list[dict[str, Any]]) -> None:
    if out.json:
        out.document(results)
        return
    rows = [
        [r["account"], o["symbol"], o["side"], o["price"], o["qty"], o["client_order_id"]]
        for r in results
        for o in r["cancelled"]
    ]
    out.table(["account", "symbol", "side", "price", "qty", "client_order_id"], rows)
    paused = [b for r in results for b in r["paused"]]
    if out.tty:
        out.write(f"{len(rows)} order(s) cancelled; paused: {', '.join(paused) or 'no bots'}")
    failed = [f for r in results for f in r.get("failed", [])]
    for f in failed:
        sys.stderr.write(f"mmctl: error: bot {f['bot']}: {f['error']}\n")
    remaining = sum(len(r.get("remaining", [])) for r in results)
    if remaining:
        sys.stderr.write(f"mmctl: error: {remaining} order(s) still open after cancel-all; run it again\n")
    if failed or remaining:
        raise typer.Exit(EXIT_FAILED)


def _render_portfolio(out: Output, doc: dict[str, Any]) -> None:
    accounts = doc["accounts"]
    out.table(
        ["account", "wallet", "available", "margin_used", "unrealized_pnl"],
        [
            [
                a["account"],
                a.get("wallet_balance"),
                a.get("available_balance"),
                a.get("margin_used"),
                a.get("unrealized_pnl", a.get("error")),
            ]
            for a in accounts
        ],
    )
    out.write()
    out.table(
        ["account", "symbol", "net_position", "notional"],
        [
            [a["account"], p["symbol"], p["qty"], p["notional"]]
            for a in accounts
            for p in a.get("positions", [])
        ],
    )
    out.write()
    columns = [
        "bot",
        "account",
        "symbol",
        "state",
        "position",
        "notional",
        "realized_pnl",
        "fees",
        "funding",
        "unrealized_pnl",
        "net_pnl",
    ]
    out.table(columns, [[b.get(c) for c in columns] for b in doc["bots"]])
    since = [(b["bot"], b.get("pnl_since_start"), b.get("pnl_since")) for b in doc["bots"]]
    if any(start or later for _, start, later in since):
        out.write()
        out.table(
            ["bot", "ledger_net_since_start", "ledger_net_since"],
            [[bot, (start or {}).get("net"), (later or {}).get("net")] for bot, start, later in since],
        )
    for a in accounts:
        if a.get("pnl_since"):
            lines, as_of = a["pnl_since"], doc.get("ledger_as_of")
            out.write(f"{a['account']} since {lines['since']}: {ledger_lines(lines, as_of)}")
    t = doc["totals"]
    out.write()
    out.fields([("total " + k.replace("_", " "), v) for k, v in t.items()])
