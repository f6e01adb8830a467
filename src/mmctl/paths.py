"""Default locations of the daemon's socket and state directory (DESIGN.md §3), from the environment.

Socket: `$RUNTIME_DIRECTORY/mmctl.sock` under systemd, else `/run/mmctl/mmctl.sock` for root, else
`$XDG_RUNTIME_DIR/mmctl/mmctl.sock` (or `/tmp/mmctl-<uid>/mmctl.sock` when that is unset).
State: `$STATE_DIRECTORY`, else `/var/lib/mmctl` for root, else `$XDG_STATE_HOME/mmctl`
(`~/.local/state/mmctl`). Reads the environment only; creates nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def _first(value: str | None) -> str:
    # systemd passes several directories separated by ':' when the unit lists several.
    return (value or "").split(":")[0]


def default_socket_path(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if _first(env.get("RUNTIME_DIRECTORY")):
        return Path(_first(env.get("RUNTIME_DIRECTORY"))) / "mmctl.sock"
    if uid == 0:
        return Path("/run/mmctl/mmctl.sock")
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "mmctl" / "mmctl.sock"
    return Path(f"/tmp/mmctl-{uid}/mmctl.sock")


def default_state_dir(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if _first(env.get("STATE_DIRECTORY")):
        return Path(_first(env.get("STATE_DIRECTORY")))
    if uid == 0:
        return Path("/var/lib/mmctl")
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "mmctl"
    return Path(env.get("HOME") or Path.home()) / ".local" / "state" / "mmctl"


def resolve_socket(
    cli_value: str | None, config_value: str = "", env: Mapping[str, str] | None = None
) -> Path:
    """`--socket`, then `$MMCTL_SOCKET`, then the config's `[daemon] socket`, then the default."""
    env = os.environ if env is None else env
    for candidate in (cli_value, env.get("MMCTL_SOCKET"), config_value):
        if candidate:
            return Path(candidate).expanduser()
    return default_socket_path(env)


def resolve_state_dir(config_value: str = "", env: Mapping[str, str] | None = None) -> Path:
    return Path(config_value).expanduser() if config_value else default_state_dir(env)
