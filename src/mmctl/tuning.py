"""Process tuning for the daemon's event loop: keep the garbage collector's long pauses out of reactions.

CPython's cyclic garbage collector stops the whole process while it scans. A full (oldest-generation)
collection scans every tracked object: the imported modules, the markets, every bot's state. With 100 bots
that pauses the loop for 17-27 ms (`bench/bot_reaction.py`, measured through `gc.callbacks`), and a book
arriving meanwhile waits that long. `tune_gc` calls `gc.freeze()`: every object alive at that moment moves
to the permanent generation, which collections no longer scan, so full collections only scan what was
built since. Such objects are long-lived by nature; one that dies later is still freed by reference
counting, only a reference cycle among frozen objects is never collected.

The collection thresholds stay CPython's (700, 10, 10), on measurement: a young collection's pause grows
with the threshold (~0.45 ms at 700, ~0.77 ms at 1,000, ~5 ms at 10,000 with 100 bots) while the total
time spent collecting stays the same, so a higher threshold only makes each pause that hits a reaction
longer.

Call it once start-up is done (the daemon: after its composition and the bots it starts at start-up,
before it serves; a bench: after its set-up). Calling it again later also freezes what was built since.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect what start-up left as garbage, then freeze every object alive now out of the collector's
    scans (see the module docstring)."""
    gc.collect()
    gc.freeze()
