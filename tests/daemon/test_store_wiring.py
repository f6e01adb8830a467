"""The daemon on its SQLite store: restarts keep bots, desired states, events and positions; the first start
imports the TOML definitions once; a store that cannot be opened is refused; a failing write stops the
bots; an unclean end is reported; nothing is healthy before recovery is over; the retention job prunes.

In-process daemons (`build_daemon`) run in the test's event loop and are driven through their real socket
from a thread; the refusals run the real `mmctl daemon run` process (`slow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from tests.support.daemon import DaemonProc, rpc

from mmctl.clock import SystemClock, now_ms
from mmctl.config.load import load_settings
from mmctl.daemon.compose import build_daemon
from mmctl.daemon.host import Daemon
from mmctl.daemon.scheduler import Scheduler, prune_job
from mmctl.errors import StoreError
from mmctl.store.records import NewEvent
from mmctl.store.sqlite.store import DB_NAME, SqliteStore

FAST_PAPER = (
    "[accounts.paper]\nexchange = 'paper'\nseed = 7\nspeed = 20.0\nbook_interval_ms = 100\n"
    "trade_intensity = 20.0\ntrade_decay = 0.3\n"
)
DEADLINE_S = 60.0


# --- an in-process daemon ---------------------------------------------------------------------------------


class Running:
    """A daemon run in this event loop; `call` is one JSON-RPC round trip on its real socket."""

    def __init__(self, daemon: Daemon, task: asyncio.Task[int]) -> None:
        self.daemon = daemon
        self.task = task

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return await asyncio.to_thread(rpc, self.daemon.socket_path, method, params)

    async def ok(self, method: str, params: Any = None) -> Any:
        reply = await self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    async def until(self, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if await check():
                return
            if self.task.done():
                raise AssertionError(f"the daemon exited ({self.task.result()}) while waiting for {what}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    async def healthy(self) -> None:
        async def ready() -> bool:
            return self.daemon.ready.is_set() and (await self.ok("daemon.health"))["status"] == "ok"

        await self.until("recovery to finish and health to pass", ready)

    async def stop(self) -> int:
        self.daemon.request_stop()
        return await asyncio.wait_for(self.task, DEADLINE_S)


def settings_for(root: Path, extra: str = FAST_PAPER) -> Any:
    config = root / "c.toml"
    config.write_text(f'[daemon]\nsocket = "{root / "s.sock"}"\nstate_dir = "{root / "state"}"\n{extra}')
    return load_settings(config, {})


@contextlib.asynccontextmanager
async def running(
    root: Path, extra: str = FAST_PAPER, before_recovery: Callable[[Daemon], None] | None = None
) -> AsyncIterator[Running]:
    """Run a daemon on `root` until the block ends (then stop it cleanly, exit 0)."""
    daemon = build_daemon(settings_for(root, extra))
    if before_recovery is not None:
        hook = before_recovery

        async def service(d: Daemon) -> Callable[[], Awaitable[None]]:
            hook(d)

            async def stop() -> None:
                return None

            return stop

        daemon.services.append(service)
    task = asyncio.ensure_future(daemon.run())
    run = Running(daemon, task)
    try:
        await run.until("the socket to answer", lambda: _answers(run))
        yield run
    finally:
        if not task.done():
            assert await run.stop() == 0


async def _answers(run: Running) -> bool:
    try:
        await run.ok("daemon.version")
    except OSError:
        return False
    return True


@pytest.fixture
def root() -> Iterator[Path]:
    """A short directory (socket paths are limited) that keeps the signal handlers as they were."""
    import shutil
    import tempfile

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    d = Path(tempfile.mkdtemp(prefix="mmw"))
    yield d
    for s, handler in saved.items():
        signal.signal(s, handler)
    shutil.rmtree(d, ignore_errors=True)


async def create(d: Running, name: str, symbol: str = "BTCUSDT", **params: Any) -> None:
    await d.ok(
        "bot.create",
        {
            "name": name,
            "account": "paper",
            "symbol": symbol,
            "params": {"levels": 1, "spread_bps": 3, **params},
        },
    )


def states(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {r["name"]: r["state"] for r in rows}


# --- restarts ---------------------------------------------------------------------------------------------


def test_a_restart_keeps_definitions_desired_states_events_and_positions(root: Path) -> None:
    """After a clean restart every bot is back where the operator left it (running; paused by pause or
    cancel-all, with no orders; stopped), a stopped bot's position is rebuilt from its fills, parameter
    changes are kept, and event numbers continue where they ended."""

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            for name in ("run", "held", "panic", "idle", "done"):
                await create(d, name)
            await d.ok("bot.set", {"name": "idle", "params": {"levels": 2}})
            await d.ok("bot.start", {"names": ["run", "held", "panic", "done"]})
            await d.ok("bot.pause", {"names": ["held"]})
            await d.ok("cancel.bots", {"names": ["panic"]})

            async def filled() -> bool:
                return int((await d.ok("bot.status", {"name": "done"}))["fills"]) > 0

            await d.until("a fill of bot done", filled)
            await d.ok("bot.stop", {"names": ["done"]})
            before = await d.ok("bot.status", {"name": "done"})
            assert Decimal(before["fees_paid"]) != 0  # what a restart without the fills would lose
            last_seq = (await d.ok("events.list", {}))["last_seq"]
        async with running(root) as d:
            await d.healthy()
            assert states(await d.ok("bot.list")) == {
                "run": "running",
                "held": "paused",
                "panic": "paused",
                "idle": "stopped",
                "done": "stopped",
            }
            held = await d.ok("bot.status", {"name": "held"})
            assert held["orders"] == []
            assert (await d.ok("bot.export", {"name": "idle"}))["params"]["levels"] == 2
            after = await d.ok("bot.status", {"name": "done"})
            assert after["position"] == before["position"]
            assert after["realized_pnl"] == before["realized_pnl"]
            assert after["fees_paid"] == before["fees_paid"]
            page = await d.ok("events.list", {"after": last_seq, "limit": 5})
            assert page["events"][0]["seq"] == last_seq + 1

    asyncio.run(scenario())


def test_control_commands_are_audited_with_their_caller_and_outcome(root: Path) -> None:
    """Each control command over the socket becomes a `control` event in the store naming the caller's
    uid and user, the method, its arguments and its outcome (refused ones with the reason); a read such
    as showing the leverage is not recorded."""
    import os
    import pwd

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            await create(d, "aud")
            await d.ok("bot.leverage", {"name": "aud"})
            reply = await d.call("bot.remove", {"name": "ghost"})
            assert "error" in reply
            await d.ok("bot.start", {"names": ["aud"]})
            await d.ok("bot.stop", {"names": ["aud"]})
            page = await d.ok("events.list", {"kind": "control", "limit": 50})
            events = page["events"]
            assert [e["data"]["method"] for e in events] == [
                "bot.create",
                "bot.remove",
                "bot.start",
                "bot.stop",
            ]
            me = pwd.getpwuid(os.geteuid()).pw_name
            assert all(e["uid"] == os.geteuid() and e["user"] == me for e in events)
            assert events[0]["bot"] == "aud"
            assert events[0]["data"]["params"]["name"] == "aud"
            assert events[1]["data"]["outcome"] == "refused"
            assert "ghost" in events[1]["data"]["detail"]
            assert [e["data"]["outcome"] for e in events[2:]] == ["ok", "ok"]

    asyncio.run(scenario())


def test_a_stop_by_a_risk_guard_is_not_undone_by_a_restart(root: Path) -> None:
    """A bot its own loss guard stopped is recorded stopped, so a restart does not start it again."""

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            await create(d, "guarded", max_drawdown="0.00000001")  # trips once it holds a position
            await d.ok("bot.start", {"names": ["guarded"]})

            async def risk_stopped() -> bool:
                return states(await d.ok("bot.list"))["guarded"] in ("stopped", "error")

            await d.until("the loss guard to stop the bot", risk_stopped)
        async with running(root) as d:
            await d.healthy()
            assert states(await d.ok("bot.list"))["guarded"] == "stopped"

    asyncio.run(scenario())


def test_the_first_start_imports_the_toml_definitions_once(root: Path) -> None:
    """Legacy `bots/*.toml` become stored bots at the first start (with an event), and never again."""
    bots = root / "state" / "bots"
    bots.mkdir(parents=True)
    definition = {
        "version": 1,
        "account": "paper",
        "symbol": "BTC/USDT:USDT",
        "strategy": "market_maker",
        "created_ms": 1_700_000_000_000,
        "params": {"levels": 3},
    }
    (bots / "legacy.toml").write_text(tomli_w.dumps(definition))

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            assert states(await d.ok("bot.list")) == {"legacy": "stopped"}
            assert (await d.ok("bot.export", {"name": "legacy"}))["params"]["levels"] == 3
            events = (await d.ok("events.list", {"kind": "info"}))["events"]
            assert any("imported 1 bot definition" in e["message"] for e in events)
            await d.ok("bot.remove", {"name": "legacy"})
        async with running(root) as d:
            await d.healthy()
            assert await d.ok("bot.list") == []  # the file is still there: not imported again
        assert (bots / "legacy.toml").exists()

    asyncio.run(scenario())


# --- start-up ---------------------------------------------------------------------------------------------


def test_nothing_is_healthy_and_commands_wait_until_recovery_is_over(root: Path) -> None:
    """While recovery runs, health fails with a `recovery` check and bot commands wait; then both work."""
    release = asyncio.Event()

    def hold_recovery(daemon: Daemon) -> None:
        async def held() -> None:
            daemon.recovering = "a test holds it"
            await release.wait()

        daemon.recoveries.insert(0, held)

    async def scenario() -> None:
        async with running(root, before_recovery=hold_recovery) as d:
            report = await d.ok("daemon.health")
            assert report["status"] == "failing"
            assert {"name": "recovery", "ok": False, "detail": "recovering: a test holds it"} in report[
                "checks"
            ]
            listing = asyncio.ensure_future(d.ok("bot.list"))

            async def waiting() -> bool:
                checks = (await d.ok("daemon.health"))["checks"]
                return any("1 command(s) waiting" in c["detail"] for c in checks)

            await d.until("the command to wait for recovery", waiting)
            assert not listing.done()
            release.set()
            assert await asyncio.wait_for(listing, DEADLINE_S) == []
            await d.healthy()
            names = [c["name"] for c in (await d.ok("daemon.health"))["checks"]]
            assert "recovery" not in names
            assert "store" in names

    asyncio.run(scenario())


CRASH_CHILD = """
import asyncio, os, sys
from pathlib import Path
from mmctl.store.records import NewEvent
from mmctl.store.sqlite.store import SqliteStore

