"""Find and read `config.toml` (tomllib) into `Settings`, naming the file and key path of any error.

Search order: an explicit path, `$MMCTL_CONFIG`, `$XDG_CONFIG_HOME/mmctl/config.toml` (or
`~/.config/mmctl/config.toml`), `/etc/mmctl/config.toml`. With none found the built-in defaults apply
(one paper account), so `mmctl daemon run` works on a fresh machine. Unknown keys and bad values are
errors; nothing is silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from mmctl.coerce import coerce as _coerce
from mmctl.config.schema import (
    AccountSettings,
    BinanceAccount,
    DaemonSettings,
    LogSettings,
    PaperAccount,
    RiskSettings,
    Settings,
)
from mmctl.errors import ConfigError

ACCOUNT_TYPES: dict[str, type[AccountSettings]] = {"paper": PaperAccount, "binanceusdm": BinanceAccount}


def candidate_paths(env: typing.Mapping[str, str] | None = None) -> list[Path]:
    """Where a config file is looked for when none is given, in order."""
    env = os.environ if env is None else env
    out: list[Path] = []
    if env.get("MMCTL_CONFIG"):
        out.append(Path(env["MMCTL_CONFIG"]))
    xdg = env.get("XDG_CONFIG_HOME") or (str(Path(env["HOME"]) / ".config") if env.get("HOME") else "")
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
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found (create one with: mmctl config init {p})")
        return p
    if env.get("MMCTL_CONFIG"):
        p = Path(env["MMCTL_CONFIG"])
        if not p.is_file():
            raise ConfigError(f"{p}: config file named by $MMCTL_CONFIG not found")
        return p
    for p in candidate_paths(env):
        if p.is_file():
            return p
    return None


def load_settings(
    explicit: str | Path | None = None, env: typing.Mapping[str, str] | None = None
) -> Settings:
    """Find, read and validate the config; built-in defaults when no file exists."""
    path = find_config(explicit, env)
    if path is None:
        return Settings()
    return load_file(path)


def load_file(path: Path) -> Settings:
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except PermissionError:
        raise ConfigError(f"{path}: permission denied reading the config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_settings(raw, str(path))


def parse_settings(raw: dict[str, Any], source: str = "<config>") -> Settings:
    """Validate a parsed TOML document into `Settings`."""
    where = source
    _check_keys(raw, {"daemon", "log", "accounts", "risk"}, "", where)
    daemon = _build(DaemonSettings, _table(raw, "daemon", where), "daemon", where)
    log = _build(LogSettings, _table(raw, "log", where), "log", where)
    risk = _risk(_table(raw, "risk", where), where)
    accounts: dict[str, AccountSettings]
    if "accounts" in raw:
        accounts = {}
        for name, table in _table(raw, "accounts", where).items():
            accounts[name] = _account(name, table, where)
    else:
        accounts = Settings().accounts
    return Settings(
        daemon=daemon,
        log=log,
        accounts=accounts,
        risk=risk,
        source=source if source != "<config>" else "",
    )


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
    if isinstance(account, PaperAccount) and account.market == "replay":
        replay = Path(account.replay_path).expanduser() if account.replay_path else None
        if replay is None or not replay.exists():
            shown = account.replay_path or "(empty)"
            raise ConfigError(
                f"{where}: {path}.replay_path: market = 'replay' needs an existing file or directory of "
                f"Binance CSVs, got {shown}"
            )
    return account


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
