"""The daemon's logs under journald: priority prefixes, libraries' logging in the same pipeline, the
CLI's overrides, the rotating file, secrets kept out, start-up errors at error priority, and a fast
start that never imports ccxt without a Binance account."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import structlog
from tests.support.daemon import PYTHON, answers, wait_until, write_config

from mmctl.config.load import parse_settings
from mmctl.daemon import logging as daemon_logging
from mmctl.daemon.systemd import EXIT_CONFIG
from mmctl.errors import ConfigError

PREFIX = re.compile(r"^<(\d)>")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    daemon_logging.reset()


def journal_env(stream: IO[str]) -> dict[str, str]:
    """The `$JOURNAL_STREAM` systemd sets when `stream` is connected to journald."""
    st = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_each_level_carries_its_syslog_priority_when_stdout_is_journald(tmp_path: Path) -> None:
    """With `$JOURNAL_STREAM` naming stdout, `auto` lines start <7> debug, <6> info, <4> warning, <3>
    error."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("debug", "auto", stream, env=journal_env(stream))
        log = structlog.get_logger("mmctl.test")
        log.debug("a_debug")
        log.info("an_info", bot="b1", n=3)
        log.warning("a_warning")
        log.error("an_error", error="boom here")
    assert lines(out) == [
        "<7>a_debug",
        "<6>an_info bot=b1 n=3",
        "<4>a_warning",
        '<3>an_error error="boom here"',
    ]


def test_a_journal_stream_of_another_file_is_not_journald(tmp_path: Path) -> None:
    """`$JOURNAL_STREAM` naming another file (stdout redirected in a child) gives plain JSON lines."""
    other = (tmp_path / "other").open("w")
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream, other:
        daemon_logging.configure("info", "auto", stream, env=journal_env(other))
        structlog.get_logger().info("hello")
    (line,) = lines(out)
    assert line.startswith("{")
    assert '"event": "hello"' in line


def test_libraries_standard_logging_goes_through_the_same_pipeline(tmp_path: Path) -> None:
    """ccxt, apscheduler and asyncio records get the priority prefix and their logger's name; those
    below the level are dropped like the daemon's own."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "auto", stream, env=journal_env(stream))
        logging.getLogger("ccxt.base.exchange").warning("rate limit %s", "hit")
        logging.getLogger("apscheduler.scheduler").info("Scheduler started")
        logging.getLogger("asyncio").error("Task exception was never retrieved")
        logging.getLogger("ccxt").debug("below the level")
    assert lines(out) == [
        "<4>rate limit hit logger=ccxt.base.exchange",
        "<6>Scheduler started logger=apscheduler.scheduler",
        "<3>Task exception was never retrieved logger=asyncio",
    ]


def test_a_traceback_is_at_error_priority_on_every_line_without_locals(tmp_path: Path) -> None:
    """An exception's traceback lines all carry <3> (journald stores each line as an entry), and a secret
    held in a local variable appears nowhere."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "journal", stream, env={})
        log = structlog.get_logger()
        api_secret = "s3cr3t-value"
        try:
            raise RuntimeError("venue down")
        except RuntimeError:
            log.exception("bot_failed", bot="b1")
        try:
            raise ValueError("bad")
        except ValueError:
            logging.getLogger("asyncio").exception("callback failed")
    text = out.read_text()
    assert api_secret not in text
    got = lines(out)
    assert got[0] == "<3>bot_failed bot=b1"
    assert all(line.startswith("<3>") for line in got), got
    assert "<3>RuntimeError: venue down" in got
    assert "<3>ValueError: bad" in got


def test_secret_values_never_reach_stdout_or_the_file(tmp_path: Path) -> None:
    """Values under secret-looking keys are masked on stdout and in the log file alike, at any depth."""
    out = tmp_path / "stdout"
    log_file = tmp_path / "mmctl.log"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "json", stream, file=log_file, env={})
        structlog.get_logger().info("account_opened", api_key="AKEY123", params={"signature": "SIG456"})
    daemon_logging.reset()
    for text in (out.read_text(), log_file.read_text()):
        assert "account_opened" in text
        assert "AKEY123" not in text
        assert "SIG456" not in text
        assert "***" in text


