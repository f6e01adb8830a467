"""The daemon host: its socket, signals and lifecycle (the composition root is `mmctl.daemon.compose`).

Start: lock the state directory, bind the socket (0660 in a 0750 directory), start the services, serve
RPC, run the services' recovery steps (`recoveries`), tell systemd READY=1. While recovery runs, `health`
answers with a failing `recovery` check saying what it is doing, and every method outside `daemon.*`
waits until recovery is over (a command never races the bots being put back). A service that fails to
start or a recovery step that fails unexpectedly is one error line and exit 1 (the services started so
far are stopped). SIGTERM/SIGINT: stop accepting commands (cutting a recovery short), let in-flight
requests finish, stop the services (bots cancel their orders), remove the socket, exit 0; under systemd
`EXTEND_TIMEOUT_USEC` is sent every few seconds while this runs, so the unit's stop timeout never cuts
a bot's cancel-and-confirm short. SIGHUP: reload the config (`RELOADING=1` + `MONOTONIC_USEC`, then
`READY=1`; the log says what changed or why it could not). The watchdog is pinged from the event loop
itself, from before recovery on. Exit statuses: `mmctl.daemon.systemd`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import structlog

from mmctl import API_VERSION, __version__
from mmctl.config.load import load_settings
from mmctl.config.schema import Settings
from mmctl.daemon import logging as daemon_logging
from mmctl.daemon.health import Check, CheckProvider, LoopLagMonitor, verdict
from mmctl.daemon.listener import StateLock, bind_socket, remove_socket
from mmctl.daemon.systemd import EXIT_FAILED, EXIT_OK, Notifier, watchdog_interval_s
from mmctl.errors import MmctlError, ShuttingDown
from mmctl.paths import resolve_socket, resolve_state_dir
from mmctl.rpc.registry import Method, MethodTable
from mmctl.rpc.server import RpcServer

log = structlog.get_logger("mmctl.daemon")

Service = Callable[["Daemon"], Awaitable[Callable[[], Awaitable[None]]]]
"""A service starts with the daemon and returns its async stop function (called at shutdown)."""
Recovery = Callable[[], Awaitable[None]]
"""A start-up step run after the socket serves and before READY=1 (e.g. reconcile with the venues)."""
OPEN_DURING_RECOVERY = "daemon."  # methods answered at once while recovery runs
EXTEND_EVERY_S = 5.0  # while stopping, ask systemd for more time this often...
EXTEND_BY_S = 20.0  # ...this much each time (a few missed beats before its stop timeout applies)


class GatedTable(MethodTable):
    """A method table whose methods (except `daemon.*`) wait for `gate` before they run; a method
    waiting when `stopping` is set fails with `ShuttingDown` (a shutdown cut the recovery short)."""

    def __init__(self, gate: asyncio.Event, stopping: asyncio.Event) -> None:
        super().__init__()
        self._gate = gate
        self._stopping = stopping
        self.waiting = 0  # calls waiting for the gate

    def get(self, name: str) -> Method | None:
        method = super().get(name)
        if method is None or self._gate.is_set() or name.startswith(OPEN_DURING_RECOVERY):
            return method
        handler = method.handler

        async def after_recovery(**kwargs: Any) -> Any:
            await self._wait_gate()
            return await handler(**kwargs)

        return replace(method, handler=after_recovery)

    async def _wait_gate(self) -> None:
        gate = asyncio.ensure_future(self._gate.wait())
        stop = asyncio.ensure_future(self._stopping.wait())
        self.waiting += 1
        try:
            await asyncio.wait({gate, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting -= 1
            gate.cancel()
            stop.cancel()
        if not self._gate.is_set():
            raise ShuttingDown("the daemon is shutting down (it was still recovering)")


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        config_path: str | None = None,
        socket_override: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.settings = settings
        self.config_path = config_path
        self.socket_path = resolve_socket(socket_override, settings.daemon.socket, self.env)
        self.state_dir = resolve_state_dir(settings.daemon.state_dir, self.env)
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once recovery is over: every method runs
        self.table = GatedTable(self.ready, self._stop)
        self.check_providers: list[CheckProvider] = []
        self.notices: list[Callable[[], str | None]] = []  # shown by health (e.g. an unclean last end)
        self.services: list[Service] = []
        self.recoveries: list[Recovery] = []  # added by services as they start
        self.recovering: str | None = "starting"  # what recovery is doing; None once it is over
        self.notifier = Notifier(self.env)
        self.lag = LoopLagMonitor()
        self.started_at = time.time()
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.reload_hooks: list[Callable[[Settings], None]] = []  # apply what can change live
        # `mmctl daemon run --log-level/--log-format`: they win over the config, reloads included
        self.log_level: str | None = None
        self.log_format: str | None = None

    # --- queries used by RPC methods -------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return {"version": __version__, "api": API_VERSION}

    def health(self) -> dict[str, Any]:
        checks: list[Check] = [self.lag.check()]
        if self.recovering is not None:
            waiting = f" ({self.table.waiting} command(s) waiting for it)" if self.table.waiting else ""
            checks.append(Check("recovery", False, f"recovering: {self.recovering}{waiting}"))
        for provider in self.check_providers:
            checks.extend(provider())
        notices = [n for n in (notice() for notice in self.notices) if n]
        return {
            **({"notice": "; ".join(notices)} if notices else {}),
            "status": verdict(checks),
            "checks": [c.to_dict() for c in checks],
            "version": __version__,
            "api": API_VERSION,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            "config": self.settings.source or None,
            "socket": str(self.socket_path),
            "state_dir": str(self.state_dir),
            "loop_lag_ms": round(self.lag.max_recent_ms, 3),
        }

    def request_stop(self) -> None:
        self._stop.set()

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> int:
        lock = StateLock(self.state_dir)
        try:
            lock.acquire()
            sock = bind_socket(self.socket_path)
        except (MmctlError, OSError) as e:
            lock.release()
            log.error("daemon_start_refused", error=one_line(e))
            return EXIT_FAILED
        server = RpcServer(
            self.table,
            max_connections=self.settings.daemon.max_connections,
            idle_timeout_s=self.settings.daemon.idle_timeout_s,
            request_timeout_s=self.settings.daemon.request_timeout_s,
        )
        # before anything can reach us: a signal in the window would otherwise hit its default action
        # (SIGHUP and SIGTERM terminate at once, with no cleanup)
        self._install_signals()
        try:
            try:
                await self._start_services()
            except Exception as e:
                log.error("daemon_start_failed", error=one_line(e))
                await self._stop_services()
                return EXIT_FAILED
            await server.start(sock)
            self._tasks.append(asyncio.create_task(self.lag.run(), name="loop-lag"))
            self._start_watchdog()
            try:
                recovered = await self._recover()
            except Exception as e:
                log.error("daemon_recovery_failed", error=one_line(e))
                await server.close(self.settings.daemon.shutdown_timeout_s)
                await self._stop_services()
                return EXIT_FAILED
            if recovered:
                self._announce_ready()
            await self._stop.wait()
            log.info("daemon_stopping")
            self.notifier.stopping("stopping: finishing requests and stopping bots")
            self._start_extending("stopping: finishing requests and stopping bots")
            await server.close(self.settings.daemon.shutdown_timeout_s)
            await self._stop_services()
        finally:
            self._ignore_signals()
            for t in self._tasks:
                t.cancel()
            remove_socket(self.socket_path, sock)
            lock.release()
        log.info("daemon_stopped")
        return EXIT_OK

    async def _recover(self) -> bool:
        """Run the recovery steps in order, unless a stop arrives first; True once all have run."""
        steps = asyncio.ensure_future(self._run_recoveries())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({steps, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not steps.done():
            log.warning("daemon_recovery_interrupted", doing=self.recovering)
            steps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await steps
            return False
        steps.result()  # raises what a step raised
        self.recovering = None
        self.ready.set()
        return True

    async def _run_recoveries(self) -> None:
        for step in self.recoveries:
            await step()

    def _announce_ready(self) -> None:
        log.info(
            "daemon_ready",
            socket=str(self.socket_path),
            state_dir=str(self.state_dir),
            version=__version__,
            pid=os.getpid(),
            config=self.settings.source or None,
        )
        self.notifier.ready(f"serving on {self.socket_path}")

    async def _start_services(self) -> None:
        for start in self.services:
            self._stoppers.append(await start(self))

    async def _stop_services(self) -> None:
        for stop in reversed(self._stoppers):
            try:
                await asyncio.wait_for(stop(), self.settings.daemon.shutdown_timeout_s)
            except Exception:
                log.exception("service_stop_failed")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def _ignore_signals(self) -> None:
        """Shutdown is under way: a second SIGTERM/SIGINT must not kill the process half-way (closing
        the loop would otherwise restore the default, fatal, actions before the process exits)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)

    def _start_extending(self, status: str) -> None:
        """Under systemd: `EXTEND_TIMEOUT_USEC` now and every `EXTEND_EVERY_S` until the process ends,
        so a stop that is still cancelling and confirming orders is not killed by the unit's timeout
        (the daemon bounds its own stop with `[daemon] shutdown_timeout_s`)."""
        if not self.notifier.enabled:
            return

        async def extend() -> None:
            while True:
                self.notifier.extend_timeout(EXTEND_BY_S, status)
                await asyncio.sleep(EXTEND_EVERY_S)

        self._tasks.append(asyncio.create_task(extend(), name="extend-stop-timeout"))

    def _start_watchdog(self) -> None:
        interval = watchdog_interval_s(self.env)
        if interval is None or not self.notifier.enabled:
            return

        async def ping() -> None:
            while True:
                self.notifier.watchdog()
                await asyncio.sleep(interval)

        self._tasks.append(asyncio.create_task(ping(), name="watchdog"))

    def log_target(self, settings: Settings) -> daemon_logging.LogTarget:
        """The logging `settings` ask for, with the command line's overrides."""
        return daemon_logging.target_for(
            settings.log, self.state_dir, self.env, level=self.log_level, fmt=self.log_format
        )

    def reload(self) -> None:
        """SIGHUP: re-read the config; apply what can change live, say what needs a restart."""
        self.notifier.reloading()
        try:
            new = load_settings(self.config_path, self.env)
        except MmctlError as e:
            log.error("config_reload_failed", error=str(e), kept="previous configuration")
            self.notifier.notify("READY=1", "STATUS=config reload failed; previous configuration kept")
            return
        needs_restart = [
            key
            for key in ("socket", "state_dir")
            if getattr(new.daemon, key) != getattr(self.settings.daemon, key)
        ]
        if new.accounts != self.settings.accounts:
            needs_restart.append("accounts")
        log.info("config_reloaded", source=new.source or None, needs_restart=needs_restart or None)
        try:
            daemon_logging.configure_target(self.log_target(new), env=self.env)
        except OSError as e:
            log.error("log_file_unavailable", error=f"{e.filename}: {e.strerror}", kept="previous logging")
        # what needs a restart stays as it runs, so health and methods report what is in effect
        self.settings = replace(new, daemon=self.settings.daemon, accounts=self.settings.accounts)
        for hook in self.reload_hooks:
            hook(self.settings)
        self.notifier.notify("READY=1", "STATUS=config reloaded")


def one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, MmctlError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())
