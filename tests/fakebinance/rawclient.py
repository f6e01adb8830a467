"""A minimal signed Binance REST client on aiohttp, for tests that talk to the fake without ccxt.

It signs exactly as Binance defines: `signature` = HMAC-SHA256 (hex) of the urlencoded parameters
(`timestamp` and `recvWindow` included), sent in the query string for GET/DELETE and in the form body
for POST/PUT, with the key in the `X-MBX-APIKEY` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: status, parsed JSON (or raw text) and headers."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> int | None:
        """Binance's error code, when the body is an error object."""
        return self.body.get("code") if isinstance(self.body, dict) else None


class RawClient:
    """Signed and unsigned requests to one base URL (use as an async context manager)."""

    def __init__(
        self, base_url: str, api_key: str = "k", api_secret: str = "s", time_offset_ms: int = 0
    ) -> None:
        self.base_url, self.api_key, self.api_secret = base_url, api_key, api_secret
        self.time_offset_ms = time_offset_ms
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RawClient:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def sign(self, params: dict[str, Any]) -> str:
        """The urlencoded, signed parameter string."""
        full = {**params, "timestamp": int(time.time() * 1000) + self.time_offset_ms, "recvWindow": 5000}
        query = urlencode({k: _text(v) for k, v in full.items()})
        signature = hmac.new(self.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={signature}"

    async def signed(self, method: str, path: str, **params: Any) -> Reply:
        """A SIGNED request."""
        return await self.send(method, path, self.sign(params), key=True)

    async def public(self, path: str, **params: Any) -> Reply:
        """An unsigned GET."""
        return await self.send("GET", path, urlencode({k: _text(v) for k, v in params.items()}), key=False)

    async def send(self, method: str, path: str, encoded: str, *, key: bool) -> Reply:
        """Send `encoded` parameters in the query (GET/DELETE) or the form body (POST/PUT)."""
        assert self._session is not None, "use RawClient as an async context manager"
        headers = {"X-MBX-APIKEY": self.api_key} if key else {}
        url = f"{self.base_url}{path}"
        body: str | None = None
        if method in ("GET", "DELETE"):
            url = f"{url}?{encoded}" if encoded else url
        else:
            body = encoded
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self._session.request(method, url, data=body, headers=headers) as response:
            text = await response.text()
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            return Reply(response.status, parsed, dict(response.headers))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
