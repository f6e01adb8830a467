"""The real `mmctl` entry point: exit codes, output formats, config commands, import hygiene."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.daemon import PYTHON, DaemonProc, readline, run_cli


def test_health_exits_0_and_prints_tsv_when_piped(shared_daemon: DaemonProc) -> None:
    """Piped `health` exits 0 and prints tab-separated rows under a `check ok detail` header, the loop-lag
    check first."""
    r = shared_daemon.cli("health")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "check\tok\tdetail"
    assert lines[1].startswith("event_loop_lag\tyes\t")


def test_health_json_is_one_document_with_a_stable_shape(shared_daemon: DaemonProc) -> None:
    """`health --json` prints one JSON document carrying every documented top-level key."""
    r = shared_daemon.cli("health", "--json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert {
        "status",
        "checks",
        "version",
        "api",
        "pid",
        "uptime_s",
        "socket",
        "state_dir",
        "loop_lag_ms",
    } <= set(doc)
    assert doc["status"] == "ok"
    assert all({"name", "ok", "detail"} == set(c) for c in doc["checks"])


def test_global_json_flag_before_the_command_works_too(shared_daemon: DaemonProc) -> None:
    """`--json` given before the command name switches `version` to JSON as it does after it."""
    r = run_cli("--json", "--socket", str(shared_daemon.socket), "version")
    doc = json.loads(r.stdout)
    assert doc["cli"]["api"] == 1
    assert doc["daemon"]["api"] == 1


def test_version_without_a_daemon_prints_the_cli_version_and_exits_3(short_tmp: Path) -> None:
    """With no daemon, `version` still prints the CLI's version, and exits 3 (no daemon answered)."""
    r = run_cli("--socket", str(short_tmp / "none.sock"), "version", "--json")
    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert doc["daemon"] is None
    assert doc["cli"]["api"] == 1


def test_no_daemon_exits_3_naming_the_socket_and_how_to_start(short_tmp: Path) -> None:
    """With no daemon on the socket a command exits 3 with one stderr line naming the socket and `mmctl daemon
    run`."""
    sock = short_tmp / "none.sock"
    r = run_cli("--socket", str(sock), "health")
    assert r.returncode == 3
    assert str(sock) in r.stderr
    assert "mmctl daemon run" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_socket_from_environment_variable(shared_daemon: DaemonProc) -> None:
    """`MMCTL_SOCKET` alone is enough for the CLI to reach the daemon."""
    r = run_cli("health", "--json", env={"MMCTL_SOCKET": str(shared_daemon.socket)})
    assert r.returncode == 0


