"""The `daemon.*` RPC methods: version, health, and the method table for discovery."""

from __future__ import annotations

from typing import Any, cast

from mmctl.daemon.host import Daemon
from mmctl.rpc.protocol import DAEMON_HEALTH, DAEMON_METHODS, DAEMON_VERSION, HealthDoc, VersionDoc


def register_daemon_methods(daemon: Daemon) -> None:
    table = daemon.table

    async def version() -> VersionDoc:
        """Package version and integer API version of the daemon."""
        return cast(VersionDoc, daemon.version())

    async def health() -> HealthDoc:
        """Health verdict with every check, uptime, pid, paths and event-loop lag."""
        return cast(HealthDoc, daemon.health())

    async def methods() -> list[dict[str, Any]]:
        """Every RPC method with its parameters."""
        return table.describe()

    table.add(DAEMON_VERSION, version)
    table.add(DAEMON_HEALTH, health)
    table.add(DAEMON_METHODS, methods)
