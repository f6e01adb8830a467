"""Strategy parameter parsing, updating, serializing and describing (mmctl.strategies.params)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from decimal import Decimal

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.errors import ValidationError
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import (
    CEILING,
    StrategyParams,
    describe,
    params_to_dict,
    parse_params,
    update_params,
)


def test_no_values_gives_the_documented_defaults() -> None:
    """Parsing nothing yields every default the strategy documents."""
    p = parse_params(MarketMakerParams, {})
    assert p == MarketMakerParams()
    assert (p.spread_bps, p.levels, p.level_step_bps) == (Decimal(10), 3, Decimal(10))
    assert (p.order_size, p.size_step, p.reference) == (Decimal(0), Decimal(0), "mid")
    assert (p.inventory_skew, p.max_position, p.min_spread_bps) == (Decimal("0.5"), Decimal(0), Decimal(2))
    assert (p.refresh_tolerance_bps, p.max_order_age_s, p.leverage, p.quote_interval_ms) == (
        Decimal(5),
        300,
        5,
        200,
    )


def test_cli_strings_become_typed_values() -> None:
    """`--set key=value` strings are read as the field's type: Decimal, int or a literal choice."""
    p = parse_params(
        MarketMakerParams,
        {
            "spread_bps": "5",
            "levels": "7",
            "reference": "microprice",
            "order_size": "0.002",
            "leverage": " 10 ",
        },
    )
    assert p.spread_bps == Decimal(5)
    assert isinstance(p.spread_bps, Decimal)
    assert p.levels == 7
    assert isinstance(p.levels, int)
    assert p.reference == "microprice"
    assert p.order_size == Decimal("0.002")
    assert p.leverage == 10


def test_toml_and_json_typed_values_are_accepted() -> None:
    """Typed values from TOML or JSON (ints, floats, strings) are accepted; floats go through their repr."""
    p = parse_params(
        MarketMakerParams, {"spread_bps": 5, "inventory_skew": 0.25, "levels": 4, "order_size": "1"}
    )
    assert p.spread_bps == Decimal(5)
    assert p.inventory_skew == Decimal("0.25")
    assert p.levels == 4


def test_unknown_key_names_it_suggests_and_lists_known_keys() -> None:
    """A typo'd key is rejected with its name, a suggestion, the strategy and the known keys."""
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, {"sprad_bps": "5"})
    msg = str(e.value)
    assert msg.startswith("unknown parameter 'sprad_bps' for strategy market_maker")
    assert "did you mean 'spread_bps'?" in msg
    assert "(known: spread_bps, levels," in msg
    assert e.value.data == {"field": "sprad_bps"}


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"levels": "50"}, "levels", "levels: must be between 1 and 20, got 50"),
        ({"levels": 0}, "levels", "levels: must be between 1 and 20, got 0"),
        ({"spread_bps": "-1"}, "spread_bps", "spread_bps: must be between 0 and 5000, got -1"),
        ({"order_size": "-0.1"}, "order_size", "order_size: must be between 0 and 1000000000000, got -0.1"),
        ({"inventory_skew": "1.5"}, "inventory_skew", "inventory_skew: must be between 0 and 1, got 1.5"),
        ({"leverage": 126}, "leverage", "leverage: must be between 1 and 125, got 126"),
        ({"min_spread_bps": "0"}, "min_spread_bps", "min_spread_bps: must be between 0.1 and 5000, got 0"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_bounds(
    values: dict[str, object], field: str, expected: str
) -> None:
    """An out-of-range value is rejected with the key, the allowed range and the value given."""
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, values)
    assert str(e.value) == expected
    assert e.value.data == {"field": field}


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"levels": "2.5"}, "levels", "levels: expected an integer, got '2.5'"),
        ({"levels": 2.0}, "levels", "levels: expected an integer"),
        ({"levels": True}, "levels", "levels: expected an integer"),
        ({"spread_bps": "abc"}, "spread_bps", "spread_bps: expected a decimal number, got 'abc'"),
        ({"spread_bps": "NaN"}, "spread_bps", "spread_bps: expected a finite number"),
        ({"spread_bps": "Infinity"}, "spread_bps", "spread_bps: expected a finite number"),
        ({"spread_bps": [1]}, "spread_bps", "spread_bps: expected a decimal number"),
        ({"reference": "last"}, "reference", "reference: expected one of 'mid', 'microprice', got 'last'"),
        ({"reference": 1}, "reference", "reference: expected one of 'mid', 'microprice'"),
    ],
)
def test_wrong_types_name_the_key_and_what_is_expected(
    values: dict[str, object], field: str, fragment: str
) -> None:
    """A value of the wrong type is rejected with the key and the expected type."""
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, values)
    assert fragment in str(e.value)
    assert e.value.data == {"field": field}


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"max_loss": "1e309"}, "max_loss", "max_loss: must be between 0 and 1000000000, got 1E+309"),
        (
            {"max_drawdown": "1e10"},
            "max_drawdown",
            "max_drawdown: must be between 0 and 1000000000, got 1E+10",
        ),
        ({"order_size": "1e13"}, "order_size", "order_size: must be between 0 and 1000000000000, got 1E+13"),
        (
            {"max_position": "1e999999999"},
            "max_position",
            "max_position: must be between 0 and 1000000000000",
        ),
        ({"max_loss": 1e309}, "max_loss", "max_loss: expected a finite number"),
    ],
)
def test_every_numeric_parameter_has_an_upper_bound(
    values: dict[str, object], field: str, expected: str
) -> None:
    """A huge value (which would switch a guard off or overflow the quote math) names the key and range."""
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, values)
    assert str(e.value).startswith(expected)
    assert e.value.data == {"field": field}


