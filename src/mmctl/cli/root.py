"""The `mmctl` typer app: global options (`--socket`, `--config`, `--json`, `--output`, `--timeout`,
`--version`, `-h`), sub-command wiring, and the `version`, `health`, `completion` and `daemon run`
commands. Loaded by `mmctl.cli.app.main` for every command but shell completion; heavy modules (the
daemon, ccxt, structlog) load only inside the commands that need them.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

import typer
from typer.models import CommandInfo

from mmctl import API_VERSION, __version__
from mmctl.cli import (
    backtest_cmd,
    bots_cmd,
    config_cmd,
    demo,
    fleet_cmd,
    paper_cmd,
    pnl_cmd,
    record_cmd,
    records_cmd,
    strategies_cmd,
)
from mmctl.cli.complete import GLOBAL_OPTIONS, VALUE_OPTIONS
from mmctl.cli.context import Globals, JsonFlag, call, globals_of
from mmctl.cli.output import FORMATS, Output
from mmctl.cli.values import finite
from mmctl.errors import EXIT_FAILED, MmctlError

HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="mmctl",
    help="Run and control market-making bots on Binance USD-M perpetual futures.\n\n"
    "\b\nExamples:\n  mmctl status --watch\n  ssh vps mmctl --output table list\n  mmctl stop --all",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=HELP,
)
daemon_app = typer.Typer(
    help="Run the daemon.\n\n\b\nExample:\n  mmctl daemon run --config /etc/mmctl/config.toml",
    no_args_is_help=True,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(daemon_app, name="daemon")
bots_cmd.register(app)
records_cmd.register(app)
fleet_cmd.register(app)
paper_cmd.register(app)
pnl_cmd.register(app)
strategies_cmd.register(app)
backtest_cmd.register(app)
record_cmd.register(app)
demo.register(app)


def print_version(value: bool) -> None:
    """`--version`: print the CLI's version and exit 0, before any command is looked for."""
    if value:
        typer.echo(f"mmctl {__version__} (api {API_VERSION})")
        raise typer.Exit(0)


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
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help="Force a format: table (aligned, as on a terminal), tsv (tab-separated with a header, "
            "as when piped) or json; may also follow the command.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=print_version, help="Print the CLI's version and exit."
        ),
    ] = False,
) -> None:
    """The global options, kept for every command in `Globals`."""
    if output is not None and output not in FORMATS:
        raise typer.BadParameter(
            f"expected one of {', '.join(FORMATS)}, got {output!r}", param_hint="--output"
        )
    if json_flag and output not in (None, "json"):
        raise typer.BadParameter(f"--json and --output {output} disagree: give one", param_hint="--output")
    ctx.obj = Globals(socket=socket, json=json_flag, config=config, timeout_s=timeout, fmt=output)


