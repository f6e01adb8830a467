"""CLI latency: `mmctl health --json` against a running daemon vs `python -c pass`, interleaved.

Usage: python bench/cli_latency.py [N]   (default N=30). Budget: median <= 150 ms, and no slower than
`supervisorctl status` measured in the same run (the product's performance budget, also listed in
README.md, Development).
Last line: `cli_health_json_ms=<median> python_ms=<median>`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def wait_for_socket(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            return
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    raise SystemExit(f"daemon did not come up on {path}")


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000


@contextlib.contextmanager
def private_daemon(prefix: str) -> Iterator[tuple[list[str], Path]]:
    """A paper daemon on a temp socket (`mmctl` command, socket path), stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    sock = root / "mmctl.sock"
    config = root / "config.toml"
    config.write_text(f'[daemon]\nsocket = "{sock}"\nstate_dir = "{root / "state"}"\n')
    script = Path(sys.executable).with_name("mmctl")
    mmctl = [str(script)] if script.exists() else [sys.executable, "-m", "mmctl"]
    daemon = subprocess.Popen([*mmctl, "daemon", "run", "--config", str(config)], stdout=subprocess.DEVNULL)
    try:
        wait_for_socket(sock)
        yield mmctl, sock
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with private_daemon("mmb") as (mmctl, sock):
        cli = [*mmctl, "--socket", str(sock), "health", "--json"]
        base = [sys.executable, "-c", "pass"]
        timed(cli)  # warm the page cache
        cli_ms, py_ms = [], []
        for _ in range(n):
            cli_ms.append(timed(cli))
            py_ms.append(timed(base))
    print(f"runs={n} cli p90={sorted(cli_ms)[int(n * 0.9) - 1]:.1f} ms budget=150 ms")
    print(f"cli_health_json_ms={statistics.median(cli_ms):.1f} python_ms={statistics.median(py_ms):.1f}")


if __name__ == "__main__":
    main()
