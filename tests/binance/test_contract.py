"""The `Exchange` contract suite (tests/exchange/test_contract.py, test_contract_amend.py,
test_contract_trades.py and test_contract_conditional.py) run against the Binance adapter.

The tests are imported unchanged; `conftest.open_venue` makes each one use the Binance harness.
"""

from __future__ import annotations

from tests.exchange.test_contract import *  # noqa: F403
from tests.exchange.test_contract_amend import *  # noqa: F403
from tests.exchange.test_contract_conditional import *  # noqa: F403
from tests.exchange.test_contract_trades import *  # noqa: F403
