"""`mmctl version` exit codes (issue 9 items 14 and 22): 0 only when a daemon of the same API answered,
1 on an API mismatch, 3 when no daemon answered; the CLI's own version is printed in every case."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, readline, run_cli

from mmctl import API_VERSION, __version__


@pytest.fixture
def api_999_daemon(short_tmp: Path) -> Iterator[Path]:
    """A fake daemon that answers every request with version 9.0.0, API 999."""
    path = short_tmp / "old.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                req = json.loads(readline(conn))
                reply = {"jsonrpc": "2.0", "id": req["id"], "result": {"version": "9.0.0", "api": 999}}
                conn.sendall(json.dumps(reply).encode() + b"\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join()
    srv.close()


@pytest.mark.slow
def test_version_exits_0_when_the_daemon_speaks_the_same_api(shared_daemon: DaemonProc) -> None:
    """With a matching daemon, `version --json` exits 0 with both versions and no error."""
    r = shared_daemon.cli("version", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["cli"] == {"version": __version__, "api": API_VERSION}
    assert doc["daemon"]["api"] == API_VERSION
    assert doc["error"] is None


def test_version_exits_1_on_an_api_mismatch_and_shows_both_versions(api_999_daemon: Path) -> None:
    """An API mismatch exits 1, shows the daemon's version beside the CLI's, and says what to do."""
    r = run_cli("--socket", str(api_999_daemon), "version")
    assert r.returncode == 1, r.stderr
    assert __version__ in r.stdout
    assert "9.0.0 (api 999)" in r.stdout
    assert "API version mismatch" in r.stderr
    doc = json.loads(run_cli("--socket", str(api_999_daemon), "version", "--json").stdout)
    assert doc["daemon"] == {"version": "9.0.0", "api": 999}
    assert doc["error"]["code"] == 1009


def test_version_exits_3_without_a_daemon_and_still_prints_the_cli_version(short_tmp: Path) -> None:
    """No daemon: exit 3, the CLI's version on stdout, the socket tried on stderr."""
    sock = short_tmp / "none.sock"
    r = run_cli("--socket", str(sock), "version")
    assert r.returncode == 3
    assert __version__ in r.stdout
    assert "unavailable" in r.stdout
    assert str(sock) in r.stderr
    r = run_cli("--socket", str(sock), "version", "--json")
    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert doc["cli"]["version"] == __version__
    assert doc["daemon"] is None
    assert doc["error"]["code"] == 1010
