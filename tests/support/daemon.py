"""Daemon helpers for tests: a real `mmctl daemon run` process on a real socket in a temp dir (`DaemonProc`,
`make_daemon`), one JSON-RPC round trip on a socket (`rpc`), the real CLI entry point in a subprocess
(`run_cli`), and a deadline poll (`wait_until`). The fixtures that use them are in tests/conftest.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON = sys.executable


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` until true or fail after `timeout` seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def answers(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def rpc(path: Path, method: str, params: Any = None, req_id: int = 1) -> dict[str, Any]:
    """One raw JSON-RPC round trip on a fresh connection."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": req_id}
    if params is not None:
        msg["params"] = params
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(json.dumps(msg).encode() + b"\n")
        return json.loads(readline(s))  # type: ignore[no-any-return]


def readline(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


@dataclass
class DaemonProc:
    root: Path
    socket: Path
    state_dir: Path
    config: Path
    proc: subprocess.Popen[str] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, extra_env: dict[str, str] | None = None, wait: bool = True) -> DaemonProc:
        env = {**os.environ, **self.env, **(extra_env or {})}
        env.pop("MMCTL_SOCKET", None)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "mmctl", "daemon", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        if wait:
            wait_until(
                lambda: answers(self.socket) or self.proc.poll() is not None, timeout=60, what="daemon socket"
            )
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited early: {self.proc.stdout.read() if self.proc.stdout else ''}"
                )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def exited(self, timeout: float = 30) -> tuple[int, str]:
        """Wait for the daemon to exit by itself (e.g. refused to start)."""
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def cli(
        self, *args: str, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        return run_cli("--socket", str(self.socket), *args, env=env, **kw)

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return rpc(self.socket, method, params)


def run_cli(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [PYTHON, "-m", "mmctl", *args], capture_output=True, text=True, env=full_env, timeout=120, **kw
    )


def write_config(path: Path, sock: Path, state: Path, extra: str = "") -> None:
    path.write_text(f'[daemon]\nsocket = "{sock}"\nstate_dir = "{state}"\n{extra}')


def make_daemon(root: Path, extra_config: str = "") -> DaemonProc:
    root.mkdir(parents=True, exist_ok=True)
    d = DaemonProc(
        root=root, socket=root / "run" / "mmctl.sock", state_dir=root / "state", config=root / "c.toml"
    )
    write_config(d.config, d.socket, d.state_dir, extra_config)
    return d
