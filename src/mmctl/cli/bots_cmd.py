"""Bot commands: create, list, status, start, stop, set, export, remove (`orders` and `events` are in
`mmctl.cli.records_cmd`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl.cli.context import AllFlag, JsonFlag, Names, YesFlag, call, confirm, globals_of
from mmctl.cli.output import Output, fail
from mmctl.cli.render import render_rows, render_status, report_outcomes
from mmctl.cli.values import clip, finite
from mmctl.errors import MmctlError, ValidationError
from mmctl.rpc import protocol as proto


def parse_assignments(pairs: list[str], out: Output) -> dict[str, str]:
    """`key=value` strings into a dict; a malformed one is a usage error."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(ValidationError(f"expected key=value, got {clip(pair)!r} (e.g. --set spread_bps=8)"), out)
        values[key.strip()] = value.strip()
    return values


DEFINITION_KEYS = ("version", "name", "account", "symbol", "strategy", "created", "created_ms", "params")
"""The top-level keys of a bot definition, as `mmctl export` writes it (`created`, ISO 8601 UTC) or
wrote it before (`created_ms`, epoch milliseconds). `name` and the creation time are ignored by
`create --from`: the new bot takes the name given on the command line and is created now."""


def read_definition_file(path: Path, out: Output) -> dict[str, Any]:
    """A `create --from` file: at most 1 MiB of UTF-8 TOML holding only the keys of a bot definition."""
    from mmctl.config.tomlfile import read_toml, shown

    try:
        data = read_toml(path, "bot definition", ValidationError, field="from")
        for key, value in data.items():
            if key not in DEFINITION_KEYS:
                raise ValidationError(
                    f"{shown(path)}: unknown key {clip(key)!r} (a bot definition has: "
                    f"{', '.join(DEFINITION_KEYS)})",
                    data={"field": key},
                )
            if key in ("account", "symbol", "strategy") and not isinstance(value, str):
                raise ValidationError(
                    f"{shown(path)}: {key} must be a string, got {clip(repr(value))}", data={"field": key}
                )
            if key == "params" and not isinstance(value, dict):
                raise ValidationError(f"{shown(path)}: params must be a table", data={"field": "params"})
    except ValidationError as e:
        fail(e, out)
    return data


def backtest_definition(run_id: str, out: Output) -> dict[str, Any]:
    """The strategy, symbol and parameters of a kept backtest run (`mmctl backtest` prints its id)."""
    from mmctl.backtest.runs import load_run

    try:
        spec = load_run(run_id.strip())["spec"]
    except MmctlError as e:
        fail(e, out)
    return {"strategy": spec["strategy"], "symbol": spec["symbol"], "params": dict(spec["params"])}


