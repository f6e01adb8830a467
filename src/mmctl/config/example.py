"""The documented example config, shipped inside the package (`src/mmctl/config/example.toml` is the
repository's `config.example.toml`), so a wheel install can write it: `mmctl config init`."""

from __future__ import annotations

from importlib.resources import files

EXAMPLE_NAME = "example.toml"


def example_text() -> str:
    """The text of `config.example.toml`: every key with its default and what it does."""
    return files("mmctl.config").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")
