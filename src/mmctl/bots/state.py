"""A bot's states, its runtime options, and the exceptions its loop raises to end itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mmctl.bots.risk import RiskVerdict


class BotState(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"

    @property
    def active(self) -> bool:
        """The bot's loop runs (quoting or paused): it must be stopped before it can be removed."""
        return self in (BotState.STARTING, BotState.RUNNING, BotState.PAUSED, BotState.STOPPING)


@dataclass(frozen=True, slots=True)
class BotOptions:
    countdown_s: float = 120.0  # venue-side cancel-all if the daemon goes silent this long
    countdown_refresh_s: float = 30.0  # the config's default: under half the window; 10 weight on Binance
    heartbeat_s: float = 1.0
    max_failures: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 10.0
    stop_timeout_s: float = 10.0


class FatalBotError(Exception):
    """Raised inside the loop to end it in the error state."""


class RiskHalt(Exception):
    """Raised inside the loop when a loss guard trips: stop (and maybe flatten) safely."""

    def __init__(self, verdict: RiskVerdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict
