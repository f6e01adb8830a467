"""Opening a Binance USDⓈ-M account for the daemon: the one entry point of this package.

`open_binance_account(name, settings, clock, ip_budget=..., account_budget=..., env=...)` reads the
credentials, builds the ccxt client (demo or live hosts, or the configured overrides), syncs the clock,
loads the markets and leverage brackets (a signed request: it proves the key, its futures permission and
the IP whitelist), refuses a hedge-mode account, and starts the background work (clock sync, user data
stream). Anything that stops it raises `VenueUnavailable` with one line naming the cause and the fix; the
half-built client is closed first, so nothing is left running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmctl.clock import Clock
from mmctl.config.schema import BinanceAccount
from mmctl.errors import AuthError, MmctlError, TransientError, VenueUnavailable
from mmctl.exchange.binance.adapter import BinanceClient
from mmctl.exchange.binance.credentials import MissingCredentials, key_env, load_credentials, secret_env
from mmctl.exchange.binance.errors import IpBanned
from mmctl.exchange.binance.exchange import BinanceExchange
from mmctl.exchange.binance.usage import UsageFeed, UsageSink

HEDGE_MODE = (
    "the account is in hedge mode (dual-side positions) and mmctl needs one-way mode: switch Position Mode "
    "to One-way in Binance's futures settings (with no open positions or orders), then start again"
)


async def open_binance_account(
    name: str,
    settings: BinanceAccount,
    clock: Clock,
    *,
    ip_budget: UsageSink | None = None,
    account_budget: UsageSink | None = None,
    env: Mapping[str, str] | None = None,
    request_timeout_s: float = 10.0,
    book_quiet_s: float = 15.0,
    user_quiet_s: float = 30.0,
) -> BinanceExchange:
    """A started Binance account, or `VenueUnavailable` saying why not and what to do."""
    try:
        credentials = load_credentials(
            name, api_key_env=settings.api_key_env, api_secret_env=settings.api_secret_env, env=env
        )
    except MissingCredentials as e:
        raise VenueUnavailable(e.message, data=e.data) from e
    client = BinanceClient(
        credentials,
        environment=settings.environment,
        rest_url=settings.rest_url,
        ws_url=settings.ws_url,
        usage=UsageFeed(ip_budget, account_budget),
        timeout_s=request_timeout_s,
    )
    exchange = BinanceExchange(name, client, clock, book_quiet_s=book_quiet_s, user_quiet_s=user_quiet_s)
    try:
        await exchange.time.sync()
        await exchange.load_markets()
        await require_one_way(exchange)
    except MmctlError as e:
        await exchange.close()
        raise VenueUnavailable(
            f"account {name!r}: {_reason(e, name, settings)}", data={"account": name, **e.data}
        ) from e
    exchange.start_background()
    if not await exchange.user.wait_connected(request_timeout_s):
        reason = exchange.user.last_error or "no connection"
        await exchange.close()
        where = settings.ws_url or "Binance's futures WebSocket"
        raise VenueUnavailable(
            f"account {name!r}: the user data stream at {where} did not connect within "
            f"{request_timeout_s:g} s ({reason}): check ws_url and the network",
            data={"account": name},
        )
    return exchange


async def require_one_way(exchange: BinanceExchange) -> None:
    """Refuse a hedge-mode account: mmctl keeps one net position per symbol."""
    answer: Any = await exchange.call("fapiPrivateGetPositionSideDual", {})
    if isinstance(answer, Mapping) and _truthy(answer.get("dualSidePosition")):
        raise VenueUnavailable(HEDGE_MODE)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _reason(error: MmctlError, name: str, settings: BinanceAccount) -> str:
    where = "Binance" if not settings.rest_url else settings.rest_url
    if isinstance(error, AuthError):
        return (
            f"{error.message}; the key and secret came from ${key_env(name, settings.api_key_env)} / "
            f"${secret_env(name, settings.api_secret_env)} or $CREDENTIALS_DIRECTORY/{name}.api_key, "
            f"and environment = {settings.environment!r} must match where the key was made"
        )
    if isinstance(error, IpBanned):
        return error.message
    if isinstance(error, TransientError):
        return f"cannot reach {where} ({settings.environment}): {error.message}"
    return error.message
