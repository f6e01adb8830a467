"""Config loading: the example file is the defaults, every key is documented, the search order holds."""

from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.config.load import find_config, load_file, load_settings, parse_settings
from mmctl.config.schema import (
    BinanceAccount,
    DaemonSettings,
    LogSettings,
    PaperAccount,
    RiskSettings,
    Settings,
)
from mmctl.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_the_example_config_is_exactly_the_built_in_defaults() -> None:
    loaded = load_file(EXAMPLE)
    defaults = Settings()
    assert loaded.daemon == defaults.daemon
    assert loaded.log == defaults.log
    assert loaded.accounts == defaults.accounts


@pytest.mark.parametrize("cls", [DaemonSettings, LogSettings, PaperAccount, BinanceAccount, RiskSettings])
def test_every_setting_is_documented_in_the_example(cls: type) -> None:
    text = EXAMPLE.read_text()
    for f in dataclasses.fields(cls):
        assert f"{f.name} = " in text, f"{cls.__name__}.{f.name} is not documented in config.example.toml"


def test_decimal_settings_are_exact() -> None:
    s = parse_settings(
        tomllib.loads('[accounts.p]\nexchange = "paper"\nmaker_fee = "0.00015"\nbalance = 0.1\n')
    )
    account = s.accounts["p"]
    assert isinstance(account, PaperAccount)
    assert account.maker_fee == Decimal("0.00015")
    assert account.balance == Decimal("0.1")


def test_declaring_accounts_replaces_the_built_in_paper_account() -> None:
    s = parse_settings(tomllib.loads('[accounts.main]\nexchange = "binanceusdm"\nenvironment = "demo"\n'))
    assert list(s.accounts) == ["main"]


def test_bad_account_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="account names"):
        parse_settings(tomllib.loads('[accounts."bad name"]\nexchange = "paper"\n'), "x.toml")


def test_search_order_explicit_then_env_then_xdg(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "mmctl").mkdir(parents=True)
    (xdg / "mmctl" / "config.toml").write_text('[log]\nlevel = "debug"\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('[log]\nlevel = "warning"\n')
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('[log]\nlevel = "error"\n')
    env = {"XDG_CONFIG_HOME": str(xdg), "MMCTL_CONFIG": str(env_file)}
    assert load_settings(explicit, env).log.level == "error"
    assert load_settings(None, env).log.level == "warning"
    assert load_settings(None, {"XDG_CONFIG_HOME": str(xdg)}).log.level == "debug"


def test_missing_explicit_or_env_config_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        find_config(tmp_path / "nope.toml", {})
    with pytest.raises(ConfigError, match="MMCTL_CONFIG"):
        find_config(None, {"MMCTL_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"daemon\.shutdown_timeout_s"):
        parse_settings(tomllib.loads(f"[daemon]\nshutdown_timeout_s = {value}\n"), "x.toml")


def test_a_replay_account_needs_an_existing_replay_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"accounts\.r\.replay_path"):
        parse_settings(tomllib.loads('[accounts.r]\nexchange = "paper"\nmarket = "replay"\n'), "x.toml")
    with pytest.raises(ConfigError, match="existing file"):
        parse_settings(
            tomllib.loads(
                f'[accounts.r]\nexchange = "paper"\nmarket = "replay"\nreplay_path = "{tmp_path / "no"}"\n'
            )
        )
    ok = parse_settings(
        tomllib.loads(f'[accounts.r]\nexchange = "paper"\nmarket = "replay"\nreplay_path = "{tmp_path}"\n')
    )
    assert isinstance(ok.accounts["r"], PaperAccount)
