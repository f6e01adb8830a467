"""Fleet: one daemon with N paper bots (default 200) on the six built-in symbols, one book update per
second per symbol. Reports the daemon's CPU share and resident memory, the memory each extra bot costs,
and the p99 of `bot.status` RPC round trips while the fleet runs.

The bots are spread over paper accounts of 40: one account's request budget (Binance's limits) fits
about that many default bots, see bench/api_budget.py.

Usage: python bench/fleet.py [bots] [seconds]   (defaults 200, 20)
Last line: `bots=<n> cpu_pct=<n> rss_mb=<n> per_bot_kb=<n> rpc_p99_ms=<n>`.
Budgets (DESIGN.md §7): per extra bot <= 1 MB (1024 kB); RPC p99 <= 50 ms.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mmctl.rpc.client import Client

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOTS_PER_ACCOUNT = 40


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_ready(client: Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.call("daemon.version")
            return
        except Exception:
            client.close()
            if proc.poll() is not None:
                raise SystemExit("daemon exited") from None
            time.sleep(0.05)
    raise SystemExit("daemon did not start")


def settle(pid: int, seconds: float = 2.0) -> int:
    time.sleep(seconds)
    return rss_kb(pid)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    root = Path(tempfile.mkdtemp(prefix="mmf"))
    accounts = [f"p{k}" for k in range((n + BOTS_PER_ACCOUNT - 1) // BOTS_PER_ACCOUNT)]
    tables = "".join(
        f'[accounts.{a}]\nexchange = "paper"\nbalance = "10000000"\nbook_interval_ms = 1000\nseed = {k}\n'
        for k, a in enumerate(accounts)
    )
    (root / "c.toml").write_text(
        f'[daemon]\nsocket = "{root / "s.sock"}"\nstate_dir = "{root / "state"}"\n[log]\nlevel = "warning"\n'
        + tables
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmctl", "daemon", "run", "--config", str(root / "c.toml")],
        stdout=subprocess.DEVNULL,
    )
    try:
        with Client(root / "s.sock", timeout_s=120) as client:
            wait_ready(client, proc)
            for i in range(n):
                params = {"levels": "3", "spread_bps": str(8 + i % 17)}
                client.call(
                    "bot.create",
                    {
                        "name": f"f{i}",
                        "account": accounts[i // BOTS_PER_ACCOUNT],
                        "symbol": SYMBOLS[i % 6],
                        "params": params,
                    },
                )
            base = settle(proc.pid)
            client.call("bot.start", {"names": ["f0"]})
            one = settle(proc.pid)
            outcomes = client.call("bot.start", {"names": [f"f{i}" for i in range(1, n)]})
            failed = [o for o in outcomes if not o["ok"]]
            if failed:
                raise SystemExit(f"{len(failed)} bots failed to start: {failed[0]['error']}")
            settle(proc.pid, 3.0)
            cpu0, t0 = cpu_s(proc.pid), time.monotonic()
            rtts = []
            while time.monotonic() - t0 < seconds:
                t = time.perf_counter()
                client.call("bot.status", {"name": f"f{len(rtts) % n}"})
                rtts.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)
            cpu_pct = (cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
            full = rss_kb(proc.pid)
            client.call("bot.stop", {"all": True})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        shutil.rmtree(root, ignore_errors=True)
    rtts.sort()
    p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    per_bot = (full - one) / max(1, n - 1)
    print(f"rss_kb: no bots running {base}, one {one}, all {full}; status calls {len(rtts)}")
    figures = f"cpu_pct={cpu_pct:.1f} rss_mb={full / 1024:.1f} per_bot_kb={per_bot:.0f} rpc_p99_ms={p99:.1f}"
    print(f"bots={n} {figures}")


if __name__ == "__main__":
    main()
