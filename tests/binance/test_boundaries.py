"""Package boundaries: ccxt is imported by the adapter module alone, and its decimal side effects stay in."""

from __future__ import annotations

import asyncio
import decimal
import subprocess
import sys
from pathlib import Path

from mmctl.exchange.binance.adapter import isolated, one_line

SRC = Path(__file__).resolve().parents[2] / "src" / "mmctl"


def test_only_the_adapter_module_imports_ccxt() -> None:
    """No module of mmctl but exchange/binance/adapter.py has an `import ccxt` or `from ccxt`."""
    importers = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(line.lstrip().startswith(("import ccxt", "from ccxt")) for line in p.read_text().splitlines())
    )
    assert importers == ["exchange/binance/adapter.py"]


def test_importing_the_package_and_its_pure_modules_does_not_load_ccxt() -> None:
    """The package, its config checks, errors, conversions and credentials load without ccxt."""
    code = (
        "import sys, mmctl.exchange.binance, mmctl.exchange.binance.errors, mmctl.exchange.binance.convert, "
        "mmctl.exchange.binance.credentials, mmctl.exchange.binance.usage, mmctl.config.load; "
        "print(any(m == 'ccxt' or m.startswith('ccxt.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_ccxt_work_runs_in_a_private_decimal_context() -> None:
    """What ccxt does to the decimal context inside `isolated` is not seen by the caller."""

    async def like_decimal_to_precision() -> str:
        ctx = decimal.getcontext()
        ctx.rounding = decimal.ROUND_HALF_UP
        ctx.traps[decimal.Underflow] = True
        await asyncio.sleep(0)
        return str(ctx.rounding)

    with decimal.localcontext() as mine:
        mine.rounding = decimal.ROUND_FLOOR
        mine.traps[decimal.Underflow] = False
        assert await isolated(like_decimal_to_precision()) == decimal.ROUND_HALF_UP
        assert decimal.getcontext().rounding == decimal.ROUND_FLOOR
        assert not decimal.getcontext().traps[decimal.Underflow]


def test_ccxt_messages_lose_listen_keys_and_signatures() -> None:
    """Errors quoting ccxt's text carry no listenKey, signature or key from the URLs it mentions."""
    quoted = one_line(
        RuntimeError(
            "Connection to wss://h/private/ws?listenKey=AbC123 timed out\nGET /x?a=1&signature=ff0&b=2"
        )
    )
    assert "AbC123" not in quoted
    assert "ff0" not in quoted
    assert "\n" not in quoted
