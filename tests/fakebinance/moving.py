"""A moving market for a `FakeBinance`: each symbol's mid follows a seeded random walk, published as a
one-tick-wide book every `interval_s` from a background thread (the fake's control methods are
thread-safe), so bots re-quote, resting orders fill when the book crosses them, and book streams stay
fresh. For end-to-end tests and benchmarks against a fake that runs in a thread or a daemon process.

    with fake_in_thread() as fake, MarketMover(fake, ["BTCUSDT"], interval_s=0.2):
        ...
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal
from types import TracebackType

from .server import FakeBinance


class MarketMover:
    """Random-walk books on `symbols` (steps of `step_bps` standard deviation per update)."""

    def __init__(
        self,
        fake: FakeBinance,
        symbols: Iterable[str],
        *,
        interval_s: float = 0.25,
        step_bps: float = 1.0,
        seed: int = 1,
        depth_qty: Decimal = Decimal(50),
    ) -> None:
        self.fake = fake
        self.interval_s = interval_s
        self.step_bps = step_bps
        self.depth_qty = depth_qty
        self._rng = random.Random(seed)
        self._mids = {s: fake.venue.specs[s].start_price for s in symbols}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakebinance-mover", daemon=True)
        self.updates = 0
        self.error: BaseException | None = None

    def start(self) -> MarketMover:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> MarketMover:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def step(self) -> None:
        """Move every symbol once (also callable directly, without the thread)."""
        for symbol, mid in self._mids.items():
            spec = self.fake.venue.specs[symbol]
            move = Decimal(repr(round(self._rng.gauss(0.0, self.step_bps), 4))) / Decimal(10_000)
            mid = max(spec.tick_size * 10, mid * (1 + move))
            self._mids[symbol] = mid
            bid = (mid / spec.tick_size).to_integral_value(ROUND_FLOOR) * spec.tick_size
            self.fake.set_book(symbol, bid, bid + spec.tick_size, self.depth_qty, self.depth_qty)
        self.updates += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except BaseException as e:  # the thread's one boundary: kept for the test, and it stops
                self.error = e
                return
