"""Process tuning for the daemon's event loop: keep the garbage collector's long pauses out of reactions.

CPython's cyclic garbage collector stops the whole process while it scans. A full (oldest-generation)
collection scans every tracked object: the imported modules, the markets, every bot's state. With 100 bots
that pauses the loop for 17-27 ms (`bench/bot_reaction.py`, measured through `gc.callbacks`), and a book
arriving meanwhile waits that long. `tune_gc` calls `gc.freeze()`: every object alive at that moment moves
to the permanent generation, which collections no longer scan, so full collections only scan what was
built since. Such objects are long-lived by nature; one that dies later is still freed by reference
counting, only a reference cycle among frozen objects is never collected.

Bots started after start-up (`mmctl start`, 400 of them in waves) are built after that freeze, and their
state is replaced tick after tick: with 400 bots a full collection came every 60-100 s and paused the loop
for 105-115 ms (`bench/fleet.py --bots 400`, measured through `gc.callbacks`), more than twice the status
RPC's p99 budget. `FullCollections.install()` (the daemon) freezes what survives each full collection,
right after it: everything still tracked then is reachable, so nothing but live objects is frozen, and
the next full collection scans only what was promoted since. What dies among the frozen objects in a
reference cycle is reclaimed by `refreeze()` (unfreeze, collect everything, freeze again), which the daemon
runs every `REFREEZE_S` (10 min): one full-length pause then instead of one every minute or so, and the
cycles that die meanwhile (a few thousand objects per minute with 400 bots starting) wait at most that
long.

The collection thresholds stay CPython's (700, 10, 10), on measurement: a young collection's pause grows
with the threshold (~0.45 ms at 700, ~0.77 ms at 1,000, ~5 ms at 10,000 with 100 bots) while the total
time spent collecting stays the same, so a higher threshold only makes each pause that hits a reaction
longer. With 400 bots a full collection after every second middle one (threshold 1 instead of 10, with
`FullCollections`) came every 12-15 s and still paused 25-44 ms: most of what is promoted dies within
seconds, so more frequent full collections are not shorter in proportion.

The youngest generation's trigger counts allocations minus deallocations of tracked objects, whichever
generation the freed ones were in. In a steady state every tick replaces a bot's bands, quotes and
tuples (new ones allocated, the old, older-generation ones freed), so the count hovers near zero while
the new objects pile up: with 400 bots a young collection found 12,000-18,000 objects and paused 5-12 ms
about once a second. Pacing young collections by the clock instead (every 0.1 s, the middle generation
every second) was measured and left out: the pauses that reach a request stayed as long (middle
collections 5-20 ms) while the time spent collecting doubled, and the status RPC's p99 did not improve
(17.8 ms with it, 16.0 ms without, `bench/fleet.py --bots 400`).

Call `tune_gc` once start-up is done (the daemon: after its composition and the bots it starts at
start-up, before it serves; a bench: after its set-up). Calling it again later also freezes what was
built since.
"""

from __future__ import annotations

import gc
from typing import Any

REFREEZE_S = 600.0  # how often the daemon reclaims cycles among frozen objects (`refreeze`)
OLDEST = 2  # CPython's oldest generation: a collection of it is a full collection


def tune_gc() -> None:
    """Collect what start-up left as garbage, then freeze every object alive now out of the collector's
    scans (see the module docstring)."""
    gc.collect()
    gc.freeze()


def refreeze() -> None:
    """Put the frozen objects back under the collector, collect everything (cycles that died among them
    included), and freeze what is alive: one full-length pause."""
    gc.unfreeze()
    tune_gc()


class FullCollections:
    """Freezes what survives each full collection, right after it (see the module docstring).

    `install()` adds the hook to `gc.callbacks` (once), `uninstall()` removes it; `freezes` counts the
    collections it followed."""

    def __init__(self) -> None:
        self.freezes = 0

    def install(self) -> None:
        if self._hook not in gc.callbacks:
            gc.callbacks.append(self._hook)

    def uninstall(self) -> None:
        while self._hook in gc.callbacks:
            gc.callbacks.remove(self._hook)

    def _hook(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == OLDEST:
            gc.freeze()  # every tracked object left now is reachable: nothing dead is frozen
            self.freezes += 1
