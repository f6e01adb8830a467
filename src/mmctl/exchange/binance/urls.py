"""Where an account's requests go: Binance's hosts for the environment, or the operator's overrides.

`rest_url` (e.g. `http://127.0.0.1:8765`, or a proxy with a path prefix) replaces the scheme, host and
port of every REST base URL a ccxt client holds, keeping each one's path (`/fapi/v1`, `/fapi/v3`, ...).
`ws_url` replaces the futures WebSocket base, the part ccxt puts before `/public`, `/market` and
`/private` (e.g. `ws://127.0.0.1:8765/ws`). Pure functions over ccxt's `urls['api']` dict.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

REST_SCHEMES = ("http", "https")
WS_SCHEMES = ("ws", "wss")


def check_rest_url(url: str) -> str | None:
    """Why `url` cannot be a REST override (None when it can; "" means no override)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in REST_SCHEMES or not parts.netloc:
        return "expected http://HOST[:PORT][/PREFIX] or https://..."
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def check_ws_url(url: str) -> str | None:
    """Why `url` cannot be a WebSocket override (None when it can)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in WS_SCHEMES or not parts.netloc:
        return "expected ws://HOST[:PORT]/ws or wss://..."
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def rebase(url: str, base: str) -> str:
    """`url` with the scheme, host and port of `base`, and `base`'s path prepended to its own."""
    target, original = urlsplit(base), urlsplit(url)
    path = target.path.rstrip("/") + original.path
    return urlunsplit((target.scheme, target.netloc, path, original.query, original.fragment))


def rewrite_rest(api: dict[str, Any], rest_url: str) -> None:
    """Point every REST base URL in ccxt's `urls['api']` at `rest_url` (in place; `ws` is left alone)."""
    for key, value in api.items():
        if key == "ws":
            continue
        if isinstance(value, str) and urlsplit(value).scheme in REST_SCHEMES:
            api[key] = rebase(value, rest_url)
        elif isinstance(value, dict):
            rewrite_rest(value, rest_url)


def futures_ws_base(ws_url: str) -> str:
    """The value for ccxt's `urls['api']['ws']['linear']`: the base, ending in `/ws` (ccxt turns
    `.../ws` into `.../public/ws`, `.../market/ws` and `.../private/ws`)."""
    base = ws_url.rstrip("/")
    return base if base.endswith("/ws") else base + "/ws"
