"""The `mmctl` command: global options, sub-command wiring, and the `version`, `health` and `daemon run`
commands. Keeps start-up cheap: heavy modules (the daemon, ccxt, structlog) load only inside the
commands that need them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mmctl import API_VERSION, __version__
from mmctl.cli import bots_cmd, config_cmd, demo, fleet_cmd
from mmctl.cli.context import Globals, JsonFlag, call, globals_of
from mmctl.cli.output import Output
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
fleet_cmd.register(app)
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
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the daemon.")
    ] = 30.0,
) -> None:
    ctx.obj = Globals(socket=socket, json=json_flag, config=config, timeout_s=timeout)


@app.command()
def version(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Show the CLI's version, and the daemon's when one is running."""
    from mmctl.rpc.client import Client

    g = globals_of(ctx)
    out = g.output(json_flag)
    daemon: dict[str, Any] | None = None
    problem = None
    try:
        with Client(g.socket_path(), timeout_s=g.timeout_s) as client:
            client.call("daemon.version")
            daemon = client.daemon_info
    except MmctlError as e:
        problem = e.message
    if out.json:
        out.document({"cli": {"version": __version__, "api": API_VERSION}, "daemon": daemon})
        return
    out.fields(
        [
            ("cli", f"{__version__} (api {API_VERSION})"),
            ("daemon", f"{daemon['version']} (api {daemon['api']})" if daemon else f"unavailable: {problem}"),
        ]
    )


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


def main() -> None:
    app(prog_name="mmctl")
