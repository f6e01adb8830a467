"""The `mmctl` console script (and `python -m mmctl`): `main` runs the typer app (`mmctl.cli.root`), or,
for `mmctl __complete ...` (what the shell completion scripts call on TAB), the stdlib-only completer
(`mmctl.cli.complete`) without importing typer at all, so a TAB costs a fraction of a command.

`app` and `render_health` are still importable from here (loaded on first use).
"""

from __future__ import annotations

import sys
from typing import Any

COMPLETE = "__complete"
"""The first argument with which the completion scripts call mmctl."""


def main(args: list[str] | None = None) -> None:
    """Run mmctl with `args` (default: the command line) and exit with its code."""
    argv = sys.argv[1:] if args is None else args
    if argv[:1] == [COMPLETE]:
        from mmctl.cli.complete import complete_main

        sys.exit(complete_main(argv[1:]))
    from mmctl.cli.root import run

    sys.exit(run(argv))


def __getattr__(name: str) -> Any:
    if name in ("app", "render_health"):
        from mmctl.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
