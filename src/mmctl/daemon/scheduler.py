"""The daemon's periodic jobs on APScheduler 3 (`AsyncIOScheduler` in the daemon's own event loop).

This is the only module that imports apscheduler (DESIGN.md §2: the CLI never loads it). Jobs are
coroutine functions run on the loop; a job that raises is logged (`scheduled_job_failed`, with its
traceback) and runs again at its next time: `_guarded` is each job's one error boundary. The jobs:
- `prune`: daily, delete events and finished order history older than `[store] retain_days` (fills
  and income rows are never pruned), with one log line of counts. The first run is `PRUNE_FIRST_S`
  after start, so a daemon restarted more often than daily still prunes.
- `ledger_sync` (every few minutes), `snapshot` (every hour at :00 of `[reports] timezone`),
  `daily_report` (:05 of each hour there) and `pnl_catch_up` (once, at start): `mmctl.daemon.pnl_jobs`.
- `gc_refreeze`: every 10 minutes, reclaim the reference cycles that died among the objects frozen out of the
  garbage collector's scans (`mmctl.tuning`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from mmctl.clock import Clock, now_ms
from mmctl.errors import StoreError
from mmctl.store.base import Store
from mmctl.store.records import PruneResult

log = structlog.get_logger("mmctl.daemon")

DAY_S = 86_400.0
PRUNE_FIRST_S = 300.0  # the first prune after start


class Scheduler:
    """Periodic coroutine jobs on the running event loop; `start` inside the loop, `shutdown` to stop."""

    def __init__(self) -> None:
        # apscheduler's executor logs each run twice at INFO: a job every few minutes would flood the
        # journal (its warnings, e.g. a missed run, still go through; so do the scheduler's own lines)
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
        self._scheduler = AsyncIOScheduler(timezone=dt.UTC)

    def every(
        self, name: str, interval_s: float, job: Callable[[], Awaitable[Any]], *, first_in_s: float
    ) -> None:
        """Run `job` every `interval_s` seconds, the first time `first_in_s` seconds from now. A run
        still going when the next is due is not doubled (one instance, missed runs coalesced)."""
        first = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=first_in_s)
        self._scheduler.add_job(
            _guarded(name, job),
            "interval",
            seconds=interval_s,
            id=name,
            name=name,
            next_run_time=first,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(max(interval_s, 1)),
        )

    def cron(
        self, name: str, job: Callable[[], Awaitable[Any]], *, zone: dt.tzinfo, minute: int, hour: str = "*"
    ) -> None:
        """Run `job` at `hour`:`minute` of `zone`'s wall clock (`hour="*"`: every hour), DST-correct. A run
        missed by less than an hour (a busy loop, a suspended VPS) still happens, once."""
        self._scheduler.add_job(
            _guarded(name, job),
            CronTrigger(hour=hour, minute=minute, timezone=zone),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )

    def once(self, name: str, job: Callable[[], Awaitable[Any]], *, in_s: float) -> None:
        """Run `job` once, `in_s` seconds from now."""
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=in_s)
        self._scheduler.add_job(
            _guarded(name, job), "date", run_date=at, id=name, name=name, misfire_grace_time=3600
        )

    def next_run_s(self, name: str) -> float | None:
        """Seconds until job `name` runs next (None: no such job, or not scheduled)."""
        job = self._scheduler.get_job(name)
        if job is None or job.next_run_time is None:
            return None
        next_run: dt.datetime = job.next_run_time
        return (next_run - dt.datetime.now(dt.UTC)).total_seconds()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def _guarded(name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    """The job's error boundary: any exception is one log line with its traceback; the job stays
    scheduled and runs again at its next time."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled_job_failed", job=name)

    return run


def prune_job(store: Store, retain_days: Callable[[], int], clock: Clock) -> Callable[[], Awaitable[None]]:
    """The daily retention job: prune what is older than `retain_days()` (read at each run, so a config
    reload applies) and log the counts; a failure is one error line (the store's own failure handler
    stops the bots if the store itself failed)."""

    async def prune() -> None:
        days = retain_days()
        try:
            result: PruneResult = await store.prune(days, now_ms(clock))
        except StoreError as e:
            log.error("store_prune_failed", error=str(e))
            return
        log.info(
            "store_pruned",
            retain_days=days,
            events=result.events,
            orders=result.orders,
            order_changes=result.order_changes,
        )

    return prune
