"""Bad input through the real entry point (issue 9 items 15-20, 25, 27): one clear line on stderr, the
right exit code, nothing changed, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, run_cli

from mmctl.cli.app import main
from mmctl.errors import EXIT_FAILED, EXIT_TIMEOUT, NoMarketData, Timeout, exit_code_for


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `mmctl ARGS` in this process through the console script's `main`; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("mmctl: error: ")


# --- item 15: non-finite numbers, undecodable and endless files ----------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "5000"])
def test_timeout_must_be_a_finite_number_in_range(
    value: str, short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--timeout nan|inf|1e309` (and out of range) is a usage error naming the option, not a traceback."""
    code, _, err = run_main(["--socket", str(short_tmp / "none.sock"), "--timeout", value, "list"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "--timeout" in err


@pytest.mark.parametrize(
    "args",
    [["status", "--watch", "--interval", "nan"], ["status", "--watch", "--interval", "inf"]],
)
def test_watch_interval_must_be_finite(
    args: list[str], short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --watch --interval nan` is refused before anything is asked of the daemon."""
    code, _, err = run_main(["--socket", str(short_tmp / "none.sock"), *args], capsys)
    assert code == 2
    assert_one_line(err)
    assert "--interval" in err


def test_demo_seconds_nan_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`demo --seconds nan` is a usage error; no demo daemon is started."""
    code, out, err = run_main(["demo", "--seconds", "nan"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "--seconds" in err
    assert out == ""


def test_create_from_a_file_that_is_not_utf8(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`create --from` a binary file fails with one line naming the file (the daemon is never asked)."""
    path = short_tmp / "bot.toml"
    path.write_bytes(b'account = "paper"\n\xff\xfe symbol')
    args = ["--socket", str(short_tmp / "none.sock"), "create", "x", "--from", str(path)]
    code, _, err = run_main(args, capsys)
    assert code == 2
    assert_one_line(err)
    assert str(path) in err
    assert "not UTF-8" in err


def test_create_from_dev_zero_returns_at_once(short_tmp: Path) -> None:
    """`create --from /dev/zero` stops reading at 1 MiB and fails instead of reading forever."""
    r = run_cli("--socket", str(short_tmp / "none.sock"), "create", "x", "--from", "/dev/zero")
    assert r.returncode == 2
    assert_one_line(r.stderr)
    assert "larger than 1 MiB" in r.stderr


def test_create_from_deeply_nested_toml(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TOML nested deeper than the parser's recursion limit is an invalid file, not a RecursionError."""
    path = short_tmp / "deep.toml"
    path.write_text("params = " + "[" * 5000)
    code, _, err = run_main(
        ["--socket", str(short_tmp / "none.sock"), "create", "x", "--from", str(path)], capsys
    )
    assert code == 2
    assert_one_line(err)
    assert "nested too deeply" in err


def test_config_check_of_a_file_that_is_not_utf8(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`config check` of a binary file fails with one line naming the file."""
    path = short_tmp / "config.toml"
    path.write_bytes(b"[daemon]\n\xff\n")
    code, _, err = run_main(["config", "check", str(path)], capsys)
    assert code == 1
    assert_one_line(err)
    assert f"{path}: the config file is not UTF-8 text" in err


def test_config_check_of_something_that_is_not_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`config check /dev/zero` says it is not a regular file, and returns."""
    code, _, err = run_main(["config", "check", "/dev/zero"], capsys)
    assert code == 1
    assert_one_line(err)
    assert "/dev/zero: is not a regular file" in err


# --- item 16: config check runs the daemon's validation -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            '[accounts.p]\nexchange = "paper"\nsymbols = ["FOOUSDT"]\n',
            "accounts.p.symbols: unknown symbol 'FOOUSDT'",
        ),
        (
            '[accounts.p]\nexchange = "paper"\nbalance = "1e999999999"\n',
            "accounts.p.balance: must be at most",
        ),
        ("[accounts]\n", "accounts: declares no account"),
        ('[risk]\ndaily_loss_limit = "1e309"\n', "risk.daily_loss_limit: must be at most"),
    ],
)
def test_config_check_refuses_configs_the_daemon_cannot_use(
    body: str, fragment: str, short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown paper symbols, an unbounded balance or limit, and an empty [accounts] fail `config check`."""
    path = short_tmp / "config.toml"
    path.write_text(body)
    code, _, err = run_main(["config", "check", str(path)], capsys)
    assert code == 1
    assert_one_line(err)
    assert fragment in err


@pytest.mark.slow
def test_the_daemon_refuses_the_config_config_check_refuses(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """The daemon runs the same validation at start: it exits 78 (EX_CONFIG, not restarted by the unit)
    naming the key, with no socket left behind."""
    d = daemon_factory('\n[accounts.p]\nexchange = "paper"\nsymbols = ["BTCUSDT", "FOOUSDT"]\n')
    checked = run_cli("config", "check", str(d.config))
    d.start(wait=False)
    code, log = d.exited()
    assert code == 78
    assert "accounts.p.symbols: unknown symbol 'FOOUSDT'" in log
    assert "accounts.p.symbols: unknown symbol 'FOOUSDT'" in checked.stderr
    assert not d.socket.exists()


# --- item 17: create --from keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('account = "paper"\nsymbol = "BTCUSDT"\nparms = {levels = 2}\n', "unknown key 'parms'"),
        ('account = "paper"\nsymbol = 42\n', "symbol must be a string"),
        ('account = "paper"\nsymbol = "BTCUSDT"\nparams = 3\n', "params must be a table"),
    ],
)
def test_create_from_refuses_unknown_or_mistyped_top_level_keys(
    body: str, fragment: str, short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in a definition file's top-level keys is an error naming the key, not silently ignored."""
    path = short_tmp / "bot.toml"
    path.write_text(body)
    code, _, err = run_main(
        ["--socket", str(short_tmp / "none.sock"), "create", "x", "--from", str(path)], capsys
    )
    assert code == 2
    assert_one_line(err)
    assert fragment in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("max_loss=1e309", "max_loss: must be between 0 and 1000000000, got 1E+309"),
        ("order_size=1e13", "order_size: must be between 0 and 1000000000000, got 1E+13"),
    ],
)
def test_a_huge_parameter_is_refused_by_the_daemon(
    shared_daemon: DaemonProc, setting: str, message: str
) -> None:
    """`--set max_loss=1e309` (which would turn the guard off) is refused naming the key and its range."""
    r = shared_daemon.cli("create", "huge", "--account", "paper", "--symbol", "BTCUSDT", "--set", setting)
    assert r.returncode == 2
    assert_one_line(r.stderr)
    assert message in r.stderr
    assert "huge" not in shared_daemon.cli("list").stdout


# --- item 19: a broken config does not lock the operator out --------------------------------------------


@pytest.mark.slow
def test_a_broken_config_still_reaches_the_daemon_with_a_warning(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """With the config broken after the daemon started, `stop --all` still reaches it; one warning line."""
    d = daemon_factory().start()
    d.config.write_text(d.config.read_text() + "\n[risk]\nmax_totl_notional = 5\n")
    r = run_cli("--config", str(d.config), "stop", "--all", env={"MMCTL_SOCKET": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bot\tresult\tstate\tdetail\n"
    (warning,) = r.stderr.strip().splitlines()
    assert warning.startswith("mmctl: warning: ")
    assert "max_totl_notional" in warning


def test_a_config_that_is_not_utf8_costs_a_warning_not_a_traceback(short_tmp: Path) -> None:
    """A config that is not UTF-8 still lets a socket-only command run: one warning, no traceback."""
    path = short_tmp / "config.toml"
    path.write_bytes(b'[daemon]\nsocket = "/nonexistent/mmctl.sock"\n# \xff\n')
    r = run_cli("--config", str(path), "list", env={"MMCTL_SOCKET": ""})
    assert "Traceback" not in r.stderr
    warning, error = r.stderr.strip().splitlines()
    assert warning.startswith("mmctl: warning: ")
    assert "not UTF-8" in warning
    assert error.startswith("mmctl: error: ")


def test_finding_the_socket_in_a_config_never_loads_the_paper_exchange(short_tmp: Path) -> None:
    """A config listing paper symbols does not make every command import the paper exchange (~0.2 s)."""
    path = short_tmp / "config.toml"
    sock = short_tmp / "none.sock"
    path.write_text(f'[daemon]\nsocket = "{sock}"\n[accounts.p]\nexchange = "paper"\nsymbols = ["BTCUSDT"]\n')
    code = (
        "import sys\n"
        "from mmctl.cli.app import main\n"
        "try:\n"
        f"    main(['--config', {str(path)!r}, 'list'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('PAPER', sorted(m for m in sys.modules if m.startswith('mmctl.exchange')), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MMCTL_SOCKET"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert "PAPER []" in r.stderr, r.stderr


# --- item 20: usage errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment", "hint"),
    [
        (["nonsense"], "no such command 'nonsense'", "mmctl --help"),
        (["health", "--bogus"], "no such option: --bogus", "mmctl health --help"),
        (["leverage", "b", "ten"], "'ten' is not a valid int", "mmctl leverage --help"),
        (["--timeout", "abc", "health"], "'abc' is not a valid float", "mmctl --help"),
    ],
)
def test_usage_errors_are_one_line_with_a_hint(
    args: list[str], fragment: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A click usage error is `mmctl: error: ... (see: mmctl CMD --help)` on one line, exit 2."""
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert_one_line(err)
    assert fragment in err
    assert err.rstrip().endswith(f"(see: {hint})")
    assert out == ""


def test_a_10kb_argument_is_not_echoed_back(capsys: pytest.CaptureFixture[str]) -> None:
    """A huge argument is cut short with "…" in the usage error; the line stays short."""
    code, _, err = run_main(["x" * 10_000], capsys)
    assert code == 2
    assert_one_line(err)
    assert "'" + "x" * 58 + "…" in err
    assert len(err) < 200


def test_control_characters_cannot_break_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A newline or escape in an argument is shown escaped, so the error stays one line."""
    code, _, err = run_main(["status", "a", "b\n\x1b[2Jc"], capsys)
    assert code == 2
    assert_one_line(err)
    assert "\x1b" not in err
    assert "[2Jc" in err


def test_usage_error_with_json_also_prints_the_error_object(capsys: pytest.CaptureFixture[str]) -> None:
    """With --json a usage error is also an error object on stdout, like every other error."""
    code, out, err = run_main(["--json", "nonsense"], capsys)
    assert code == 2
    assert_one_line(err)
    assert json.loads(out)["error"]["message"] == "no such command 'nonsense' (see: mmctl --help)"


def test_help_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` is not an error: the help text on stdout, exit 0."""
    code, out, _ = run_main(["start", "--help"], capsys)
    assert code == 0
    assert "--all" in out


# --- item 25: exit codes for timeouts ---------------------------------------------------------------------


def test_no_market_data_is_a_failure_not_a_timeout() -> None:
    """Exit 5 means the daemon did not answer in time; a venue's missing market data exits 1."""
    assert exit_code_for(Timeout.code) == EXIT_TIMEOUT
    assert exit_code_for(NoMarketData.code) == EXIT_FAILED


@pytest.mark.slow
def test_create_without_market_data_exits_1(
    daemon_factory: Callable[..., DaemonProc], short_tmp: Path
) -> None:
    """`create` on a symbol whose market data never comes fails with exit 1 (not 5), naming the symbol."""
    replay = short_tmp / "replay"
    replay.mkdir()
    (replay / "BTCUSDT-bookTicker-2024-01-01.csv").write_text(
        "1,42000.0,1,42000.1,1,1704067200000,1704067200000\n"
    )
    d = daemon_factory(
        f'\n[accounts.r]\nexchange = "paper"\nmarket = "replay"\nreplay_path = "{replay}"\n'
    ).start()
    r = d.cli("create", "x", "--account", "r", "--symbol", "ETHUSDT")
    assert "no market data for ETH/USDT:USDT" in r.stderr
    assert r.returncode == 1


# --- item 18: state the daemon cannot write (daemon side) ------------------------------------------------


@pytest.mark.slow
@pytest.mark.slow
def test_a_state_dir_that_is_a_file_is_refused_with_a_clear_message(
    daemon_factory: Callable[..., DaemonProc],
) -> None:
    """A state_dir that is a file: the daemon exits 1 with a message naming state_dir, no raw OSError text."""
    d = daemon_factory()
    d.state_dir.write_text("a file")
    d.start(wait=False)
    code, log = d.exited()
    assert code == 1
    assert f"state_dir {d.state_dir} is not a directory" in log
    assert "FileExistsError" not in log


# --- item 27: config init says where it wrote ------------------------------------------------------------


def test_config_init_prints_the_absolute_path_it_wrote(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config init` with no path writes to $MMCTL_CONFIG (here) and prints the absolute path it wrote."""
    monkeypatch.chdir(short_tmp)
    monkeypatch.setenv("MMCTL_CONFIG", "rel.toml")
    code, out, _ = run_main(["config", "init"], capsys)
    assert code == 0
    target = short_tmp / "rel.toml"
    assert target.is_file()
    assert out == f"wrote {target}: mmctl reads its config from there (check it: mmctl config show)\n"


def test_config_init_with_a_path_mmctl_does_not_search_says_how_to_use_it(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A starter config written outside the search path says how to point mmctl at it."""
    monkeypatch.delenv("MMCTL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(short_tmp / "xdg"))
    target = short_tmp / "elsewhere.toml"
    code, out, _ = run_main(["config", "init", str(target)], capsys)
    assert code == 0
    assert f"use it with --config {target}" in out


def test_config_init_follows_the_global_config_option(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mmctl --config F config init` writes F, the file the other commands will read."""
    monkeypatch.delenv("MMCTL_CONFIG", raising=False)
    target = short_tmp / "given.toml"
    code, out, _ = run_main(["--config", str(target), "config", "init", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {"path": str(target), "in_use": False}
    assert target.is_file()


def test_config_init_default_for_root_and_for_a_user(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    """With no path: /etc/mmctl/config.toml for root, else $XDG_CONFIG_HOME/mmctl/config.toml."""
    from mmctl.cli.config_cmd import default_init_path

    monkeypatch.delenv("MMCTL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(short_tmp))
    expected = Path("/etc/mmctl/config.toml") if os.geteuid() == 0 else short_tmp / "mmctl" / "config.toml"
    assert default_init_path() == expected
    assert default_init_path("/x/given.toml") == Path("/x/given.toml")
