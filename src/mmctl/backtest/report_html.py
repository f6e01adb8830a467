"""A backtest run as one self-contained HTML document: summary and params tables and four SVG charts.

`render_report(data)` turns a `ReportData` (series in time order, money as Decimal) into HTML with inline
CSS and inline SVG only: no script and no external reference, so it opens offline, on a light background.
The charts share one UTC time axis: equity, mid price with the fills marked (buys green ▲, sells red ▼;
maker filled, taker hollow), inventory (a step line) and drawdown (derived from equity). Long series are
drawn downsampled (`downsample_minmax` keeps each bucket's minimum and maximum, so spikes stay visible);
fills beyond `MAX_FILLS` are sampled evenly, with a note. Decimal becomes float only for pixel coordinates,
and the same input gives byte-identical output. `write_report` writes atomically (temp file + rename in the
target's directory); `check_report_path` fails early, before a long run, for a path that cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Literal, NamedTuple

from mmctl.errors import ValidationError
from mmctl.timefmt import iso_utc

Point = tuple[int, Decimal]
"""One sample of a series: (epoch milliseconds, value)."""

Side = Literal["BUY", "SELL"]


class ReportFill(NamedTuple):
    """One fill to mark on the mid-price chart."""

    ts_ms: int
    price: Decimal
    side: Side
    qty: Decimal
    maker: bool


MAX_LINE_POINTS = 2000
"""At most this many vertices are drawn per line; longer series are downsampled (min/max per bucket)."""
MAX_FILLS = 2000
"""At most this many fill markers are drawn; more fills are sampled evenly and a note says so."""


@dataclass(frozen=True, slots=True)
class ReportData:
    """What a report shows. `summary` and `params` are (label, value text) rows, already formatted;
    every series is in time order (ValueError otherwise). `quote_asset`/`base_asset` label the units."""

    title: str
    subtitle: str = ""
    summary: Sequence[tuple[str, str]] = ()
    params: Sequence[tuple[str, str]] = ()
    equity: Sequence[Point] = ()
    mid: Sequence[Point] = ()
    fills: Sequence[ReportFill] = ()
    inventory: Sequence[Point] = ()
    quote_asset: str = ""
    base_asset: str = ""

    def __post_init__(self) -> None:
        for name in ("equity", "mid", "fills", "inventory"):
            series: Sequence[tuple[int, ...]] = getattr(self, name)
            for i, (a, b) in enumerate(pairwise(series)):
                if b[0] < a[0]:
                    raise ValueError(f"report {name} not in time order at index {i + 1}")
        for fill in self.fills:
            if fill.side not in ("BUY", "SELL"):
                raise ValueError(f"report fill side must be BUY or SELL, got {fill.side!r}")


_CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
_W, _H = 1100, 280  # svg size
_ML, _MR, _MT, _MB = 90, 24, 14, 34  # margins: room for value labels left, time labels below
_PW, _PH = _W - _ML - _MR, _H - _MT - _MB  # plot area
_Y_TICKS, _X_TICKS = 5, 6
_DAY = 86_400_000
_TIME_STEPS = (
    *(1, 2, 5, 10, 20, 50, 100, 200, 500),
    *(s * 1000 for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)),
    *(h * 3_600_000 for h in (1, 2, 3, 6, 12)),
    *(d * _DAY for d in (1, 2, 7, 14, 30, 91, 182, 365)),
)

_CSS = """
:root{color-scheme:light}
body{background:#fff;color:#1d1d1f;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
margin:24px auto;max-width:1140px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
.subtitle,.note,.legend,.muted{color:#555}.note{font-style:italic}
.tables{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}
table.kv{border-collapse:collapse;min-width:320px}
table.kv th,table.kv td{border-bottom:1px solid #e3e3e3;padding:3px 12px 3px 0;text-align:left}
table.kv th{font-weight:600;color:#333}table.kv td{font-variant-numeric:tabular-nums}
svg.chart{display:block;background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#444}
.grid{stroke:#ececec;stroke-width:1}.frame{fill:none;stroke:#bbb}
.ytick{text-anchor:end}.xtick{text-anchor:middle}.xtick.last{text-anchor:end}
.line{fill:none;stroke-width:1.5;stroke-linejoin:round}
.equity{stroke:#1f5fbf}.mid{stroke:#777}.inventory{stroke:#7b3fa0}.drawdown{stroke:#c0392b}
.dd-area{fill:#c0392b;fill-opacity:.18;stroke:none}.zero{stroke:#999;stroke-dasharray:4 3}
.fill{stroke-width:1.3}.buy{stroke:#1a8a3a}.sell{stroke:#c62828}
.buy.maker{fill:#1a8a3a}.sell.maker{fill:#c62828}.taker{fill:#fff}
.key.buy{color:#1a8a3a}.key.sell{color:#c62828}
.empty{text-anchor:middle;font-size:14px}
"""


def render_report(data: ReportData) -> str:
    """The whole report as one HTML document (deterministic: same data, same bytes)."""
    stamps = [s[i][0] for s in (data.equity, data.mid, data.inventory) if s for i in (0, -1)]
    stamps += [data.fills[i].ts_ms for i in (0, -1) if data.fills]
    span = (min(stamps), max(stamps)) if stamps else None
    quote = f" ({data.quote_asset})" if data.quote_asset else ""
    base = f" ({data.base_asset})" if data.base_asset else ""
    drawdown = drawdown_series(data.equity)
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{escape(data.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>{escape(data.title)}</h1>\n",
        f'<p class="subtitle">{escape(data.subtitle)}</p>\n' if data.subtitle else "",
        '<div class="tables">\n<section>\n<h2>Summary</h2>\n',
        _table("summary", data.summary),
        "</section>\n<section>\n<h2>Parameters</h2>\n",
        _table("params", data.params),
        "</section>\n</div>\n",
        _section("equity", f"Equity{quote}", "", _line_chart("equity", span, data.equity)),
        _mid_section(span, data.mid, data.fills, quote),
        _section(
            "inventory", f"Inventory{base}", "", _line_chart("inventory", span, data.inventory, step=True)
        ),
        _section("drawdown", f"Drawdown{quote}", "", _line_chart("drawdown", span, drawdown, area=True)),
        '<p class="muted">Times are UTC. Lines with more than '
        f"{MAX_LINE_POINTS:,} points are drawn from each interval's minimum and maximum.</p>\n",
        "</body>\n</html>\n",
    ]
    return "".join(parts)


def drawdown_series(equity: Sequence[Point]) -> list[Point]:
    """Equity minus its running peak at each point (0 at a new high, negative below it)."""
    out: list[Point] = []
    peak: Decimal | None = None
    for ts, value in equity:
        if peak is None or value > peak:
            peak = value
        out.append((ts, _CTX.subtract(value, peak)))
    return out


def downsample_minmax(points: Sequence[Point], max_points: int = MAX_LINE_POINTS) -> list[Point]:
    """At most `max_points` of `points`, in order: the first, the last, and each bucket's min and max."""
    n = len(points)
    if n <= max_points:
        return list(points)
    buckets = max(1, (max_points - 2) // 2)
    values = [p[1] for p in points]
    keep = {0, n - 1}
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        chunk = values[lo:hi]
        keep.add(lo + chunk.index(min(chunk)))
        keep.add(lo + chunk.index(max(chunk)))
    return [points[i] for i in sorted(keep)]


# --- document parts --------------------------------------------------------------------------------------


def _table(key: str, rows: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return f'<p class="muted" id="{key}">none</p>\n'
    body = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>\n' for k, v in rows)
    return f'<table class="kv" id="{key}">\n<tbody>\n{body}</tbody>\n</table>\n'


def _section(key: str, title: str, extra: str, svg: str) -> str:
    label = escape(title)
    svg_open = (
        f'<svg class="chart" id="chart-{key}" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{label}">\n'
    )
    return f'<section class="chart-box">\n<h2>{label}</h2>\n{extra}{svg_open}{svg}</svg>\n</section>\n'


def _mid_section(
    span: tuple[int, int] | None, mid: Sequence[Point], fills: Sequence[ReportFill], quote: str
) -> str:
    shown = _sample_fills(fills)
    buys = sum(1 for f in fills if f.side == "BUY")
    legend = (
        f'<p class="legend"><span class="key buy">▲ buy ({buys:,})</span> · '
        f'<span class="key sell">▼ sell ({len(fills) - buys:,})</span> · '
        "filled marker = maker, hollow = taker</p>\n"
    )
    if len(shown) < len(fills):
        legend += f'<p class="note">Showing {len(shown):,} of {len(fills):,} fills (evenly sampled).</p>\n'
    drawn = downsample_minmax(mid)
    frame = _frame(span, [p[1] for p in drawn] + [f.price for f in shown])
    if frame is None:
        return _section("mid", f"Mid price{quote} and fills", legend, _empty())
    body = _axes(frame) + (_polyline(frame, drawn, "mid") if drawn else "")
    body += "".join(_marker(frame, f) for f in shown)
    return _section("mid", f"Mid price{quote} and fills", legend, body)


def _sample_fills(fills: Sequence[ReportFill]) -> Sequence[ReportFill]:
    n = len(fills)
    return fills if n <= MAX_FILLS else [fills[i * n // MAX_FILLS] for i in range(MAX_FILLS)]


def _marker(frame: _Frame, fill: ReportFill) -> str:
    x, y = frame.x(fill.ts_ms), frame.y(fill.price)
    if fill.side == "BUY":
        pts = f"{x:.1f},{y - 6:.1f} {x - 5:.1f},{y + 3:.1f} {x + 5:.1f},{y + 3:.1f}"
    else:
        pts = f"{x:.1f},{y + 6:.1f} {x - 5:.1f},{y - 3:.1f} {x + 5:.1f},{y - 3:.1f}"
    role = "maker" if fill.maker else "taker"
    tip = f"{fill.side} {fill.qty:f} @ {fill.price:f} ({role}) {iso_utc(fill.ts_ms)}"
    cls = f"fill {fill.side.lower()} {role}"
    return f'<polygon class="{cls}" points="{pts}"><title>{escape(tip)}</title></polygon>\n'


def _line_chart(
    kind: str,
    span: tuple[int, int] | None,
    points: Sequence[Point],
    *,
    step: bool = False,
    area: bool = False,
) -> str:
    drawn = downsample_minmax(points, MAX_LINE_POINTS // 2 if step else MAX_LINE_POINTS)
    frame = _frame(span, [p[1] for p in drawn] + ([Decimal(0)] if area or step else [])) if drawn else None
    if frame is None:
        return _empty()
    if step:  # hold each value until the next point, and the last one to the end of the time axis
        drawn = drawn[:1] + [q for a, b in pairwise(drawn) for q in ((b[0], a[1]), b)]
        if drawn[-1][0] < frame.t1:
            drawn.append((frame.t1, drawn[-1][1]))
    out = _axes(frame)
    if step or area:
        y0 = frame.y(Decimal(0))
        out += f'<line class="zero" x1="{_ML}" y1="{y0:.1f}" x2="{_ML + _PW}" y2="{y0:.1f}"/>\n'
    if area:
        y0 = frame.y(Decimal(0))
        x0, x1 = frame.x(drawn[0][0]), frame.x(drawn[-1][0])
        edge = f"{x0:.1f},{y0:.1f} {_coords(frame, drawn)} {x1:.1f},{y0:.1f}"
        out += f'<polygon class="dd-area" points="{edge}"/>\n'
    return out + _polyline(frame, drawn, kind)


# --- chart geometry ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (time, value) to pixels; `lo`..`hi` is the value axis, `ticks` its labelled values."""

    t0: int
    t1: int
    lo: Decimal
    hi: Decimal
    ticks: tuple[Decimal, ...]
    places: int

    def x(self, ts_ms: int) -> float:
        return _ML + (ts_ms - self.t0) * _PW / (self.t1 - self.t0)

    def y(self, value: Decimal) -> float:
        hi, lo = float(self.hi), float(self.lo)
        return _MT + (hi - float(value)) * _PH / ((hi - lo) or 1.0)


def _frame(span: tuple[int, int] | None, values: Sequence[Decimal]) -> _Frame | None:
    if span is None or not values:
        return None
    t0, t1 = span
    if t0 == t1:
        t0, t1 = t0 - 1000, t1 + 1000
    with localcontext(_CTX):
        lo, hi = min(values), max(values)
        if lo == hi:
            pad = abs(lo) / 100 if lo else Decimal(1)
            lo, hi = lo - pad, hi + pad
        raw = (hi - lo) / _Y_TICKS
        base = Decimal(1).scaleb(raw.adjusted())
        step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw).normalize()
        first = (lo / step).to_integral_value(ROUND_FLOOR)
        last = (hi / step).to_integral_value(ROUND_CEILING)
        ticks = tuple((first + k) * step for k in range(int(last - first) + 1))
    exponent = step.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    return _Frame(t0, t1, ticks[0], ticks[-1], ticks, places)


def _axes(frame: _Frame) -> str:
    """The plot's frame, value grid lines with labels, then the time axis."""
    out = [f'<rect class="frame" x="{_ML}" y="{_MT}" width="{_PW}" height="{_PH}"/>\n']
    quantum = Decimal(1).scaleb(-frame.places)
    for value in frame.ticks:
        y = frame.y(value)
        shown = _CTX.quantize(value, quantum)
        shown = shown.copy_abs() if shown.is_zero() else shown  # never "-0.00"
        out.append(f'<line class="grid" x1="{_ML}" y1="{y:.1f}" x2="{_ML + _PW}" y2="{y:.1f}"/>')
        out.append(f'<text class="ytick" x="{_ML - 6}" y="{y + 4:.1f}">{shown:,f}</text>\n')
    return "".join(out) + _time_axis(frame)


def _time_axis(frame: _Frame) -> str:
    out: list[str] = []
    step, ticks = _time_ticks(frame.t0, frame.t1)
    right = float("-inf")  # right end of the last time label drawn: a label that would overlap is left out
    for ts in ticks:
        x, label = frame.x(ts), _time_label(ts, step)
        width = 6.2 * len(label)  # about 6.2 px per character at 11 px
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{_MT}" x2="{x:.1f}" y2="{_MT + _PH}"/>')
        edge, left = ("", x - width / 2) if x + width / 2 <= _W - 2 else (" last", x - width)
        if left >= right + 10:
            out.append(f'<text class="xtick{edge}" x="{x:.1f}" y="{_MT + _PH + 20}">{label}</text>\n')
            right = left + width
    return "".join(out)


def _time_ticks(t0: int, t1: int) -> tuple[int, list[int]]:
    span = t1 - t0
    step = next((s for s in _TIME_STEPS if span // s <= _X_TICKS), 0)
    if step == 0:  # more than six years: whole multiples of 365 days
        step = -(-span // _X_TICKS // (365 * _DAY)) * 365 * _DAY or 365 * _DAY
    return step, list(range(-(-t0 // step) * step, t1 + 1, step))


def _time_label(ts_ms: int, step: int) -> str:
    iso = iso_utc(ts_ms)
    if step % _DAY == 0:
        return iso[:10]
    if step % 60_000 == 0:
        return iso[:16] + "Z"
    return iso[:19] + "Z" if step % 1000 == 0 else iso


def _coords(frame: _Frame, points: Sequence[Point]) -> str:
    return " ".join(f"{frame.x(ts):.1f},{frame.y(v):.1f}" for ts, v in points)


def _polyline(frame: _Frame, points: Sequence[Point], kind: str) -> str:
    if len(points) == 1:  # a lone sample: a dot, since a one-vertex line draws nothing
        x, y = frame.x(points[0][0]), frame.y(points[0][1])
        return f'<circle class="line {kind}" cx="{x:.1f}" cy="{y:.1f}" r="3"/>\n'
    return f'<polyline class="line {kind}" points="{_coords(frame, points)}"/>\n'


def _empty() -> str:
    return f'<text class="empty" x="{_W // 2}" y="{_H // 2}">no data</text>\n'


# --- writing ----------------------------------------------------------------------------------------------


def write_report(data: ReportData, path: str | os.PathLike[str]) -> Path:
    """Render `data` and write it to `path` atomically; `ValidationError` naming the path if it cannot
    be written (then nothing is left behind)."""
    target = Path(path)
    _write_atomic(target, render_report(data).encode("utf-8"), keep=True)
    return target


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """Fail now, before a long run, if a report cannot be written at `path` (writes a temp file in its
    directory and removes it; the target itself is not touched)."""
    target = Path(path)
    _write_atomic(target, b"", keep=False)
    return target


def _write_atomic(target: Path, content: bytes, *, keep: bool) -> None:
    if os.path.isdir(target):
        raise _unwritable(target, "it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise _unwritable(target, e.strerror or type(e).__name__) from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if keep:
            os.chmod(tmp, _new_file_mode(target))
            os.replace(tmp, target)
    except OSError as e:
        raise _unwritable(target, e.strerror or type(e).__name__) from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _new_file_mode(target: Path) -> int:
    """The replaced file's mode, else what `open()` would give a new file (0666 minus the umask)."""
    with contextlib.suppress(OSError):
        return os.stat(target).st_mode & 0o7777
    umask = 0o022
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        umask = next((int(line.split()[1], 8) for line in fh if line.startswith("Umask:")), umask)
    return 0o666 & ~umask


def _unwritable(target: Path, reason: str) -> ValidationError:
    return ValidationError(
        f"cannot write the report to {target}: {reason}", data={"field": "report", "path": str(target)}
    )
