"""A socket directory or socket another user controls is refused by the daemon and by the CLI (issue 9
item 12: an unprivileged user's `/tmp/mmctl-<uid>/` with their own listener captured root's commands).

The tests run as root and hand directories to other uids with os.chown; 65534 is `nobody`.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, run_cli

from mmctl.daemon.listener import bind_socket
from mmctl.errors import InvalidState, PermissionDenied
from mmctl.rpc.client import Client

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="handing files to other users needs root")


class Listener:
    """An impostor's listening socket that never answers; `connections()` counts who came."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.setblocking(False)

    def connections(self) -> int:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return n
            conn.close()
            n += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hijacked(short_tmp: Path) -> Iterator[Listener]:
    """`<tmp>/mmctl-0/mmctl.sock` in a /tmp-like (sticky, world-writable) directory: a directory and a
    live socket owned by nobody, as an attacker left them."""
    os.chmod(short_tmp, 0o1777)
    directory = short_tmp / "mmctl-0"
    directory.mkdir(mode=0o755)
    listener = Listener(directory / "mmctl.sock")
    os.chown(directory, NOBODY, NOBODY)
    os.chown(listener.path, NOBODY, NOBODY)
    yield listener
    listener.close()


# --- the daemon ---------------------------------------------------------------------------------------


def test_daemon_refuses_a_socket_directory_owned_by_another_user(hijacked: Listener) -> None:
    """Binding in another user's directory fails naming the directory and its owner; their socket stays."""
    with pytest.raises(InvalidState) as e:
        bind_socket(hijacked.path)
    assert str(hijacked.path.parent) in e.value.message
    assert "uid 65534 (nobody)" in e.value.message
    assert hijacked.path.exists()
    assert hijacked.connections() == 0


@pytest.mark.slow
def test_daemon_process_refuses_to_start_in_a_hijacked_directory(
    hijacked: Listener, daemon_factory: Callable[..., DaemonProc]
) -> None:
    """`mmctl daemon run` on a hijacked socket path exits 1 with an error naming the owner."""
    d = daemon_factory()
    d.config.write_text(f'[daemon]\nsocket = "{hijacked.path}"\nstate_dir = "{d.state_dir}"\n')
    d.socket = hijacked.path
    code, out = d.start(wait=False).exited()
    assert code == 1, out
    assert "uid 65534 (nobody)" in out
    assert "refusing to serve" in out


def test_daemon_refuses_a_group_or_world_writable_socket_directory(short_tmp: Path) -> None:
    """A directory others may write (not sticky) is refused with its mode, even when root owns it."""
    directory = short_tmp / "open"
    directory.mkdir()
    os.chmod(directory, 0o777)
    with pytest.raises(InvalidState, match="mode 0777"):
        bind_socket(directory / "mmctl.sock")
    os.chmod(directory, 0o770)
    with pytest.raises(InvalidState, match="mode 0770"):
        bind_socket(directory / "mmctl.sock")
    assert not (directory / "mmctl.sock").exists()


def test_daemon_accepts_a_sticky_shared_directory_owned_by_root(short_tmp: Path) -> None:
    """A root-owned sticky directory like /tmp may hold the socket (others cannot replace it)."""
    directory = short_tmp / "shared"
    directory.mkdir()
    os.chmod(directory, 0o1777)
    sock = bind_socket(directory / "mmctl.sock")
    try:
        assert stat.S_IMODE((directory / "mmctl.sock").stat().st_mode) == 0o660
    finally:
        sock.close()


def test_daemon_refuses_to_replace_a_stale_socket_owned_by_another_user(short_tmp: Path) -> None:
    """A dead socket that another user owns is neither used nor deleted."""
    directory = short_tmp / "shared"
    directory.mkdir()
    os.chmod(directory, 0o1777)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(directory / "mmctl.sock"))
    stale.close()
    os.chown(directory / "mmctl.sock", NOBODY, NOBODY)
    with pytest.raises(InvalidState, match=r"owned by uid 65534 \(nobody\)"):
        bind_socket(directory / "mmctl.sock")
    assert (directory / "mmctl.sock").exists()


def test_daemon_creates_its_directory_0750_when_missing(short_tmp: Path) -> None:
    """A missing socket directory is created 0750 and the socket 0660 (the checks pass on what it made)."""
    path = short_tmp / "a" / "b" / "mmctl.sock"
    sock = bind_socket(path)
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    finally:
        sock.close()


