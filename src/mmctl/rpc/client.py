"""The blocking RPC client the CLI uses (socket module only, fast to import), and shared reply handling.

Before connecting it refuses a socket that another user could have planted (`verify_socket`: the
directory and socket must be root's, this user's, or the daemon's user's in a directory root made), and
after connecting it checks who listens (`SO_PEERCRED`). It checks the daemon's API version on the first
call of a connection and raises `ApiMismatch` when it differs from `mmctl.API_VERSION`. Connection
problems become `DaemonUnreachable` (nothing answers), `PermissionDenied` (the socket may not be opened,
or is refused as unsafe) or `Timeout`, each naming the socket tried, how it was chosen, and what to do.
Error responses are raised as the `MmctlError` subclass their code names.
"""

from __future__ import annotations

import grp
import itertools
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

from mmctl import API_VERSION, __version__
from mmctl.errors import (
    ApiMismatch,
    DaemonUnreachable,
    MmctlError,
    PermissionDenied,
    Timeout,
    error_for_code,
)
from mmctl.paths import UnsafeSocketPath, check_socket_dir, check_socket_file, peer_of, user_label
from mmctl.rpc.protocol import MAX_MESSAGE_BYTES, encode, request


def _origin(origin: str | None) -> str:
    return f" ({origin})" if origin else ""


def unreachable(path: Path | str, origin: str | None = None) -> DaemonUnreachable:
    return DaemonUnreachable(
        f"no mmctl daemon is running on {path}{_origin(origin)}: start it with `mmctl daemon run` or "
        "`sudo systemctl start mmctl`, or point --socket / $MMCTL_SOCKET at its socket",
        data={"socket": str(path)},
    )


def _group_of(path: Path) -> str:
    """The group that may open the socket (the socket's, else its directory's), by name."""
    for candidate in (path, path.parent):
        try:
            gid = candidate.stat().st_gid
        except OSError:
            continue
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)
    return "mmctl"


def denied(path: Path | str, origin: str | None = None) -> PermissionDenied:
    group = _group_of(Path(path))
    return PermissionDenied(
        f"permission denied on {path}{_origin(origin)}: join the daemon's group "
        f"(`sudo usermod -aG {group} $USER`, then log in again) or run as the daemon's user",
        data={"socket": str(path), "group": group},
    )


def unsafe(path: Path | str, problem: str) -> PermissionDenied:
    return PermissionDenied(f"refusing to use {path}: {problem}", data={"socket": str(path), "unsafe": True})


def verify_socket(path: Path, origin: str | None = None) -> frozenset[int]:
    """Check, before connecting, that nobody but root, this user or the daemon's appointed user could
    have put the socket there; return the uids the listening process may run as."""
    try:
        accepted = check_socket_dir(path.parent, {os.geteuid()}, root_appointed_ok=True)
        st = path.lstat()
        if not stat.S_ISSOCK(st.st_mode):
            raise DaemonUnreachable(
                f"{path}{_origin(origin)} is not a socket; point --socket / $MMCTL_SOCKET at the "
                "daemon's socket",
                data={"socket": str(path)},
            )
        check_socket_file(path, st, accepted)
    except UnsafeSocketPath as e:
        raise unsafe(path, str(e)) from e
    except PermissionError:
        raise denied(path, origin) from None
    except (FileNotFoundError, NotADirectoryError):
        raise unreachable(path, origin) from None
    except OSError as e:
        raise DaemonUnreachable(f"cannot use {path}: {e.strerror or e}", data={"socket": str(path)}) from e
    return accepted


def parse_reply(line: bytes) -> Any:
    try:
        reply = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MmctlError(f"the daemon sent an unreadable reply: {e}") from None
    if not isinstance(reply, dict):
        raise MmctlError("the daemon sent an unexpected reply")
    err = reply.get("error")
    if err is not None:
        raise error_for_code(int(err.get("code", 1000)), str(err.get("message", "error")), err.get("data"))
    return reply.get("result")


def check_version(info: Any) -> dict[str, Any]:
    if not isinstance(info, dict) or info.get("api") != API_VERSION:
        daemon_api = info.get("api") if isinstance(info, dict) else None
        daemon_ver = info.get("version") if isinstance(info, dict) else None
        raise ApiMismatch(
            f"API version mismatch: this mmctl {__version__} speaks API {API_VERSION}, the daemon "
            f"{daemon_ver} speaks API {daemon_api}; restart the daemon after upgrading, or use the "
            "matching mmctl",
            data={"cli_api": API_VERSION, "daemon_api": daemon_api, "daemon_version": daemon_ver},
        )
    return info


class Client:
    """Blocking JSON-RPC client over a Unix socket."""

    def __init__(self, path: Path | str, timeout_s: float = 30.0, origin: str | None = None) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        self.origin = origin
        self._sock: socket.socket | None = None
        self._buf = b""
        self._ids = itertools.count(1)
        self.daemon_info: dict[str, Any] | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection and any reply bytes read on it (the next call connects afresh)."""
        self._buf = b""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> socket.socket:
        accepted = verify_socket(Path(self.path), self.origin)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout_s)
        try:
            s.connect(self.path)
        except PermissionError:
            s.close()
            raise denied(self.path, self.origin) from None
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            s.close()
            raise unreachable(self.path, self.origin) from None
        except TimeoutError:
            s.close()
            raise Timeout(f"timed out connecting to {self.path}") from None
        except OSError as e:
            s.close()
            reason = e.strerror or str(e)
            raise DaemonUnreachable(
                f"cannot connect to {self.path}: {reason} (check --socket / $MMCTL_SOCKET)"
            ) from None
        peer = peer_of(s)
        if peer is not None and peer.uid not in accepted:
            s.close()
            raise unsafe(self.path, f"the process listening on it runs as {user_label(peer.uid)}")
        self._sock = s
        return s

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self._sock is None:
            self._connect()
            self.daemon_info = check_version(self._roundtrip("daemon.version", None))
        return self._roundtrip(method, params)

    def _roundtrip(self, method: str, params: dict[str, Any] | None) -> Any:
        sock = self._sock
        assert sock is not None
        try:
            sock.sendall(encode(request(method, params, next(self._ids))))
            return parse_reply(self._readline(sock))
        except TimeoutError:
            self.close()
            raise Timeout(f"the daemon did not answer {method} within {self.timeout_s:g} s") from None
        except (BrokenPipeError, ConnectionResetError):
            self.close()
            raise DaemonUnreachable(f"the daemon on {self.path} closed the connection") from None

    def _readline(self, sock: socket.socket) -> bytes:
        while b"\n" not in self._buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise DaemonUnreachable(f"the daemon on {self.path} closed the connection")
            self._buf += chunk
            if len(self._buf) > MAX_MESSAGE_BYTES:
                self.close()
                raise MmctlError(f"the daemon's reply is larger than {MAX_MESSAGE_BYTES} bytes")
        line, _, self._buf = self._buf.partition(b"\n")
        return line
