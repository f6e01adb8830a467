"""sd_notify without libsystemd, and the exit statuses the unit relies on.

READY/STATUS/STOPPING/WATCHDOG/RELOADING/EXTEND_TIMEOUT_USEC datagrams to `$NOTIFY_SOCKET` (filesystem
paths and abstract sockets, `@name`). Without `NOTIFY_SOCKET` every call is a no-op, so the daemon
behaves the same outside systemd. `watchdog_interval_s` reads `WATCHDOG_USEC` (honouring
`WATCHDOG_PID`) and returns how often to ping: half the timeout, as systemd recommends.

Exit statuses: 0 stopped cleanly, 1 failed (worth a restart: a held lock, a store or venue problem),
`EXIT_CONFIG` (78, sysexits' EX_CONFIG) the configuration is wrong: `systemd/mmctl.service` lists it in
`RestartPreventExitStatus=`, so the service fails once, with the reason in the journal, instead of
restarting forever.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 78


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET", "")

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` lines as one datagram; False (never an exception) if it cannot be sent."""
        if not self.address:
            return False
        addr = self.address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto("\n".join(fields).encode("utf-8"), addr)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def reloading(self) -> bool:
        """Reload started: `RELOADING=1` with the monotonic time (what `Type=notify-reload` requires);
        `READY=1` follows once the reload is over."""
        now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_us}", "STATUS=reloading the config")

    def extend_timeout(self, seconds: float, status: str | None = None) -> bool:
        """Ask for `seconds` more before systemd's start/stop timeout kills us (repeat before they run
        out): sent while the bots are still stopping."""
        fields = [f"EXTEND_TIMEOUT_USEC={max(1, round(seconds * 1e6))}"]
        if status:
            fields.append(f"STATUS={status}")
        return self.notify(*fields)

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings, or None when systemd does not watch this process."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 / 2 if value > 0 else None
