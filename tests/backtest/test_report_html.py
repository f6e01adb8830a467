"""The backtest HTML report: structure, escaping, determinism, downsampling, atomic writing, and (slow) how
real headless Chromium renders it."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.backtest.report_html import (
    MAX_FILLS,
    MAX_LINE_POINTS,
    ReportData,
    ReportFill,
    check_report_path,
    downsample_minmax,
    drawdown_series,
    render_report,
    write_report,
)
from mmctl.errors import ValidationError, exit_code_for

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
D = Decimal


def sample(n: int = 600, fills: int = 12) -> ReportData:
    """A small deterministic run: 100 ms steps over one minute, fills alternating side and role."""
    mid = [(T0 + i * 100, D(50000) + D(i % 37) / 10) for i in range(n)]
    equity = [(T0 + i * 100, D(10000) + D((i * 7) % 23) / 100) for i in range(n)]
    step = n // fills
    marks = [
        ReportFill(
            T0 + k * step * 100, mid[k * step][1], "BUY" if k % 2 == 0 else "SELL", D("0.010"), k % 3 != 0
        )
        for k in range(fills)
    ]
    inventory = [(f.ts_ms, D("0.010") * (1 if k % 2 == 0 else 0)) for k, f in enumerate(marks)]
    return ReportData(
        title="Backtest market_maker BTCUSDT",
        subtitle="2025-12-01T00:00Z to 2025-12-01T00:01Z",
        summary=[("Net PnL", "12.34 USDT"), ("Fills", str(fills)), ("Max drawdown", "-0.22 USDT")],
        params=[("spread_bps", "10"), ("levels", "3")],
        equity=equity,
        mid=mid,
        fills=marks,
        inventory=inventory,
        quote_asset="USDT",
        base_asset="BTC",
    )


def polyline_points(html: str, kind: str) -> list[tuple[float, float]]:
    match = re.search(rf'<polyline class="line {kind}" points="([^"]*)"', html)
    assert match is not None, kind
    return [(float(x), float(y)) for x, y in (p.split(",") for p in match.group(1).split())]


def chart(html: str, key: str) -> str:
    match = re.search(rf'<svg class="chart" id="chart-{key}".*?</svg>', html, re.S)
    assert match is not None, key
    return match.group(0)


def test_four_svg_charts_in_reading_order() -> None:
    """The report holds exactly the equity, mid+fills, inventory and drawdown charts, in that order."""
    html = render_report(sample())
    assert html.startswith("<!DOCTYPE html>")
    assert re.findall(r'<svg class="chart" id="chart-(\w+)"', html) == [
        "equity",
        "mid",
        "inventory",
        "drawdown",
    ]
    for key in ("equity", "mid", "inventory", "drawdown"):
        assert "<polyline" in chart(html, key)


def test_one_marker_per_fill_with_side_and_role() -> None:
    """Each fill is one marker on the mid chart, classed by side (buy/sell) and role (maker/taker)."""
    data = sample(fills=12)
    mid = chart(render_report(data), "mid")
    buys = [f for f in data.fills if f.side == "BUY"]
    sells = [f for f in data.fills if f.side == "SELL"]
    assert mid.count('class="fill buy ') == len(buys) == 6
    assert mid.count('class="fill sell ') == len(sells) == 6
    assert mid.count('class="fill buy maker"') == sum(f.maker for f in buys)
    assert mid.count('class="fill sell taker"') == sum(not f.maker for f in sells)
    assert "BUY 0.010 @ 50000 (taker) 2025-12-01T00:00:00.000Z" in mid  # the marker's tooltip


def test_summary_and_params_rows_present() -> None:
    """Every summary and params row appears as a label/value row of its table."""
    html = render_report(sample())
    for label, value in [("Net PnL", "12.34 USDT"), ("Max drawdown", "-0.22 USDT")]:
        assert (
            f'<th scope="row">{label}</th><td>{value}</td>'
            in html.split('id="summary"')[1].split("</table>")[0]
        )
    assert '<th scope="row">spread_bps</th><td>10</td>' in html.split('id="params"')[1].split("</table>")[0]


def test_text_is_escaped() -> None:
    """Title, subtitle, table cells and assets are HTML-escaped, so no user text becomes markup."""
    evil = '<script>alert("x")</script>&'
    data = ReportData(
        title=evil, subtitle=evil, summary=[(evil, evil)], params=[(evil, evil)], quote_asset=evil
    )
    html = render_report(data)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html


def test_same_input_gives_identical_bytes() -> None:
    """Rendering equal data twice (separately built) gives byte-identical HTML."""
    assert render_report(sample()).encode() == render_report(sample()).encode()


def test_no_external_reference_of_any_kind() -> None:
    """The document loads nothing from outside: no URL, src, href, url(), @import or script."""
    html = render_report(sample(n=5000, fills=3000)).lower()
    for needle in ("http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<img"):
        assert needle not in html, needle


def test_downsample_keeps_endpoints_and_spikes() -> None:
    """Downsampling a long series keeps at most the budget, in time order, with the first, last and spikes."""
    points = [(T0 + i, D(i % 10) / 10) for i in range(200_003)]
    points[77_777] = (points[77_777][0], D(1000))
    points[150_001] = (points[150_001][0], D(-1000))
    drawn = downsample_minmax(points, 2000)
    assert 1900 <= len(drawn) <= 2000
    assert drawn[0] == points[0]
    assert drawn[-1] == points[-1]
    assert points[77_777] in drawn
    assert points[150_001] in drawn
    assert [p[0] for p in drawn] == sorted({p[0] for p in drawn})
    assert downsample_minmax(points[:50], 2000) == points[:50]


def test_long_equity_is_drawn_with_its_extremes_within_budget() -> None:
    """A 300,000-point equity curve is drawn with ≤ MAX_LINE_POINTS vertices reaching its spikes' pixels."""
    equity = [(T0 + i * 100, D(i % 10) / 10) for i in range(300_000)]
    equity[123_457] = (equity[123_457][0], D(1000))
    equity[234_568] = (equity[234_568][0], D(-1000))
    svg = chart(render_report(ReportData(title="t", equity=equity)), "equity")
    vertices = polyline_points(svg, "equity")
    assert len(vertices) <= MAX_LINE_POINTS
    grid_ys = [float(y) for y in re.findall(r'<line class="grid" x1="\d+" y1="([\d.]+)"', svg)]
    # the value axis runs exactly from -1000 to 1000, so the spikes touch the top and bottom grid lines
    assert min(y for _, y in vertices) == min(grid_ys)
    assert max(y for _, y in vertices) == max(grid_ys)


