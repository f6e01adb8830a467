"""A PnL report document (`pnl_doc`, docs/json.md "pnl") as the CSV text `mmctl pnl --csv` prints.

A header, one row per bucket (`key`, `start`, the line fields in the document's order, an empty
`unrealized`), then a `total` row (`start` = the report's `since`, the report's own `unrealized`). The
daemon's daily report files use this, so a file and `mmctl pnl ... --csv` are the same text. Core layer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

_BUCKET_META = ("key", "start")
_DOC_META = (
    "since", "until", "timezone", "complete_until", "complete", "accounts", "symbol", "bot", "by",
    "unrealized", "rows", "sync", "buckets",
)  # fmt: skip


def line_names(doc: Mapping[str, Any]) -> list[str]:
    """The line fields of the document, in its order (every bucket carries the same)."""
    buckets = doc.get("buckets")
    names = [k for k in buckets[0] if k not in _BUCKET_META] if buckets else []
    return names or [k for k in doc if k not in _DOC_META]


def csv_rows(doc: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    names = line_names(doc)
    columns = ["key", "start", *names, "unrealized"]
    rows = [[b["key"], b["start"] or "", *(b[n] for n in names), ""] for b in doc.get("buckets") or []]
    rows.append(["total", doc["since"], *(doc[n] for n in names), doc.get("unrealized") or ""])
    return columns, rows


def csv_text(doc: Mapping[str, Any]) -> str:
    columns, rows = csv_rows(doc)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
