"""The daemon process through its real socket: modes, exclusivity, stale sockets, signals, sd_notify."""

from __future__ import annotations

import os
import signal
import socket
import stat
from collections.abc import Callable
from pathlib import Path

from tests.support.daemon import DaemonProc, answers, rpc, wait_until


def test_socket_is_0660_in_a_0750_directory(daemon: DaemonProc) -> None:
    """The daemon's socket is a socket with mode 0660 inside a directory with mode 0750."""
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o660
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o750
    assert stat.S_ISSOCK(daemon.socket.stat().st_mode)


def test_second_daemon_on_the_same_socket_is_refused_and_the_first_keeps_working(
    daemon: DaemonProc, daemon_factory: Callable[..., DaemonProc]
) -> None:
    """A second daemon configured with a live daemon's socket exits 1 with "already running" and the first one
    still answers."""
    other = daemon_factory(name="other")
    other.config.write_text(f'[daemon]\nsocket = "{daemon.socket}"\nstate_dir = "{other.state_dir}"\n')
    code, out = other.start(wait=False).exited()
    assert code == 1
    assert "already running" in out
    assert rpc(daemon.socket, "daemon.version")["result"]["api"] == 1


def test_second_daemon_on_the_same_state_dir_is_refused_with_the_owner_pid(
    daemon: DaemonProc, daemon_factory: Callable[..., DaemonProc]
) -> None:
    """A second daemon on a state dir in use exits 1 naming the lock holder's pid, without creating its own
    socket, and the first still answers."""
    other = daemon_factory(name="other")
    other.config.write_text(f'[daemon]\nsocket = "{other.socket}"\nstate_dir = "{daemon.state_dir}"\n')
    code, out = other.start(wait=False).exited()
    assert code == 1
    assert "holds the lock" in out
    assert daemon.proc is not None
    assert f"pid {daemon.proc.pid}" in out
    assert not other.socket.exists()
    assert rpc(daemon.socket, "daemon.version")["result"]["api"] == 1


def test_sigterm_exits_0_and_removes_the_socket(daemon: DaemonProc) -> None:
    """SIGTERM makes the daemon exit 0, remove its socket and log `daemon_stopped`."""
    code, out = daemon.stop(signal.SIGTERM)
    assert code == 0
    assert not daemon.socket.exists()
    assert "daemon_stopped" in out


def test_sigint_also_shuts_down_cleanly(daemon: DaemonProc) -> None:
    """SIGINT shuts the daemon down like SIGTERM: exit 0 and the socket removed."""
    code, _ = daemon.stop(signal.SIGINT)
    assert code == 0
    assert not daemon.socket.exists()


def test_stale_socket_file_is_replaced(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A leftover socket file nobody listens on (a crashed daemon's) is replaced and the new daemon serves on
    it."""
    d = daemon_factory()
    d.socket.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(d.socket))
    stale.close()  # the file stays, nobody listens: a crashed daemon's leftover
    assert d.socket.exists()
    assert not answers(d.socket)
    d.start()
    assert rpc(d.socket, "daemon.version")["result"]["api"] == 1


def test_a_regular_file_at_the_socket_path_is_not_deleted(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A regular file at the socket path makes the daemon exit 1 with "not a socket" and leaves the file's
    content untouched."""
    d = daemon_factory()
    d.socket.parent.mkdir(parents=True)
    d.socket.write_text("important")
    code, out = d.start(wait=False).exited()
    assert code == 1
    assert "not a socket" in out
    assert d.socket.read_text() == "important"


def test_sighup_with_a_broken_config_keeps_running_and_says_why(daemon: DaemonProc) -> None:
    """SIGHUP with an invalid config keeps the daemon serving on its old config and logs
    `config_reload_failed` naming the bad key."""
    daemon.config.write_text(daemon.config.read_text() + "\n[log]\nlevel = 'loud'\n")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: rpc(daemon.socket, "daemon.version").get("result") is not None, what="daemon alive")
    code, out = daemon.stop()
    assert code == 0
    assert "config_reload_failed" in out
    assert "log.level" in out


def test_sighup_applies_a_valid_config_change(daemon: DaemonProc) -> None:
    """SIGHUP with a valid config change applies it at once (a `warning` log level filters the info lines
    after the reload)."""
    daemon.config.write_text(daemon.config.read_text() + "\n[log]\nlevel = 'warning'\n")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: rpc(daemon.socket, "daemon.version").get("result") is not None, what="daemon alive")
    code, out = daemon.stop()
    assert code == 0
    assert "config_reloaded" in out
    assert "daemon_stopping" not in out  # info lines are filtered once the level is warning


def test_health_reports_paths_pid_and_loop_lag(daemon: DaemonProc) -> None:
    # the socket answers while the start-up recovery runs (health says "recovering" until it is over)
    """`daemon.health` reports ok with the daemon's pid, socket, state dir and config paths, a loop lag and an
    uptime."""
    wait_until(lambda: rpc(daemon.socket, "daemon.health")["result"]["status"] == "ok", what="healthy")
    h = rpc(daemon.socket, "daemon.health")["result"]
    assert h["status"] == "ok"
    assert daemon.proc is not None
    assert h["pid"] == daemon.proc.pid
    assert h["socket"] == str(daemon.socket)
    assert h["state_dir"] == str(daemon.state_dir)
    assert h["config"] == str(daemon.config)
    assert h["loop_lag_ms"] >= 0
    assert h["uptime_s"] >= 0


