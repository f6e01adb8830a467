"""Client order ids (mmctl.bots.ids): form, length budget, parsing, prefixes and bot-name validation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.bots.ids import (
    MAX_ID_LENGTH,
    MAX_LEVEL,
    SEQ_MODULUS,
    ClientIdGenerator,
    OwnId,
    make_id,
    parse,
    prefix,
    validate_bot_name,
)
from mmctl.errors import ValidationError
from mmctl.model import Side

BINANCE_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
bot_names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,19}", fullmatch=True)


def test_ids_have_the_documented_form() -> None:
    """An id reads `mm.<bot>.<b|s><level>.<base-36 sequence>`."""
    gen = ClientIdGenerator("btc-mm", start=36**3 + 1)
    assert gen.new_id(Side.BUY, 0) == "mm.btc-mm.b0.1001"
    assert gen.new_id(Side.SELL, 12) == "mm.btc-mm.s12.1002"
    assert gen.next_seq == 36**3 + 3


def test_the_longest_possible_id_fits_binances_36_characters() -> None:
    """Longest name, largest level and largest sequence give exactly 36 allowed characters."""
    longest = make_id("a" * 20, Side.SELL, MAX_LEVEL, SEQ_MODULUS - 1)
    assert longest == "mm." + "a" * 20 + ".s99.zzzzzzzz"
    assert len(longest) == MAX_ID_LENGTH
    assert BINANCE_CLIENT_ID.fullmatch(longest)


@settings(max_examples=200)
@given(bot=bot_names, side=st.sampled_from(Side), level=st.integers(0, MAX_LEVEL), seq=st.integers(0, 2**64))
def test_every_id_is_venue_safe_and_parses_back(bot: str, side: Side, level: int, seq: int) -> None:
    """Any valid bot, side, level and sequence give a Binance-safe id that parses back to them."""
    client_id = make_id(bot, side, level, seq)
    assert BINANCE_CLIENT_ID.fullmatch(client_id)
    assert parse(client_id) == OwnId(bot, side, level)
    assert client_id.startswith(prefix(bot))


def test_sequence_seeded_from_start_time_avoids_reuse_after_restart() -> None:
    """A generator seeded with a later start time never repeats the ids an earlier run issued."""
    start_ms = 1_763_800_000_000
    first_run = ClientIdGenerator("bot", start=start_ms)
    issued = {first_run.new_id(Side.BUY, i % 3) for i in range(1000)}
    second_run = ClientIdGenerator("bot", start=start_ms + 60_000)  # restarted a minute later
    assert not issued & {second_run.new_id(Side.BUY, i % 3) for i in range(1000)}


def test_sequence_wraps_within_the_length_budget() -> None:
    """The sequence is reduced modulo 36^8, so even a far-future seed keeps the id short enough."""
    gen = ClientIdGenerator("a" * 20, start=SEQ_MODULUS - 1)
    assert gen.new_id(Side.BUY, 19).endswith(".zzzzzzzz")
    assert gen.new_id(Side.BUY, 19).endswith(".0")


def test_a_level_outside_the_budget_is_a_programming_error() -> None:
    """Levels above 99 would break the length budget and are refused."""
    with pytest.raises(ValueError, match="level"):
        make_id("bot", Side.BUY, MAX_LEVEL + 1, 0)
    with pytest.raises(ValueError, match="level"):
        ClientIdGenerator("bot", 0).new_id(Side.BUY, -1)


@pytest.mark.parametrize(
    "client_id",
    [
        "",
        "web_abc123",
        "x-Kj3nd93",  # a manual order
        "mm.bot.b0",  # no sequence
        "mm.bot.x0.1",  # unknown side
        "mm.bot.b01.1",  # non-canonical level
        "mm.bot.b100.1",  # level out of range
        "mm.Bot.b0.1",  # not a bot name
        "mm.-bot.b0.1",
        "mm.bot.b0.1.extra",
        "mm.bot.b0.ABC",  # upper-case sequence
        "mm.bot.b0.123456789",  # sequence too long
        "mm.aaaaaaaaaaaaaaaaaaaaa.b0.1",  # bot name too long
        "xmm.bot.b0.1",
    ],
)
def test_foreign_and_malformed_ids_are_not_ours(client_id: str) -> None:
    """Manual orders and anything not in the exact mmctl form parse to None."""
    assert parse(client_id) is None


def test_prefix_of_one_bot_never_matches_another_bots_ids() -> None:
    """Bot `a`'s prefix does not match bot `ab`'s ids, and parse tells them apart."""
    ab_id = make_id("ab", Side.BUY, 0, 1)
    assert not ab_id.startswith(prefix("a"))
    assert ab_id.startswith(prefix("ab"))
    assert parse(ab_id) == OwnId("ab", Side.BUY, 0)


@settings(max_examples=100)
@given(a=bot_names, b=bot_names)
def test_prefixes_of_different_bots_are_disjoint(a: str, b: str) -> None:
    """For any two distinct bots, neither's ids start with the other's prefix."""
    if a != b:
        assert not make_id(b, Side.SELL, 3, 42).startswith(prefix(a))


@pytest.mark.parametrize("name", ["a", "btc-mm-1", "0x", "a" * 20, "eth-"])
def test_valid_bot_names_are_returned_unchanged(name: str) -> None:
    """Slugs of 1-20 lowercase letters, digits and '-' not starting with '-' are valid."""
    assert validate_bot_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "non-empty"),
        (None, "non-empty string"),
        (7, "non-empty string"),
        ("a" * 21, "too long (21 characters, at most 20)"),
        ("BTC", "lowercase letters, digits and '-'"),
        ("-btc", "starting with a letter or digit"),
        ("btc.mm", "lowercase letters"),
        ("btc_mm", "lowercase letters"),
        ("btc mm", "lowercase letters"),
        ("bé", "lowercase letters"),
    ],
)
def test_invalid_bot_names_are_refused_with_a_clear_message(name: object, fragment: str) -> None:
    """A bad bot name is a ValidationError on field `name` that says what a name may contain."""
    with pytest.raises(ValidationError) as e:
        validate_bot_name(name)
    assert fragment in str(e.value)
    assert e.value.data == {"field": "name"}
    if isinstance(name, str) and name:
        with pytest.raises(ValidationError):
            prefix(name)
