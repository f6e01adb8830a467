"""The daemon host: its socket, signals and lifecycle (the composition root is `mmctl.daemon.compose`).

Start: lock the state directory, bind the socket (0660 in a 0750 directory), start the services, serve
RPC, tell systemd READY=1. SIGTERM/SIGINT: stop accepting commands, let in-flight requests finish, stop
the services (bots cancel their orders), remove the socket, exit 0. SIGHUP: reload the config (the log
says what changed or why it could not). The watchdog is pinged from the event loop itself.
"""

from __future__ import annotations

import asyncio
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
from mmctl.daemon.systemd import Notifier, watchdog_interval_s
from mmctl.errors import MmctlError
from mmctl.paths import resolve_socket, resolve_state_dir
from mmctl.rpc.registry import MethodTable
from mmctl.rpc.server import RpcServer

log = structlog.get_logger("mmctl.daemon")

Service = Callable[["Daemon"], Awaitable[Callable[[], Awaitable[None]]]]
"""A service starts with the daemon and returns its async stop function (called at shutdown)."""


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
        self.table = MethodTable()
        self.check_providers: list[CheckProvider] = []
        self.services: list[Service] = []
        self.notifier = Notifier(self.env)
        self.lag = LoopLagMonitor()
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.reload_hooks: list[Callable[[Settings], None]] = []  # apply what can change live

    # --- queries used by RPC methods -------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return {"version": __version__, "api": API_VERSION}

    def health(self) -> dict[str, Any]:
        checks: list[Check] = [self.lag.check()]
        for provider in self.check_providers:
            checks.extend(provider())
        return {
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
            return 1
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
                return 1
            await server.start(sock)
            self._tasks.append(asyncio.create_task(self.lag.run(), name="loop-lag"))
            self._start_watchdog()
            log.info(
                "daemon_ready",
                socket=str(self.socket_path),
                state_dir=str(self.state_dir),
                version=__version__,
                pid=os.getpid(),
                config=self.settings.source or None,
            )
            self.notifier.ready(f"serving on {self.socket_path}")
            await self._stop.wait()
            log.info("daemon_stopping")
            self.notifier.stopping("stopping: finishing requests and stopping bots")
            await server.close(self.settings.daemon.shutdown_timeout_s)
            await self._stop_services()
        finally:
            self._ignore_signals()
            for t in self._tasks:
                t.cancel()
            remove_socket(self.socket_path, sock)
            lock.release()
        log.info("daemon_stopped")
        return 0

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

    def _start_watchdog(self) -> None:
        interval = watchdog_interval_s(self.env)
        if interval is None or not self.notifier.enabled:
            return

        async def ping() -> None:
            while True:
                self.notifier.watchdog()
                await asyncio.sleep(interval)

        self._tasks.append(asyncio.create_task(ping(), name="watchdog"))

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
        daemon_logging.configure(new.log.level, new.log.format)
        # what needs a restart stays as it runs, so health and methods report what is in effect
        self.settings = replace(new, daemon=self.settings.daemon, accounts=self.settings.accounts)
        for hook in self.reload_hooks:
            hook(self.settings)
        self.notifier.notify("READY=1", "STATUS=config reloaded")


def one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, MmctlError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())
