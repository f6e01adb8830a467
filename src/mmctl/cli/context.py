"""What every CLI command shares: the global options, the output, and calling the daemon.

`call` resolves the socket with `mmctl.paths.resolve_socket_choice` (`--socket`, `$MMCTL_SOCKET`, the
config's `[daemon] socket`, `/run/mmctl/mmctl.sock` when it exists, the per-user default), talks to the
daemon through the blocking RPC client, and turns any `MmctlError` into one line on stderr and the right
exit code. A config file that cannot be used does not stop commands that only need the socket: the CLI
warns and takes the socket from the file's `[daemon] socket` if it can read one, else the default
(`mmctl.config.load.configured_socket`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl.cli.output import Output, fail
from mmctl.errors import EXIT_FAILED, MmctlError, ValidationError
from mmctl.paths import SocketChoice, resolve_socket_choice

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Names = Annotated[list[str] | None, typer.Argument(help="Bot names.", show_default=False)]
AllFlag = Annotated[bool, typer.Option("--all", help="Every bot.")]


@dataclass
class Globals:
    socket: str | None = None
    json: bool = False
    config: str | None = None
    timeout_s: float = 30.0
    fmt: str | None = None  # --output table|tsv|json
    _socket_choice: SocketChoice | None = field(default=None, repr=False)

    def output(self, json_flag: bool = False) -> Output:
        """How this command prints; `--json` after the command and `--output table|tsv` conflict (exit 2)."""
        if json_flag and self.fmt not in (None, "json"):
            fail(ValidationError(f"--json and --output {self.fmt} disagree: give one"), Output(True))
        return Output(self.json or json_flag, fmt=self.fmt)

    def socket_path(self) -> Path:
        """The socket to talk to; reads the config file only when no socket was named otherwise."""
        return self.socket_choice().path

    def socket_choice(self) -> SocketChoice:
        """The socket to talk to and how it was chosen (for error messages)."""
        if self._socket_choice is None:
            env_socket = os.environ.get("MMCTL_SOCKET")
            named = None if self.socket and self.socket == env_socket else self.socket
            configured = "" if self.socket or env_socket else _configured_socket(self.config)
            self._socket_choice = resolve_socket_choice(named, configured, role="cli")
        return self._socket_choice


def _configured_socket(config: str | None) -> str:
    """The config's `[daemon] socket`; a config that does not load costs a warning, not the command."""
    from mmctl.config.load import configured_socket

    socket, problem = configured_socket(config)
    if problem:
        where = f"socket {socket}" if socket else "the default socket"
        sys.stderr.write(f"mmctl: warning: {problem} (using {where})\n")
    return socket


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def call(
    ctx: typer.Context, method: str, params: dict[str, Any] | None = None, *, json_flag: bool = False
) -> Any:
    """Call one RPC method; on error print it and exit with its code."""
    from mmctl.rpc.client import Client

    g = globals_of(ctx)
    out = g.output(json_flag)
    try:
        choice = g.socket_choice()
        with Client(choice.path, timeout_s=g.timeout_s, origin=choice.origin) as client:
            return client.call(method, params)
    except MmctlError as e:
        fail(e, out)


YesFlag = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (required when stdin is not a terminal)."),
]


def confirm(out: Output, question: str, yes: bool, *, retry: str, declined: str) -> None:
    """A destructive command's confirmation: asked on a terminal; without one (cron, ssh with a
    command, a pipe) the command is refused with exit 2 unless `--yes` was given, so a script never
    does it by accident. `retry`: the command line with `--yes`, for the message."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(
            ValidationError(
                f"stdin is not a terminal, so nothing asks for confirmation: add --yes to go ahead ({retry})",
                data={"field": "yes"},
            ),
            out,
        )
    if not typer.confirm(question, default=False):
        out.write(declined)
        raise typer.Exit(EXIT_FAILED)