def test_journal_format_prefixes_even_when_stdout_is_not_journald(tmp_path: Path) -> None:
    """`[log] format = "journal"` prefixes lines whatever stdout is (e.g. a pipe into systemd-cat)."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "journal", stream, env={})
        structlog.get_logger().warning("disk_low", free_mb=12)
    assert lines(out) == ["<4>disk_low free_mb=12"]


def test_json_under_journald_stays_json_with_the_prefix(tmp_path: Path) -> None:
    """An explicit `json` format on journald keeps JSON bodies, each still prefixed with its priority."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "json", stream, env=journal_env(stream))
        structlog.get_logger().error("store_failed")
    (line,) = lines(out)
    assert line.startswith('<3>{"event": "store_failed"'), line


def test_the_log_file_rotates_by_size_and_keeps_the_configured_count(tmp_path: Path) -> None:
    """A file log rolls over at its size and keeps `file_backups` old files, each of JSON lines."""
    out = tmp_path / "stdout"
    log_file = tmp_path / "logs" / "mmctl.log"
    log_file.parent.mkdir()
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure(
            "info", "journal", stream, file=log_file, file_max_bytes=2000, file_backups=2
        )
        log = structlog.get_logger()
        for i in range(100):
            log.info("tick", i=i)
    daemon_logging.reset()
    names = sorted(p.name for p in log_file.parent.iterdir())
    assert names == ["mmctl.log", "mmctl.log.1", "mmctl.log.2"]
    assert all(line.startswith("{") for line in lines(log_file))
    assert '"i": 99' in log_file.read_text()


def test_a_log_file_that_cannot_be_opened_leaves_logging_as_it_was(tmp_path: Path) -> None:
    """Opening the file fails with OSError before anything changes: the previous stdout logging stays."""
    out = tmp_path / "stdout"
    with out.open("w", encoding="utf-8") as stream:
        daemon_logging.configure("info", "journal", stream, env={})
        with pytest.raises(OSError, match="No such file"):
            daemon_logging.configure("info", "json", stream, file=tmp_path / "no" / "dir" / "x.log")
        structlog.get_logger().info("still_here")
    assert lines(out) == ["<6>still_here"]


def test_a_relative_log_file_goes_in_logs_directory_else_the_state_dir(tmp_path: Path) -> None:
    """`[log] file = "mmctl.log"` lands in `$LOGS_DIRECTORY` (systemd's LogsDirectory=) when set, else in
    the state directory; an absolute path is kept; "" means no file."""
    state = tmp_path / "state"
    assert daemon_logging.log_file_path("mmctl.log", state, {"LOGS_DIRECTORY": "/var/log/mmctl"}) == Path(
        "/var/log/mmctl/mmctl.log"
    )
    assert daemon_logging.log_file_path("mmctl.log", state, {}) == state / "mmctl.log"
    assert daemon_logging.log_file_path("/srv/x.log", state, {"LOGS_DIRECTORY": "/l"}) == Path("/srv/x.log")
    assert daemon_logging.log_file_path("", state, {}) is None


def test_the_command_line_overrides_the_configs_level_and_format() -> None:
    """`--log-level/--log-format` win over `[log]`; without them the config's values apply."""
    settings = parse_settings(tomllib.loads('[log]\nlevel = "warning"\nformat = "json"\nfile_max_mb = 3\n'))
    target = daemon_logging.target_for(settings.log, None, {}, level="debug", fmt="journal")
    assert (target.level, target.format, target.file_max_bytes) == ("debug", "journal", 3 * 1024 * 1024)
    plain = daemon_logging.target_for(settings.log, None, {})
    assert (plain.level, plain.format) == ("warning", "json")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[log]\nformat = "syslog"\n', "log.format"),
        ("[log]\nfile_max_mb = 0\n", "log.file_max_mb"),
        ("[log]\nfile_backups = 0\n", "log.file_backups"),
        ("[log]\nfile = 3\n", "log.file"),
    ],
)
def test_bad_log_settings_are_refused_naming_the_key(body: str, fragment: str) -> None:
    """An unknown format, a zero size or count, a non-string file are config errors naming the key."""
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_settings(tomllib.loads(body), "c.toml")


# --- the real daemon process ------------------------------------------------------------------------------


