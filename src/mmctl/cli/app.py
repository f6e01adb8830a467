"""The `mmctl` command: global options, sub-command wiring, and the `version`, `health` and `daemon run`
commands. Keeps start-up cheap: heavy modules (the daemon, ccxt, structlog) load only inside the
commands that need them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mmctl import API_VERSION, __version__
from mmctl.cli import bots_cmd, config_cmd, demo, fleet_cmd, paper_cmd, records_cmd
from mmctl.cli.context import Globals, JsonFlag, call, globals_of
from mmctl.cli.output import Output
from mmctl.cli.values import finite
from mmctl.errors import EXIT_FAILED, MmctlError

app = typer.Typer(
    name="mmctl",
    help="Run and control market-making bots on Binance USD-M perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
daemon_app = typer.Typer(help="Run the daemon.", no_args_is_help=True)
app.add_typer(config_cmd.app, name="config")
app.add_typer(daemon_app, name="daemon")
bots_cmd.register(app)
records_cmd.register(app)  # after bots_cmd: its `orders` and `events` (read from the store) take over
fleet_cmd.register(app)
paper_cmd.register(app)
demo.register(app)


@app.callback()
def root(
    ctx: typer.Context,
    socket: Annotated[
        str | None,
        typer.Option("--socket", envvar="MMCTL_SOCKET", help="The daemon's socket.", show_envvar=True),
    ] = None,
    json_flag: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    config: Annotated[
        str | None,
        typer.Option("--config", envvar="MMCTL_CONFIG", help="The config file.", show_envvar=True),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            max=3600,
            callback=finite,
            help="Seconds to wait for the daemon (0.1..3600).",
        ),
    ] = 30.0,
) -> None:
    ctx.obj = Globals(socket=socket, json=json_flag, config=config, timeout_s=timeout)


@app.command()
def version(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Show the CLI's version, and the daemon's when one answers.

    Exits 0 when the daemon answered with the same API version, 1 on an API mismatch, and the code of
    the failure when no daemon answered (3 not running, 4 permission denied, 5 timed out); the CLI's
    own version is printed in every case.
    """
    import sys

    from mmctl.errors import ApiMismatch, exit_code_for
    from mmctl.rpc.client import Client

    g = globals_of(ctx)
    out = g.output(json_flag)
    daemon: dict[str, Any] | None = None
    problem: MmctlError | None = None
    try:
        choice = g.socket_choice()
        with Client(choice.path, timeout_s=g.timeout_s, origin=choice.origin) as client:
            client.call("daemon.version")
            daemon = client.daemon_info
    except ApiMismatch as e:
        problem = e
        daemon = {"version": e.data.get("daemon_version"), "api": e.data.get("daemon_api")}
    except MmctlError as e:
        problem = e
    if out.json:
        error = {"code": problem.code, "message": problem.message} if problem else None
        out.document({"cli": {"version": __version__, "api": API_VERSION}, "daemon": daemon, "error": error})
    else:
        out.fields(
            [
                ("cli", f"{__version__} (api {API_VERSION})"),
                ("daemon", f"{daemon['version']} (api {daemon['api']})" if daemon else "unavailable"),
            ]
        )
    if problem is not None:
        sys.stderr.write(f"mmctl: error: {problem.message}\n")
        raise typer.Exit(exit_code_for(problem.code))


@app.command()
def health(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Ask the daemon for its health verdict; exit 0 only when every check passes."""
    report = call(ctx, "daemon.health", json_flag=json_flag)
    out = globals_of(ctx).output(json_flag)
    render_health(out, report)
    if report.get("status") != "ok":
        raise typer.Exit(EXIT_FAILED)


def render_health(out: Output, report: dict[str, Any]) -> None:
    if out.json:
        out.document(report)
        return
    failing = [c for c in report.get("checks", []) if not c.get("ok")]
    if out.tty:
        out.write(f"mmctl daemon {report.get('version')}: {report.get('status')}")
        out.fields(
            [
                ("pid", report.get("pid")),
                ("uptime", f"{report.get('uptime_s', 0):.0f} s"),
                ("socket", report.get("socket")),
                ("state dir", report.get("state_dir")),
                ("config", report.get("config") or "built-in defaults"),
                ("event-loop lag", f"{report.get('loop_lag_ms', 0):.1f} ms"),
            ]
        )
        out.write()
    if report.get("notice"):  # e.g. "recovered from an unclean shutdown at T"
        if out.tty:
            out.write(f"note: {report['notice']}")
        else:  # stdout stays one tab-separated table
            import sys

            sys.stderr.write(f"mmctl: note: {report['notice']}\n")
    out.table(
        ["check", "ok", "detail"],
        [[c.get("name"), c.get("ok"), c.get("detail")] for c in report.get("checks", [])],
    )
    if failing and out.tty:
        out.write(f"{len(failing)} check(s) failing: {', '.join(str(c.get('name')) for c in failing)}")


@daemon_app.command("run")
def daemon_run(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("--config", help="The config file.")] = None,
) -> None:
    """Run the daemon in the foreground (systemd's ExecStart)."""
    from mmctl.daemon.compose import run_daemon

    g = globals_of(ctx)
    raise typer.Exit(run_daemon(config or g.config, g.socket))


def main(args: list[str] | None = None) -> None:
    """The `mmctl` console script (and `python -m mmctl`): run the app, exit with its code.

    click's standalone mode would print a usage error on four lines with the typed value in full; mmctl
    reports it as one line with a hint (`mmctl.cli.usage`), exit 2."""
    import sys

    from typer._click.exceptions import ClickException, UsageError  # typer vendors click (pinned)

    argv = sys.argv[1:] if args is None else args
    try:
        code = app(argv, prog_name="mmctl", standalone_mode=False)
    except UsageError as e:
        from mmctl.cli.usage import report_usage_error

        code = report_usage_error(e, argv)
    except ClickException as e:
        sys.stderr.write(f"mmctl: error: {e.format_message()}\n")
        code = e.exit_code
    except typer.Abort:
        sys.stderr.write("mmctl: error: aborted\n")
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)
