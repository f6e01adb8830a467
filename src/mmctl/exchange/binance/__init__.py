"""Binance USDⓈ-M futures behind the `Exchange` port, through ccxt.

Importing this package is cheap: only `mmctl.exchange.binance.adapter` imports ccxt, and only
`open_binance_account` (in `mmctl.exchange.binance.account`) imports the adapter. The daemon's composition
root imports it only when a `binanceusdm` account is configured.

Modules: `account` (the factory and start-up checks), `exchange` (the port, over raw Binance JSON),
`adapter` (the ccxt seam: requests, signing, websockets, usage headers, error translation), `streams`
(book tops and the user data stream), `convert` (raw strings → Decimal model types), `errors` (Binance
error codes → mmctl errors), `usage` (usage headers and rate limits), `credentials` (secrets), `urls`
(host overrides for proxies and tests).
"""
