"""`ccxt_client(fake)`: a real `ccxt.pro.binanceusdm` pointed at a `FakeBinance` (documents the URL keys).

What has to change on a ccxt 4.5.90 binanceusdm instance to talk to another host:
- every string in `exchange.urls['api']` outside `ws`: scheme, host and port replaced, path kept
  (`fapiPublic`, `fapiPublicV2`, `fapiPublicV3`, `fapiPrivate`, `fapiPrivateV2`, `fapiPrivateV3`,
  `fapiData`; the spot/sapi/dapi/eapi/papi ones too, so nothing can reach the internet);
- `exchange.urls['api']['ws']['linear']` = the futures WebSocket base ending in `/ws` (ccxt turns it
  into `<base without /ws>/public/ws/<n>`, `/market/ws/<n>` and `/private/ws?listenKey=...`); the
  other `ws` entries are pointed at the same host so nothing leaks either;
- `options['fetchCurrencies'] = False`, else `load_markets` with keys calls spot `/sapi` endpoints.

ccxt picks Binance's futures error table by URL prefix (`https://fapi.binance.com/`, demo, testnet), so
against `http://127.0.0.1:...` only the generic table applies and e.g. -2019 (InsufficientFunds),
-4164 (InvalidOrder) and -5022 (OrderNotFillable) arrive as a plain `ExchangeError` / `InvalidOrder`.
`use_linear_error_table(exchange)` replaces the instance's `get_exceptions_by_url` so the USDⓈ-M
table applies whatever the host (`ccxt_client(..., linear_errors=True)`, the default, does it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from .server import FakeBinance


def _rebase(url: str, base: str) -> str:
    """`url` with the scheme, host and port of `base` (path and query kept)."""
    parts, new = urlsplit(url), urlsplit(base)
    return urlunsplit((new.scheme, new.netloc, parts.path, parts.query, parts.fragment))


def _rebase_all(tree: dict[str, Any], base: str, into: dict[str, Any] | None = None) -> None:
    """Rebase every URL string in `tree` (nested dicts too), writing top-level strings to `into`."""
    target = tree if into is None else into
    for key, value in tree.items():
        if isinstance(value, str) and "://" in value:
            target[key] = _rebase(value, base)
        elif isinstance(value, dict):
            _rebase_all(value, base)


def point_at(exchange: Any, rest_url: str, ws_url: str) -> None:
    """Point every REST and WebSocket URL of a ccxt binance-family instance at another host."""
    api = exchange.urls["api"]
    ws_tree = api.get("ws")
    _rebase_all({k: v for k, v in api.items() if k != "ws"}, rest_url, into=api)
    if isinstance(ws_tree, dict):
        _rebase_all(ws_tree, ws_url)
        ws_tree["linear"] = ws_url


def use_linear_error_table(exchange: Any) -> None:
    """Make ccxt map Binance error codes with its USDⓈ-M table whatever the URL's host."""
    table = exchange.exceptions["linear"]

    def by_url(url: str | None, exact_or_broad: str) -> dict[str, Any]:
        return dict(table.get(exact_or_broad, {}))

    exchange.get_exceptions_by_url = by_url


def ccxt_client(
    fake: FakeBinance,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    linear_errors: bool = True,
    timeout_ms: int = 5000,
    options: dict[str, Any] | None = None,
) -> Any:
    """A `ccxt.pro.binanceusdm` on the fake (default account's keys), without ccxt's own throttling.

    Close it with `await exchange.close()`.
    """
    import ccxt.pro

    key = api_key if api_key is not None else fake.default_key
    secret = api_secret if api_secret is not None else fake.venue.accounts[key].secret
    exchange = ccxt.pro.binanceusdm(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": {"fetchCurrencies": False, **(options or {})},
        }
    )
    exchange.timeout_on_exit = 0  # ccxt sleeps 250 ms in close() for TLS shutdown; plain HTTP needs none
    point_at(exchange, fake.rest_url, fake.ws_url)
    if linear_errors:
        use_linear_error_table(exchange)
    return exchange
