"""The daemon-wide `[risk]` table: defaults, the example file, and errors that name the key."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.config.load import load_file, parse_settings
from mmctl.config.schema import RiskSettings, Settings
from mmctl.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def parse(text: str) -> Settings:
    return parse_settings(tomllib.loads(text), "c.toml")


def test_defaults_turn_the_fleet_guards_off() -> None:
    r = Settings().risk
    assert r == RiskSettings()
    assert (r.max_total_notional, r.daily_loss_limit, r.check_interval_s) == (Decimal(0), Decimal(0), 1.0)


def test_the_example_risk_table_is_the_defaults() -> None:
    assert load_file(EXAMPLE).risk == RiskSettings()
    assert "[risk]" in EXAMPLE.read_text()


def test_a_risk_table_is_read_exactly() -> None:
    s = parse('[risk]\nmax_total_notional = "25000.50"\ndaily_loss_limit = 300\ncheck_interval_s = 0.5\n')
    assert s.risk == RiskSettings(
        max_total_notional=Decimal("25000.50"), daily_loss_limit=Decimal(300), check_interval_s=0.5
    )
    assert isinstance(s.risk.max_total_notional, Decimal)


def test_a_missing_risk_table_gives_the_defaults() -> None:
    assert parse('[log]\nlevel = "debug"\n').risk == RiskSettings()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[risk]\nmax_total_notionl = 5\n", "unknown key 'risk.max_total_notionl'"),
        ('[risk]\nmax_total_notional = "-1"\n', "risk.max_total_notional: must be at least 0"),
        ('[risk]\ndaily_loss_limit = "lots"\n', "risk.daily_loss_limit: expected a decimal number"),
        ("[risk]\ndaily_loss_limit = true\n", "risk.daily_loss_limit: expected a decimal number"),
        ('[risk]\ndaily_loss_limit = "NaN"\n', "risk.daily_loss_limit: expected a finite number"),
        ("[risk]\ncheck_interval_s = 0\n", "risk.check_interval_s: must be at least 0.1"),
        ("[risk]\ncheck_interval_s = 3601\n", "risk.check_interval_s: must be at most 3600"),
        ("[risk]\ncheck_interval_s = nan\n", "risk.check_interval_s: expected a finite number"),
        ('[risk]\ncheck_interval_s = "1"\n', "risk.check_interval_s: expected a"),
        ('risk = "strict"\n', "risk: expected a table"),
    ],
)
def test_bad_risk_settings_name_the_file_and_key(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text)
    assert str(e.value).startswith("c.toml: ")
    assert fragment in str(e.value)