@app.command("version")
def version_(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Show the CLI's version, and the daemon's when one answers.

    \b
    Example:
      mmctl version --json

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
    """Ask the daemon for its health verdict; exit 0 only when every check passes: each running bot
    has its intended quotes live (quoting:BOT), each account's clock and balance, the store and the
    disk space of the state directory, market data, order streams, countdowns and request budgets.

    \b
    Example:
      mmctl health || echo "mmctl is not quoting" | mail -s mmctl ops@example.com
    """
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
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"] | None,
        typer.Option("--log-level", help="Overrides the config's [log] level."),
    ] = None,
    log_format: Annotated[
        Literal["auto", "journal", "json", "console"] | None,
        typer.Option("--log-format", help="Overrides the config's [log] format."),
    ] = None,
) -> None:
    """Run the daemon in the foreground (systemd's ExecStart).

    \b
    Example:
      mmctl daemon run --config /etc/mmctl/config.toml
    """
    from mmctl.daemon.compose import run_daemon

    g = globals_of(ctx)
    raise typer.Exit(run_daemon(config or g.config, g.socket, log_level=log_level, log_format=log_format))


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script: commands, options and bot names (from the daemon, when one
    answers quickly) complete on TAB.

    \b
    Examples:
      mmctl completion bash > /etc/bash_completion.d/mmctl
      mmctl completion zsh > "${fpath[1]}/_mmctl"
      mmctl completion fish > ~/.config/fish/completions/mmctl.fish
      echo 'source <(mmctl completion bash)' >> ~/.bashrc
    """
    from mmctl.cli.complete import SHELLS, script

    if shell not in SHELLS:
        raise typer.BadParameter(f"expected one of {', '.join(SHELLS)}, got {shell!r}", param_hint="SHELL")
    typer.echo(script(shell), nl=False)


OVERVIEW = """\
mmctl {version}: market-making bots on Binance USD-M futures, run by a daemon, driven from a shell.

  mmctl status [--watch]        every bot, one row each (a live view with --watch)
  mmctl create NAME --account A --symbol S   define a bot; then: mmctl start NAME
  mmctl stop NAME... | --all    stop quoting; the bots' orders are cancelled and confirmed
  mmctl cancel-all --all        the panic button: every open order cancelled, bots paused
  mmctl health                  the daemon's verdict: exit 0 only when every bot quotes
  mmctl pnl --since yesterday   profit and loss from the venue's ledger
  mmctl demo                    try it on the built-in paper exchange (no API keys needed)

Every command: mmctl --help; one command with examples: mmctl COMMAND --help.
"""


def hoist_output(argv: list[str]) -> list[str]:
    """`--output FORMAT` given after the command moved in front of it, where the global option is
    parsed (only before a `--`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest += argv[i:]
            break
        if token == "--output" and i + 1 < len(argv):
            front += argv[i : i + 2]
            i += 2
            continue
        (front if token.startswith("--output=") else rest).append(token)
        i += 1
    return front + rest


GLOBAL_VALUE_OPTIONS = VALUE_OPTIONS.intersection(GLOBAL_OPTIONS)
"""The root's options that take the next word as their value (--socket, --config, --output, --timeout)."""


def command_word(argv: list[str]) -> str | None:
    """The command named in `argv` (the first word that is neither a global option nor its value)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--" or not word.startswith("-"):
            return None if word == "--" else word
        i += 2 if word in GLOBAL_VALUE_OPTIONS else 1
    return None


def app_for(argv: list[str]) -> typer.Typer:
    """The app holding only the command `argv` names (with the root's options): click builds the
    parameters of one command instead of every command's, about 50 ms less per run. The whole app when
    no known command is named (help, `--version`, a typo: its error lists the commands)."""
    word = command_word(argv)
    if word is None:
        return app
    commands = [c for c in app.registered_commands if _name(c) == word]
    groups = [g for g in app.registered_groups if g.name == word]
    if not commands and not groups:
        return app
    slim = copy.copy(app)
    slim.registered_commands = commands
    slim.registered_groups = groups
    return slim


def _name(info: CommandInfo) -> str:
    callback = info.callback.__name__ if info.callback is not None else ""
    return info.name or callback.lower().replace("_", "-")


def run(argv: list[str]) -> int:
    """Run the app on `argv`; the exit code.

    click's standalone mode would print a usage error on four lines with the typed value in full; mmctl
    reports it as one line with a hint (`mmctl.cli.usage`), exit 2. With no arguments: a short overview."""
    import sys

    from typer._click.exceptions import ClickException, UsageError  # typer vendors click (pinned)

    if not argv:
        sys.stdout.write(OVERVIEW.format(version=__version__))
        return 0
    argv = hoist_output(argv)
    try:
        code = app_for(argv)(argv, prog_name="mmctl", standalone_mode=False)
    except UsageError as e:
        from mmctl.cli.usage import report_usage_error

        code = report_usage_error(e, argv)
    except ClickException as e:
        sys.stderr.write(f"mmctl: error: {e.format_message()}\n")
        code = e.exit_code
    except typer.Abort:
        sys.stderr.write("mmctl: error: aborted\n")
        code = EXIT_FAILED
    return code if isinstance(code, int) else 0
