"""Reading one TOML file defensively: at most `MAX_TOML_BYTES`, UTF-8, and every failure one error line.

Shared by the config loader and `mmctl create --from`. A path may name something that never ends
(`/dev/zero`), holds bytes that are not text, or nests arrays deeper than the parser's recursion limit:
each becomes the caller's `MmctlError` subclass naming the file, never a traceback or a hang.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mmctl.errors import ConfigError, MmctlError

MAX_TOML_BYTES = 1 << 20
"""Largest TOML file read (1 MiB): a config or bot definition is a few kB."""

MAX_SHOWN_PATH = 120
"""Longest path repeated in full in a message; a longer one is shortened with "…"."""


def shown(path: Path | str) -> str:
    """`path` as messages print it: whole up to `MAX_SHOWN_PATH` characters, else its start and "…"."""
    text = str(path)
    return text if len(text) <= MAX_SHOWN_PATH else text[: MAX_SHOWN_PATH - 1] + "…"


def read_toml(
    path: Path, what: str = "config file", error: type[MmctlError] = ConfigError, **data: Any
) -> dict[str, Any]:
    """Parse the TOML file at `path`; `what` names it in messages, `data` goes on the error raised."""
    text = read_text(path, what, error, **data)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"{shown(path)}: not valid TOML: {e}", data=data) from e
    except RecursionError as e:
        raise error(f"{shown(path)}: not valid TOML: tables or arrays nested too deeply", data=data) from e


def read_text(
    path: Path, what: str = "config file", error: type[MmctlError] = ConfigError, **data: Any
) -> str:
    """The file's text: refused when larger than `MAX_TOML_BYTES` or not UTF-8."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
    except PermissionError as e:
        raise error(f"{shown(path)}: permission denied reading the {what}", data=data) from e
    except IsADirectoryError as e:
        raise error(f"{shown(path)}: is a directory, not a {what}", data=data) from e
    except OSError as e:
        raise error(f"{shown(path)}: cannot read the {what}: {e.strerror or e}", data=data) from e
    if len(raw) > MAX_TOML_BYTES:
        raise error(f"{shown(path)}: the {what} is larger than {MAX_TOML_BYTES >> 20} MiB", data=data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"{shown(path)}: the {what} is not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})",
            data=data,
        ) from e
