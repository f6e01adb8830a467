"""Per-bot risk parameters on StrategyParams: defaults keep today's behaviour, bad values name the field."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from mmctl.errors import ValidationError
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import StrategyParams, describe, params_to_dict, parse_params

RISK_FIELDS = (
    "max_loss",
    "max_drawdown",
    "on_loss",
    "stale_data_s",
    "max_move_bps",
    "move_window_s",
    "cooldown_s",
)


def test_every_strategy_shares_the_risk_parameters() -> None:
    shared = {f.name for f in dataclasses.fields(StrategyParams)}
    assert set(RISK_FIELDS) <= shared


def test_defaults_leave_every_guard_off_but_stale_data() -> None:
    p = MarketMakerParams()
    assert (p.max_loss, p.max_drawdown, p.on_loss) == (Decimal(0), Decimal(0), "stop")
    assert (p.stale_data_s, p.max_move_bps, p.move_window_s, p.cooldown_s) == (10, Decimal(0), 10, 60)


def test_cli_strings_parse_and_round_trip() -> None:
    p = parse_params(
        MarketMakerParams,
        {
            "max_loss": "250.5",
            "max_drawdown": "100",
            "on_loss": "flatten",
            "stale_data_s": "0",
            "max_move_bps": "75",
            "move_window_s": "5",
            "cooldown_s": "120",
        },
    )
    assert (p.max_loss, p.on_loss, p.stale_data_s, p.cooldown_s) == (Decimal("250.5"), "flatten", 0, 120)
    assert parse_params(MarketMakerParams, params_to_dict(p)) == p


def test_describe_documents_every_risk_parameter() -> None:
    info = {i.name: i for i in describe(MarketMakerParams)}
    for name in RISK_FIELDS:
        assert info[name].doc, name
    assert info["on_loss"].type == "stop|flatten"
    assert info["max_loss"].min == "0"
    assert info["max_loss"].type == "decimal"
    assert info["stale_data_s"].type == "integer"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_loss": "-1"}, "max_loss"),
        ({"max_drawdown": "-0.01"}, "max_drawdown"),
        ({"stale_data_s": "-1"}, "stale_data_s"),
        ({"stale_data_s": "3601"}, "stale_data_s"),
        ({"max_move_bps": "-5"}, "max_move_bps"),
        ({"max_move_bps": "10001"}, "max_move_bps"),
        ({"move_window_s": "0"}, "move_window_s"),
        ({"cooldown_s": "0"}, "cooldown_s"),
        ({"cooldown_s": "-60"}, "cooldown_s"),
        ({"on_loss": "liquidate"}, "on_loss"),
        ({"on_loss": "STOP"}, "on_loss"),
        ({"max_loss": "NaN"}, "max_loss"),
        ({"max_loss": "lots"}, "max_loss"),
        ({"stale_data_s": "2.5"}, "stale_data_s"),
        ({"max_los": "10"}, "max_los"),
    ],
)
def test_bad_risk_values_are_validation_errors_naming_the_field(
    values: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, values)
    assert e.value.data == {"field": field}
    assert field in str(e.value)


def test_unknown_on_loss_lists_the_choices() -> None:
    with pytest.raises(ValidationError, match="on_loss: expected one of 'stop', 'flatten', got 'liquidate'"):
        MarketMakerParams().replace(on_loss="liquidate")


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ValidationError) as e:
        MarketMakerParams(max_loss=Decimal(-1))
    assert e.value.data == {"field": "max_loss"}
