"""API credentials of a Binance account: from environment variables or systemd credentials, never shown.

For the account NAME, the key and the secret are looked up, each on its own, in:
1. the environment variable the account's `api_key_env` / `api_secret_env` names (default
   `MMCTL_<NAME>_API_KEY` / `MMCTL_<NAME>_API_SECRET`, NAME upper-cased with `-` → `_`);
2. the files `<name>.api_key` / `<name>.api_secret` in `$CREDENTIALS_DIRECTORY` (systemd
   `LoadCredential=`).
A missing one raises `MissingCredentials` naming the variable and the file to provide.

Values are held in `Secret`, whose `repr` and `str` are masked, so a secret cannot reach a log line, an
error message, `config show` or a traceback's rendering by accident; `reveal()` is called once, where the
ccxt client is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mmctl.errors import AuthError

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"


class MissingCredentials(AuthError):
    """The account's API key or secret is in neither place it may come from."""


@dataclass(frozen=True, slots=True, eq=False)
class Secret:
    """A secret string that never shows itself (`repr`, `str`, `format` give `'****'`)."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    def __str__(self) -> str:
        return "****"

    def __format__(self, spec: str) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An account's API key and secret, and where each came from (for messages; never the value)."""

    api_key: Secret
    api_secret: Secret
    key_source: str
    secret_source: str


def env_name(account: str, suffix: str) -> str:
    """The default variable for `account`: `MMCTL_<NAME>_<suffix>` (NAME upper-cased, `-` → `_`)."""
    return f"MMCTL_{account.upper().replace('-', '_')}_{suffix}"


def key_env(account: str, configured: str = "") -> str:
    return configured or env_name(account, "API_KEY")


def secret_env(account: str, configured: str = "") -> str:
    return configured or env_name(account, "API_SECRET")


def load_credentials(
    account: str,
    *,
    api_key_env: str = "",
    api_secret_env: str = "",
    env: Mapping[str, str] | None = None,
) -> Credentials:
    """The account's credentials; raises `MissingCredentials` naming what to set."""
    env = os.environ if env is None else env
    key, key_from = _lookup(account, key_env(account, api_key_env), "api_key", env)
    secret, secret_from = _lookup(account, secret_env(account, api_secret_env), "api_secret", env)
    return Credentials(key, secret, key_from, secret_from)


def _lookup(account: str, variable: str, file_suffix: str, env: Mapping[str, str]) -> tuple[Secret, str]:
    value = env.get(variable, "").strip()
    if value:
        return Secret(value), f"${variable}"
    filename = f"{account}.{file_suffix}"
    directory = env.get(CREDENTIALS_DIRECTORY, "")
    if directory:
        path = Path(directory) / filename
        try:
            content = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            content = ""
        except OSError as e:
            raise MissingCredentials(
                f"account {account!r}: cannot read the credential file {path}: {e.strerror}"
            ) from e
        if content:
            return Secret(content), str(path)
    where = f"$CREDENTIALS_DIRECTORY/{filename}" + (
        "" if directory else " ($CREDENTIALS_DIRECTORY is not set)"
    )
    what = "API key" if file_suffix == "api_key" else "API secret"
    raise MissingCredentials(
        f"account {account!r}: no {what}: set the environment variable {variable} or provide the "
        f"systemd credential {where}",
        data={"account": account, "variable": variable, "file": filename},
    )
