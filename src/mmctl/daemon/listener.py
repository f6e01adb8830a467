"""The daemon's exclusive resources: the state directory lock (flock) and the listening Unix socket.

The socket's directory is created 0750 and the socket bound under a umask that makes it 0660 from
the first instant (bind, chmod, then listen), so there is no window where it is more open. An existing
socket file is probed with a connect: a live daemon means refuse to start; a dead one is replaced.
A socket directory (or socket) that another user owns, or that group/others may write, is refused
(`mmctl.paths.check_socket_dir`): it could hold someone else's listener.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from pathlib import Path

from mmctl.errors import ConfigError, InvalidState, MmctlError
from mmctl.paths import UnsafeSocketPath, check_socket_dir, check_socket_file

SOCKET_DIR_MODE = 0o750
SOCKET_MODE = 0o660
STATE_DIR_MODE = 0o750


class StateLock:
    """An exclusive, non-blocking flock on `<state_dir>/daemon.lock`, holding the owner's pid."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "daemon.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        state_dir = self.path.parent
        try:
            state_dir.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(
                f"state_dir {state_dir} is not a directory: set [daemon] state_dir to a directory"
            ) from None
        except PermissionError:
            raise ConfigError(
                f"state_dir {state_dir}: permission denied; the daemon's user must be able to write it"
            ) from None
        except OSError as e:
            raise ConfigError(f"state_dir {state_dir}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise InvalidState(
                    f"another mmctl daemon (pid {owner}) holds the lock on {self.path}; "
                    "stop it first or use another state_dir"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True  # e.g. a timeout: something holds it; do not steal it
    finally:
        probe.close()
    return True


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def bind_socket(path: Path) -> socket.socket:
    """Create the directory and a bound (not yet listening) socket with its final modes.

    An existing directory must be the daemon's (or root's) and not writable by group or others, and an
    existing socket in it the daemon's or root's: otherwise another user could swap in a listener of
    their own and capture every command sent to this path.
    """
    if len(os.fsencode(path)) > 107:
        raise MmctlError(f"socket path too long for a Unix socket ({len(str(path))} bytes): {path}")
    directory = path.parent
    try:
        directory.mkdir(mode=SOCKET_DIR_MODE, parents=True)
        os.chmod(directory, SOCKET_DIR_MODE)
    except FileExistsError:
        pass  # an existing directory: checked below, never trusted for being there
    trusted = {os.geteuid(), 0}
    try:
        check_socket_dir(directory, trusted, root_appointed_ok=False)
        existing = _lstat(path)
        if existing is not None:
            if not stat.S_ISSOCK(existing.st_mode):
                msg = f"{path} exists and is not a socket; remove it or choose another socket path"
                raise InvalidState(msg)
            check_socket_file(path, existing, trusted, check_mode=False)
    except UnsafeSocketPath as e:
        raise InvalidState(f"refusing to serve on {path}: {e}") from e
    if existing is not None:
        if _alive(path):
            raise InvalidState(f"another mmctl daemon is already running on {path}")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~SOCKET_MODE)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, SOCKET_MODE)
    sock.setblocking(False)
    return sock


def remove_socket(path: Path, sock: socket.socket) -> None:
    """Close the listening socket and remove its file."""
    sock.close()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
