"""Where the daemon's socket and state directory are, and whether a socket path is safe to use.

One resolution for both ends (`resolve_socket_choice`, role "daemon" or "cli"):
- `--socket`, then `$MMCTL_SOCKET`, then the config's `[daemon] socket`;
- the daemon: `$RUNTIME_DIRECTORY/mmctl.sock` under systemd, else `/run/mmctl/mmctl.sock` for root;
  the CLI: `/run/mmctl/mmctl.sock` when it exists (or exists but this user may not look inside);
- then the per-user default: `$XDG_RUNTIME_DIR/mmctl/mmctl.sock`, else `/run/user/<uid>/mmctl/mmctl.sock`
  when that directory is the user's, else `/tmp/mmctl-<uid>/mmctl.sock`. The daemon takes the first of
  these; the CLI the first whose socket exists, so a shell, `ssh host mmctl` and cron (`env -i`) agree.

Safety (issue: a socket directory created by another user in /tmp captured root's commands): a socket
directory must be owned by a trusted user and not writable by group or others (a sticky directory such
as /tmp is allowed, and then the socket's own owner must be trusted). The daemon trusts itself and root;
the CLI trusts itself, root, and the owner of a directory that root put there (its parent is root's and
writable by nobody else, e.g. `/run/mmctl` owned by the `mmctl` service user). The checks raise
`UnsafeSocketPath`; callers turn it into their own error. `peer_of` tells who is on the other end of a
connection (the server admits by uid, the CLI checks who it reached). State: `$STATE_DIRECTORY`, else
`/var/lib/mmctl` for root, else `$XDG_STATE_HOME/mmctl` (`~/.local/state/mmctl`). Stdlib only (the CLI
imports this); creates nothing.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import struct
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SYSTEM_SOCKET = Path("/run/mmctl/mmctl.sock")
SOCKET_NAME = "mmctl.sock"
_GROUP_OR_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH

Role = Literal["daemon", "cli"]


class UnsafeSocketPath(Exception):
    """A socket directory or socket that another user could control; the message names path and owner."""


@dataclass(frozen=True, slots=True)
class SocketChoice:
    """The socket to use and where that choice came from (for error messages)."""

    path: Path
    origin: str


def _first(value: str | None) -> str:
    # systemd passes several directories separated by ':' when the unit lists several.
    return (value or "").split(":")[0]


def _exists_or_hidden(path: Path) -> bool:
    """True when `path` exists, or when its directory exists but this user may not look inside."""
    try:
        path.lstat()
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _is_own_dir(path: Path, uid: int) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid


def per_user_sockets(
    env: Mapping[str, str], uid: int, is_own_dir: Callable[[Path, int], bool] = _is_own_dir
) -> list[Path]:
    """The per-user socket candidates, best first (root has one: the system socket)."""
    if uid == 0:
        return [SYSTEM_SOCKET]
    out: list[Path] = []
    if env.get("XDG_RUNTIME_DIR"):
        out.append(Path(env["XDG_RUNTIME_DIR"]) / "mmctl" / SOCKET_NAME)
    run_user = Path(f"/run/user/{uid}")
    if is_own_dir(run_user, uid):  # what $XDG_RUNTIME_DIR is in a login session, also seen from cron
        out.append(run_user / "mmctl" / SOCKET_NAME)
    out.append(Path(f"/tmp/mmctl-{uid}") / SOCKET_NAME)
    return list(dict.fromkeys(out))


def default_socket_path(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    """The daemon's default socket (nothing named explicitly)."""
    return resolve_socket_choice(None, "", env, role="daemon", uid=uid).path


def resolve_socket_choice(
    cli_value: str | None,
    config_value: str = "",
    env: Mapping[str, str] | None = None,
    *,
    role: Role = "daemon",
    uid: int | None = None,
    exists: Callable[[Path], bool] = _exists_or_hidden,
) -> SocketChoice:
    """The socket for the daemon or the CLI, in the order given in the module docstring."""
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    named = (
        (cli_value, "--socket"),
        (env.get("MMCTL_SOCKET"), "$MMCTL_SOCKET"),
        (config_value, "the config's [daemon] socket"),
    )
    for value, origin in named:
        if value:
            return SocketChoice(Path(value).expanduser(), origin)
    if role == "daemon":
        runtime = _first(env.get("RUNTIME_DIRECTORY"))
        if runtime:
            return SocketChoice(Path(runtime) / SOCKET_NAME, "$RUNTIME_DIRECTORY (systemd)")
        if uid == 0:
            return SocketChoice(SYSTEM_SOCKET, "the system socket (root)")
        return SocketChoice(per_user_sockets(env, uid)[0], "the per-user default")
    if exists(SYSTEM_SOCKET):
        return SocketChoice(SYSTEM_SOCKET, "the system socket")
    candidates = per_user_sockets(env, uid)
    found = next((c for c in candidates if exists(c)), candidates[0])
    origin = "the system socket" if found == SYSTEM_SOCKET else "the per-user default"
    return SocketChoice(found, origin)


