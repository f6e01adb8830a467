"""`mmctl pnl` from a cron-like environment (`env -i` with only PATH, no TTY, no locale): `--json` parses,
`--csv` has its header, and the plain output is tab-separated with no chart."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.cli.fake_daemon import FakeDaemon

from mmctl.pnl.report import pnl_doc
from mmctl.rpc.protocol import dumps

from .paper_ledger import Step, drive, open_store, record, report

ENTRY = "from mmctl.cli.app import app; from mmctl.cli import pnl_cmd; pnl_cmd.register(app); app()"


def real_doc(directory: Path) -> dict[str, Any]:
    """A `pnl.report` document built from a paper ledger with trades of two bots and funding."""

    async def build() -> dict[str, Any]:
        venue = drive([Step("a"), Step("b", qty="0.01"), Step(hours=9), Step(None, mid=61000), Step(hours=9)])
        store = open_store(directory)
        try:
            until = await record(venue, store) + 1
            return json.loads(dumps(pnl_doc(await report(store, until, by="day"))))
        finally:
            await store.close()

    return asyncio.run(build())


def cron(socket: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as cron would: an empty environment but PATH, stdin and stdout not terminals."""
    return subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", sys.executable, "-c", ENTRY, "--socket", str(socket), "pnl",
         *args],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def test_pnl_json_and_csv_work_from_cron(short_tmp: Path, tmp_path: Path) -> None:
    """Under `env -i`, --json is the daemon's document, --csv has its header and the bucket rows plus
    total, and plain output is tab-separated without bar-chart blocks."""
    doc = real_doc(tmp_path)
    with FakeDaemon(short_tmp / "fake.sock", handlers={"pnl.report": lambda params: doc}) as daemon:
        as_json = cron(daemon.path, "--since", "7d", "--by", "day", "--json")
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(as_json.stdout) == doc
        as_csv = cron(daemon.path, "--by", "day", "--csv")
        assert as_csv.returncode == 0, as_csv.stderr
        rows = list(csv.reader(io.StringIO(as_csv.stdout.decode())))
        assert rows[0] == [
            "key",
            "start",
            "realized",
            "commission",
            "funding",
            "transfers",
            "net",
            "unrealized",
        ]
        assert [r[0] for r in rows[1:]] == [b["key"] for b in doc["buckets"]] + ["total"]
        assert sum(Decimal(r[6]) for r in rows[1:-1]) == Decimal(rows[-1][6]) == Decimal(doc["net"])
        plain = cron(daemon.path, "--by", "day")
        assert plain.returncode == 0, plain.stderr
        text = plain.stdout.decode()
        assert text.splitlines()[0].split("\t")[0] == "key"
        assert "█" not in text
    asked = [params for method, params in daemon.requests if method == "pnl.report"]
    assert asked == [{"since": "7d", "by": "day"}, {"by": "day"}, {"by": "day"}]


def test_bad_flags_exit_2_before_asking_the_daemon(short_tmp: Path) -> None:
    """--json with --csv, --bot with --symbol and an unknown --by are usage errors (exit 2), one line."""
    with FakeDaemon(short_tmp / "fake.sock") as daemon:
        for args in (["--json", "--csv"], ["--bot", "a", "--symbol", "BTCUSDT"], ["--by", "hour"]):
            proc = cron(daemon.path, *args)
            assert proc.returncode == 2, (args, proc.stderr)
            assert len(proc.stderr.decode().strip().splitlines()) == 1
        assert not [m for m, _ in daemon.requests if m == "pnl.report"]