async def main() -> None:
    store = SqliteStore.open(Path(sys.argv[1]))
    await store.write(NewEvent(1_700_000_000_000, None, "info", "before the crash"))
    os._exit(0)  # no close: the run ends as a crash would

asyncio.run(main())
"""


def test_a_start_after_a_crash_says_so_for_an_hour(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a run that ended without closing the store, health, list and status carry the notice, and
    an event and a warning line say so; a clean restart then clears it."""
    db = root / "state" / DB_NAME
    done = subprocess.run(
        [sys.executable, "-c", CRASH_CHILD, str(db)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            report = await d.ok("daemon.health")
            assert report["notice"].startswith("recovered from an unclean shutdown at ")
            await create(d, "b")
            assert (await d.ok("bot.list"))[0]["notice"] == report["notice"]
            assert (await d.ok("bot.status", {"name": "b"}))["notice"] == report["notice"]
            events = (await d.ok("events.list", {"kind": "recovery"}))["events"]
            assert any("ended uncleanly" in e["message"] for e in events)
            assert events[0]["seq"] == 2  # numbering continued after the crashed run's event
        async with running(root) as d:
            await d.healthy()
            assert "notice" not in await d.ok("daemon.health")

    asyncio.run(scenario())
    assert "unclean_shutdown" in capsys.readouterr().out


# --- a failing store --------------------------------------------------------------------------------------


def test_a_failing_write_stops_every_bot_with_its_orders_cancelled(root: Path) -> None:
    """When the store cannot commit (another program holds its write lock past the busy timeout), every
    bot stops with its orders cancelled and confirmed, health shows the failure and starts are refused."""

    async def scenario() -> None:
        async with running(root) as d:
            await d.healthy()
            await create(d, "q")
            await d.ok("bot.start", {"names": ["q"]})

            async def quoting() -> bool:
                return bool(await d.ok("bot.orders", {"name": "q"}))

            await d.until("bot q to quote", quoting)
            other = sqlite3.connect(root / "state" / DB_NAME, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:

                async def store_failed() -> bool:
                    checks = (await d.ok("daemon.health"))["checks"]
                    return any(c["name"] == "store" and not c["ok"] for c in checks)

                await d.until("the store to fail", store_failed)

                async def stopped() -> bool:
                    return states(await d.ok("bot.list"))["q"] == "stopped"

                await d.until("bot q to stop", stopped)
            finally:
                other.execute("ROLLBACK")
                other.close()
            status = await d.ok("bot.status", {"name": "q"})
            assert status["orders"] == []
            refused = await d.call("bot.start", {"names": ["q"]})
            assert refused["error"]["code"] == StoreError.code
            assert "store failed" in refused["error"]["message"]
            params = {"name": "new", "account": "paper", "symbol": "BTCUSDT"}
            assert (await d.call("bot.create", params))["error"]["code"] == StoreError.code
            assert states(await d.ok("bot.list")) == {"q": "stopped"}
            assert (await d.ok("daemon.health"))["status"] == "failing"

    asyncio.run(scenario())


# --- the retention job ------------------------------------------------------------------------------------


def test_the_prune_job_runs_on_the_scheduler_and_keeps_recent_events(tmp_path: Path) -> None:
    """The scheduled prune deletes events older than retain_days and keeps the newer ones."""

    async def scenario() -> None:
        clock = SystemClock()
        store = SqliteStore.open(tmp_path / DB_NAME, clock, synchronous="NORMAL")
        now = now_ms(clock)
        await store.write(NewEvent(now - 10 * 86_400_000, None, "info", "old"))
        await store.write(NewEvent(now, None, "info", "new"))
        ran = asyncio.Event()
        job = prune_job(store, lambda: 5, clock)

        async def pruning() -> None:
            await job()
            ran.set()

        scheduler = Scheduler()
        scheduler.every("prune", 86_400, pruning, first_in_s=0)
        scheduler.start()
        try:
            await asyncio.wait_for(ran.wait(), DEADLINE_S)
            assert 0 < (scheduler.next_run_s("prune") or 0) <= 86_400
        finally:
            scheduler.shutdown()
        left = await store.read(lambda r: [e.message for e in r.events(limit=None)])
        await store.close()
        assert left == ["new"]

    asyncio.run(scenario())


# --- refusals of the real process (slow) ------------------------------------------------------------------


def _refused(d: DaemonProc) -> str:
    code, out = d.start(wait=False).exited()
    assert code == 1, out
    lines = [line for line in out.splitlines() if "daemon_start_failed" in line]
    assert len(lines) == 1, out
    assert "error" in lines[0].lower()
    assert "Traceback" not in out
    assert not d.socket.exists()
    return lines[0]


@pytest.mark.slow
def test_a_store_held_by_another_process_is_refused(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A database another process has open: exit 1, one error line naming the file and what to do."""
    d = daemon_factory()
    db = d.state_dir / DB_NAME
    holder = SqliteStore.open(db, synchronous="NORMAL")
    try:
        line = _refused(d)
    finally:
        holder.close_sync()
    assert str(db) in line
    assert "in use by another process" in line


@pytest.mark.slow
def test_a_store_from_a_newer_mmctl_is_refused_untouched(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A schema newer than this mmctl knows: exit 1 naming the file, and the file is not changed."""
    d = daemon_factory()
    db = d.state_dir / DB_NAME
    SqliteStore.open(db, synchronous="NORMAL").close_sync()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 999")
        conn.commit()
    before = db.read_bytes()
    line = _refused(d)
    assert str(db) in line
    assert "newer mmctl" in line
    assert db.read_bytes() == before


@pytest.mark.slow
def test_a_corrupt_store_is_refused_untouched(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A file that is not an SQLite database: exit 1 naming it and saying to restore a backup."""
    d = daemon_factory()
    db = d.state_dir / DB_NAME
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    line = _refused(d)
    assert str(db) in line
    assert "restore a backup" in line
    assert db.read_bytes() == before


@pytest.mark.slow
def test_a_read_only_store_is_refused_untouched(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A database file the daemon cannot write: exit 1 naming it as read-only, unchanged."""
    from tests.store.test_store_open_errors import read_only

    d = daemon_factory()
    db = d.state_dir / DB_NAME
    SqliteStore.open(db, synchronous="NORMAL").close_sync()
    before = db.read_bytes()
    with read_only(db):
        line = _refused(d)
    assert str(db) in line
    assert "read-only" in line
    assert db.read_bytes() == before
