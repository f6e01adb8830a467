"""Binance request authentication: API key header, HMAC-SHA256 signature, timestamp and recvWindow.

The signature is HMAC-SHA256 (hex) with the account's secret over `totalParams`, the raw query string
concatenated with the raw request body, each without its `signature=...` parameter. The request is
valid when `timestamp < serverTime + 1000` and `serverTime - timestamp <= recvWindow` (default 5000,
at most 60000); otherwise -1021.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from .accounts import Account
from .errors import BinanceError

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


def account_for(api_key: str | None, accounts: Mapping[str, Account]) -> Account:
    """The account an `X-MBX-APIKEY` names: -2014 when absent, -2015 unknown, no futures, or IP refused."""
    if not api_key:
        raise BinanceError(-2014)
    account = accounts.get(api_key)
    if account is None or not account.futures_enabled or not account.ip_allowed:
        raise BinanceError(-2015)
    return account


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """`raw` without its signature parameter, and the signature found (if any)."""
    if not raw:
        return raw, None
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify(raw_query: str, raw_body: str, params: Mapping[str, Any], secret: str, server_ms: int) -> None:
    """Check a SIGNED request's signature (-1022) and timestamp (-1102, -1131, -1021)."""
    query, sig_q = _strip_signature(raw_query)
    body, sig_b = _strip_signature(raw_body)
    signature = sig_q or sig_b
    if not signature:
        raise BinanceError(-1102, name="signature")
    expected = hmac.new(secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(-1022)
    raw_ts = params.get("timestamp")
    try:
        timestamp = int(str(raw_ts))
    except ValueError:
        raise BinanceError(-1102, name="timestamp") from None
    raw_window = params.get("recvWindow")
    try:
        window = int(str(raw_window)) if raw_window not in (None, "") else DEFAULT_RECV_WINDOW
    except ValueError:
        raise BinanceError(-1102, name="recvWindow") from None
    if window > MAX_RECV_WINDOW or window <= 0:
        raise BinanceError(-1131)
    if timestamp >= server_ms + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - timestamp > window:
        raise BinanceError(-1021)