def resolve_socket(
    cli_value: str | None,
    config_value: str = "",
    env: Mapping[str, str] | None = None,
    *,
    role: Role = "daemon",
) -> Path:
    """`resolve_socket_choice` without the origin."""
    return resolve_socket_choice(cli_value, config_value, env, role=role).path


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


def resolve_state_dir(config_value: str = "", env: Mapping[str, str] | None = None) -> Path:
    return Path(config_value).expanduser() if config_value else default_state_dir(env)


# --- safety of a socket path ---------------------------------------------------------------------------


def user_label(uid: int) -> str:
    """`uid 1001 (bob)`, or `uid 1001` when the user has no name."""
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _trusted_label(trusted: Collection[int]) -> str:
    me = os.geteuid()
    names = ["you" if u == me else user_label(u) for u in sorted(set(trusted) - {0})]
    return " or ".join([*names, "root"])


def _root_appointed(directory: Path) -> bool:
    """True when only root could have created `directory` (its parent is root's, writable by nobody else)."""
    try:
        parent = Path(os.path.realpath(directory)).parent.stat()
    except OSError:
        return False
    return parent.st_uid == 0 and not parent.st_mode & _GROUP_OR_OTHER_WRITE


def check_socket_dir(directory: Path, trusted: Collection[int], *, root_appointed_ok: bool) -> frozenset[int]:
    """Refuse a socket directory another user could control; return the uids a socket in it may have.

    `trusted` are the acceptable owners (root is always one). With `root_appointed_ok`, the owner of a
    directory that only root could have put there is acceptable too. Raises `UnsafeSocketPath`, or an
    `OSError` when the directory cannot be examined (e.g. `FileNotFoundError`, `PermissionError`).
    """
    trusted = frozenset(trusted) | {0}
    link = directory.lstat()
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in trusted:
        raise UnsafeSocketPath(
            f"the socket directory {directory} is a symbolic link owned by {user_label(link.st_uid)}, "
            f"not by {_trusted_label(trusted)}; another user may have planted it to intercept commands"
        )
    st = directory.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeSocketPath(f"{directory} is not a directory, so it cannot hold the socket")
    owner_ok = st.st_uid in trusted or (root_appointed_ok and _root_appointed(directory))
    if not owner_ok:
        raise UnsafeSocketPath(
            f"the socket directory {directory} is owned by {user_label(st.st_uid)}, not by "
            f"{_trusted_label(trusted)}; another user may have created it to intercept commands. "
            f"Remove it (`sudo rm -r {directory}`) and start the daemon again, or use another socket path"
        )
    if st.st_mode & _GROUP_OR_OTHER_WRITE and not st.st_mode & stat.S_ISVTX:
        raise UnsafeSocketPath(
            f"the socket directory {directory} has mode {stat.S_IMODE(st.st_mode):04o}: group or other "
            f"users could replace the socket. `chmod 750 {directory}` or use another socket path"
        )
    return trusted | {st.st_uid}


def check_socket_file(
    path: Path, st: os.stat_result, accepted: Collection[int], *, check_mode: bool = True
) -> None:
    """Refuse the socket at `path` (its `lstat`, `st`) when a user outside `accepted` owns it, or (with
    `check_mode`) when every user may write to it. Raises `UnsafeSocketPath`."""
    if st.st_uid not in accepted:
        raise UnsafeSocketPath(
            f"the socket {path} is owned by {user_label(st.st_uid)}, not by {_trusted_label(accepted)}; "
            "another user may be listening on it to intercept commands"
        )
    if check_mode and st.st_mode & stat.S_IWOTH:
        raise UnsafeSocketPath(
            f"the socket {path} has mode {stat.S_IMODE(st.st_mode):04o}: every user on this machine could "
            "control the daemon (the daemon creates it 0660); restart the daemon or `chmod 660` it"
        )


@dataclass(frozen=True, slots=True)
class Peer:
    """The process on the other end of a Unix socket connection, from `SO_PEERCRED`."""

    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket | None) -> Peer | None:
    """The peer's credentials of a connected Unix socket (Linux `SO_PEERCRED`), or None."""
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    pid, uid, gid = struct.unpack("3i", raw)
    return Peer(pid, uid, gid)