def test_every_numeric_parameter_declares_a_finite_range() -> None:
    """describe() gives every numeric parameter of every strategy both bounds (its own, or the ceiling)."""
    from mmctl.strategies import get_strategy, registry

    for name in registry().strategies:
        for info in describe(get_strategy(name).params_cls):
            if info.type in ("decimal", "integer"):
                assert info.min is not None, info.name
                assert info.max is not None, info.name
                assert Decimal(info.max).is_finite()


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN")])
def test_constructing_params_with_a_non_finite_decimal_is_refused(bad: Decimal) -> None:
    """Direct construction refuses NaN and infinities with the key named (no InvalidOperation escapes)."""
    with pytest.raises(ValidationError, match="max_loss: expected a finite number"):
        MarketMakerParams(max_loss=bad)


def test_parameters_that_are_not_a_table_are_rejected() -> None:
    """A list or string where a key/value table belongs is a ValidationError, not a crash."""
    for bad in (["spread_bps", 5], "spread_bps=5"):
        with pytest.raises(ValidationError, match="must be a table"):
            parse_params(MarketMakerParams, bad)  # type: ignore[arg-type]


def test_explicit_max_position_below_order_size_is_rejected() -> None:
    """A cross-field rule: an explicit max_position smaller than an explicit order_size is refused."""
    with pytest.raises(ValidationError) as e:
        parse_params(MarketMakerParams, {"order_size": "2", "max_position": "1"})
    assert e.value.data == {"field": "max_position"}
    assert "smaller than order_size 2" in str(e.value)


def test_replace_validates_like_parse_and_keeps_other_values() -> None:
    """`params.replace(...)` (for `mmctl set`) parses strings, validates, and leaves other keys alone."""
    p = parse_params(MarketMakerParams, {"levels": 5})
    q = p.replace(spread_bps="7.5")
    assert q.spread_bps == Decimal("7.5")
    assert q.levels == 5
    assert p.spread_bps == Decimal(10)  # the original is unchanged
    with pytest.raises(ValidationError) as e:
        p.replace(levels="21")
    assert e.value.data == {"field": "levels"}
    with pytest.raises(ValidationError) as e:
        update_params(p, {"levls": 2})
    assert e.value.data == {"field": "levls"}


def test_direct_construction_is_validated_too() -> None:
    """No invalid parameter object can exist: the dataclass checks bounds on construction and replace."""
    with pytest.raises(ValidationError):
        MarketMakerParams(levels=21)
    with pytest.raises(ValidationError):
        dataclasses.replace(MarketMakerParams(), inventory_skew=Decimal(2))


def test_params_to_dict_is_json_and_toml_safe_and_round_trips() -> None:
    """Serialized parameters are plain strings/ints (Decimals as strings) and parse back to the same value."""
    p = parse_params(
        MarketMakerParams, {"spread_bps": "1E+1", "order_size": "0.0015", "reference": "microprice"}
    )
    d = params_to_dict(p)
    assert d["spread_bps"] == "10"
    assert d["order_size"] == "0.0015"
    assert d["levels"] == 3
    assert all(isinstance(v, str | int | bool) for v in d.values())
    assert parse_params(MarketMakerParams, json.loads(json.dumps(d))) == p
    assert parse_params(MarketMakerParams, tomllib.loads(tomli_w.dumps(d))) == p


@settings(max_examples=60, deadline=None)
@given(
    spread=st.decimals(min_value=0, max_value=5000, places=3),
    levels=st.integers(1, 20),
    skew=st.decimals(min_value=0, max_value=1, places=4),
    reference=st.sampled_from(["mid", "microprice"]),
)
def test_serialized_params_parse_back_identically(
    spread: Decimal, levels: int, skew: Decimal, reference: str
) -> None:
    """For any valid values, params_to_dict followed by parse_params is the identity."""
    p = MarketMakerParams(spread_bps=spread, levels=levels, inventory_skew=skew, reference=reference)  # type: ignore[arg-type]
    assert parse_params(MarketMakerParams, params_to_dict(p)) == p


def test_describe_lists_every_parameter_with_type_default_bounds_and_doc() -> None:
    """Help output gets every field once, strategy-specific first, each with a type, default and doc."""
    infos = describe(MarketMakerParams)
    names = [i.name for i in infos]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(MarketMakerParams))
    assert names[0] == "spread_bps"
    shared = [f.name for f in dataclasses.fields(StrategyParams)]
    assert names[-len(shared) :] == shared  # the shared (execution and risk) parameters come last
    by_name = {i.name: i for i in infos}
    assert by_name["levels"].type == "integer"
    assert (by_name["levels"].default, by_name["levels"].min, by_name["levels"].max) == (3, "1", "20")
    assert by_name["reference"].type == "mid|microprice"
    assert by_name["spread_bps"].type == "decimal"
    assert by_name["spread_bps"].default == "10"
    assert by_name["order_size"].max == str(CEILING)
    assert by_name["max_loss"].max == "1000000000"
    assert by_name["reference"].max is None
    assert all(i.doc for i in infos)
    json.dumps([dataclasses.asdict(i) for i in infos])
