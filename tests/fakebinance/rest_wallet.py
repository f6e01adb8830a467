"""Wallet REST endpoints: account (v2, v3), balance (v2, v3) and positionRisk (v2, v3)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .accounts import Account
from .amounts import CTX, ZERO, money, round8
from .margin import MarginSummary, SymbolMargin
from .rest import Params, route

if TYPE_CHECKING:
    from .server import FakeBinance


def _acct(account: Account | None) -> Account:
    assert account is not None
    return account


def plain(value: Decimal) -> str:
    """A price such as an entry price: up to 8 decimals, at least one ("0.0", "90000.5")."""
    text = format(round8(value).normalize(CTX), "f")
    return text if "." in text else text + ".0"


def _flat(symbol: str) -> SymbolMargin:
    return SymbolMargin(symbol, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def _asset(account: Account, m: MarginSummary) -> dict[str, Any]:
    return {
        "asset": "USDT",
        "walletBalance": money(m.wallet),
        "unrealizedProfit": money(m.unrealized),
        "marginBalance": money(m.margin_balance),
        "maintMargin": money(m.maint),
        "initialMargin": money(m.initial_margin),
        "positionInitialMargin": money(m.position_im),
        "openOrderInitialMargin": money(m.order_im),
        "crossWalletBalance": money(m.wallet),
        "crossUnPnl": money(m.unrealized),
        "availableBalance": money(m.available),
        "maxWithdrawAmount": money(max(ZERO, min(m.available, m.wallet))),
        "updateTime": account.update_time,
    }


def _totals(m: MarginSummary) -> dict[str, Any]:
    return {
        "totalInitialMargin": money(m.initial_margin),
        "totalMaintMargin": money(m.maint),
        "totalWalletBalance": money(m.wallet),
        "totalUnrealizedProfit": money(m.unrealized),
        "totalMarginBalance": money(m.margin_balance),
        "totalPositionInitialMargin": money(m.position_im),
        "totalOpenOrderInitialMargin": money(m.order_im),
        "totalCrossWalletBalance": money(m.wallet),
        "totalCrossUnPnl": money(m.unrealized),
        "availableBalance": money(m.available),
        "maxWithdrawAmount": money(max(ZERO, min(m.available, m.wallet))),
    }


@route("GET", "/fapi/v3/account")
def account_v3(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    m = fake.venue.margin(acct.key)
    positions = []
    for symbol, sm in m.symbols.items():
        pos = acct.position(symbol)
        if pos.amount == 0:
            continue
        positions.append(
            {
                "symbol": symbol,
                "positionSide": "BOTH",
                "positionAmt": fake.venue.specs[symbol].qty_str(pos.amount),
                "unrealizedProfit": money(sm.unrealized),
                "isolatedMargin": money(ZERO),
                "notional": money(sm.notional),
                "isolatedWallet": "0",
                "initialMargin": money(sm.position_im + sm.order_im),
                "maintMargin": money(sm.maint),
                "updateTime": pos.update_time,
            }
        )
    return {**_totals(m), "assets": [_asset(acct, m)], "positions": positions}


@route("GET", "/fapi/v2/account")
def account_v2(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    m = fake.venue.margin(acct.key)
    positions = []
    for symbol, spec in fake.venue.specs.items():
        pos, sm = acct.position(symbol), m.symbols.get(symbol) or _flat(symbol)
        lev = acct.leverage_of(symbol)
        positions.append(
            {
                "symbol": symbol,
                "initialMargin": money(sm.position_im + sm.order_im),
                "maintMargin": money(sm.maint),
                "unrealizedProfit": money(sm.unrealized),
                "positionInitialMargin": money(sm.position_im),
                "openOrderInitialMargin": money(sm.order_im),
                "leverage": str(lev),
                "isolated": symbol in acct.isolated,
                "entryPrice": plain(pos.entry_price),
                "breakEvenPrice": plain(pos.entry_price),
                "maxNotional": str(spec.max_notional_at(lev)),
                "bidNotional": money(sm.bids_notional),
                "askNotional": money(sm.asks_notional),
                "positionSide": "BOTH",
                "positionAmt": spec.qty_str(pos.amount),
                "updateTime": pos.update_time,
            }
        )
    asset = {**_asset(acct, m), "marginAvailable": True}
    return {
        "feeTier": 0,
        "feeBurn": False,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        **_totals(m),
        "assets": [asset],
        "positions": positions,
    }


@route("GET", "/fapi/v2/balance", "/fapi/v3/balance")
def balance(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    m = fake.venue.margin(acct.key)
    return [
        {
            "accountAlias": "SgsR",
            "asset": "USDT",
            "balance": money(m.wallet),
            "crossWalletBalance": money(m.wallet),
            "crossUnPnl": money(m.unrealized),
            "availableBalance": money(m.available),
            "maxWithdrawAmount": money(max(ZERO, min(m.available, m.wallet))),
            "marginAvailable": True,
            "updateTime": acct.update_time,
        }
    ]


@route("GET", "/fapi/v3/positionRisk")
def position_risk_v3(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    only = params.get("symbol") or None
    if only is not None:
        fake.venue.spec(only)
    m = fake.venue.margin(acct.key)
    rows = []
    for symbol, sm in m.symbols.items():
        if only not in (None, symbol):
            continue
        spec, pos = fake.venue.specs[symbol], acct.position(symbol)
        mark = fake.venue.mark(symbol)
        for side in ["LONG", "SHORT"] if acct.hedge_mode else ["BOTH"]:
            amount = pos.amount if side in ("BOTH", "LONG" if pos.amount > 0 else "SHORT") else ZERO
            rows.append(
                {
                    "symbol": symbol,
                    "positionSide": side,
                    "positionAmt": spec.qty_str(amount),
                    "entryPrice": plain(pos.entry_price if amount else ZERO),
                    "breakEvenPrice": plain(pos.entry_price if amount else ZERO),
                    "markPrice": money(mark),
                    "unRealizedProfit": money(sm.unrealized if amount else ZERO),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": money(sm.notional if amount else ZERO),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": money(sm.position_im + sm.order_im),
                    "maintMargin": money(sm.maint),
                    "positionInitialMargin": money(sm.position_im),
                    "openOrderInitialMargin": money(sm.order_im),
                    "adl": 0,
                    "bidNotional": money(sm.bids_notional),
                    "askNotional": money(sm.asks_notional),
                    "updateTime": pos.update_time,
                }
            )
    return rows


@route("GET", "/fapi/v2/positionRisk")
def position_risk_v2(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    only = params.get("symbol") or None
    if only is not None:
        fake.venue.spec(only)
    m = fake.venue.margin(acct.key)
    rows = []
    for symbol, spec in fake.venue.specs.items():
        if only not in (None, symbol):
            continue
        pos, sm = acct.position(symbol), m.symbols.get(symbol) or _flat(symbol)
        lev = acct.leverage_of(symbol)
        for side in ["LONG", "SHORT"] if acct.hedge_mode else ["BOTH"]:
            amount = pos.amount if side in ("BOTH", "LONG" if pos.amount > 0 else "SHORT") else ZERO
            rows.append(
                {
                    "symbol": symbol,
                    "positionAmt": spec.qty_str(amount),
                    "entryPrice": plain(pos.entry_price if amount else ZERO),
                    "breakEvenPrice": plain(pos.entry_price if amount else ZERO),
                    "markPrice": money(fake.venue.mark(symbol)),
                    "unRealizedProfit": money(sm.unrealized if amount else ZERO),
                    "liquidationPrice": "0",
                    "leverage": str(lev),
                    "maxNotionalValue": str(spec.max_notional_at(lev)),
                    "marginType": "isolated" if symbol in acct.isolated else "cross",
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": side,
                    "notional": money(sm.notional if amount else ZERO),
                    "isolatedWallet": "0",
                    "updateTime": pos.update_time,
                }
            )
    return rows
