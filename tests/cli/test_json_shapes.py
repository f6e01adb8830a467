"""Every `--json` document of the CLI, walked end to end: times are ISO 8601 UTC, never epoch numbers.

One daemon on a fast paper market serves a scripted session that runs each `--json` command (and a
failing one, for the error object); every document is walked key by key. The shapes are described in
docs/json.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.daemon import DaemonProc, run_cli, wait_until

from mmctl.bots.definition import BotDefinition
from mmctl.errors import ValidationError
from mmctl.timefmt import iso_utc, parse_iso_utc

FAST_MARKET = "\n[accounts.paper]\nexchange = 'paper'\nspeed = 20.0\nseed = 5\n"

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TIME_KEYS = frozenset({"ts", "created", "since", "until"})
DURATION_MS_KEYS = frozenset({"loop_lag_ms", "quote_interval_ms", "book_interval_ms"})
"""Keys ending in `_ms` that are durations (a lag, a strategy parameter, a paper-market setting), not
points in time."""
EPOCH_MS_RANGE = range(10**11, 10**14)  # 1973..5138 in epoch milliseconds


def walk(doc: Any, path: str = "$") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every key of every object in a JSON document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield f"{path}.{key}", key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from walk(value, f"{path}[{i}]")


def time_problems(doc: Any) -> list[str]:
    """Every way `doc` breaks the rule: no epoch fields, every time an ISO 8601 UTC string."""
    problems = []
    for path, key, value in walk(doc):
        if key.endswith("_ms") and key not in DURATION_MS_KEYS:
            problems.append(f"{path}: key ends in _ms")
        if isinstance(value, int) and not isinstance(value, bool) and value in EPOCH_MS_RANGE:
            problems.append(f"{path}: {value} looks like epoch milliseconds")
        time_like = key in TIME_KEYS or key.endswith("_at") or key.endswith("_time")
        looks_dated = isinstance(value, str) and DATE_LIKE.match(value)
        if (time_like and value is not None) or looks_dated:
            if not (isinstance(value, str) and ISO_UTC.match(value)):
                problems.append(f"{path}: {value!r} is not ISO 8601 UTC with milliseconds")
            else:
                parsed = datetime.fromisoformat(value)
                if parsed.utcoffset() is None or parsed.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
                    problems.append(f"{path}: {value!r} is not UTC")
    return problems


def test_the_walker_catches_epoch_fields_and_non_utc_times() -> None:
    """The checker itself flags `_ms` keys, epoch integers and non-UTC or offset-less times."""
    assert time_problems({"ts": "2026-12-01T05:59:01.123Z", "loop_lag_ms": 1.5, "seq": 4}) == []
    bad = {
        "ts_ms": 1,
        "x": [{"seen": 1_796_104_741_123}],
        "created": "2026-12-01T05:59:01+01:00",
        "note": "2026-12-01 05:59",
    }
    assert len(time_problems(bad)) == 4


@pytest.fixture
def session(daemon_factory: Callable[..., DaemonProc]) -> DaemonProc:
    return daemon_factory(FAST_MARKET).start()


def run_json(d: DaemonProc, docs: dict[str, Any], *args: str, exit_code: int = 0) -> Any:
    r = d.cli(*args, "--json")
    assert r.returncode == exit_code, (args, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    docs[" ".join(args)] = doc
    return doc


@pytest.mark.slow
def test_every_json_document_carries_iso_utc_times_and_no_epoch_fields(
    session: DaemonProc, tmp_path: Path
) -> None:
    """Each `--json` command of a whole session (and the error object) passes the time rule."""
    d = session
    docs: dict[str, Any] = {}
    run_json(d, docs, "version")
    run_json(d, docs, "--config", str(d.config), "config", "show")
    run_json(d, docs, "--config", str(d.config), "config", "check")
    run_json(d, docs, "health")
    run_json(d, docs, "create", "j1", "--account", "paper", "--symbol", "BTCUSDT")
    exported = run_json(d, docs, "export", "j1")
    assert ISO_UTC.match(exported["created"])
    assert "created_ms" not in exported
    toml_text = d.cli("export", "j1").stdout
    assert 'created = "' in toml_text
    (tmp_path / "j1.toml").write_text(toml_text)
    run_json(d, docs, "create", "j2", "--from", str(tmp_path / "j1.toml"))
    run_json(d, docs, "start", "j1", "j2")
    wait_until(lambda: run_json(d, docs, "status", "j1")["open_orders"] > 0, what="j1 quoting")
    run_json(d, docs, "list")
    run_json(d, docs, "status")
    run_json(d, docs, "orders", "j1")
    run_json(d, docs, "set", "j1", "spread_bps=9")
    run_json(d, docs, "leverage", "j1")
    run_json(d, docs, "leverage", "j1", "7")
    run_json(d, docs, "pause", "j1")
    run_json(d, docs, "resume", "j1")
    run_json(d, docs, "cancel-all", "j2", "--yes")
    run_json(d, docs, "cancel-all", "--symbol", "BTCUSDT", "--account", "paper", "--yes")
    run_json(d, docs, "cancel-all", "--all", "--yes")
    run_json(d, docs, "portfolio")
    run_json(d, docs, "stop", "--all")
    events = run_json(d, docs, "events")
    run_json(d, docs, "events", "j1", "--limit", "5")
    run_json(d, docs, "remove", "j2", "--yes")
    run_json(d, docs, "status", "nosuch", exit_code=1)
    run_json(
        d, docs, "create", "j3", "--account", "paper", "--symbol", "BTCUSDT", "--set", "x=1", exit_code=2
    )

    assert events["events"]
    assert all(ISO_UTC.match(e["ts"]) for e in events["events"])
    assert set(docs["status nosuch"]) == {"error"}
    assert set(docs["status nosuch"]["error"]) == {"code", "message", "data"}
    problems = {cmd: time_problems(doc) for cmd, doc in docs.items()}
    assert {cmd: p for cmd, p in problems.items() if p} == {}


@pytest.mark.slow
def test_events_follow_prints_iso_times_and_continues_from_last_seq(session: DaemonProc) -> None:
    """`events --follow --json` prints one event per line with an ISO `ts`, new ones included."""
    import subprocess
    import sys
    import threading

    follower = subprocess.Popen(
        [sys.executable, "-m", "mmctl", "--socket", str(session.socket), "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        for name in ("fa", "fb"):
            assert session.cli("create", name, "--account", "paper", "--symbol", "BTCUSDT").returncode == 0
            wait_until(lambda n=name: any(f'"bot":"{n}"' in line for line in lines), what=f"{name} event")
        events = [json.loads(line) for line in list(lines)]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        assert all(time_problems(e) == [] and ISO_UTC.match(e["ts"]) for e in events)
    finally:
        follower.terminate()
        follower.wait(timeout=30)


@pytest.mark.slow
def test_demo_json_summary_has_no_epoch_fields() -> None:
    """`mmctl demo --json` (which reads the account summary since an ISO time) passes the time rule."""
    r = run_cli("demo", "--seconds", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert time_problems(json.loads(r.stdout)) == []


def definition_raw(**extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "d1",
        "account": "paper",
        "symbol": "BTC/USDT:USDT",
        "strategy": "market_maker",
    } | extra


def test_definitions_export_created_as_iso_and_read_both_keys() -> None:
    """Export writes `created` as ISO 8601 UTC; old `created_ms` files and new ones read back alike."""
    ms = 1_796_104_741_123
    old = BotDefinition.from_dict(definition_raw(created_ms=ms))
    new = BotDefinition.from_dict(definition_raw(created="2026-12-01T05:59:01.123Z"))
    offset = BotDefinition.from_dict(definition_raw(created="2026-12-01T00:59:01.123-05:00"))
    assert old.created_ms == new.created_ms == offset.created_ms == ms
    doc = old.to_document()
    assert doc["created"] == "2026-12-01T05:59:01.123Z" == iso_utc(ms)
    assert "created_ms" not in doc
    assert BotDefinition.from_dict(dict(doc)).created_ms == ms
    assert old.to_dict()["created_ms"] == ms  # the stored form keeps epoch milliseconds


@pytest.mark.parametrize(
    "extra",
    [
        {"created": "yesterday"},
        {"created": "2026-12-01T05:59:01"},
        {"created": 5},
        {"created": "2026-12-01T05:59:01Z", "created_ms": 1},
    ],
)
def test_a_bad_created_time_is_a_validation_error_naming_the_field(extra: dict[str, Any]) -> None:
    """An unparsable, offset-less, non-string or doubled creation time is refused, naming `created`."""
    with pytest.raises(ValidationError) as e:
        BotDefinition.from_dict(definition_raw(**extra))
    assert e.value.data["field"] == "created"


def test_iso_utc_round_trips_exactly() -> None:
    """`iso_utc` and `parse_iso_utc` are exact inverses to the millisecond, before and after 1970."""
    for ms in (0, -1, 1, 999, 1_796_104_741_123, 253_402_300_799_999):
        text = iso_utc(ms)
        assert ISO_UTC.match(text)
        assert parse_iso_utc(text) == ms
    assert datetime.fromisoformat(iso_utc(0)) == datetime(1970, 1, 1, tzinfo=UTC)