def _start(
    config: Path, stdout: IO[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    full = {
        k: v for k, v in os.environ.items() if k not in ("MMCTL_SOCKET", "JOURNAL_STREAM", "NOTIFY_SOCKET")
    }
    return subprocess.Popen(
        [PYTHON, "-m", "mmctl", "daemon", "run", "--config", str(config), *args],
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
        env={**full, **(env or {})},
    )


@pytest.mark.slow
def test_the_daemon_under_journald_logs_with_priorities_and_obeys_log_level(short_tmp: Path) -> None:
    """A daemon whose stdout is "journald" prefixes its lines (<6>daemon_ready); `--log-level warning`
    overrides the config's debug, so no info line is written."""
    sock, state, config = short_tmp / "run" / "s.sock", short_tmp / "state", short_tmp / "c.toml"
    write_config(config, sock, state, '[log]\nlevel = "debug"\n')
    out = short_tmp / "journal"
    for args, expect_ready in (((), True), (("--log-level", "warning"), False)):
        with out.open("w", encoding="utf-8") as stream:
            proc = _start(config, stream, *args, env=journal_env(stream))
            try:
                wait_until(lambda: answers(sock), timeout=60, what="daemon socket")
                if expect_ready:
                    wait_until(lambda: "<6>daemon_ready " in out.read_text(), what="daemon_ready line")
            finally:
                proc.terminate()
                assert proc.wait(timeout=60) == 0
        got = lines(out)
        assert all(PREFIX.match(line) for line in got), got
        if expect_ready:
            assert any(line.startswith("<7>") for line in got), got  # the config's debug level
        else:
            assert not any(line.startswith(("<6>", "<7>")) for line in got), got


@pytest.mark.slow
def test_a_config_error_is_one_error_priority_line_and_exit_78(short_tmp: Path) -> None:
    """An invalid config under journald: one <3>config_invalid line naming the key, exit status 78 (the
    unit's RestartPreventExitStatus), no traceback."""
    config = short_tmp / "c.toml"
    config.write_text('[log]\nlevel = "loud"\n')
    out = short_tmp / "journal"
    with out.open("w", encoding="utf-8") as stream:
        proc = _start(config, stream, env=journal_env(stream))
        assert proc.wait(timeout=60) == EXIT_CONFIG
    (line,) = lines(out)
    assert line.startswith("<3>config_invalid ")
    assert "log.level" in line


@pytest.mark.slow
def test_an_unopenable_log_file_fails_the_start_with_exit_78(short_tmp: Path) -> None:
    """A `[log] file` in a missing directory: <3>log_file_unavailable naming it and exit status 78."""
    sock, state, config = short_tmp / "run" / "s.sock", short_tmp / "state", short_tmp / "c.toml"
    write_config(config, sock, state, f'[log]\nfile = "{short_tmp}/nodir/mmctl.log"\n')
    out = short_tmp / "journal"
    with out.open("w", encoding="utf-8") as stream:
        proc = _start(config, stream, "--log-format", "journal")
        assert proc.wait(timeout=60) == EXIT_CONFIG
    (line,) = lines(out)
    assert line.startswith("<3>log_file_unavailable ")
    assert "nodir/mmctl.log" in line


READY_THEN_MODULES = """
import os, signal, socket, sys, threading
from mmctl.cli.app import main
address = sys.argv[1]
receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
receiver.bind(address)
def watch():
    while b"READY=1" not in receiver.recv(4096):
        pass
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("ccxt", "aiohttp"))
    print("HEAVY_AT_READY", heavy, file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
os.environ["NOTIFY_SOCKET"] = address
main(["daemon", "run", "--config", sys.argv[2]])
"""


@pytest.mark.slow
def test_a_paper_only_daemon_reaches_ready_without_importing_ccxt(short_tmp: Path) -> None:
    """`mmctl daemon run` with only paper accounts reaches READY=1 with neither ccxt nor aiohttp in
    `sys.modules` (importing ccxt alone costs about a second)."""
    sock, state, config = short_tmp / "run" / "s.sock", short_tmp / "state", short_tmp / "c.toml"
    write_config(config, sock, state, '[accounts.paper]\nexchange = "paper"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("MMCTL_SOCKET", "NOTIFY_SOCKET")}
    r = subprocess.run(
        [sys.executable, "-c", READY_THEN_MODULES, str(short_tmp / "notify.sock"), str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "HEAVY_AT_READY []" in r.stderr, r.stderr + r.stdout
    assert r.returncode == 0, r.stderr + r.stdout