def test_fills_beyond_cap_are_sampled_with_a_note() -> None:
    """More than MAX_FILLS fills draw exactly MAX_FILLS markers and say how many there were."""
    mid = chart(html := render_report(sample(n=12_000, fills=5_000)), "mid")
    assert mid.count('<polygon class="fill ') == MAX_FILLS
    assert f"Showing {MAX_FILLS:,} of 5,000 fills" in html
    assert "Showing" not in render_report(sample())


def test_drawdown_is_equity_below_its_running_peak() -> None:
    """Drawdown is 0 at each new equity high and equity minus the peak so far otherwise, in exact Decimal."""
    equity = [(1, D("10")), (2, D("12.5")), (3, D("9.25")), (4, D("13")), (5, D("11.999"))]
    assert drawdown_series(equity) == [(1, D(0)), (2, D(0)), (3, D("-3.25")), (4, D(0)), (5, D("-1.001"))]


def test_axes_carry_utc_iso_times_and_values() -> None:
    """Time ticks are labelled in UTC ISO form and value ticks with their numbers."""
    html = render_report(sample())  # one minute from 2025-12-01T00:00:00Z
    assert ">2025-12-01T00:00:10Z</text>" in html
    assert re.search(r'class="ytick"[^>]*>50,00[0-9](\.\d+)?</text>', chart(html, "mid"))


def test_empty_run_still_renders_four_charts() -> None:
    """A run with no samples renders four charts that say 'no data' instead of failing."""
    html = render_report(ReportData(title="empty"))
    assert html.count('<svg class="chart"') == 4
    assert html.count(">no data</text>") == 4


def test_sparse_run_draws_a_lone_sample_and_fills_without_mid() -> None:
    """A one-sample equity series is drawn as a dot, and fills still show when there is no mid series."""
    fill = ReportFill(T0 + 500, D("1E+3"), "SELL", D("2"), False)
    html = render_report(ReportData(title="t", equity=[(T0, D(5))], fills=[fill]))
    assert '<circle class="line equity"' in chart(html, "equity")
    mid = chart(html, "mid")
    assert mid.count('class="fill sell taker"') == 1
    assert "SELL 2 @ 1000 (taker) 2025-12-01T00:00:00.500Z" in mid
    assert chart(html, "inventory").count(">no data</text>") == 1


def test_series_out_of_time_order_is_refused() -> None:
    """A series whose timestamps go backwards is rejected when the report data is built."""
    with pytest.raises(ValueError, match="equity not in time order at index 2"):
        ReportData(title="t", equity=[(1, D(1)), (3, D(1)), (2, D(1))])


def test_write_report_replaces_the_file_atomically(tmp_path: Path) -> None:
    """write_report leaves exactly the rendered document at the path (replacing an old one), no temp file."""
    target = tmp_path / "run.html"
    target.write_text("old")
    assert write_report(sample(), target) == target
    assert target.read_text(encoding="utf-8") == render_report(sample())
    assert sorted(os.listdir(tmp_path)) == ["run.html"]


@pytest.mark.parametrize("case", ["missing dir", "parent is a file", "path is a dir"])
def test_unwritable_path_is_one_clear_error_and_writes_nothing(tmp_path: Path, case: str) -> None:
    """An unwritable report path raises a one-line ValidationError (exit 2) naming it, and writes nothing."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    target = {
        "missing dir": tmp_path / "nope" / "r.html",
        "parent is a file": tmp_path / "afile" / "r.html",
        "path is a dir": tmp_path / "adir",
    }[case]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    attempts: list[Callable[[], Path]] = [
        lambda: write_report(sample(), target),
        lambda: check_report_path(target),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith(f"cannot write the report to {target}: ")
        assert "\n" not in message
        assert info.value.data == {"field": "report", "path": str(target)}
        assert exit_code_for(info.value.code) == 2
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_check_report_path_leaves_nothing_behind(tmp_path: Path) -> None:
    """check_report_path on a writable path succeeds without creating the report or any temp file."""
    assert check_report_path(tmp_path / "r.html") == tmp_path / "r.html"
    assert os.listdir(tmp_path) == []


# --- real browser ------------------------------------------------------------------------------------------


def png_colours(data: bytes) -> set[bytes]:
    """The distinct RGB colours of an 8-bit, non-interlaced RGB/RGBA PNG (a minimal decoder)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body, pos = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size], pos + 12 + size
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
    width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    prev, colours = bytearray(stride), set[bytes]()
    for r in range(height):
        ftype, cur = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        if ftype == 2:  # "up", the commonest: add the row above bytewise without carries, on whole-row ints
            x, y = int.from_bytes(cur, "big"), int.from_bytes(prev, "big")
            low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
            cur = bytearray((((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(stride, "big"))
        for i in range(stride if ftype in (1, 3, 4) else 0):
            a = cur[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if ftype == 1:
                cur[i] = (cur[i] + a) & 255
            elif ftype == 3:
                cur[i] = (cur[i] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(cur[i : i + 3]) for i in range(0, stride, bpp))
        prev = cur
    return colours


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """Headless Chromium renders the report into a multi-colour screenshot showing the fill markers' colours,
    and its DOM holds the four SVG charts with their lines and markers."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium or chromium-browser binary on PATH (apt-get install chromium)")
    data = sample()
    page = write_report(data, tmp_path / "report.html")
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 1000
    colours = png_colours(shot.read_bytes())
    assert len(colours) > 1
    assert bytes.fromhex("1a8a3a") in colours  # maker buy markers (filled green)
    assert bytes.fromhex("c62828") in colours  # maker sell markers (filled red)
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert re.findall(r'<svg class="chart" id="chart-(\w+)"', dom) == [
        "equity",
        "mid",
        "inventory",
        "drawdown",
    ]
    assert dom.count("<polyline") == 4
    assert dom.count('<polygon class="fill ') == len(data.fills)
