"""Typed, immutable settings: what `config.toml` may contain, with defaults and bounds.

Pure value types (stdlib only). Field metadata carries bounds (`min`, `max`) that the loader enforces;
every key is documented in `config.example.toml`. An account table is a `PaperAccount` or a
`BinanceAccount`, chosen by its `exchange` key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

MAX_MONEY = Decimal(10) ** 12
"""Upper bound of every amount of money in the config (USDT): larger is a typo, and would overflow."""


def bounded(default: Any, *, min: Any = None, max: Any = None) -> Any:
    """A dataclass field with inclusive bounds the loader checks."""
    return field(default=default, metadata={"min": min, "max": max})


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    socket: str = ""  # "" = platform default (see mmctl.paths)
    state_dir: str = ""  # "" = platform default
    max_connections: int = bounded(64, min=1, max=10_000)
    idle_timeout_s: float = bounded(300.0, min=0.1, max=86_400.0)
    request_timeout_s: float = bounded(30.0, min=0.1, max=3_600.0)
    shutdown_timeout_s: float = bounded(30.0, min=1.0, max=600.0)
    # at start, after recovery, start the bots whose desired state is running (paused come back paused)
    autostart: bool = True


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: Literal["debug", "info", "warning", "error"] = "info"
    # auto = journal when stdout is journald, console on a terminal, else json
    format: Literal["auto", "journal", "json", "console"] = "auto"
    file: str = ""  # "" = no log file; a relative name goes in $LOGS_DIRECTORY, else the state dir
    file_max_mb: int = bounded(10, min=1, max=10_000)  # rotate when the file reaches this size
    file_backups: int = bounded(5, min=1, max=1_000)  # rotated files kept (mmctl.log.1 ... .N)


@dataclass(frozen=True, slots=True)
class PaperAccount:
    """The built-in paper exchange: a simulated Binance USD-M venue fed by a synthetic or replayed market,
    or by Binance's live public market data (`market = "live"`, no keys)."""

    exchange: Literal["paper"] = "paper"
    market: Literal["synthetic", "replay", "live"] = "synthetic"
    replay_path: str = ""  # a directory or file of Binance bookTicker/aggTrades CSVs (market = "replay")
    # market = "live": where Binance's public market data comes from ("" = Binance's own hosts), as for
    # binanceusdm accounts (proxies, tests)
    rest_url: str = ""
    ws_url: str = ""
    seed: int = bounded(1, min=0, max=2**63 - 1)
    speed: float = bounded(1.0, min=0.001, max=100_000.0)  # simulated seconds per wall second
    balance: Decimal = bounded(Decimal("10000"), min=Decimal(0), max=MAX_MONEY)  # starting wallet, USDT
    maker_fee: Decimal = bounded(Decimal("0.0002"), min=Decimal("-0.01"), max=Decimal("0.01"))
    taker_fee: Decimal = bounded(Decimal("0.0005"), min=Decimal(0), max=Decimal("0.01"))
    funding_rate: Decimal = bounded(Decimal("0.0001"), min=Decimal("-0.03"), max=Decimal("0.03"))
    funding_interval_s: int = bounded(28_800, min=1, max=31_536_000)  # at most a year
    volatility: float = bounded(0.6, min=0.0, max=20.0)  # annualized volatility of the synthetic mid
    jump_rate_per_hour: float = bounded(0.0, min=0.0, max=3_600.0)  # mean jumps per hour
    jump_bps: float = bounded(50.0, min=0.0, max=5_000.0)  # mean absolute jump size
    book_interval_ms: int = bounded(100, min=1, max=60_000)  # synthetic book update period
    trade_intensity: float = bounded(2.0, min=0.0, max=1_000.0)  # A: taker trades per second at the mid
    trade_decay: float = bounded(0.5, min=0.0, max=1_000.0)  # k: per bp of distance from the mid
    symbols: tuple[str, ...] = ()  # () = every built-in market
    # after a restart, simulate at most this much of the market time the daemon was down (0 = none)
    catch_up_s: int = bounded(3_600, min=0, max=604_800)
    # the venue-side cancel-all countdown, as on Binance (see BinanceAccount)
    countdown_s: float = bounded(120.0, min=10.0, max=600.0)
    countdown_refresh_s: float = bounded(30.0, min=1.0, max=300.0)  # < countdown_s / 2 (checked on load)


@dataclass(frozen=True, slots=True)
class BinanceAccount:
    """A Binance USD-M futures account through ccxt. Credentials never come from this file."""

    exchange: Literal["binanceusdm"] = "binanceusdm"
    environment: Literal["live", "demo"] = "live"
    api_key_env: str = ""  # "" = MMCTL_<NAME>_API_KEY (NAME upper-cased, "-" → "_")
    api_secret_env: str = ""  # "" = MMCTL_<NAME>_API_SECRET
    rest_url: str = ""  # "" = Binance's hosts for the environment; else replaces scheme, host and port
    ws_url: str = ""  # "" = Binance's hosts; else the futures WebSocket base, e.g. ws://127.0.0.1:8765/ws
    # venue-side cancel-all: Binance cancels a symbol's orders when mmctl has not refreshed its
    # countdown for countdown_s seconds (the daemon, the VPS or the network died)
    countdown_s: float = bounded(120.0, min=10.0, max=600.0)
    countdown_refresh_s: float = bounded(30.0, min=1.0, max=300.0)  # < countdown_s / 2 (checked on load)


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """Daemon-wide risk guards over every bot and account (mmctl.bots.risk); 0 turns a guard off."""

    # Cap on the sum over symbols and accounts of the absolute net position notional, USDT.
    max_total_notional: Decimal = bounded(Decimal(0), min=Decimal(0), max=MAX_MONEY)
    # Stop every bot when the net PnL of all bots since 00:00 UTC today reaches -daily_loss_limit, USDT.
    daily_loss_limit: Decimal = bounded(Decimal(0), min=Decimal(0), max=MAX_MONEY)
    check_interval_s: float = bounded(1.0, min=0.1, max=3_600.0)  # how often the daemon checks them
    # What a tripped daemon-wide guard does: "stop" cancels every bot's orders and leaves positions open;
    # "flatten" also closes each bot's own position with a reduce-only market order.
    on_trip: Literal["stop", "flatten"] = "stop"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The SQLite store in the state directory (`mmctl.sqlite`)."""

    # events and order history older than this are pruned daily; fills and income rows are never pruned
    retain_days: int = bounded(400, min=1, max=36_500)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """PnL reports (`mmctl pnl`) and the daemon's scheduled snapshots and daily report files."""

    pnl_since: str = ""  # default `--since` of `mmctl pnl` ("" = today), any form `--since` accepts
    timezone: str = "UTC"  # default `--tz`: day buckets, `today`, the daily report's day (IANA name)
    directory: str = ""  # "" = no daily report files; else a CSV and a JSON per day are written here


AccountSettings = PaperAccount | BinanceAccount


def default_accounts() -> dict[str, AccountSettings]:
    return {"paper": PaperAccount()}


@dataclass(frozen=True, slots=True)
class Settings:
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    log: LogSettings = field(default_factory=LogSettings)
    accounts: dict[str, AccountSettings] = field(default_factory=default_accounts)
    risk: RiskSettings = field(default_factory=RiskSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    source: str = ""  # the file these settings came from ("" = built-in defaults)
