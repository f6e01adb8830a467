"""What every CLI command shares: the global options, the output, and calling the daemon.

`call` resolves the socket (`--socket`, `$MMCTL_SOCKET`, the config's `[daemon] socket`, the default),
talks to the daemon through the blocking RPC client, and turns any `MmctlError` into one line on
stderr and the right exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl.cli.output import Output, fail
from mmctl.errors import MmctlError
from mmctl.paths import resolve_socket

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Names = Annotated[list[str] | None, typer.Argument(help="Bot names.", show_default=False)]
AllFlag = Annotated[bool, typer.Option("--all", help="Every bot.")]


@dataclass
class Globals:
    socket: str | None = None
    json: bool = False
    config: str | None = None
    timeout_s: float = 30.0
    _socket_path: Path | None = field(default=None, repr=False)

    def output(self, json_flag: bool = False) -> Output:
        return Output(self.json or json_flag)

    def socket_path(self) -> Path:
        """The socket to talk to; reads the config file only when no socket was named otherwise."""
        if self._socket_path is None:
            configured = ""
            if not self.socket:
                configured = _configured_socket(self.config)
            self._socket_path = resolve_socket(self.socket, configured)
        return self._socket_path


def _configured_socket(config: str | None) -> str:
    import os

    if os.environ.get("MMCTL_SOCKET"):
        return ""
    from mmctl.config.load import load_settings

    return load_settings(config).daemon.socket


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
        with Client(g.socket_path(), timeout_s=g.timeout_s) as client:
            return client.call(method, params)
    except MmctlError as e:
        fail(e, out)
