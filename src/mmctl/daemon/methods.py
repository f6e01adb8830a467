"""The `daemon.*` RPC methods: version, health, and the method table for discovery."""

from __future__ import annotations

from typing import Any

from mmctl.daemon.host import Daemon


def register_daemon_methods(daemon: Daemon) -> None:
    table = daemon.table

    async def version() -> dict[str, Any]:
        """Package version and integer API version of the daemon."""
        return daemon.version()

    async def health() -> dict[str, Any]:
        """Health verdict with every check, uptime, pid, paths and event-loop lag."""
        return daemon.health()

    async def methods() -> list[dict[str, Any]]:
        """Every RPC method with its parameters."""
        return table.describe()

    table.add("daemon.version", version)
    table.add("daemon.health", health)
    table.add("daemon.methods", methods)
