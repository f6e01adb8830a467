"""Builders for paper-venue tests: a venue at a fixed start time, requests, book tops and trades."""

from __future__ import annotations

from decimal import Decimal

from mmctl.exchange.paper import PaperVenue, builtin_markets
from mmctl.model import BookTop, OrderRequest, OrderType, Side, Trade

START_MS = 1_700_000_000_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
MAKER_FEE = Decimal("0.0002")
TAKER_FEE = Decimal("0.0005")
MARKETS = builtin_markets(MAKER_FEE, TAKER_FEE)


def make_venue(
    balance: str = "10000", *, funding_rate: str = "0.0001", funding_interval_s: int = 28_800
) -> PaperVenue:
    return PaperVenue(
        builtin_markets(MAKER_FEE, TAKER_FEE),
        balance=Decimal(balance),
        start_ms=START_MS,
        funding_rate=Decimal(funding_rate),
        funding_interval_s=funding_interval_s,
    )


def book(venue: PaperVenue, bid: str, ask: str, symbol: str = BTC, qty: str = "5") -> None:
    venue.on_book(BookTop(symbol, Decimal(bid), Decimal(qty), Decimal(ask), Decimal(qty), venue.now_ms))


def trade(venue: PaperVenue, side: Side, price: str, qty: str, symbol: str = BTC) -> None:
    venue.on_trade(Trade(symbol, Decimal(price), Decimal(qty), side, venue.now_ms))


def limit(
    side: Side,
    price: str,
    qty: str,
    cid: str = "",
    *,
    symbol: str = BTC,
    post_only: bool = True,
    reduce_only: bool = False,
) -> OrderRequest:
    return OrderRequest(
        symbol, side, Decimal(qty), Decimal(price), cid, post_only=post_only, reduce_only=reduce_only
    )


def market(
    side: Side, qty: str, cid: str = "", *, symbol: str = BTC, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(symbol, side, Decimal(qty), None, cid, type=OrderType.MARKET, reduce_only=reduce_only)


def income_total(venue: PaperVenue) -> Decimal:
    return sum((row.amount for row in venue.wallet.rows), Decimal(0))
