"""Fault injection for the fake server: failed, slow and unanswered requests, dropped and silent streams.

Rules match a request by exact path (`"/fapi/v1/order"`, or `"*"` for any) and method (None: any) and
apply to the next `n` matching requests. Methods are safe to call from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Failure:
    """Answer with this error instead of (or, with `process`, after) handling the request."""

    status: int
    code: int
    msg: str | None
    retry_after: int | None
    body: str | None
    process: bool


@dataclass(slots=True)
class _Rule:
    kind: str  # fail | delay | swallow
    path: str
    method: str | None
    remaining: int
    failure: Failure | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.path in ("*", path)) and (self.method is None or self.method == method)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the faults say about one request."""

    delay: float = 0.0
    failure: Failure | None = None
    swallow: bool = False


class FaultInjector:
    """`fake.faults`: one-shot (or n-shot) faults by path and method, plus WebSocket faults."""

    def __init__(self, drop_ws: Callable[[], None], silence: Callable[[bool], None]) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._drop_ws = drop_ws
        self._silence = silence

    def fail_next(
        self,
        path: str,
        method: str | None = "POST",
        n: int = 1,
        status: int = 500,
        code: int = -1001,
        msg: str | None = None,
        retry_after: int | None = None,
        body: str | None = None,
        process: bool = False,
    ) -> None:
        """The next `n` matching requests get `status` with `{"code": code, "msg": msg}` (or raw `body`).

        `retry_after` adds a Retry-After header (seconds). With `process=True` the request is carried out
        first and the error returned after it (a submit that happened but looks failed).
        """
        failure = Failure(status, code, msg, retry_after, body, process)
        self._add(_Rule("fail", path, method, n, failure=failure))

    def delay_next(self, path: str, seconds: float, method: str | None = None, n: int = 1) -> None:
        """Hold the next `n` matching requests `seconds` before handling them."""
        self._add(_Rule("delay", path, method, n, seconds=seconds))

    def swallow_next(self, path: str, method: str | None = "POST", n: int = 1) -> None:
        """Carry out the next `n` matching requests but never answer them (an ambiguous submit)."""
        self._add(_Rule("swallow", path, method, n))

    def drop_ws(self) -> None:
        """Close every WebSocket connection now (clients see a disconnect and must reconnect)."""
        self._drop_ws()

    def silence_user_stream(self, silent: bool = True) -> None:
        """Stop (or resume) pushing user-data events; events in between are lost, as on a stalled stream."""
        self._silence(silent)

    def clear(self) -> None:
        """Forget every pending request fault."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> int:
        """How many request faults are still armed (sum of their remaining counts)."""
        with self._lock:
            return sum(r.remaining for r in self._rules)

    def plan(self, method: str, path: str) -> Plan:
        """Consume one use of the first matching rule of each kind and say what to do with the request."""
        with self._lock:
            chosen: dict[str, _Rule] = {}
            for rule in self._rules:
                if rule.remaining > 0 and rule.kind not in chosen and rule.matches(method, path):
                    chosen[rule.kind] = rule
            for rule in chosen.values():
                rule.remaining -= 1
            self._rules = [r for r in self._rules if r.remaining > 0]
        delay = chosen["delay"].seconds if "delay" in chosen else 0.0
        failure = chosen["fail"].failure if "fail" in chosen else None
        return Plan(delay=delay, failure=failure, swallow="swallow" in chosen)

    def _add(self, rule: _Rule) -> None:
        if rule.remaining < 1:
            raise ValueError(f"n must be at least 1, got {rule.remaining}")
        with self._lock:
            self._rules.append(rule)