# --- the CLI -------------------------------------------------------------------------------------------


def test_cli_refuses_a_hijacked_directory_and_sends_nothing(hijacked: Listener) -> None:
    """`mmctl stop --all` on a socket in another user's directory exits 4 naming the path and owner,
    and never connects to the impostor."""
    r = run_cli("--socket", str(hijacked.path), "stop", "--all")
    assert r.returncode == 4, r.stderr
    assert f"refusing to use {hijacked.path}" in r.stderr
    assert "uid 65534 (nobody)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert hijacked.connections() == 0


def test_cli_refuses_a_group_writable_socket_directory(short_tmp: Path) -> None:
    """A socket directory that group members may write is refused with its mode."""
    directory = short_tmp / "grp"
    directory.mkdir()
    listener = Listener(directory / "mmctl.sock")
    os.chmod(directory, 0o770)
    try:
        with pytest.raises(PermissionDenied, match="mode 0770"), Client(listener.path) as c:
            c.call("daemon.version")
        assert listener.connections() == 0
    finally:
        listener.close()


def test_cli_refuses_another_users_socket_in_a_sticky_directory(short_tmp: Path) -> None:
    """In a /tmp-like directory, a socket owned by another user is refused (they may have planted it)."""
    directory = short_tmp / "shared"
    directory.mkdir()
    os.chmod(directory, 0o1777)
    listener = Listener(directory / "mmctl.sock")
    os.chown(listener.path, NOBODY, NOBODY)
    try:
        with pytest.raises(PermissionDenied, match=r"the socket .* is owned by uid 65534 \(nobody\)"):
            Client(listener.path).call("daemon.version")
        assert listener.connections() == 0
    finally:
        listener.close()


def test_cli_refuses_a_world_writable_socket(short_tmp: Path) -> None:
    """A socket every user may write is refused (the daemon makes it 0660)."""
    directory = short_tmp / "run"
    directory.mkdir(mode=0o750)
    listener = Listener(directory / "mmctl.sock")
    os.chmod(listener.path, 0o666)
    try:
        with pytest.raises(PermissionDenied, match="mode 0666"):
            Client(listener.path).call("daemon.version")
    finally:
        listener.close()


def test_cli_refuses_a_listener_running_as_another_user(short_tmp: Path) -> None:
    """Even on a socket file root owns, the CLI hangs up when the listening process (SO_PEERCRED) is
    another user's."""
    directory = short_tmp / "run"
    directory.mkdir(mode=0o750)
    path = directory / "mmctl.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    listening_r, listening_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(release_w)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sock.listen(4)  # the peer credentials a client sees are the listener's at listen()
            os.write(listening_w, b"x")
            os.read(release_r, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(listening_r, 1) == b"x"
        with pytest.raises(PermissionDenied, match=r"listening on it runs as uid 65534 \(nobody\)"):
            Client(path).call("daemon.version")
    finally:
        os.close(release_w)
        os.waitpid(pid, 0)
        sock.close()
        for fd in (listening_r, listening_w, release_r):
            os.close(fd)


def test_cli_accepts_a_service_users_directory_that_root_made(short_tmp: Path) -> None:
    """A directory owned by a service user inside a root-only directory (like /run/mmctl owned by the
    `mmctl` user) is accepted, and so is a listener running as that user."""
    service = 4201
    directory = short_tmp / "mmctl"
    directory.mkdir(mode=0o750)
    path = directory / "mmctl.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chown(directory, service, service)
    os.chown(path, service, service)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child: a one-shot daemon speaking API 1 as the service user
        try:
            os.setgroups([])
            os.setgid(service)
            os.setuid(service)
            sock.listen(4)
            os.write(ready_w, b"x")
            conn, _ = sock.accept()
            lines = conn.makefile("rb")
            for i in (1, 2):
                lines.readline()
                reply = f'{{"jsonrpc":"2.0","id":{i},"result":{{"version":"t","api":1}}}}\n'
                conn.sendall(reply.encode())
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"x"
        with Client(path, timeout_s=10) as c:
            assert c.call("daemon.version")["api"] == 1
    finally:
        os.waitpid(pid, 0)
        sock.close()
        os.close(ready_r)
        os.close(ready_w)
