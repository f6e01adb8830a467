"""How the CLI prints: aligned tables on a terminal, tab-separated text with a header when piped, one
JSON document with `--json`; `--output table|tsv|json` forces one of the three whatever stdout is.
Errors are one line on stderr (plus an error object with `--json`), with the exit code DESIGN.md §3
assigns.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NoReturn, TextIO

import typer

from mmctl.cli.values import clip_words
from mmctl.errors import MmctlError, exit_code_for
from mmctl.rpc.protocol import to_jsonable


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("\t", " ").replace("\n", " ")


FORMATS = ("table", "tsv", "json")
"""The formats `--output` forces."""


class Output:
    """`fmt`: a format forced by `--output` (None: a table on a terminal, TSV when piped)."""

    def __init__(self, json_mode: bool = False, stream: TextIO | None = None, fmt: str | None = None) -> None:
        self.json = json_mode or fmt == "json"
        self.stream = stream or sys.stdout
        self.fmt = fmt

    @property
    def terminal(self) -> bool:
        """stdout is a terminal (whatever format is forced)."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    @property
    def tty(self) -> bool:
        """Print for a person (aligned tables, notes, summaries): on a terminal or with `--output table`."""
        if self.fmt == "table":
            return True
        if self.fmt == "tsv":
            return False
        return self.terminal

    def write(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def document(self, doc: Any) -> None:
        """Print one JSON document (stable keys, money as strings)."""
        indent = 2 if self.terminal else None
        self.write(json.dumps(doc, indent=indent, default=to_jsonable, ensure_ascii=False))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cells = [[cell(v) for v in row] for row in rows]
        if not self.tty:
            self.write("\t".join(columns))
            for row in cells:
                self.write("\t".join(row))
            return
        widths = [len(c) for c in columns]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        self.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for row in cells:
            self.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """A detail view: `key: value` lines on a terminal, `key<TAB>value` when piped."""
        if not self.tty:
            self.write("key\tvalue")
            for k, v in pairs:
                self.write(f"{k}\t{cell(v)}")
            return
        width = max((len(k) for k, _ in pairs), default=0)
        for k, v in pairs:
            self.write(f"{k + ':':<{width + 1}} {cell(v)}")


MAX_WORD = 200
"""Longest run of non-blank characters an error line repeats (a path fits; a pasted 10 kB value does not)."""


def fail(err: MmctlError, out: Output) -> NoReturn:
    """Report an error (one line on stderr; an error object on stdout with --json) and exit."""
    code = exit_code_for(err.code)
    if out.json:
        out.document({"error": {"code": err.code, "message": err.message, "data": err.data or None}})
    sys.stderr.write(f"mmctl: error: {error_line(err.message)}\n")
    raise typer.Exit(code)


def error_line(message: str) -> str:
    """`message` as one printable line: control characters escaped, over-long words cut short."""
    return clip_words(message, MAX_WORD)
