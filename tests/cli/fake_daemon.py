"""A scripted JSON-RPC daemon on a real Unix socket, for CLI tests that must control when answers come.

Each connection is served by its own thread; `daemon.version` answers with this CLI's API version,
`bot.list` with the configured bots, and `bot.start` waits until the test releases that bot
(`release(name)`), counting how many starts are in flight at once. Any other method is answered by the
test's `handlers` (params -> result, or raise `Refuse` for an error reply); every request is recorded in
`requests` as (method, params).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.daemon import readline

from mmctl import API_VERSION, __version__


class Refuse(Exception):
    """Raised by a handler: the fake answers with this JSON-RPC error."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"code": code, "message": message, "data": data}


Handler = Callable[[dict[str, Any]], Any]


class FakeDaemon:
    def __init__(
        self, path: Path, bots: dict[str, str] | None = None, handlers: dict[str, Handler] | None = None
    ) -> None:
        self.path = path
        self.handlers = dict(handlers or {})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        bots = bots or {}
        self.bots = dict(bots)  # name -> state
        self.gates = {name: threading.Event() for name in bots}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.started: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> FakeDaemon:
        self._server.bind(str(self.path))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for gate in self.gates.values():
            gate.set()
        for t in self._threads:
            t.join(timeout=10)
        self._server.close()

    def release(self, *names: str) -> None:
        for name in names:
            self.gates[name].set()

    def _spawn(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a client that went away ends its connection only
            while not self._stop.is_set():
                line = readline(conn)
                if not line:
                    return
                req = json.loads(line)
                reply = {"jsonrpc": "2.0", "id": req["id"], **self._answer(req["method"], req.get("params"))}
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def _answer(self, method: str, params: Any) -> dict[str, Any]:
        with self.lock:
            self.requests.append((method, dict(params or {})))
        if method in self.handlers:
            try:
                return {"result": self.handlers[method](dict(params or {}))}
            except Refuse as e:
                return {"error": e.error}
        if method == "daemon.version":
            return {"result": {"version": __version__, "api": API_VERSION}}
        if method == "bot.list":
            return {"result": [{"name": n, "state": s} for n, s in sorted(self.bots.items())]}
        if method == "bot.start":
            (name,) = params["names"]
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.gates[name].wait()
            with self.lock:
                self.in_flight -= 1
                self.started.append(name)
            if self.bots[name] == "running":
                return {
                    "result": [{"bot": name, "ok": False, "state": "running", "error": "already running"}]
                }
            self.bots[name] = "running"
            return {"result": [{"bot": name, "ok": True, "state": "running"}]}
        return {"error": {"code": -32601, "message": f"unknown method {method}"}}
