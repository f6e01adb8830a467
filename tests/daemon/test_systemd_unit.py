"""The shipped systemd files and the daemon's side of the contract: the unit verifies and is hardened
(offline exposure ≤ 1.2), the sysusers and tmpfiles files parse and create what the unit needs, the
unit's timeouts and exit statuses match the daemon's, and the daemon's sd_notify messages (extend the
stop timeout while bots stop, RELOADING=1 with MONOTONIC_USEC on reload)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, rpc, wait_until

from mmctl.config.schema import DaemonSettings
from mmctl.daemon.host import EXTEND_BY_S
from mmctl.daemon.systemd import EXIT_CONFIG, Notifier
from mmctl.exchange.binance.credentials import load_credentials
from mmctl.paths import SYSTEM_SOCKET

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "mmctl.service"
SYSUSERS = SYSTEMD / "mmctl.sysusers"
TMPFILES = SYSTEMD / "mmctl.tmpfiles"

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
needs_sysusers = pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers")
needs_root_tmpfiles = pytest.mark.skipif(
    shutil.which("systemd-tmpfiles") is None or os.geteuid() != 0,
    reason="systemd-tmpfiles absent or not root (it sets owners)",
)


def unit_entries(path: Path = UNIT) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (keys may repeat, as systemd allows)."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit_entries() if s == section and k == key]


def one(key: str, section: str = "Service") -> str:
    (value,) = values(key, section)
    return value


def runnable_copy(tmp_path: Path) -> Path:
    """The unit with its ExecStart program replaced by an executable that exists here (verify checks
    it), when /opt/mmctl is not installed on this machine."""
    text = UNIT.read_text()
    program = one("ExecStart").split()[0]
    if not Path(program).exists():
        stand_in = tmp_path / "mmctl"
        stand_in.write_text("#!/bin/sh\nexit 0\n")
        stand_in.chmod(0o755)
        text = text.replace(f"ExecStart={program} ", f"ExecStart={stand_in} ")
    copy = tmp_path / "mmctl.service"
    copy.write_text(text)
    return copy


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit with no warning (only ExecStart's path is swapped for
    one that exists here)."""
    r = subprocess.run(
        ["systemd-analyze", "verify", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""


@needs_analyze
def test_offline_security_exposure_is_at_most_1_2(tmp_path: Path) -> None:
    """`systemd-analyze security --offline=true` rates the unit's exposure 1.2 or lower."""
    r = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    assert found is not None, r.stdout + r.stderr
    assert float(found.group(1)) <= 1.2, r.stdout


def sysusers_in(root: Path) -> subprocess.CompletedProcess[str]:
    """systemd-sysusers on the shipped file against `root` (a fresh system has /etc)."""
    (root / "etc").mkdir(exist_ok=True)
    return subprocess.run(
        ["systemd-sysusers", f"--root={root}", str(SYSUSERS)], capture_output=True, text=True, timeout=60
    )


@needs_sysusers
def test_the_sysusers_file_creates_the_units_user_and_group(tmp_path: Path) -> None:
    """systemd-sysusers parses `mmctl.sysusers` and creates the unit's User= and Group= (a system user,
    home the state directory, no login shell)."""
    r = sysusers_in(tmp_path)
    assert r.returncode == 0, r.stderr
    users = {
        line.split(":")[0]: line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    groups = {line.split(":")[0] for line in (tmp_path / "etc/group").read_text().splitlines()}
    user = users[one("User")]
    assert one("Group") in groups
    assert int(user[2]) < 1000  # a system uid
    assert user[5] == "/var/lib/" + one("StateDirectory")
    assert user[6] == "/usr/sbin/nologin"


@needs_sysusers
@needs_root_tmpfiles
def test_the_tmpfiles_file_makes_a_config_dir_for_the_group_and_a_root_only_credentials_dir(
    tmp_path: Path,
) -> None:
    """systemd-tmpfiles creates /etc/mmctl (0750, group mmctl: the daemon and operators read the config)
    and /etc/mmctl/credentials (0700, root's: only systemd reads the keys)."""
    assert sysusers_in(tmp_path).returncode == 0
    r = subprocess.run(
        ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(TMPFILES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    gid = next(
        int(line.split(":")[2])
        for line in (tmp_path / "etc/group").read_text().splitlines()
        if line.startswith("mmctl:")
    )
    etc = (tmp_path / "etc/mmctl").stat()
    creds = (tmp_path / "etc/mmctl/credentials").stat()
    assert (stat.S_IMODE(etc.st_mode), etc.st_uid, etc.st_gid) == (0o750, 0, gid)
    assert (stat.S_IMODE(creds.st_mode), creds.st_uid, creds.st_gid) == (0o700, 0, 0)


def test_a_config_error_fails_the_service_once() -> None:
    """The unit restarts on failure but not on the daemon's config-error status (78) nor a usage error."""
    assert one("Restart") == "on-failure"
    prevented = one("RestartPreventExitStatus").split()
    assert str(EXIT_CONFIG) in prevented
    assert "2" in prevented


def test_the_stop_timeout_is_comfortably_above_the_daemons_worst_case_stop() -> None:
    """TimeoutStopSec exceeds the daemon's own bound on a stop (requests, then services: twice the largest
    allowed `[daemon] shutdown_timeout_s`) by at least five minutes, and the extension the daemon asks
    for while stopping fits in it."""
    field = next(f for f in dataclasses.fields(DaemonSettings) if f.name == "shutdown_timeout_s")
    worst_case_s = 2 * field.metadata["max"]
    timeout_s = int(one("TimeoutStopSec"))
    assert timeout_s >= worst_case_s + 300
    assert timeout_s > EXTEND_BY_S
    assert one("KillMode") == "mixed"


def test_the_units_hardening_and_paths_fit_the_daemon() -> None:
    """Refused system calls fail with EPERM (not a kill); the runtime directory is the CLI's system
    socket directory; the documentation it names is a file the install steps put in place."""
    assert one("SystemCallErrorNumber") == "EPERM"
    assert one("RuntimeDirectory") == SYSTEM_SOCKET.parent.name
    assert one("RuntimeDirectoryMode") == "0750"
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    docs = one("Documentation", "Unit")
    assert docs.startswith("file:///")
    readme = docs.removeprefix("file://")
    readme_text = (SYSTEMD.parent / "README.md").read_text()
    assert f"install -D -m 0644 README.md {readme}" in readme_text


def test_the_credential_names_in_the_unit_are_the_ones_the_binance_adapter_reads(tmp_path: Path) -> None:
    """The `LoadCredential=` example names files `<account>.api_key`/`.api_secret`: the adapter finds
    both in `$CREDENTIALS_DIRECTORY` under those names."""
    examples = re.findall(r"^# LoadCredential=([^:\s]+):(\S+)$", UNIT.read_text(), re.MULTILINE)
    names = sorted(name for name, _ in examples)
    assert names == ["main.api_key", "main.api_secret"]
    for name in names:
        (tmp_path / name).write_text(f"value-of-{name}\n")
    creds = load_credentials("main", env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert creds.api_key.reveal() == "value-of-main.api_key"
    assert creds.api_secret.reveal() == "value-of-main.api_secret"


# --- sd_notify ----------------------------------------------------------------------------------------------


def _receiver(path: Path) -> socket.socket:
    r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    r.bind(str(path))
    r.settimeout(30)
    return r


def test_reloading_carries_the_monotonic_time_and_extend_the_microseconds(short_tmp: Path) -> None:
    """RELOADING=1 comes with MONOTONIC_USEC (CLOCK_MONOTONIC now, in µs) and EXTEND_TIMEOUT_USEC is the
    asked-for seconds in µs, as `Type=notify-reload` and the stop timeout expect."""
    address = short_tmp / "notify.sock"
    r = _receiver(address)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(address)})
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert notifier.reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = dict(line.split("=", 1) for line in r.recv(4096).decode().splitlines())
        assert fields["RELOADING"] == "1"
        assert before <= int(fields["MONOTONIC_USEC"]) <= after
        assert notifier.extend_timeout(20, "stopping")
        assert r.recv(4096).decode().splitlines() == ["EXTEND_TIMEOUT_USEC=20000000", "STATUS=stopping"]
    finally:
        r.close()


def _until(r: socket.socket, wanted: str) -> list[str]:
    seen: list[str] = []
    while not any(wanted in m for m in seen):
        seen.append(r.recv(4096).decode())
    return seen


@pytest.mark.slow
def test_the_daemon_extends_the_stop_timeout_while_bots_stop_and_signals_reloads(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """Under a NOTIFY_SOCKET: SIGHUP gives RELOADING=1 + MONOTONIC_USEC then READY=1; SIGTERM with a bot
    quoting gives STOPPING=1 then EXTEND_TIMEOUT_USEC before the daemon exits 0."""
    d = daemon_factory()
    r = _receiver(d.root / "notify.sock")
    try:
        d.start({"NOTIFY_SOCKET": str(d.root / "notify.sock")})
        _until(r, "READY=1")
        created = rpc(d.socket, "bot.create", {"name": "b1", "account": "paper", "symbol": "BTCUSDT"})
        assert "result" in created, created
        assert "result" in rpc(d.socket, "bot.start", {"names": ["b1"]})
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        reload = _until(r, "RELOADING=1")[-1]
        assert "MONOTONIC_USEC=" in reload
        assert any("READY=1" in m for m in _until(r, "READY=1"))
        wait_until(lambda: rpc(d.socket, "daemon.health")["result"]["status"] == "ok", what="healthy")
        d.proc.send_signal(signal.SIGTERM)
        stopping = _until(r, "EXTEND_TIMEOUT_USEC=")
        assert any("STOPPING=1" in m for m in stopping)
        assert f"EXTEND_TIMEOUT_USEC={int(EXTEND_BY_S * 1e6)}" in stopping[-1]
        code, out = d.stop()
        assert code == 0, out
        assert "bot_stopped" in out
    finally:
        r.close()