def _receiver(address: str) -> socket.socket:
    r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    r.bind(("\0" + address[1:]) if address.startswith("@") else address)
    r.settimeout(20)
    return r


def _messages_until(r: socket.socket, wanted: str) -> list[str]:
    seen: list[str] = []
    while not any(wanted in m for m in seen):
        seen.append(r.recv(4096).decode())
    return seen


def _notify_roundtrip(d: DaemonProc, address: str) -> None:
    r = _receiver(address)
    try:
        d.start({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"})
        first = _messages_until(r, "READY=1")
        assert any("STATUS=serving on" in m for m in first)
        assert any("WATCHDOG=1" in m for m in _messages_until(r, "WATCHDOG=1"))
        assert d.proc is not None
        d.proc.send_signal(signal.SIGTERM)
        assert any("STOPPING=1" in m for m in _messages_until(r, "STOPPING=1"))
        code, _ = d.stop()
        assert code == 0
    finally:
        r.close()


def test_sd_notify_ready_watchdog_stopping_on_a_path_socket(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """With `NOTIFY_SOCKET` a filesystem path, the daemon sends READY/STATUS, then WATCHDOG pings, then
    STOPPING on shutdown, and exits 0."""
    d = daemon_factory()
    _notify_roundtrip(d, str(d.root / "notify.sock"))


def test_sd_notify_on_an_abstract_socket(daemon_factory: Callable[..., DaemonProc]) -> None:
    """The same READY, WATCHDOG and STOPPING messages reach an abstract-namespace `NOTIFY_SOCKET` (`@...`)."""
    d = daemon_factory()
    _notify_roundtrip(d, f"@mmctl-test-{os.getpid()}-{d.root.name}")


def test_socket_path_too_long_is_a_clear_error(
    daemon_factory: Callable[..., DaemonProc], tmp_path: Path
) -> None:
    """A socket path longer than a Unix socket address allows makes the daemon exit 1 saying it is too
    long."""
    d = daemon_factory()
    long_sock = d.root / ("x" * 120) / "s.sock"
    d.config.write_text(f'[daemon]\nsocket = "{long_sock}"\nstate_dir = "{d.state_dir}"\n')
    code, out = d.start(wait=False).exited()
    assert code == 1
    assert "too long" in out


def test_a_failing_service_at_start_is_one_log_line_and_exit_1(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """A service that fails at start (an unreadable replay file) gives one `daemon_start_failed` line, no
    traceback, exit 1 and no socket left."""
    d = daemon_factory()
    bad = d.root / "BTCUSDT-bookTicker-2024-01-01.csv"
    bad.write_text("this is not,a book ticker\n")
    replay = f"\n[accounts.paper]\nexchange = 'paper'\nmarket = 'replay'\nreplay_path = '{bad}'\n"
    d.config.write_text(d.config.read_text() + replay)
    code, out = d.start(wait=False).exited()
    assert code == 1
    assert "daemon_start_failed" in out
    assert "Traceback" not in out
    assert not d.socket.exists()


def test_an_unbindable_socket_is_one_log_line_and_exit_1(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A socket path that cannot be bound gives one `daemon_start_refused` line, no traceback and exit 1."""
    d = daemon_factory()
    d.config.write_text(f'[daemon]\nsocket = "/proc/nope/x.sock"\nstate_dir = "{d.state_dir}"\n')
    code, out = d.start(wait=False).exited()
    assert code == 1
    assert "daemon_start_refused" in out
    assert "Traceback" not in out


def test_a_client_that_never_reads_does_not_block_shutdown(daemon: DaemonProc) -> None:
    """A client that floods requests and never reads its replies neither stops others being served nor keeps
    SIGTERM from exiting 0."""
    hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hog.connect(str(daemon.socket))
    hog.setblocking(False)
    request = b'{"jsonrpc":"2.0","method":"daemon.methods","id":1}\n' * 200
    sent = 0
    try:
        for _ in range(200):
            try:
                sent += hog.send(request)
            except BlockingIOError:
                break
        assert rpc(daemon.socket, "daemon.version")["result"]["api"] == 1
        code, _ = daemon.stop(timeout=60)
        assert code == 0
    finally:
        hog.close()
    assert sent > 0


def test_a_second_sigterm_during_final_teardown_does_not_kill_the_daemon(daemon: DaemonProc) -> None:
    """A second SIGTERM arriving during the final teardown does not cut it short: the daemon still exits 0
    after `daemon_stopped`."""
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: not daemon.socket.exists() or daemon.proc.poll() is not None, what="teardown")  # type: ignore[union-attr]
    if daemon.proc.poll() is None:
        daemon.proc.send_signal(signal.SIGTERM)
    code, out = daemon.exited()
    assert code == 0
    assert "daemon_stopped" in out
