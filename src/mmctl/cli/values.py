"""Values from the command line: the checks click's types miss, and how values are echoed in messages.

click's float ranges let NaN through (every comparison with NaN is false) and read `1e309` as infinity,
so every float option also takes the `finite` callback. Messages that repeat what the user typed go
through `clip`, so a 10 kB argument is never echoed back in full and a control character cannot break
the one error line (or drive the terminal).
"""

from __future__ import annotations

import math

import typer

CLIP = 60
"""Characters of a user-typed value repeated in a message before it is cut short with "…"."""


def finite(value: float) -> float:
    """Option callback: refuse NaN and infinities (the range check has already bounded the rest)."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, got {value}")
    return value


def printable(text: str) -> str:
    """`text` with each control or other non-printable character written as its escape (`\\n`, `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def clip(text: str, limit: int = CLIP) -> str:
    """`text` made printable and cut to `limit` characters, the cut marked with "…"."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_words(text: str, limit: int) -> str:
    """`text` made printable, each run of non-blank characters longer than `limit` cut short."""
    text = printable(text)
    if all(len(word) <= limit for word in text.split(" ")):
        return text
    return " ".join(clip(word, limit) for word in text.split(" "))