def register(app: typer.Typer) -> None:
    @app.command()
    def create(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Bot name: lowercase letters, digits, '-' (max 20).")],
        account: Annotated[str | None, typer.Option("--account", help="Account from the config.")] = None,
        symbol: Annotated[str | None, typer.Option("--symbol", help="BTCUSDT or BTC/USDT:USDT.")] = None,
        strategy: Annotated[str | None, typer.Option("--strategy", help="Strategy name.")] = None,
        settings: Annotated[
            list[str] | None, typer.Option("--set", help="Parameter as key=value; repeat as needed.")
        ] = None,
        from_file: Annotated[
            Path | None, typer.Option("--from", help="A TOML definition (e.g. from mmctl export).")
        ] = None,
        from_backtest: Annotated[
            str | None,
            typer.Option("--from-backtest", help="Copy a backtest run's strategy, symbol and parameters."),
        ] = None,
        json_flag: JsonFlag = False,
    ) -> None:
        """Create a bot; parameters are validated against the strategy and the market.

        \b
        Examples:
          mmctl create eth1 --account paper --symbol ETHUSDT --set levels=2 --set spread_bps=8
          mmctl create eth2 --from eth1.toml
          mmctl create btc1 --account paper --from-backtest 3f2a9c0d1b7e
        """
        out = globals_of(ctx).output(json_flag)
        if from_file and from_backtest:
            fail(ValidationError("give --from or --from-backtest, not both"), out)
        base = read_definition_file(from_file, out) if from_file else {}
        if from_backtest:
            base = backtest_definition(from_backtest, out)
        params = {**base.get("params", {}), **parse_assignments(settings or [], out)}
        account = account or base.get("account")
        symbol = symbol or base.get("symbol")
        if not account or not symbol:
            missing = "--account" if not account else "--symbol"
            fail(ValidationError(f"{missing} is required (e.g. --account paper --symbol BTCUSDT)"), out)
        request = {
            "name": name,
            "account": account,
            "symbol": symbol,
            "strategy": strategy or base.get("strategy") or "market_maker",
            "params": params,
        }
        row = call(ctx, proto.BOT_CREATE, request, json_flag=json_flag)
        if out.json:
            out.document(row)
        else:
            out.write(f"created bot {row['name']} on {row['account']} {row['symbol']} ({row['strategy']})")

    @app.command("list")
    def list_(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
        """One row per bot: state, symbol, mid, position, PnL, open orders, last error.

        \b
        Examples:
          mmctl list
          ssh vps mmctl list --output table
        """
        render_rows(globals_of(ctx).output(json_flag), call(ctx, proto.BOT_LIST, json_flag=json_flag))

    @app.command()
    def status(
        ctx: typer.Context,
        name: Annotated[str | None, typer.Argument(help="A bot for the detailed view.")] = None,
        watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
        interval: Annotated[
            float,
            typer.Option(
                "--interval",
                min=0.2,
                max=3600,
                callback=finite,
                help="Seconds between refreshes (0.2..3600).",
            ),
        ] = 1.0,
        json_flag: JsonFlag = False,
    ) -> None:
        """All bots, or one bot in detail with its open orders. --watch redraws a view that fits the
        terminal (alternate screen; plain snapshots when not on a terminal or with TERM=dumb) until
        Ctrl-C, and waits through a daemon restart.

        \b
        Examples:
          mmctl status
          mmctl status eth1 --watch
        """
        out = globals_of(ctx).output(json_flag)

        def once() -> None:
            if name is None:
                render_rows(out, call(ctx, proto.BOT_LIST, json_flag=json_flag))
            else:
                render_status(out, call(ctx, proto.BOT_STATUS, {"name": name}, json_flag=json_flag))

        if not watch:
            once()
            return
        from mmctl.cli.watch import watch as run_watch

        run_watch(globals_of(ctx), out, name, interval)

    @app.command()
    def start(
        ctx: typer.Context, names: Names = None, all_: AllFlag = False, json_flag: JsonFlag = False
    ) -> None:
        """Start bots (connection check, leverage, countdown cancel, leftovers cancelled, then quoting);
        one row per bot as it starts, exit 1 if any failed.

        \b
        Examples:
          mmctl start eth1 btc1
          mmctl start --all
        """
        from mmctl.cli.starts import start_command

        g = globals_of(ctx)
        start_command(g, g.output(json_flag), names or [], all_)

    @app.command()
    def stop(
        ctx: typer.Context,
        names: Names = None,
        all_: AllFlag = False,
        flatten: Annotated[bool, typer.Option("--flatten", help="Also close the bot's position.")] = False,
        yes: YesFlag = False,
        json_flag: JsonFlag = False,
    ) -> None:
        """Stop bots: quoting stops, every order of the bot is cancelled and confirmed gone. --all
        --flatten asks first on a terminal and needs --yes otherwise (exit 2 without).

        \b
        Examples:
          mmctl stop eth1
          mmctl stop --all --flatten --yes
        """
        out = globals_of(ctx).output(json_flag)
        if all_ and flatten:
            confirm(
                out,
                "Stop EVERY bot and close each bot's position at the market?",
                yes,
                retry="mmctl stop --all --flatten --yes",
                declined="nothing stopped",
            )
        params = {"names": names or [], "all": all_, "flatten": flatten}
        report_outcomes(out, call(ctx, proto.BOT_STOP, params, json_flag=json_flag))

    @app.command("set")
    def set_(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The bot.")],
        assignments: Annotated[list[str], typer.Argument(help="key=value pairs.", show_default=False)],
        json_flag: JsonFlag = False,
    ) -> None:
        """Change parameters; a running bot applies them at its next tick.

        \b
        Example:
          mmctl set eth1 spread_bps=12 levels=3
        """
        out = globals_of(ctx).output(json_flag)
        changes = parse_assignments(assignments, out)
        result = call(ctx, proto.BOT_SET, {"name": name, "params": changes}, json_flag=json_flag)
        if out.json:
            out.document(result)
        else:
            out.write(
                f"{name}: "
                + ", ".join(f"{k}={result['params'][k]}" for k in changes)
                + f" ({result['applies']})"
            )

    @app.command()
    def export(
        ctx: typer.Context, name: Annotated[str, typer.Argument(help="The bot.")], json_flag: JsonFlag = False
    ) -> None:
        """Print a bot's definition as TOML (usable with create --from).

        \b
        Example:
          mmctl export eth1 > eth1.toml
        """
        out = globals_of(ctx).output(json_flag)
        definition = call(ctx, proto.BOT_EXPORT, {"name": name}, json_flag=json_flag)
        if out.json:
            out.document(definition)
            return
        import tomli_w

        out.stream.write(tomli_w.dumps(definition))

    @app.command()
    def remove(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The bot.")],
        yes: YesFlag = False,
        json_flag: JsonFlag = False,
    ) -> None:
        """Delete a stopped bot's definition. Asks first on a terminal; needs --yes otherwise (exit 2
        without).

        \b
        Example:
          mmctl remove eth1 --yes
        """
        out = globals_of(ctx).output(json_flag)
        confirm(
            out,
            f"Delete bot {clip(name)!r}?",
            yes,
            retry=f"mmctl remove {clip(name)} --yes",
            declined="nothing removed",
        )
        result = call(ctx, proto.BOT_REMOVE, {"name": name}, json_flag=json_flag)
        out.document(result) if out.json else out.write(f"removed bot {name}")
