"""Usage errors (unknown command or option, bad option value) as one line on stderr, exit 2.

click prints four lines (usage, a hint, a blank line, the error) and repeats whatever was typed in full.
mmctl prints `mmctl: error: <what is wrong> (see: mmctl CMD --help)`, each typed value cut to
`values.CLIP` characters, and with `--json` also the error object on stdout, like every other error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from typer._click.exceptions import NoArgsIsHelpError, UsageError

from mmctl.cli.values import CLIP, clip, clip_words
from mmctl.errors import EXIT_USAGE, ValidationError

MAX_LINE = 300
"""Longest usage-error message (e.g. a long list of unexpected extra arguments) before it is cut."""


def usage_message(err: UsageError) -> str:
    """The one line reported for `err`: the problem, then where the command's help is."""
    ctx = err.ctx
    command = ctx.command_path if ctx is not None else "mmctl"
    text = clip(clip_words(err.format_message(), CLIP), MAX_LINE).rstrip(".")
    text = text[:1].lower() + text[1:]
    return f"{text} (see: {clip(command)} --help)"


def report_usage_error(err: UsageError, args: Sequence[str]) -> int:
    """Print `err` as mmctl prints errors; return the exit code (2)."""
    if isinstance(err, NoArgsIsHelpError):  # `mmctl` alone: the help text, as click shows it
        err.show()
        return EXIT_USAGE
    message = usage_message(err)
    if "--json" in args:
        doc = {"error": {"code": ValidationError.code, "message": message, "data": None}}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stderr.write(f"mmctl: error: {message}\n")
    return EXIT_USAGE
