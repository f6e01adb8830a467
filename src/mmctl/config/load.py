"""Find and read `config.toml` (tomllib) into `Settings`, naming the file and key path of any error.

Search order: an explicit path, `$MMCTL_CONFIG`, `$XDG_CONFIG_HOME/mmctl/config.toml` (or
`~/.config/mmctl/config.toml`), `/etc/mmctl/config.toml`. With none found the built-in defaults apply
(one paper account), so `mmctl daemon run` works on a fresh machine. Unknown keys and bad values are
errors; nothing is silently ignored. `load_settings` and `load_file` run every check the daemon needs
(the same for `mmctl config check` and `mmctl daemon run`); `configured_socket` is the lenient reading
for CLI commands that only need the daemon's socket.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
import zoneinfo
from pathlib import Path
from typing import Any

from mmctl.coerce import coerce as _coerce
from mmctl.config.schema import (
    AccountSettings,
    BinanceAccount,
    DaemonSettings,
    LogSettings,
    PaperAccount,
    ReportSettings,
    RiskSettings,
    Settings,
    StoreSettings,
)
from mmctl.config.tomlfile import read_toml, shown
from mmctl.config.venues import check_venues
from mmctl.errors import ConfigError

ACCOUNT_TYPES: dict[str, type[AccountSettings]] = {"paper": PaperAccount, "binanceusdm": BinanceAccount}


def candidate_paths(env: typing.Mapping[str, str] | None = None) -> list[Path]:
    """Where a config file is looked for when none is given, in order."""
    env = os.environ if env is None else env
    out: list[Path] = []
    if env.get("MMCTL_CONFIG"):
        out.append(Path(env["MMCTL_CONFIG"]))
    home = env.get("HOME") or os.path.expanduser("~")  # cron's `env -i` has no HOME: ask the passwd db
    xdg = env.get("XDG_CONFIG_HOME") or (str(Path(home) / ".config") if home and home != "~" else "")
    if xdg:
        out.append(Path(xdg) / "mmctl" / "config.toml")
    out.append(Path("/etc/mmctl/config.toml"))
    return out


def find_config(
    explicit: str | Path | None = None, env: typing.Mapping[str, str] | None = None
) -> Path | None:
    """The config file to use: the explicit one (which must exist), else the first candidate that exists.

    `$MMCTL_CONFIG`, when set, must exist too: a typo there should not silently fall back to defaults."""
    env = os.environ if env is None else env
    if explicit:
        return require_config_file(Path(explicit), f"create one with: mmctl config init {shown(explicit)}")
    if env.get("MMCTL_CONFIG"):
        return require_config_file(Path(env["MMCTL_CONFIG"]), "it is named by $MMCTL_CONFIG")
    for p in candidate_paths(env):
        if _is_file(p):
            return p
    return None


def require_config_file(path: Path, hint: str) -> Path:
    """`path` if it is a regular file, else the `ConfigError` saying what it is instead."""
    if _is_file(path):
        return path
    what = "is not a regular file" if _exists(path) else "config file not found"
    raise ConfigError(f"{shown(path)}: {what} ({hint})")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    """`Path.is_file`, also false for a name the system refuses (too long, bad bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_settings(
    explicit: str | Path | None = None, env: typing.Mapping[str, str] | None = None
) -> Settings:
    """Find, read and validate the config; built-in defaults when no file exists."""
    path = find_config(explicit, env)
    if path is None:
        return Settings()
    return load_file(path)


def load_file(path: Path) -> Settings:
    """Read and validate one config file: the schema, then the venues it names (as the daemon needs)."""
    settings = parse_settings(read_toml(path), str(path))
    check_venues(settings, str(path))
    return settings


def configured_socket(
    explicit: str | Path | None = None, env: typing.Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """The config's `[daemon] socket` ("" = the default) and, when the config is broken, why.

    For CLI commands that only need the socket: a broken config must not lock the operator out of a
    running daemon (`mmctl stop --all` must still reach it), so every error becomes the second value
    (the caller prints it as a warning) instead of an exception. The socket still comes from the file
    when its `[daemon] socket` is a string. Cheap: schema checks only, no venue modules imported."""
    try:
        path = find_config(explicit, env)
        if path is None:
            return "", None
        raw = read_toml(path)
    except ConfigError as e:
        return "", e.message
    try:
        return parse_settings(raw, str(path)).daemon.socket, None
    except ConfigError as e:
        daemon = raw.get("daemon")
        socket = daemon.get("socket") if isinstance(daemon, dict) else None
        return (socket if isinstance(socket, str) else ""), e.message


def parse_settings(raw: dict[str, Any], source: str = "<config>") -> Settings:
    """Validate a parsed TOML document into `Settings`."""
    where = source
    _check_keys(raw, {"daemon", "log", "accounts", "risk", "store", "reports"}, "", where)
    daemon = _build(DaemonSettings, _table(raw, "daemon", where), "daemon", where)
    log = _build(LogSettings, _table(raw, "log", where), "log", where)
    risk = _risk(_table(raw, "risk", where), where)
    store = _build(StoreSettings, _table(raw, "store", where), "store", where)
    reports = _reports(_table(raw, "reports", where), where)
    accounts: dict[str, AccountSettings]
    if "accounts" in raw:
        accounts = {}
        for name, table in _table(raw, "accounts", where).items():
            accounts[name] = _account(name, table, where)
        if not accounts:
            raise ConfigError(
                f"{where}: accounts: declares no account; add one (e.g. [accounts.paper] with "
                'exchange = "paper") or remove the empty [accounts] table for the built-in paper account'
            )
    else:
        accounts = Settings().accounts
    return Settings(
        daemon=daemon,
        log=log,
        accounts=accounts,
        risk=risk,
        store=store,
        reports=reports,
        source=source if source != "<config>" else "",
    )


def _reports(table: dict[str, Any], where: str) -> ReportSettings:
    """The `[reports]` table; the zone must be one this machine knows (an IANA name such as
    America/New_York)."""
    reports = _build(ReportSettings, table, "reports", where)
    try:
        zoneinfo.ZoneInfo(reports.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"{where}: reports.timezone: unknown time zone {reports.timezone!r}; use an IANA name such as "
            '"UTC" or "America/New_York"'
        ) from e
    return reports


def _risk(table: dict[str, Any], where: str) -> RiskSettings:
    """The `[risk]` table; a NaN or infinite interval is refused (TOML allows `nan` and `inf`)."""
    risk = _build(RiskSettings, table, "risk", where)
    if not math.isfinite(risk.check_interval_s):
        raise ConfigError(
            f"{where}: risk.check_interval_s: expected a finite number, got {risk.check_interval_s!r}"
        )
    return risk


def _account(name: str, table: Any, where: str) -> AccountSettings:
    path = f"accounts.{name}"
    if not _valid_name(name):
        raise ConfigError(f"{where}: {path}: account names use letters, digits, '-' and '_' (max 32)")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {path}: expected a table")
    kind = table.get("exchange")
    if kind not in ACCOUNT_TYPES:
        raise ConfigError(
            f"{where}: {path}.exchange: expected one of {', '.join(map(repr, ACCOUNT_TYPES))}, got {kind!r}"
        )
    account = _build(ACCOUNT_TYPES[kind], table, path, where)
    _check_countdown(account, path, where)
    if isinstance(account, PaperAccount) and account.market == "replay":
        replay = Path(account.replay_path).expanduser() if account.replay_path else None
        if replay is None or not replay.exists():
            shown = account.replay_path or "(empty)"
            raise ConfigError(
                f"{where}: {path}.replay_path: market = 'replay' needs an existing file or directory of "
                f"Binance CSVs, got {shown}"
            )
    if isinstance(account, PaperAccount):
        _paper_live(account, path, where)
    if isinstance(account, BinanceAccount):
        account = _binance(name, account, path, where)
    return account


def _paper_live(account: PaperAccount, path: str, where: str) -> None:
    """A paper account's live-market keys: URLs as a Binance account's, only with `market = "live"`, and
    a live market runs at wall-clock speed."""
    if account.market != "live":
        for key in ("rest_url", "ws_url"):
            if getattr(account, key):
                raise ConfigError(
                    f"{where}: {path}.{key}: only used with market = 'live' (the public market data "
                    f"source), got market = {account.market!r}"
                )
        return
    _check_urls(account, path, where)
    if account.speed != 1.0:
        raise ConfigError(
            f"{where}: {path}.speed: a live market runs at wall-clock speed; remove speed or set it to 1.0, "
            f"got {account.speed:g}"
        )


def _check_urls(account: PaperAccount | BinanceAccount, path: str, where: str) -> None:
    """`rest_url` / `ws_url`: '' or a URL of the right scheme with a host, no query."""
    for key, schemes, example in (
        ("rest_url", ("http", "https"), "http://127.0.0.1:8765"),
        ("ws_url", ("ws", "wss"), "ws://127.0.0.1:8765/ws"),
    ):
        url = getattr(account, key)
        scheme, sep, rest = url.partition("://")
        if url and (scheme not in schemes or not sep or not rest or rest.startswith("/") or "?" in rest):
            raise ConfigError(f"{where}: {path}.{key}: expected a URL like {example!r} or '', got {url!r}")


def _binance(name: str, account: BinanceAccount, path: str, where: str) -> BinanceAccount:
    """Cross-key checks of a `binanceusdm` account; fills in the default credential variable names."""
    _check_urls(account, path, where)
    prefix = f"MMCTL_{name.upper().replace('-', '_')}"
    names = {
        "api_key_env": account.api_key_env or f"{prefix}_API_KEY",
        "api_secret_env": account.api_secret_env or f"{prefix}_API_SECRET",
    }
    for key, var in names.items():
        if not (var.isascii() and var.replace("_", "a").isalnum() and not var[0].isdigit()):
            raise ConfigError(f"{where}: {path}.{key}: not an environment variable name: {var!r}")
    return dataclasses.replace(
        account, api_key_env=names["api_key_env"], api_secret_env=names["api_secret_env"]
    )


def _check_countdown(account: AccountSettings, path: str, where: str) -> None:
    """Both venues: the countdown is finite and refreshed at least twice within it (a refresh can be
    late or lost once without the venue cancelling the quotes)."""
    for key in ("countdown_s", "countdown_refresh_s"):
        value = getattr(account, key)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {path}.{key}: expected a finite number, got {value!r}")
    if not account.countdown_refresh_s < account.countdown_s / 2:
        raise ConfigError(
            f"{where}: {path}.countdown_refresh_s: must be less than half of countdown_s "
            f"({account.countdown_s:g} s), got {account.countdown_refresh_s:g}"
        )


def _valid_name(name: str) -> bool:
    return 0 < len(name) <= 32 and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key}: expected a table, got {type(value).__name__}")
    return value


def _check_keys(table: dict[str, Any], known: set[str], path: str, where: str) -> None:
    for key in table:
        if key not in known:
            full = f"{path}.{key}" if path else key
            raise ConfigError(f"{where}: unknown key {full!r} (known keys here: {', '.join(sorted(known))})")


_T = typing.TypeVar("_T")


def _build(cls: type[_T], table: dict[str, Any], path: str, where: str) -> _T:
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _check_keys(table, set(fields), path, where)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{path}.{name}"
        v = coerce(value, hints[name], f"{where}: {key}")
        meta = fields[name].metadata
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and v < lo:
            raise ConfigError(f"{where}: {key}: must be at least {lo}, got {value!r}")
        if hi is not None and v > hi:
            raise ConfigError(f"{where}: {key}: must be at most {hi}, got {value!r}")
        values[name] = v
    return cls(**values)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """`mmctl.coerce.coerce` raising ConfigError."""
    return _coerce(value, hint, where, ConfigError)
