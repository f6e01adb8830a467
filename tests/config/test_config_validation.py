"""The config checks the daemon needs (issue 9 items 15, 16, 19): bounded values, known paper symbols, at
least one account, defensive file reading, and the lenient socket lookup the CLI uses."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mmctl.config.load import configured_socket, load_file, load_settings, parse_settings
from mmctl.config.tomlfile import MAX_TOML_BYTES, read_toml
from mmctl.errors import ConfigError, ValidationError


def write(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            '[accounts.p]\nexchange = "paper"\nbalance = "1e999999999"\n',
            "accounts.p.balance: must be at most",
        ),
        ('[accounts.p]\nexchange = "paper"\nfunding_interval_s = 99999999999\n', "funding_interval_s"),
        ('[risk]\nmax_total_notional = "1e13"\n', "risk.max_total_notional: must be at most"),
        ("[risk]\ndaily_loss_limit = inf\n", "risk.daily_loss_limit: expected a finite number"),
        ("[accounts]\n", "accounts: declares no account"),
        ('[reports]\ntimezone = "Mars/Olympus"\n', "reports.timezone: unknown time zone 'Mars/Olympus'"),
        ("[store]\nretain_days = 0\n", "store.retain_days: must be at least 1"),
    ],
)
def test_schema_refuses_unbounded_values_and_no_accounts(body: str, fragment: str) -> None:
    """Money and intervals are bounded and finite, an empty [accounts] table is an error, and so are an
    unknown report time zone and a retention shorter than a day."""
    with pytest.raises(ConfigError, match=r"^x\.toml: ") as e:
        parse_settings(tomllib.loads(body), "x.toml")
    assert fragment in str(e.value)


def test_load_file_refuses_symbols_the_paper_venue_does_not_have(tmp_path: Path) -> None:
    """A paper account listing an unknown symbol fails to load, naming the file, the key and the markets."""
    path = write(tmp_path / "c.toml", '[accounts.p]\nexchange = "paper"\nsymbols = ["BTCUSDT", "FOOUSDT"]\n')
    with pytest.raises(ConfigError) as e:
        load_file(path)
    assert str(e.value).startswith(f"{path}: accounts.p.symbols: unknown symbol 'FOOUSDT'")
    assert "BTCUSDT" in str(e.value)
    with pytest.raises(ConfigError, match="FOOUSDT"):
        load_settings(path, {})


def test_load_file_accepts_both_symbol_forms(tmp_path: Path) -> None:
    """Known symbols in either form load."""
    path = write(
        tmp_path / "c.toml", '[accounts.p]\nexchange = "paper"\nsymbols = ["BTCUSDT", "ETH/USDT:USDT"]\n'
    )
    assert load_file(path).accounts["p"].symbols == ("BTCUSDT", "ETH/USDT:USDT")  # type: ignore[union-attr]


def test_read_toml_caps_the_size(tmp_path: Path) -> None:
    """A file larger than 1 MiB is refused without being parsed."""
    path = write(tmp_path / "big.toml", "#" * (MAX_TOML_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_toml(path)
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_toml(Path("/dev/zero"))


def test_read_toml_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """Invalid UTF-8 is one error naming the file and the offending byte."""
    path = tmp_path / "bin.toml"
    path.write_bytes(b"a = 1\n\xc3\x28")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xc3 at offset 6\)"):
        read_toml(path)


def test_read_toml_refuses_nesting_deeper_than_the_parser_can_go(tmp_path: Path) -> None:
    """Arrays nested past the recursion limit are invalid TOML, not a RecursionError."""
    path = write(tmp_path / "deep.toml", "a = " + "[" * 5000)
    with pytest.raises(ValidationError, match="nested too deeply") as e:
        read_toml(path, "bot definition", ValidationError, field="from")
    assert e.value.data == {"field": "from"}


def test_read_toml_of_a_directory(tmp_path: Path) -> None:
    """A directory is named as such."""
    with pytest.raises(ConfigError, match="is a directory"):
        read_toml(tmp_path)


def test_configured_socket_of_a_broken_config_keeps_its_socket_and_says_why(tmp_path: Path) -> None:
    """A config that fails validation still yields its [daemon] socket, with the problem as the warning."""
    path = write(tmp_path / "c.toml", '[daemon]\nsocket = "/run/x.sock"\n[risk]\nmax_totl = 1\n')
    socket, problem = configured_socket(path, {})
    assert socket == "/run/x.sock"
    assert problem is not None
    assert "risk.max_totl" in problem


@pytest.mark.parametrize(
    ("body", "fragment"), [("not toml = = 1", "not valid TOML"), ("[daemon]\nsocket = 5\n", "daemon.socket")]
)
def test_configured_socket_falls_back_to_the_default(tmp_path: Path, body: str, fragment: str) -> None:
    """When the socket itself cannot be read from the file, the default ("") is used, with the problem."""
    socket, problem = configured_socket(write(tmp_path / "c.toml", body), {})
    assert socket == ""
    assert problem is not None
    assert fragment in problem


def test_configured_socket_of_a_good_config_or_none(tmp_path: Path) -> None:
    """A valid config gives its socket and no problem; no config at all gives the default."""
    assert configured_socket(write(tmp_path / "c.toml", '[daemon]\nsocket = "/s"\n'), {}) == ("/s", None)
    assert configured_socket(None, {"XDG_CONFIG_HOME": str(tmp_path / "none")}) == ("", None)
    socket, problem = configured_socket(tmp_path / "missing.toml", {})
    assert socket == ""
    assert problem is not None
    assert "not found" in problem


def test_configured_socket_never_imports_the_paper_venue(tmp_path: Path) -> None:
    """The CLI's socket lookup stays cheap: even a config listing symbols does not load the paper exchange."""
    path = write(tmp_path / "c.toml", '[accounts.p]\nexchange = "paper"\nsymbols = ["FOOUSDT"]\n')
    code = (
        "import sys\n"
        "from mmctl.config.load import configured_socket\n"
        f"print(configured_socket({str(path)!r}, {{}}))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mmctl.exchange', 'asyncio'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.splitlines() == ["('', None)", "[]"], r.stderr
