"""Client order ids: deterministic, venue-safe, and carrying the bot and the quote level.

Form: `mm.<bot>.<b|s><level>.<seq>`, e.g. `mm.btc-mm.b0.lz2k9f1c`. Length budget (Binance allows 36
characters of `[.A-Za-z0-9:/_-]`): `mm.` 3 + bot name at most 20 + `.` 1 + side 1 + level at most 2
(0..99) + `.` 1 + sequence at most 8 base-36 digits = 36. The sequence is reduced modulo 36^8.

Uniqueness after a restart: seed each bot's generator with the start time in milliseconds. The sequence
then starts above every sequence the previous run used, as long as that run placed fewer orders than
milliseconds elapsed (Binance's order rate limits allow far fewer) and the clock did not step back.
36^8 ms after the epoch is May 2059, when the sequence wraps.

An id that `parse` does not recognise is a manual or foreign order: mmctl never touches it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mmctl.errors import ValidationError
from mmctl.model import Side

MAX_ID_LENGTH = 36
MAX_BOT_NAME_LENGTH = 20
MAX_LEVEL = 99
SEQ_DIGITS = 8
SEQ_MODULUS: int = 36**SEQ_DIGITS

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SIDE_CODE = {Side.BUY: "b", Side.SELL: "s"}
_CODE_SIDE = {code: side for side, code in _SIDE_CODE.items()}
_BOT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_OWN_ID = re.compile(
    r"mm\.(?P<bot>[a-z0-9][a-z0-9-]{0,19})\.(?P<side>[bs])(?P<level>0|[1-9][0-9]?)\.(?P<seq>[0-9a-z]{1,8})"
)


class OwnId(NamedTuple):
    """What a bot's client order id says: whose it is, and which side and level it quotes."""

    bot: str
    side: Side
    level: int


def validate_bot_name(name: object) -> str:
    """`name` if it is a valid bot name (a slug of 1-20 of `[a-z0-9-]`, not starting with '-')."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"bot name must be a non-empty string, got {name!r}", data={"field": "name"})
    if len(name) > MAX_BOT_NAME_LENGTH:
        raise ValidationError(
            f"bot name {name!r} is too long ({len(name)} characters, at most {MAX_BOT_NAME_LENGTH})",
            data={"field": "name"},
        )
    if not _BOT_NAME.fullmatch(name):
        raise ValidationError(
            f"bot name {name!r}: use lowercase letters, digits and '-', starting with a letter or digit "
            "(e.g. 'btc-mm-1')",
            data={"field": "name"},
        )
    return name


def prefix(bot: str) -> str:
    """The prefix every id of `bot` starts with; no other bot's ids start with it (`mm.a.` vs `mm.ab.`)."""
    return f"mm.{validate_bot_name(bot)}."


def make_id(bot: str, side: Side, level: int, seq: int) -> str:
    """The client order id of `bot`'s quote at (`side`, `level`) with sequence number `seq`."""
    return _format(prefix(bot), side, level, seq)


def parse(client_id: str) -> OwnId | None:
    """The bot, side and level an mmctl id carries; None for a manual or foreign id."""
    m = _OWN_ID.fullmatch(client_id)
    if m is None:
        return None
    return OwnId(bot=m["bot"], side=_CODE_SIDE[m["side"]], level=int(m["level"]))


class ClientIdGenerator:
    """Issues one bot's ids with a sequence starting at `start` (give it the start time in ms)."""

    def __init__(self, bot: str, start: int) -> None:
        self.bot = validate_bot_name(bot)
        self._prefix = prefix(bot)
        self._seq = start % SEQ_MODULUS

    @property
    def next_seq(self) -> int:
        """The sequence number the next id will carry."""
        return self._seq

    def new_id(self, side: Side, level: int) -> str:
        """A fresh id for a quote at (`side`, `level`)."""
        client_id = _format(self._prefix, side, level, self._seq)
        self._seq = (self._seq + 1) % SEQ_MODULUS
        return client_id


def _format(bot_prefix: str, side: Side, level: int, seq: int) -> str:
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"level must be in 0..{MAX_LEVEL}, got {level}")
    return f"{bot_prefix}{_SIDE_CODE[side]}{level}.{_base36(seq % SEQ_MODULUS)}"


def _base36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))