def test_socket_from_the_config_file(shared_daemon: DaemonProc) -> None:
    """With no `--socket` and no `MMCTL_SOCKET`, the CLI takes the socket path from `--config`'s file."""
    env = {k: v for k, v in os.environ.items() if k != "MMCTL_SOCKET"}
    r = subprocess.run(
        [PYTHON, "-m", "mmctl", "--config", str(shared_daemon.config), "health", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def test_json_error_object_on_stdout_and_one_line_on_stderr(short_tmp: Path) -> None:
    """A failed `--json` command prints an error object (code and message) on stdout and one `mmctl: error:`
    line on stderr."""
    r = run_cli("--socket", str(short_tmp / "none.sock"), "health", "--json")
    assert r.returncode == 3
    err = json.loads(r.stdout)["error"]
    assert err["code"] == 1010
    assert "no mmctl daemon" in err["message"]
    assert r.stderr.startswith("mmctl: error: ")


@pytest.mark.parametrize("args", [["nonsense"], ["health", "--bogus"], ["--timeout", "abc", "health"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Each malformed command line (unknown command, missing or bad argument) exits 2."""
    assert run_cli(*args).returncode == 2


def _cli_as_nobody(sock: Path) -> tuple[int, str]:
    """Run the CLI in a forked child that dropped to uid/gid nobody (root bypasses file modes)."""
    from mmctl.cli.app import app

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 99
        sys.stderr = os.fdopen(write_end, "w")
        try:
            os.setgid(65534)
            os.setuid(65534)
            app(["--socket", str(sock), "health"], prog_name="mmctl")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        err = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def test_socket_the_user_cannot_open_exits_4(shared_daemon: DaemonProc) -> None:
    """A socket the caller has no permission to open exits 4 with "permission denied"."""
    if os.geteuid() == 0:
        code, err = _cli_as_nobody(shared_daemon.socket)
    else:
        shared_daemon.socket.chmod(0)
        try:
            r = shared_daemon.cli("health")
        finally:
            shared_daemon.socket.chmod(0o660)
        code, err = r.returncode, r.stderr
    assert code == 4, err
    assert "permission denied" in err


@pytest.fixture
def old_daemon(short_tmp: Path) -> Iterator[Path]:
    """A fake daemon that speaks API version 999."""
    path = short_tmp / "old.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
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


def test_api_version_mismatch_is_a_clear_error(old_daemon: Path) -> None:
    """A daemon answering with another API version makes a command exit 1 naming the mismatch and the daemon's
    version."""
    r = run_cli("--socket", str(old_daemon), "health")
    assert r.returncode == 1
    assert "API version mismatch" in r.stderr
    assert "999" in r.stderr


def test_cli_never_imports_ccxt_structlog_or_apscheduler(shared_daemon: DaemonProc) -> None:
    """A CLI round trip never imports the daemon's heavy dependencies (ccxt, structlog, apscheduler)."""
    code = (
        "import sys\n"
        "from mmctl.cli.app import app\n"
        "try:\n"
        f"    app(['--socket', {str(shared_daemon.socket)!r}, 'health', '--json'], prog_name='mmctl')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('ccxt', 'structlog', 'apscheduler'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in r.stderr, r.stderr


# --- config commands -------------------------------------------------------------------------------


def test_config_init_writes_a_valid_starter_and_refuses_to_overwrite(short_tmp: Path) -> None:
    """`config init` writes a config that `config check` accepts, refuses to overwrite it without `--force`,
    and overwrites it with."""
    path = short_tmp / "cfg" / "config.toml"
    assert run_cli("config", "init", str(path)).returncode == 0
    assert run_cli("config", "check", str(path)).returncode == 0
    again = run_cli("config", "init", str(path))
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert run_cli("config", "init", str(path), "--force").returncode == 0


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[daemon]\nsockett = 'x'\n", "daemon.sockett"),
        ("[accounts.p]\nexchange = 'paper'\nbalance = 'lots'\n", "accounts.p.balance"),
        ("[accounts.p]\nexchange = 'kraken'\n", "accounts.p.exchange"),
        ("[daemon]\nmax_connections = 0\n", "daemon.max_connections"),
        ("[log]\nlevel = 'loud'\n", "log.level"),
        ("not toml = = 1\n", "not valid TOML"),
    ],
)
def test_config_check_names_the_file_and_key(short_tmp: Path, body: str, key: str) -> None:
    """`config check` of an invalid config exits 1 naming both the file and the offending key."""
    path = short_tmp / "bad.toml"
    path.write_text(body)
    r = run_cli("config", "check", str(path))
    assert r.returncode == 1
    assert str(path) in r.stderr
    assert key in r.stderr


def test_config_check_of_a_missing_file_fails(short_tmp: Path) -> None:
    """`config check` of a path that does not exist exits 1 with "not found"."""
    r = run_cli("config", "check", str(short_tmp / "missing.toml"))
    assert r.returncode == 1
    assert "not found" in r.stderr


def test_config_show_prints_effective_toml_and_json(shared_daemon: DaemonProc) -> None:
    """`config show` prints the effective config as TOML (socket and accounts) and, with `--json`, as a
    document with defaults filled in."""
    r = run_cli("--config", str(shared_daemon.config), "config", "show")
    assert r.returncode == 0
    assert f'socket = "{shared_daemon.socket}"' in r.stdout
    assert "[accounts.paper]" in r.stdout
    doc = json.loads(run_cli("--config", str(shared_daemon.config), "config", "show", "--json").stdout)
    assert doc["daemon"]["state_dir"] == str(shared_daemon.state_dir)
    assert doc["accounts"]["paper"]["balance"] == "10000"


def test_config_show_masks_secret_looking_keys() -> None:
    """`config show` hides the values of keys that look like credentials while keeping other values."""
    from mmctl.cli.config_cmd import mask_secrets

    doc = {"accounts": {"main": {"api_key": "abc", "api_secret": "shh", "exchange": "binanceusdm"}}}
    shown = json.dumps(mask_secrets(doc))
    assert "abc" not in shown
    assert "shh" not in shown
    assert "binanceusdm" in shown


def test_python_dash_m_mmctl_works() -> None:
    """`python -m mmctl --help` runs the CLI and lists the `daemon` command."""
    r = subprocess.run([sys.executable, "-m", "mmctl", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "daemon" in r.stdout
