"""Checks of a parsed config against the venues it names, so `mmctl config check` refuses what the
daemon would refuse at start: a paper account's `symbols` must all be markets of the built-in paper venue.

The paper venue's market list lives with the venue (`mmctl.exchange.paper.markets`); importing it loads
the paper exchange package (asyncio and the matching engine, ~0.2 s), so it is imported only when an
account actually lists symbols, and never on the CLI's path to the socket (`configured_socket`).
"""

from __future__ import annotations

from mmctl.config.schema import PaperAccount, Settings
from mmctl.errors import ConfigError, UnknownSymbol


def check_venues(settings: Settings, where: str) -> None:
    """Raise `ConfigError` naming the file and key of the first setting no venue can serve."""
    for name, account in settings.accounts.items():
        if isinstance(account, PaperAccount) and account.symbols:
            _check_paper_symbols(name, account, where)


def _check_paper_symbols(name: str, account: PaperAccount, where: str) -> None:
    from mmctl.exchange.paper.markets import builtin_markets

    try:
        builtin_markets(account.maker_fee, account.taker_fee, account.symbols)
    except UnknownSymbol as e:
        raise ConfigError(f"{where}: accounts.{name}.symbols: {e.message}") from e
