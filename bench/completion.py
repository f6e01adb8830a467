"""Shell completion latency: what one TAB costs, against a running daemon with bots.

Usage: python bench/completion.py [N]   (default N=30). Starts a private paper daemon with 40 bots and
times, interleaved, what the completion scripts run on TAB: `mmctl __complete status ""` (bot names,
asked of the daemon), `mmctl __complete st` (command names) and `mmctl __complete stop --` (options),
plus `python -c pass` as the reference measured in the same run. Budget: median <= 100 ms per TAB (the
slowest of the three kinds is the figure). Last line: `completion_ms=<median of the slowest kind>`.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_latency import private_daemon  # one way to run a private daemon for a bench

BOTS = 40


def rpc(path: Path, method: str, params: dict[str, object]) -> object:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(path))
        s.sendall(
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode() + b"\n"
        )
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with private_daemon("mmc") as (mmctl, sock):
        kinds = {
            "bot_names": [*mmctl, "__complete", "--socket", str(sock), "status", ""],
            "commands": [*mmctl, "__complete", "st"],
            "options": [*mmctl, "__complete", "stop", "--"],
        }
        for i in range(BOTS):
            rpc(sock, "bot.create", {"name": f"bot{i:02d}", "account": "paper", "symbol": "BTCUSDT"})
        _, names = timed(kinds["bot_names"])  # warms the page cache, checks the names arrive
        if len(names.split()) != BOTS:
            raise SystemExit(f"expected {BOTS} bot names, got: {names!r}")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        base: list[float] = []
        for _ in range(n):
            for kind, cmd in kinds.items():
                times[kind].append(timed(cmd)[0])
            base.append(timed([sys.executable, "-c", "pass"])[0])
    medians = {k: statistics.median(v) for k, v in times.items()}
    for kind, ms in medians.items():
        print(f"{kind}: median {ms:.1f} ms, max {max(times[kind]):.1f} ms")
    print(f"python -c pass: median {statistics.median(base):.1f} ms; runs={n} budget=100 ms per TAB")
    print(f"completion_ms={max(medians.values()):.1f}")


if __name__ == "__main__":
    main()
